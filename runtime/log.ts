/**
 * druntime's messages: errors and warnings on stderr, and with `--log FILE` also in FILE, as
 * text or as runc's JSON lines ({"level":"error","msg":"...","time":"..."}) that engines read.
 */

export type LogFormat = "text" | "json";
export type LogLevel = "debug" | "info" | "warning" | "error";

export interface LoggerOptions {
  file?: string;
  format?: LogFormat;
  debug?: boolean;
}

export class Logger {
  readonly file?: string;
  readonly format: LogFormat;
  readonly debugEnabled: boolean;

  constructor(opts: LoggerOptions = {}) {
    this.file = opts.file;
    this.format = opts.format ?? "text";
    this.debugEnabled = opts.debug ?? false;
  }

  private write(level: LogLevel, msg: string, toStderr: boolean): void {
    if (toStderr) console.error(level === "error" ? `druntime: ${msg}` : `druntime: ${level}: ${msg}`);
    if (this.file === undefined) return;
    const time = new Date().toISOString();
    const line = this.format === "json"
      ? JSON.stringify({ level, msg, time })
      : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      Deno.writeTextFileSync(this.file, `${line}\n`, { append: true, create: true });
    } catch (e) {
      console.error(`druntime: cannot write log file ${this.file}: ${e instanceof Error ? e.message : e}`);
    }
  }

  error(msg: string): void {
    this.write("error", msg, true);
  }

  warn(msg: string): void {
    this.write("warning", msg, true);
  }

  debug(msg: string): void {
    if (this.debugEnabled) this.write("debug", msg, true);
  }
}
