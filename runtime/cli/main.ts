/** The druntime command line: global flags, then one command, runc's shape and words. */
import { boolFlag, type FlagDef, flagHelp, parseArgs, type Parsed, stringFlag } from "./args.ts";
import { DruntimeError } from "../errors.ts";
import { type LogFormat, Logger } from "../log.ts";
import { DEFAULT_STATE_ROOT } from "../container/state.ts";
import { prepareBundle, run } from "../container/run.ts";
import { formatPlan } from "../plan/format.ts";
import { defaultSpec } from "../spec/default.ts";
import { validateContainerId } from "../spec/validate.ts";
import { join, resolve } from "node:path";

export const VERSION = "0.1.0";
export const SPEC_VERSION = "1.2.0";

const GLOBAL_FLAGS: FlagDef[] = [
  { name: "root", value: "DIR", help: `state root (default ${DEFAULT_STATE_ROOT})` },
  { name: "log", value: "FILE", help: "also write errors and warnings to FILE" },
  { name: "log-format", value: "text|json", help: "format of --log lines (default text)" },
  { name: "debug", help: "print debug messages" },
  { name: "help", short: "h", help: "show help" },
  { name: "version", short: "v", help: "print the version" },
];

interface Global {
  root: string;
  log: Logger;
}

interface Command {
  summary: string;
  usage: string;
  flags: FlagDef[];
  /** The number of positionals: exact, or [min, max]. */
  args: number | [number, number];
  main(p: Parsed, g: Global): Promise<number>;
}

const HELP: FlagDef = { name: "help", short: "h", help: "show help for this command" };

const COMMANDS: Record<string, Command> = {
  run: {
    summary: "create and run a container in the foreground",
    usage: "druntime [global flags] run [flags] <container-id>",
    args: 1,
    flags: [
      { name: "bundle", short: "b", value: "DIR", help: "bundle directory (default: the current directory)" },
      { name: "pid-file", value: "FILE", help: "write the container's pid to FILE" },
      { name: "no-pivot", help: "use MS_MOVE and chroot instead of pivot_root (for ramdisk roots)" },
      { name: "keep", help: "keep the container's state entry after it exits" },
      { name: "dry-run", help: "print what would be done to build the container, and do nothing" },
      {
        name: "format",
        value: "text|json",
        help: "with --dry-run: print the plan as text (default) or JSON",
      },
      HELP,
    ],
    async main(p, g) {
      const id = p.positionals[0];
      const bundle = resolve(stringFlag(p, "bundle") ?? ".");
      const noPivot = boolFlag(p, "no-pivot");
      if (boolFlag(p, "dry-run")) {
        validateContainerId(id);
        const format = stringFlag(p, "format") ?? "text";
        if (format !== "text" && format !== "json") {
          throw new DruntimeError(`run: --format must be text or json, not ${JSON.stringify(format)}`);
        }
        const prepared = prepareBundle(bundle, { noPivot });
        for (const w of prepared.warnings) g.log.warn(w);
        console.log(format === "json" ? JSON.stringify(prepared.plan, null, 2) : formatPlan(prepared.plan));
        return 0;
      }
      if (stringFlag(p, "format") !== undefined) throw new DruntimeError("run: --format goes with --dry-run");
      const pidFile = stringFlag(p, "pid-file");
      return await run({
        id,
        bundle,
        root: g.root,
        pidFile: pidFile === undefined ? undefined : resolve(pidFile),
        noPivot,
        keep: boolFlag(p, "keep"),
        log: g.log,
        timing: Deno.env.get("DRUNTIME_TIMING") === "1",
      });
    },
  },
  spec: {
    summary: "write a default config.json for a new bundle",
    usage: "druntime spec [--bundle DIR]",
    args: 0,
    flags: [
      {
        name: "bundle",
        short: "b",
        value: "DIR",
        help: "where to write config.json (default: the current directory)",
      },
      { name: "rootless", help: "a config for rootless containers (not supported yet)" },
      HELP,
    ],
    main(p) {
      if (boolFlag(p, "rootless")) throw new DruntimeError("spec: --rootless is not supported yet");
      const path = join(resolve(stringFlag(p, "bundle") ?? "."), "config.json");
      try {
        Deno.writeTextFileSync(path, JSON.stringify(defaultSpec(), null, "\t") + "\n", { createNew: true });
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) {
          throw new DruntimeError(`spec: ${path} exists already: remove it first`);
        }
        if (e instanceof Deno.errors.NotFound) {
          throw new DruntimeError(`spec: no directory ${JSON.stringify(resolve(path, ".."))}`);
        }
        throw e;
      }
      return Promise.resolve(0);
    },
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    "druntime: an OCI container runtime (runc's command line)",
    "",
    "usage: druntime [global flags] <command> [flags] [arguments]",
    "",
    "commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `   ${name.padEnd(width)}${c.summary}`),
    "",
    "global flags:",
    flagHelp(GLOBAL_FLAGS),
    "",
    "`druntime <command> --help` shows a command's flags.",
  ].join("\n");
}

