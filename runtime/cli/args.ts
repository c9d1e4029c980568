/**
 * runc-shaped argument parsing: global flags before the command, command flags and
 * positionals after it. `--flag value`, `--flag=value`, `-f value` and urfave/cli's
 * single-dash long form (`-bundle`) are all accepted; `--` ends the flags.
 */
import { DruntimeError } from "../errors.ts";

export interface FlagDef {
  name: string;
  short?: string;
  /** A value-taking flag names its value here (`DIR`); a boolean flag leaves it out. */
  value?: string;
  help: string;
}

export interface Parsed {
  flags: Map<string, string | true>;
  positionals: string[];
}

function findFlag(defs: readonly FlagDef[], token: string): FlagDef | undefined {
  const bare = token.replace(/^--?/, "");
  return defs.find((d) => d.name === bare || d.short === bare);
}

/**
 * Parses args against defs. With `stopAtPositional`, parsing ends at the first positional
 * (the global flags end at the command name); the rest is returned as positionals.
 */
export function parseArgs(
  where: string,
  defs: readonly FlagDef[],
  args: readonly string[],
  stopAtPositional = false,
): Parsed {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (stopAtPositional) {
        positionals.push(...args.slice(i));
        break;
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const def = findFlag(defs, name);
    if (!def) throw new DruntimeError(`${where}: unknown flag ${JSON.stringify(name)} (see ${where} --help)`);
    if (def.value === undefined) {
      if (eq >= 0) {
        const v = arg.slice(eq + 1);
        if (v !== "true" && v !== "false") {
          throw new DruntimeError(`${where}: flag --${def.name} takes no value`);
        }
        if (v === "true") flags.set(def.name, true);
        else flags.delete(def.name);
      } else {
        flags.set(def.name, true);
      }
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length) value = args[++i];
    else throw new DruntimeError(`${where}: flag --${def.name} needs a value (${def.value})`);
    flags.set(def.name, value);
  }
  return { flags, positionals };
}

/** The help lines for a list of flags. */
export function flagHelp(defs: readonly FlagDef[]): string {
  const rows = defs.map((d) => {
    const names = `${d.short ? `-${d.short}, ` : ""}--${d.name}${d.value ? ` ${d.value}` : ""}`;
    return [names, d.help] as const;
  });
  const width = Math.max(...rows.map(([n]) => n.length)) + 2;
  return rows.map(([n, h]) => `   ${n.padEnd(width)}${h}`).join("\n");
}

/** A string flag's value, if given. */
export function stringFlag(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

export function boolFlag(p: Parsed, name: string): boolean {
  return p.flags.get(name) === true;
}
