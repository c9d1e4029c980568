/**
 * druntime's command line: help and version, argument errors, `spec`, `run --dry-run`, the
 * log file, and the two default configs (druntime's and runc's) running as they are. Only the
 * tests that run a container need root.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { validateSpec } from "../../runtime/spec/validate.ts";
import type { Spec } from "../../runtime/spec/types.ts";
import { errorLines, exists, uniqueId } from "../fixtures/containers.ts";
import { STAGE_ORDER } from "../fixtures/defaults.ts";
import { druntime, hostMounts, makeBundle, rootOnly } from "../fixtures/rootfs.ts";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** A temp dir for fn, removed in `finally`. */
async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A state root path that does not exist yet (inside `dir`). */
function stateRoot(dir: string): string {
  return join(dir, "state");
}

function assertUsage(text: string, ...words: string[]): void {
  assert.match(text, /usage: druntime /);
  for (const w of words) assert.ok(text.includes(w), `want ${JSON.stringify(w)} in:\n${text}`);
}

// ---------------------------------------------------------------------------------------
// Help, version, argument errors
// ---------------------------------------------------------------------------------------

Deno.test("cli: --version prints druntime's, the spec's and deno's versions", async () => {
  for (const flag of ["--version", "-v"]) {
    const r = await druntime([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 3, r.stdout);
    assert.match(lines[0], /^druntime version \d+\.\d+\.\d+/);
    assert.match(lines[1], /^spec: 1\.\d+\.\d+/);
    assert.equal(lines[2], `deno: ${Deno.version.deno}`);
  }
});

Deno.test("cli: --help, run --help, spec --help print usage and exit 0", async (t) => {
  await t.step("--help", async () => {
    for (const args of [["--help"], ["-h"], ["help"]]) {
      const r = await druntime(args);
      assert.equal(r.code, 0, `${args}: ${r.stderr}`);
      assert.equal(r.stderr, "");
      assertUsage(r.stdout, "commands:", "run", "spec", "--root", "--log", "--log-format");
    }
  });
  await t.step("run --help", async () => {
    for (const args of [["run", "--help"], ["run", "-h"], ["help", "run"]]) {
      const r = await druntime(args);
      assert.equal(r.code, 0, `${args}: ${r.stderr}`);
      assert.equal(r.stderr, "");
      assertUsage(r.stdout, "<container-id>", "--bundle", "--pid-file", "--no-pivot", "--keep", "--dry-run");
    }
  });
  await t.step("spec --help", async () => {
    const r = await druntime(["spec", "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assertUsage(r.stdout, "druntime spec", "--bundle");
  });
  await t.step("no command: usage, exit 1", async () => {
    const r = await druntime([]);
    assert.equal(r.code, 1);
    assertUsage(r.stdout, "commands:");
  });
});

Deno.test("cli: an unknown command exits 1 naming it", async () => {
  const r = await druntime(["frobnicate", "x"]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^druntime: unknown command "frobnicate"/);
});

Deno.test("cli: an unknown flag exits 1 naming it", async (t) => {
  await t.step("global", async () => {
    const r = await druntime(["--frobnicate", "run", "x"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /unknown flag "--frobnicate"/);
  });
  await t.step("run", async () => {
    const r = await druntime(["run", "--frobnicate", "x"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^druntime: run: unknown flag "--frobnicate"/);
  });
  await t.step("spec", async () => {
    const r = await druntime(["spec", "--frobnicate"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^druntime: spec: unknown flag "--frobnicate"/);
  });
  await t.step("a value flag without its value", async () => {
    const r = await druntime(["run", "x", "--bundle"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /run: flag --bundle needs a value/);
  });
});

Deno.test("cli: run without an id exits 1 with a clear message", async () => {
  await withTempDir("druntime-cli-", async (dir) => {
    const r = await druntime(["--root", stateRoot(dir), "run", "--bundle", dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "druntime: run: needs exactly 1 argument (the container id), got 0\n");
    const two = await druntime(["--root", stateRoot(dir), "run", "--bundle", dir, "a", "b"]);
    assert.equal(two.code, 1);
    assert.match(two.stderr, /run: needs exactly 1 argument \(the container id\), got 2/);
    assert.ok(!await exists(stateRoot(dir)), "nothing created");
  });
});

// ---------------------------------------------------------------------------------------
// spec
// ---------------------------------------------------------------------------------------

Deno.test("cli: spec writes a config.json that validates with warnings only", async () => {
  await withTempDir("druntime-spec-", async (dir) => {
    const r = await druntime(["spec", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    const config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    assert.equal(config.process.terminal, false);
    assert.deepEqual(config.process.args, ["sh"]);
    assert.equal(config.root.path, "rootfs");
    const { warnings } = validateSpec(config); // throws on any problem
    for (const w of warnings) assert.match(w, /not (applied|run|supported) yet/);
  });
});

Deno.test("cli: spec writes into the current directory by default", async () => {
  await withTempDir("druntime-spec-", async (dir) => {
    const r = await druntime(["spec"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  });
});

Deno.test("cli: spec refuses to overwrite an existing config.json", async () => {
  await withTempDir("druntime-spec-", async (dir) => {
    const path = join(dir, "config.json");
    await Deno.writeTextFile(path, "mine\n");
    const r = await druntime(["spec", "--bundle", dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `druntime: spec: ${path} exists already: remove it first\n`);
    assert.equal(await Deno.readTextFile(path), "mine\n");
  });
});

Deno.test("cli: spec into a missing directory fails naming it", async () => {
  await withTempDir("druntime-spec-", async (dir) => {
    const r = await druntime(["spec", "--bundle", join(dir, "missing")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /spec: no directory ".*\/missing"/);
  });
});

// ---------------------------------------------------------------------------------------
// run --dry-run
// ---------------------------------------------------------------------------------------

/** Stage names in the text plan: the lines that are neither steps nor the rootfs line. */
function textStages(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l !== "" && !l.startsWith(" ") && !l.startsWith("rootfs "));
}

Deno.test("cli: run --dry-run prints the stages in order and creates nothing", async () => {
  await withTempDir("druntime-dry-", async (dir) => {
    const bundle = join(dir, "bundle");
    await makeBundle({ dir: bundle, args: ["sh", "-c", "echo hi"] });
    const root = stateRoot(dir);
    const mountsBefore = await hostMounts();
    const r = await druntime([
      "--root",
      root,
      "run",
      "--dry-run",
      "--bundle",
      bundle,
      uniqueId("cli", "dry"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(errorLines(r.stderr), []);
    assert.ok(r.stdout.startsWith(`rootfs ${bundle}/rootfs\n`), r.stdout);
    assert.deepEqual(textStages(r.stdout), STAGE_ORDER);
    // Steps are numbered 1, 2, 3... across stages.
    const numbers = r.stdout.split("\n").map((l) => /^\s+(\d+)\. /.exec(l)?.[1]).filter((n) =>
      n !== undefined
    );
    assert.deepEqual(numbers, numbers.map((_, i) => String(i + 1)));
    assert.match(r.stdout, /mounts\[0\]: mount proc on \/proc/);
    assert.match(r.stdout, /exec \["sh","-c","echo hi"\]/);

    assert.ok(!await exists(root), "no state root");
    assert.equal(await hostMounts(), mountsBefore, "no mounts");
  });
});

Deno.test("cli: run --dry-run --format json prints the plan as JSON", async () => {
  await withTempDir("druntime-dry-", async (dir) => {
    const bundle = join(dir, "bundle");
    await makeBundle({ dir: bundle, args: ["true"] });
    const root = stateRoot(dir);
    const r = await druntime([
      "--root",
      root,
      "run",
      "--dry-run",
      "--format",
      "json",
      "--bundle",
      bundle,
      uniqueId("cli", "dryjson"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.equal(plan.rootfs, join(bundle, "rootfs"));
    assert.deepEqual(plan.stages.map((s: { name: string }) => s.name), STAGE_ORDER);
    for (const stage of plan.stages) {
      assert.ok(Array.isArray(stage.steps) && stage.steps.length > 0, `${stage.name} has steps`);
      for (const step of stage.steps) assert.equal(typeof step.op, "string");
    }
    const exec = plan.stages.at(-1).steps.at(-1);
    assert.equal(exec.op, "exec");
    assert.deepEqual(exec.args, ["true"]);
    assert.ok(!await exists(root), "no state root");
  });
});

Deno.test("cli: run --format without --dry-run, and an unknown --format, are refused", async () => {
  await withTempDir("druntime-dry-", async (dir) => {
    const bundle = join(dir, "bundle");
    await makeBundle({ dir: bundle, args: ["true"] });
    const root = stateRoot(dir);
    const alone = await druntime([
      "--root",
      root,
      "run",
      "--format",
      "json",
      "--bundle",
      bundle,
      uniqueId("cli", "f"),
    ]);
    assert.equal(alone.code, 1);
    assert.match(alone.stderr, /--format goes with --dry-run/);
    const bad = await druntime([
      "--root",
      root,
      "run",
      "--dry-run",
      "--format",
      "yaml",
      "--bundle",
      bundle,
      uniqueId("cli", "f"),
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--format must be text or json, not "yaml"/);
    assert.ok(!await exists(root), "no state root");
  });
});

Deno.test("cli: run --dry-run on bad input fails as run does", async (t) => {
  const cases: [string, (spec: Spec) => void][] = [
    ["relative cwd", (s) => s.process!.cwd = "relative"],
    ["empty args", (s) => s.process!.args = []],
    [
      "mount inside /proc",
      (s) => s.mounts!.push({ destination: "/proc/self", type: "tmpfs", source: "tmpfs" }),
    ],
  ];
  for (const [name, mutate] of cases) {
    await t.step(name, async () => {
      await withTempDir("druntime-dry-", async (dir) => {
        const bundle = join(dir, "bundle");
        await makeBundle({ dir: bundle, args: ["true"], mutate });
        const root = stateRoot(dir);
        const id = uniqueId("cli", "bad");
        const dry = await druntime(["--root", root, "run", "--dry-run", "--bundle", bundle, id]);
        const real = await druntime(["--root", root, "run", "--bundle", bundle, id]);
        assert.equal(dry.code, 1);
        assert.equal(real.code, 1);
        assert.equal(dry.stdout, "");
        assert.notEqual(errorLines(dry.stderr).length, 0);
        assert.equal(dry.stderr, real.stderr);
        assert.ok(!await exists(root), "no state root");
      });
    });
  }
  await t.step("bad id", async () => {
    await withTempDir("druntime-dry-", async (dir) => {
      const bundle = join(dir, "bundle");
      await makeBundle({ dir: bundle, args: ["true"] });
      const dry = await druntime(["--root", stateRoot(dir), "run", "--dry-run", "--bundle", bundle, "a/b"]);
      assert.equal(dry.code, 1);
      assert.match(dry.stderr, /invalid container id "a\/b"/);
    });
  });
});

// ---------------------------------------------------------------------------------------
// --log
// ---------------------------------------------------------------------------------------

Deno.test("cli: --log FILE --log-format json writes errors as JSON lines", async () => {
  await withTempDir("druntime-log-", async (dir) => {
    const log = join(dir, "druntime.log");
    const before = Date.now();
    const r = await druntime([
      "--root",
      stateRoot(dir),
      "--log",
      log,
      "--log-format",
      "json",
      "run",
      "--bundle",
      dir,
      "bad id",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^druntime: invalid container id "bad id"/);
    const lines = (await Deno.readTextFile(log)).trimEnd().split("\n");
    assert.equal(lines.length, 1, lines.join("\n"));
    const entry = JSON.parse(lines[0]);
    assert.equal(entry.level, "error");
    assert.match(entry.msg, /^invalid container id "bad id"/);
    const time = Date.parse(entry.time);
    assert.ok(time >= before - 1000 && time <= Date.now() + 1000, `time ${entry.time}`);
  });
});

Deno.test("cli: --log also gets warnings, and appends", async () => {
  await withTempDir("druntime-log-", async (dir) => {
    const bundle = join(dir, "bundle");
    // Settings that are accepted but not applied yet: each makes one warning.
    await makeBundle({
      dir: bundle,
      args: ["true"],
      mutate: (spec) => {
        spec.process!.terminal = true;
        spec.linux!.mountLabel = "system_u:object_r:container_file_t:s0";
      },
    });
    const log = join(dir, "druntime.log");
    const args = [
      "--log",
      log,
      "--log-format",
      "json",
      "run",
      "--dry-run",
      "--bundle",
      bundle,
      uniqueId("cli", "l"),
    ];
    const r = await druntime(args);
    assert.equal(r.code, 0, r.stderr);
    const first = (await Deno.readTextFile(log)).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.ok(first.length > 0 && first.every((e) => e.level === "warning"), JSON.stringify(first));
    assert.equal(first.length, r.stderr.trimEnd().split("\n").length, "each stderr warning is logged");
    await druntime(args);
    const second = (await Deno.readTextFile(log)).trimEnd().split("\n");
    assert.equal(second.length, 2 * first.length);
  });
});

Deno.test("cli: --log-format text writes logfmt lines", async () => {
  await withTempDir("druntime-log-", async (dir) => {
    const log = join(dir, "druntime.log");
    const r = await druntime(["--root", stateRoot(dir), "--log", log, "run", "--bundle", dir, ".."]);
    assert.equal(r.code, 1);
    assert.match(
      await Deno.readTextFile(log),
      /^time="[^"]+" level=error msg="invalid container id \\"..\\"/,
    );
  });
});

Deno.test("cli: --log-format xml is refused", async () => {
  await withTempDir("druntime-log-", async (dir) => {
    const log = join(dir, "druntime.log");
    const r = await druntime(["--log", log, "--log-format", "xml", "--version"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /--log-format must be text or json, not "xml"/);
  });
});

// ---------------------------------------------------------------------------------------
// The default configs run as they are
// ---------------------------------------------------------------------------------------

/** A bundle whose config.json is written by `writeConfig` (makeBundle's is removed first). */
async function bundleWithConfig(
  dir: string,
  writeConfig: (bundle: string) => Promise<void>,
): Promise<string> {
  const bundle = join(dir, "bundle");
  await makeBundle({ dir: bundle });
  await Deno.remove(join(bundle, "config.json"));
  await writeConfig(bundle);
  return bundle;
}

async function runcSpec(bundle: string): Promise<void> {
  const out = await new Deno.Command("runc", {
    args: ["spec", "--bundle", bundle],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

async function editConfig(bundle: string, edit: (config: Spec) => void): Promise<void> {
  const path = join(bundle, "config.json");
  const config = JSON.parse(await Deno.readTextFile(path));
  edit(config);
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2));
}

async function hasRunc(): Promise<boolean> {
  try {
    return (await new Deno.Command("runc", { args: ["--version"], stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/** Runs the bundle, checks exit 0, warnings only, and that nothing is left. */
async function runAsIs(
  dir: string,
  bundle: string,
  name: string,
  stdin?: string,
): Promise<{ stdout: string; stderr: string }> {
  const root = stateRoot(dir);
  const r = await druntime(["--root", root, "run", "--bundle", bundle, uniqueId("cli", name)], { stdin });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(errorLines(r.stderr), [], "warnings only");
  assert.deepEqual([...Deno.readDirSync(root)], [], "no state entry left");
  assert.ok(!(await hostMounts()).includes(bundle), "no mounts left");
  return r;
}

Deno.test({
  name: "cli: druntime spec's config runs as it is",
  ...rootOnly("cli: druntime spec's config runs as it is"),
  async fn() {
    await withTempDir("druntime-defaults-", async (dir) => {
      const bundle = await bundleWithConfig(dir, async (b) => {
        const r = await druntime(["spec", "--bundle", b]);
        assert.equal(r.code, 0, r.stderr);
      });
      // args ["sh"] reads its commands from druntime's stdin.
      const r = await runAsIs(
        dir,
        bundle,
        "spec",
        "echo spec-ok; hostname; touch /x 2>/dev/null || echo ro\n",
      );
      assert.equal(r.stdout, "spec-ok\ndruntime\nro\n");
    });
  },
});

Deno.test({
  name: "cli: runc's default config runs under druntime with warnings only",
  ...rootOnly("cli: runc's default config runs under druntime with warnings only"),
  async fn(t) {
    if (!await hasRunc()) {
      console.error("note: runc is not installed: skipped");
      return;
    }
    await t.step("terminal false, args set", async () => {
      await withTempDir("druntime-runc-", async (dir) => {
        const bundle = await bundleWithConfig(dir, runcSpec);
        await editConfig(bundle, (c) => {
          c.process!.terminal = false;
          c.process!.args = ["sh", "-c", "echo runc-config-ok; hostname; ls /proc/1/ns/pid"];
        });
        const r = await runAsIs(dir, bundle, "runc");
        assert.equal(r.stdout, "runc-config-ok\nrunc\n/proc/1/ns/pid\n");
      });
    });
    await t.step("unchanged (terminal true is a warning; sh reads stdin)", async () => {
      await withTempDir("druntime-runc-", async (dir) => {
        const bundle = await bundleWithConfig(dir, runcSpec);
        const r = await runAsIs(dir, bundle, "runc-asis", "echo as-is-ok\n");
        assert.equal(r.stdout, "as-is-ok\n");
        assert.match(r.stderr, /process\.terminal: terminals are not supported yet/);
      });
    });
  },
});
