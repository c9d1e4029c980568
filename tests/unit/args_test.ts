import assert from "node:assert/strict";
import { boolFlag, type FlagDef, flagHelp, parseArgs, stringFlag } from "../../runtime/cli/args.ts";
import { DruntimeError } from "../../runtime/errors.ts";

const GLOBAL: FlagDef[] = [
  { name: "root", value: "DIR", help: "state root" },
  { name: "log", value: "FILE", help: "log file" },
  { name: "debug", help: "print debug messages" },
  { name: "help", short: "h", help: "show help" },
];

const RUN: FlagDef[] = [
  { name: "bundle", short: "b", value: "DIR", help: "the bundle directory" },
  { name: "pid-file", value: "FILE", help: "write the pid here" },
  { name: "detach", short: "d", help: "do not wait" },
  { name: "no-pivot", help: "use MS_MOVE + chroot" },
];

function flagsOf(args: string[], defs = RUN): Record<string, string | true> {
  return Object.fromEntries(parseArgs("run", defs, args).flags);
}

Deno.test("--flag value and --flag=value", () => {
  assert.deepEqual(flagsOf(["--bundle", "/b", "--pid-file=/p"]), { bundle: "/b", "pid-file": "/p" });
  // The value may contain '=' and may look like a flag.
  assert.deepEqual(flagsOf(["--bundle=a=b"]), { bundle: "a=b" });
  assert.deepEqual(flagsOf(["--bundle", "-weird"]), { bundle: "-weird" });
  assert.deepEqual(flagsOf(["--bundle="]), { bundle: "" });
  // The last one wins.
  assert.deepEqual(flagsOf(["--bundle", "/a", "--bundle", "/b"]), { bundle: "/b" });
});

Deno.test("short flags and urfave/cli's single-dash long form", () => {
  assert.deepEqual(flagsOf(["-b", "/b"]), { bundle: "/b" });
  assert.deepEqual(flagsOf(["-b=/b"]), { bundle: "/b" });
  assert.deepEqual(flagsOf(["-bundle", "/b"]), { bundle: "/b" });
  assert.deepEqual(flagsOf(["-pid-file", "/p", "-d"]), { "pid-file": "/p", detach: true });
  assert.deepEqual(flagsOf(["--d"]), { detach: true });
});

Deno.test("booleans, --bool=true and --bool=false", () => {
  const p = parseArgs("run", RUN, ["--detach", "--no-pivot", "id"]);
  assert.equal(boolFlag(p, "detach"), true);
  assert.equal(boolFlag(p, "no-pivot"), true);
  assert.equal(boolFlag(p, "bundle"), false);
  assert.deepEqual(p.positionals, ["id"]);
  assert.deepEqual(flagsOf(["--detach=true"]), { detach: true });
  assert.deepEqual(flagsOf(["--detach", "--detach=false"]), {});
  assert.deepEqual(flagsOf(["-d=false"]), {});
  assert.throws(
    () => parseArgs("run", RUN, ["--detach=yes"]),
    (e: unknown) => e instanceof DruntimeError && e.message === "run: flag --detach takes no value",
  );
});

Deno.test("positionals mix with flags; -- ends the flags", () => {
  const p = parseArgs("run", RUN, ["-b", "/b", "id", "--detach", "-", "--", "--bundle", "-d"]);
  assert.deepEqual(p.positionals, ["id", "-", "--bundle", "-d"]);
  assert.deepEqual(Object.fromEntries(p.flags), { bundle: "/b", detach: true });
  assert.equal(stringFlag(p, "bundle"), "/b");
  assert.equal(stringFlag(p, "detach"), undefined);
  assert.equal(stringFlag(p, "pid-file"), undefined);
  assert.deepEqual(parseArgs("run", RUN, []), { flags: new Map(), positionals: [] });
});

Deno.test("an unknown flag is an error naming it", () => {
  for (const arg of ["--nope", "-x", "--nope=1"]) {
    assert.throws(
      () => parseArgs("run", RUN, ["id", arg]),
      (e: unknown) => {
        assert.ok(e instanceof DruntimeError);
        const name = arg.split("=")[0];
        assert.equal(e.message, `run: unknown flag ${JSON.stringify(name)} (see run --help)`);
        return true;
      },
    );
  }
});

Deno.test("a missing value is an error naming the flag and its value", () => {
  for (const arg of ["--bundle", "-b", "-bundle"]) {
    assert.throws(
      () => parseArgs("run", RUN, ["id", arg]),
      (e: unknown) => e instanceof DruntimeError && e.message === "run: flag --bundle needs a value (DIR)",
      arg,
    );
  }
});

Deno.test("stopAtPositional: global flags end at the command name", () => {
  const args = ["--root", "/state", "--debug", "run", "--bundle", "/b", "--unknown-to-globals", "id"];
  const g = parseArgs("druntime", GLOBAL, args, true);
  assert.deepEqual(Object.fromEntries(g.flags), { root: "/state", debug: true });
  assert.deepEqual(g.positionals, ["run", "--bundle", "/b", "--unknown-to-globals", "id"]);
  // Without it, the command's flags would be read as globals.
  assert.throws(() => parseArgs("druntime", GLOBAL, args), /unknown flag "--bundle"/);
  // The command's flags then parse on their own.
  const [, ...rest] = g.positionals;
  assert.throws(() => parseArgs("run", RUN, rest), /run: unknown flag "--unknown-to-globals"/);
  assert.deepEqual(parseArgs("druntime", GLOBAL, ["-h"], true).positionals, []);
  assert.deepEqual(parseArgs("druntime", GLOBAL, ["--", "--root"], true).positionals, ["--root"]);
});

Deno.test("flagHelp lists every flag with its short form, value and help", () => {
  const help = flagHelp(RUN);
  const lines = help.split("\n");
  assert.equal(lines.length, RUN.length);
  assert.match(lines[0], /^ +-b, --bundle DIR +the bundle directory$/);
  assert.match(lines[1], /^ +--pid-file FILE +write the pid here$/);
  assert.match(lines[2], /^ +-d, --detach +do not wait$/);
  assert.match(lines[3], /^ +--no-pivot +use MS_MOVE \+ chroot$/);
  // The help column lines up.
  const columns = new Set(RUN.map((d, i) => lines[i].indexOf(d.help)));
  assert.equal(columns.size, 1);
  for (const d of GLOBAL) assert.ok(flagHelp(GLOBAL).includes(`--${d.name}`), d.name);
});