function commandHelp(name: string, c: Command): string {
  return [`druntime ${name}: ${c.summary}`, "", `usage: ${c.usage}`, "", "flags:", flagHelp(c.flags)].join(
    "\n",
  );
}

function versionText(): string {
  return `druntime version ${VERSION}\nspec: ${SPEC_VERSION}\ndeno: ${Deno.version.deno}`;
}

/** Runs the CLI with the given arguments; returns the exit code. */
export async function cliMain(args: readonly string[]): Promise<number> {
  let log = new Logger();
  try {
    const global = parseArgs("druntime", GLOBAL_FLAGS, args, true);
    const format = stringFlag(global, "log-format") ?? "text";
    if (format !== "text" && format !== "json") {
      throw new DruntimeError(`--log-format must be text or json, not ${JSON.stringify(format)}`);
    }
    const logFile = stringFlag(global, "log");
    log = new Logger({
      file: logFile === undefined ? undefined : resolve(logFile),
      format: format as LogFormat,
      debug: boolFlag(global, "debug"),
    });
    if (boolFlag(global, "version")) {
      console.log(versionText());
      return 0;
    }
    const [name, ...rest] = global.positionals;
    if (name === undefined || name === "help" || boolFlag(global, "help")) {
      const topic = name === "help" ? rest[0] : undefined;
      if (topic !== undefined && COMMANDS[topic]) console.log(commandHelp(topic, COMMANDS[topic]));
      else console.log(mainHelp());
      return name === undefined && !boolFlag(global, "help") ? 1 : 0;
    }
    const command = COMMANDS[name];
    if (!command) throw new DruntimeError(`unknown command ${JSON.stringify(name)} (see druntime --help)`);
    const parsed = parseArgs(name, command.flags, rest);
    if (boolFlag(parsed, "help")) {
      console.log(commandHelp(name, command));
      return 0;
    }
    const [min, max] = typeof command.args === "number" ? [command.args, command.args] : command.args;
    const n = parsed.positionals.length;
    if (n < min || n > max) {
      const want = min === max ? `exactly ${min}` : `${min} to ${max}`;
      const what = min === 1 && max === 1 ? " (the container id)" : "";
      throw new DruntimeError(`${name}: needs ${want} argument${max === 1 ? "" : "s"}${what}, got ${n}`);
    }
    const root = resolve(stringFlag(global, "root") ?? DEFAULT_STATE_ROOT);
    log.debug(`${name} ${parsed.positionals.join(" ")} (root ${root})`);
    return await command.main(parsed, { root, log });
  } catch (e) {
    if (e instanceof DruntimeError) log.error(e.message);
    else if (e instanceof Error) log.error(e.message);
    else log.error(String(e));
    return 1;
  }
}
