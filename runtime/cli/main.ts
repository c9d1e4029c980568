/** The druntime command line: global flags, then one command, runc's shape and words. */
import { boolFlag, type FlagDef, flagHelp, parseArgs, type Parsed, stringFlag } from "./args.ts";
import { DruntimeError } from "../errors.ts";
import { type LogFormat, Logger } from "../log.ts";
import { DEFAULT_STATE_ROOT } from "../container/state.ts";
import {
  create,
  deleteContainer,
  kill,
  list,
  parseSignal,
  prepareBundle,
  run,
  start,
  state,
} from "../container/lifecycle.ts";
import type { ContainerState } from "../container/state.ts";
import {
  filterPsOutput,
  parseDuration,
  pause,
  ps,
  resume,
  statsEvent,
  update,
  watchEvents,
} from "../container/control.ts";
import { UPDATE_FLAGS, updateResources } from "./update.ts";
import { formatPlan } from "../plan/format.ts";
import { defaultSpec } from "../spec/default.ts";
import { validateContainerId } from "../spec/validate.ts";
import { join, resolve } from "../paths.ts";

export const VERSION = "0.1.0";
export const SPEC_VERSION = "1.2.0";

const GLOBAL_FLAGS: FlagDef[] = [
  { name: "root", value: "DIR", help: `state root (default ${DEFAULT_STATE_ROOT})` },
  { name: "log", value: "FILE", help: "also write errors and warnings to FILE" },
  { name: "log-format", value: "text|json", help: "format of --log lines (default text)" },
  { name: "debug", help: "print debug messages" },
  { name: "systemd-cgroup", help: "use systemd for cgroups (not supported yet: refused)" },
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
      { name: "detach", short: "d", help: "return once the container has started" },
      { name: "preserve-fds", value: "N", help: "pass fds 3 .. 3+N-1 on to the container" },
      { name: "console-socket", value: "PATH", help: "accepted; terminals are not supported yet" },
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
        for (const n of prepared.notes) g.log.debug(n);
        console.log(format === "json" ? JSON.stringify(prepared.plan, null, 2) : formatPlan(prepared.plan));
        return 0;
      }
      if (stringFlag(p, "format") !== undefined) throw new DruntimeError("run: --format goes with --dry-run");
      return await run({
        ...createOptions(p, g),
        keep: boolFlag(p, "keep"),
        detach: boolFlag(p, "detach"),
      });
    },
  },
  create: {
    summary: "create a container: built and waiting for start",
    usage: "druntime [global flags] create [flags] <container-id>",
    args: 1,
    flags: [
      { name: "bundle", short: "b", value: "DIR", help: "bundle directory (default: the current directory)" },
      { name: "pid-file", value: "FILE", help: "write the container's pid to FILE" },
      { name: "no-pivot", help: "use MS_MOVE and chroot instead of pivot_root (for ramdisk roots)" },
      { name: "preserve-fds", value: "N", help: "pass fds 3 .. 3+N-1 on to the container" },
      { name: "console-socket", value: "PATH", help: "accepted; terminals are not supported yet" },
      { name: "no-new-keyring", help: "accepted; druntime does not create session keyrings" },
      HELP,
    ],
    async main(p, g) {
      await create(createOptions(p, g));
      return 0;
    },
  },
  start: {
    summary: "start a created container",
    usage: "druntime [global flags] start <container-id>",
    args: 1,
    flags: [HELP],
    async main(p, g) {
      await start(g.root, p.positionals[0], g.log);
      return 0;
    },
  },
  state: {
    summary: "print a container's state as JSON",
    usage: "druntime [global flags] state <container-id>",
    args: 1,
    flags: [HELP],
    main(p, g) {
      console.log(JSON.stringify(state(g.root, p.positionals[0]), null, 2));
      return Promise.resolve(0);
    },
  },
  kill: {
    summary: "send a signal (default SIGTERM) to a container's init",
    usage: "druntime [global flags] kill [--all] <container-id> [signal]",
    args: [1, 2],
    flags: [{ name: "all", short: "a", help: "send it to every process of the container" }, HELP],
    async main(p, g) {
      const signal = parseSignal(p.positionals[1] ?? "SIGTERM");
      await kill(g.root, p.positionals[0], signal, boolFlag(p, "all"));
      return 0;
    },
  },
  delete: {
    summary: "delete a stopped (or created) container",
    usage: "druntime [global flags] delete [--force] <container-id>",
    args: 1,
    flags: [{ name: "force", short: "f", help: "kill a running container first" }, HELP],
    async main(p, g) {
      await deleteContainer(g.root, p.positionals[0], boolFlag(p, "force"), g.log);
      return 0;
    },
  },
  list: {
    summary: "list the containers under the state root",
    usage: "druntime [global flags] list [--format table|json] [--quiet]",
    args: 0,
    flags: [
      { name: "format", short: "f", value: "table|json", help: "output format (default table)" },
      { name: "quiet", short: "q", help: "print only the ids" },
      HELP,
    ],
    main(p, g) {
      const format = stringFlag(p, "format") ?? "table";
      if (format !== "table" && format !== "json") {
        throw new DruntimeError(`list: --format must be table or json, not ${JSON.stringify(format)}`);
      }
      const all = list(g.root);
      if (boolFlag(p, "quiet")) { for (const c of all) console.log(c.id); }
      else if (format === "json") console.log(JSON.stringify(all));
      else console.log(formatTable(all));
      return Promise.resolve(0);
    },
  },
  pause: {
    summary: "freeze every process of a running container",
    usage: "druntime [global flags] pause <container-id>",
    args: 1,
    flags: [HELP],
    async main(p, g) {
      await pause(g.root, p.positionals[0]);
      return 0;
    },
  },
  resume: {
    summary: "thaw a paused container",
    usage: "druntime [global flags] resume <container-id>",
    args: 1,
    flags: [HELP],
    async main(p, g) {
      await resume(g.root, p.positionals[0]);
      return 0;
    },
  },
  update: {
    summary: "change a container's cgroup limits",
    usage: "druntime [global flags] update [flags] <container-id>",
    args: 1,
    flags: [
      { name: "resources", short: "r", value: "FILE", help: "linux.resources JSON to apply (- for stdin)" },
      ...UPDATE_FLAGS.map(([name, , help]) => ({ name, value: "VALUE", help })),
      HELP,
    ],
    async main(p, g) {
      await update(g.root, p.positionals[0], await updateResources(p), g.log);
      return 0;
    },
  },
  ps: {
    summary: "list the processes of a container",
    usage: "druntime [global flags] ps [--format table|json] <container-id> [-- ps options]",
    args: [1, Infinity],
    flags: [{ name: "format", short: "f", value: "table|json", help: "output format (default table)" }, HELP],
    async main(p, g) {
      const format = stringFlag(p, "format") ?? "table";
      if (format !== "table" && format !== "json") {
        throw new DruntimeError(`ps: --format must be table or json, not ${JSON.stringify(format)}`);
      }
      const [id, ...psArgs] = p.positionals;
      validateContainerId(id);
      const pids = ps(g.root, id);
      if (format === "json") {
        if (psArgs.length) throw new DruntimeError("ps: ps options go with --format table");
        console.log(JSON.stringify(pids));
        return 0;
      }
      let out: Deno.CommandOutput;
      try {
        out = await new Deno.Command("ps", { args: psArgs.length ? psArgs : ["-ef"], stdout: "piped" })
          .output();
      } catch (e) {
        throw new DruntimeError(`ps: cannot run ps: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (!out.success) throw new DruntimeError(`ps: ps ${psArgs.join(" ")} failed (exit code ${out.code})`);
      console.log(filterPsOutput(new TextDecoder().decode(out.stdout), pids));
      return 0;
    },
  },
  events: {
    summary: "print a container's resource usage and OOM events as JSON lines",
    usage: "druntime [global flags] events [--stats] [--interval D] <container-id>",
    args: 1,
    flags: [
      { name: "stats", help: "print the usage once and exit" },
      { name: "interval", value: "D", help: "time between stats events (default 5s)" },
      HELP,
    ],
    async main(p, g) {
      const id = p.positionals[0];
      validateContainerId(id);
      const interval = parseDuration(stringFlag(p, "interval") ?? "5s");
      if (boolFlag(p, "stats")) {
        console.log(JSON.stringify(statsEvent(g.root, id)));
        return 0;
      }
      const stop = new AbortController();
      const end = () => stop.abort();
      Deno.addSignalListener("SIGINT", end);
      Deno.addSignalListener("SIGTERM", end);
      try {
        await watchEvents(g.root, id, interval, (e) => console.log(JSON.stringify(e)), stop.signal);
      } finally {
        Deno.removeSignalListener("SIGINT", end);
        Deno.removeSignalListener("SIGTERM", end);
      }
      return 0;
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

function createOptions(p: Parsed, g: Global) {
  const pidFile = stringFlag(p, "pid-file");
  const fds = stringFlag(p, "preserve-fds");
  if (fds !== undefined && !/^\d+$/.test(fds)) {
    throw new DruntimeError(`--preserve-fds must be a whole number, not ${JSON.stringify(fds)}`);
  }
  const id = p.positionals[0];
  validateContainerId(id);
  return {
    id,
    bundle: resolve(stringFlag(p, "bundle") ?? "."),
    root: g.root,
    pidFile: pidFile === undefined ? undefined : resolve(pidFile),
    noPivot: boolFlag(p, "no-pivot"),
    preserveFds: fds === undefined ? 0 : Number(fds),
    log: g.log,
    timing: Deno.env.get("DRUNTIME_TIMING") === "1",
  };
}

/** runc's list table: columns at least 12 wide, 3 spaces apart. */
function formatTable(all: ContainerState[]): string {
  const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]];
  for (const c of all) rows.push([c.id, String(c.pid), c.status, c.bundle, c.created, c.owner || "root"]);
  const widths = rows[0].map((_, i) => Math.max(12, ...rows.map((r) => r[i].length + 3)));
  return rows.map((r) => r.map((cell, i) => i === r.length - 1 ? cell : cell.padEnd(widths[i])).join(""))
    .join("\n");
}

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
    if (boolFlag(global, "systemd-cgroup")) {
      throw new DruntimeError(
        "--systemd-cgroup: the systemd cgroup driver is not supported yet; druntime manages cgroupfs itself",
      );
    }
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
