/**
 * The OCI lifecycle commands end to end, as root: create, start, state, kill, delete, list,
 * and run --detach. Each test has its own state root, bundles and unique ids, and removes them
 * (`druntime delete --force`, then the temp dirs) in `finally`.
 *
 * A created container's stdio is its creator's, so `create` and `run --detach` run here through
 * druntimeDetached (stdout and stderr to temp files: a pipe would stay open as long as the
 * container runs); containers report through files in their rootfs instead.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ContainerState } from "../../runtime/container/state.ts";
import type { Spec } from "../../runtime/spec/types.ts";
import {
  alive,
  assertNothingLeft,
  type Container,
  druntimeDetached,
  errorsOf,
  exists,
  listDir,
  processesUsing,
  uniqueId,
  withoutNamespace,
} from "../fixtures/containers.ts";
import { druntime, makeBundle, rootOnly } from "../fixtures/rootfs.ts";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** One container's world: a unique id, its state root and its bundle. */
type Ctx = Container;

interface BundleOpts {
  args?: string[];
  mutate?: (spec: Spec) => void;
}

/**
 * A state root and any number of containers (each with its own bundle and unique id) in it.
 * `finally` deletes every container with `delete --force`, then removes bundles and root.
 */
class World {
  readonly ctxs: Ctx[] = [];
  constructor(readonly root: string) {}

  async container(name: string, opts: BundleOpts = {}): Promise<Ctx> {
    const bundle = await Deno.realPath(await Deno.makeTempDir({ prefix: "druntime-bundle-" }));
    const ctx: Ctx = { id: uniqueId("lc", name), root: this.root, bundle, rootfs: join(bundle, "rootfs") };
    this.ctxs.push(ctx);
    await makeBundle({ dir: bundle, args: opts.args, mutate: opts.mutate });
    return ctx;
  }
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const w = new World(await Deno.makeTempDir({ prefix: "druntime-state-" }));
  try {
    await fn(w);
  } finally {
    for (const ctx of w.ctxs) {
      if (await exists(join(w.root, ctx.id))) await druntime(["--root", w.root, "delete", "--force", ctx.id]);
    }
    for (const ctx of w.ctxs) await Deno.remove(ctx.bundle, { recursive: true }).catch(() => {});
    await Deno.remove(w.root, { recursive: true }).catch(() => {});
  }
}

/** One container in its own state root (see withWorld). */
async function withBundle(name: string, opts: BundleOpts, fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  await withWorld(async (w) => await fn(await w.container(name, opts)));
}

/** `create`, detached (see druntimeDetached). */
async function create(ctx: Ctx, ...extra: string[]) {
  return await druntimeDetached(["--root", ctx.root, "create", "--bundle", ctx.bundle, ...extra, ctx.id]);
}

/** create, asserting success. */
async function mustCreate(ctx: Ctx, ...extra: string[]): Promise<void> {
  const r = await create(ctx, ...extra);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(errorsOf(r.stderr), "");
}

/** `druntime --root <ctx.root> <command> ...args` */
async function cmd(ctx: Ctx, command: string, ...args: string[]) {
  return await druntime(["--root", ctx.root, command, ...args]);
}

/** `state`, parsed; asserts that it succeeds. */
async function stateOf(ctx: Ctx): Promise<ContainerState> {
  const r = await cmd(ctx, "state", ctx.id);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ContainerState;
}

async function mustStart(ctx: Ctx): Promise<void> {
  const r = await cmd(ctx, "start", ctx.id);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(errorsOf(r.stderr), "");
}

/** Polls `cond` every 20 ms until it holds; throws after `ms`. */
async function waitUntil(what: string, cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!await cond()) {
    if (Date.now() > deadline) throw new Error(`timed out (${ms} ms) waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForStatus(ctx: Ctx, status: ContainerState["status"]): Promise<ContainerState> {
  let last: ContainerState | undefined;
  await waitUntil(`${ctx.id} is ${status} (last: ${last?.status})`, async () => {
    last = await stateOf(ctx);
    return last.status === status;
  });
  return last!;
}

/** Waits until the container's process wrote `name` into its rootfs. */
async function waitForFile(ctx: Ctx, name: string): Promise<void> {
  await waitUntil(`/${name} appears in ${ctx.id}`, () => exists(join(ctx.rootfs, name)));
}

/** create and start, asserting success; then waits until the process wrote /started. */
async function createAndStart(ctx: Ctx): Promise<void> {
  await mustCreate(ctx);
  await mustStart(ctx);
  await waitForFile(ctx, "started");
}

/** Pids of the processes in the same namespace of `type` as `pid` (excluding this process). */
async function sameNamespace(pid: number, type: "pid" | "mnt"): Promise<number[]> {
  const ns = await Deno.readLink(`/proc/${pid}/ns/${type}`);
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (await Deno.readLink(`/proc/${e.name}/ns/${type}`) === ns && await alive(Number(e.name))) {
        pids.push(Number(e.name));
      }
    } catch {
      // gone, or a kernel thread
    }
  }
  return pids;
}

async function cmdline(pid: number): Promise<string[]> {
  return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0").filter((s) => s !== "");
}

/** Whether process `pid` runs the executable at `path` (the same file: device and inode). */
async function runs(pid: number, path: string): Promise<boolean> {
  const [exe, file] = await Promise.all([Deno.stat(`/proc/${pid}/exe`), Deno.stat(path)]);
  return exe.dev === file.dev && exe.ino === file.ino;
}

/** Reports, runs until it is sent SIGTERM (which it traps: it is PID 1), notes that, exits 0. */
const TRAP_TERM =
  "trap 'echo bye > /terminated; exit 0' TERM; echo started > /started; while :; do sleep 0.05; done";

/** Reports, then sleeps as PID 1 (which ignores every signal but SIGKILL from outside). */
const SLEEPER = "echo started > /started; exec sleep 60";

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

// ---------------------------------------------------------------------------------------
// The whole lifecycle
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: create, start, kill (SIGTERM), delete",
  ...rootOnly("lifecycle: create, start, kill (SIGTERM), delete"),
  async fn() {
    await withBundle("whole", { args: ["sh", "-c", TRAP_TERM] }, async (ctx) => {
      const pidFile = join(ctx.bundle, "container.pid");
      await mustCreate(ctx, "--pid-file", pidFile);

      // created: the init exists but has not run the user's command yet
      const created = await stateOf(ctx);
      assert.equal(created.status, "created");
      assert.equal(created.id, ctx.id);
      assert.equal(created.bundle, ctx.bundle);
      assert.equal(created.rootfs, ctx.rootfs);
      assert.equal(Number(await Deno.readTextFile(pidFile)), created.pid, "pid file = state pid");
      assert.ok(await alive(created.pid), `process ${created.pid} is alive`);
      assert.notEqual(
        await Deno.readLink(`/proc/${created.pid}/ns/pid`),
        await Deno.readLink("/proc/self/ns/pid"),
      );
      assert.ok(
        !await runs(created.pid, join(ctx.rootfs, "bin/busybox")),
        "the user's program runs before start",
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!await exists(join(ctx.rootfs, "started")), "the command ran before start");

      // start: the command runs, in the same process
      await mustStart(ctx);
      await waitForFile(ctx, "started");
      const running = await stateOf(ctx);
      assert.equal(running.status, "running");
      assert.equal(running.pid, created.pid);
      assert.equal(running.created, created.created);
      assert.ok(await runs(running.pid, join(ctx.rootfs, "bin/busybox")), "the process is the user's sh");

      // kill: SIGTERM by default; the trap runs and the container stops
      const k = await cmd(ctx, "kill", ctx.id);
      assert.equal(k.code, 0, k.stderr);
      assert.equal(errorsOf(k.stderr), "");
      const stopped = await waitForStatus(ctx, "stopped");
      assert.equal(stopped.pid, 0);
      assert.equal(await Deno.readTextFile(join(ctx.rootfs, "terminated")), "bye\n");

      // delete: the entry goes
      const d = await cmd(ctx, "delete", ctx.id);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(errorsOf(d.stderr), "");
      const s = await cmd(ctx, "state", ctx.id);
      assert.equal(s.code, 1);
      assert.equal(errorsOf(s.stderr), `druntime: container "${ctx.id}" does not exist`);
      assert.equal(s.stdout, "");
      await assertNothingLeft(ctx);
    });
  },
});

// ---------------------------------------------------------------------------------------
// kill
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: kill takes KILL, 9 and SIGKILL",
  ...rootOnly("lifecycle: kill takes KILL, 9 and SIGKILL"),
  async fn(t) {
    for (const form of ["KILL", "9", "SIGKILL", "sigkill"]) {
      await t.step(form, async () => {
        await withBundle(`kill-${form}`, { args: ["sh", "-c", SLEEPER] }, async (ctx) => {
          await createAndStart(ctx);
          const { pid } = await stateOf(ctx);
          const k = await cmd(ctx, "kill", ctx.id, form);
          assert.equal(k.code, 0, k.stderr);
          assert.equal(errorsOf(k.stderr), "");
          await waitUntil(`${pid} is gone`, async () => !await alive(pid));
          assert.equal((await waitForStatus(ctx, "stopped")).pid, 0);
          // a stopped container: nothing to kill, and delete needs no --force
          const again = await cmd(ctx, "kill", ctx.id, form);
          assert.equal(again.code, 1);
          assert.equal(errorsOf(again.stderr), `druntime: container "${ctx.id}" is not running`);
          const d = await cmd(ctx, "delete", ctx.id);
          assert.equal(d.code, 0, d.stderr);
          await assertNothingLeft(ctx);
        });
      });
    }
  },
});

/** Starts two `sleep 1000` children, then ignores SIGTERM itself, reports and waits. */
const WITH_CHILDREN =
  "sleep 1000 & sleep 1000 & trap '' TERM; echo started > /started; while :; do sleep 0.05; done";

function isSleeper(args: string[]): boolean {
  return args.join(" ") === "sleep 1000";
}

Deno.test({
  name: "lifecycle: kill --all signals every process of the container",
  ...rootOnly("lifecycle: kill --all signals every process of the container"),
  async fn() {
    await withBundle("kill-all", { args: ["sh", "-c", WITH_CHILDREN] }, async (ctx) => {
      await createAndStart(ctx);
      const { pid } = await stateOf(ctx);
      const sleepers = async () => {
        const out: number[] = [];
        for (const p of await sameNamespace(pid, "pid")) {
          if (isSleeper(await cmdline(p).catch(() => []))) out.push(p);
        }
        return out;
      };
      await waitUntil("both children run", async () => (await sleepers()).length === 2);

      // TERM to all: the children die, the init (which ignores TERM) stays
      const term = await cmd(ctx, "kill", "--all", ctx.id, "TERM");
      assert.equal(term.code, 0, term.stderr);
      await waitUntil("the children are gone", async () => (await sleepers()).length === 0);
      assert.ok(await alive(pid), "the init ignored SIGTERM and still runs");
      assert.equal((await stateOf(ctx)).status, "running");

      // KILL to all: nothing is left
      const kill = await cmd(ctx, "kill", "--all", ctx.id, "KILL");
      assert.equal(kill.code, 0, kill.stderr);
      await waitForStatus(ctx, "stopped");
      await waitUntil(
        "no process uses the bundle",
        async () => (await processesUsing(ctx.bundle)).length === 0,
      );
      const d = await cmd(ctx, "delete", ctx.id);
      assert.equal(d.code, 0, d.stderr);
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "lifecycle: kill --all reaches the children of a container without a pid namespace",
  ...rootOnly("lifecycle: kill --all reaches the children of a container without a pid namespace"),
  async fn() {
    await withBundle(
      "kill-all-nopidns",
      { args: ["sh", "-c", WITH_CHILDREN], mutate: withoutNamespace("pid") },
      async (ctx) => {
        // The container's processes, found by its mount namespace, to clean up by pid if
        // druntime leaves them behind.
        const ours: { pid: number; start: string }[] = [];
        try {
          await createAndStart(ctx);
          const { pid } = await stateOf(ctx);
          const sleepers = async () => {
            const out: number[] = [];
            for (const p of await sameNamespace(pid, "mnt")) {
              if (isSleeper(await cmdline(p).catch(() => []))) out.push(p);
            }
            return out;
          };
          await waitUntil("both children run", async () => (await sleepers()).length === 2);
          for (const p of await sameNamespace(pid, "mnt")) {
            const stat = await Deno.readTextFile(`/proc/${p}/stat`).catch(() => "");
            ours.push({ pid: p, start: stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] });
          }

          const kill = await cmd(ctx, "kill", "--all", ctx.id, "KILL");
          assert.equal(kill.code, 0, kill.stderr);
          await waitForStatus(ctx, "stopped");
          await new Promise((r) => setTimeout(r, 300));
          const left = [];
          for (const o of ours) {
            if (await alive(o.pid)) left.push(`${o.pid} ${(await cmdline(o.pid)).join(" ")}`);
          }
          assert.deepEqual(left, [], "container processes that survived kill --all KILL");
          const d = await cmd(ctx, "delete", ctx.id);
          assert.equal(d.code, 0, d.stderr);
          await assertNothingLeft(ctx);
        } finally {
          // Only the processes this test's container started, by pid (and start time).
          for (const o of ours) {
            const stat = await Deno.readTextFile(`/proc/${o.pid}/stat`).catch(() => "");
            if (stat && stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] === o.start) {
              try {
                Deno.kill(o.pid, "SIGKILL");
              } catch {
                // gone meanwhile
              }
            }
          }
        }
      },
    );
  },
});

// ---------------------------------------------------------------------------------------
// delete
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: delete of a running container needs --force",
  ...rootOnly("lifecycle: delete of a running container needs --force"),
  async fn() {
    await withBundle("delete-running", { args: ["sh", "-c", SLEEPER] }, async (ctx) => {
      await createAndStart(ctx);
      const { pid } = await stateOf(ctx);

      const d = await cmd(ctx, "delete", ctx.id);
      assert.equal(d.code, 1);
      assert.equal(
        errorsOf(d.stderr),
        `druntime: cannot delete container "${ctx.id}": it is running (stop it first, or use --force)`,
      );
      const still = await stateOf(ctx);
      assert.equal(still.status, "running");
      assert.equal(still.pid, pid);
      assert.ok(await alive(pid));

      const f = await cmd(ctx, "delete", "--force", ctx.id);
      assert.equal(f.code, 0, f.stderr);
      assert.equal(errorsOf(f.stderr), "");
      assert.ok(!await alive(pid), "delete --force returns once the init is gone");
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "lifecycle: delete of a created (never started) container",
  ...rootOnly("lifecycle: delete of a created (never started) container"),
  async fn() {
    await withBundle("delete-created", { args: ["sh", "-c", SLEEPER] }, async (ctx) => {
      await mustCreate(ctx);
      const { pid, status } = await stateOf(ctx);
      assert.equal(status, "created");
      const d = await cmd(ctx, "delete", ctx.id);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(errorsOf(d.stderr), "");
      assert.ok(!await alive(pid), "the init is gone");
      assert.ok(!await exists(join(ctx.rootfs, "started")), "the command never ran");
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "lifecycle: kill of a created container stops it; start then refuses, delete needs no --force",
  ...rootOnly("lifecycle: kill of a created container stops it; start then refuses, delete needs no --force"),
  async fn() {
    await withBundle("kill-created", { args: ["sh", "-c", SLEEPER] }, async (ctx) => {
      await mustCreate(ctx);
      const { pid } = await stateOf(ctx);
      const k = await cmd(ctx, "kill", ctx.id);
      assert.equal(k.code, 0, k.stderr);
      await waitUntil(`${pid} is gone`, async () => !await alive(pid));
      assert.equal((await waitForStatus(ctx, "stopped")).pid, 0);
      const s = await cmd(ctx, "start", ctx.id);
      assert.equal(s.code, 1);
      assert.equal(
        errorsOf(s.stderr),
        `druntime: cannot start container "${ctx.id}": it is stopped, not created`,
      );
      assert.ok(!await exists(join(ctx.rootfs, "started")), "the command never ran");
      const d = await cmd(ctx, "delete", ctx.id);
      assert.equal(d.code, 0, d.stderr);
      await assertNothingLeft(ctx);
    });
  },
});

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: errors: start twice, unknown ids, an id in use, an unknown signal",
  ...rootOnly("lifecycle: errors: start twice, unknown ids, an id in use, an unknown signal"),
  async fn(t) {
    await withWorld(async (w) => {
      const ctx = await w.container("errors", { args: ["sh", "-c", SLEEPER] });
      await createAndStart(ctx);
      const before = await stateOf(ctx);

      await t.step("start of a running container", async () => {
        const r = await cmd(ctx, "start", ctx.id);
        assert.equal(r.code, 1);
        assert.equal(
          errorsOf(r.stderr),
          `druntime: cannot start container "${ctx.id}": it is running, not created`,
        );
      });

      await t.step("unknown id", async () => {
        const unknown = uniqueId("lc", "nope");
        for (const args of [["start", unknown], ["state", unknown], ["kill", unknown], ["delete", unknown]]) {
          const r = await cmd(ctx, args[0], ...args.slice(1));
          assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
          assert.equal(errorsOf(r.stderr), `druntime: container "${unknown}" does not exist`, args[0]);
          assert.equal(r.stdout, "");
        }
        assert.deepEqual(await listDir(ctx.root), [ctx.id], "nothing made for the unknown id");
      });

      await t.step("create with an id in use", async () => {
        const other = await w.container("errors-other", { args: ["sh", "-c", SLEEPER] });
        const r = await create({ ...other, id: ctx.id });
        assert.equal(r.code, 1);
        assert.equal(errorsOf(r.stderr), `druntime: container "${ctx.id}" already exists`);
        assert.ok(!await exists(join(other.rootfs, "started")));
        assert.deepEqual(await processesUsing(other.bundle), []);
        assert.deepEqual(await stateOf(ctx), before, "the first container is intact");
        assert.ok(await alive(before.pid));
      });

      await t.step("unknown signal", async () => {
        const r = await cmd(ctx, "kill", ctx.id, "FOO");
        assert.equal(r.code, 1);
        assert.equal(errorsOf(r.stderr), 'druntime: unknown signal "FOO"');
        assert.equal((await stateOf(ctx)).status, "running");
      });

      const f = await cmd(ctx, "delete", "--force", ctx.id);
      assert.equal(f.code, 0, f.stderr);
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "lifecycle: every command refuses an invalid id and touches nothing outside the root",
  ...rootOnly("lifecycle: every command refuses an invalid id and touches nothing outside the root"),
  async fn() {
    const parent = await Deno.makeTempDir({ prefix: "druntime-parent-" });
    const root = join(parent, "root");
    await Deno.mkdir(root);
    try {
      // Every problem, so that a failure shows the whole picture.
      const problems: string[] = [];
      for (const command of ["start", "state", "kill", "delete"]) {
        for (const id of ["..", ".", "../x"]) {
          const r = await druntime(["--root", root, command, id]);
          const err = errorsOf(r.stderr);
          if (r.code !== 1) problems.push(`${command} ${id}: exit ${r.code}`);
          if (!err.startsWith("druntime: invalid container id ")) {
            problems.push(`${command} ${id}: said ${err}`);
          }
          for (const name of await listDir(root)) {
            problems.push(`${command} ${id}: made ${join(root, name)}`);
            await Deno.remove(join(root, name), { recursive: true });
          }
          for (const name of await listDir(parent)) {
            if (name === "root") continue;
            problems.push(`${command} ${id}: made ${join(parent, name)}, outside the root`);
            await Deno.remove(join(parent, name), { recursive: true });
          }
        }
      }
      assert.deepEqual(problems, []);
    } finally {
      await Deno.remove(parent, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------------------------------
// list
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: list (json, --quiet, table)",
  ...rootOnly("lifecycle: list (json, --quiet, table)"),
  async fn(t) {
    await withWorld(async (w) => {
      const empty: Ctx = { id: "", root: w.root, bundle: "", rootfs: "" };
      await t.step("empty root", async () => {
        const r = await cmd(empty, "list", "--format", "json");
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), []);
        const missing = await druntime(["--root", join(w.root, "missing"), "list", "--format", "json"]);
        assert.equal(missing.code, 0, missing.stderr);
        assert.deepEqual(JSON.parse(missing.stdout), []);
      });

      const a = await w.container("list-created", { args: ["sh", "-c", SLEEPER] });
      const b = await w.container("list-running", { args: ["sh", "-c", SLEEPER] });
      await Promise.all([mustCreate(a), mustCreate(b)]);
      await mustStart(b);
      await waitForFile(b, "started");
      const [sa, sb] = [await stateOf(a), await stateOf(b)];

      await t.step("json", async () => {
        const r = await cmd(empty, "list", "--format", "json");
        assert.equal(r.code, 0, r.stderr);
        const all = JSON.parse(r.stdout) as ContainerState[];
        assert.ok(Array.isArray(all));
        const byId = new Map(all.map((c) => [c.id, c]));
        assert.deepEqual([...byId.keys()].sort(), [a.id, b.id].sort());
        assert.deepEqual(byId.get(a.id), sa);
        assert.deepEqual(byId.get(b.id), sb);
        assert.equal(byId.get(a.id)!.status, "created");
        assert.equal(byId.get(b.id)!.status, "running");
      });

      await t.step("--quiet", async () => {
        const r = await cmd(empty, "list", "--quiet");
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.stdout.split("\n").filter((l) => l !== "").sort(), [a.id, b.id].sort());
      });

      await t.step("table", async () => {
        const r = await cmd(empty, "list");
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.split("\n").filter((l) => l !== "");
        assert.deepEqual(lines[0].trim().split(/\s+/), ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]);
        assert.equal(lines.length, 3, r.stdout);
        const rows = new Map(lines.slice(1).map((l) => [l.split(/\s+/)[0], l.trim().split(/\s+/)]));
        for (const [ctx, s] of [[a, sa], [b, sb]] as const) {
          const row = rows.get(ctx.id);
          assert.ok(row, `no row for ${ctx.id}: ${r.stdout}`);
          assert.deepEqual(row.slice(0, 5), [ctx.id, String(s.pid), s.status, ctx.bundle, s.created]);
        }
      });
    });
  },
});

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: parallel creates of distinct ids all succeed",
  ...rootOnly("lifecycle: parallel creates of distinct ids all succeed"),
  async fn() {
    await withWorld(async (w) => {
      const ctxs = await Promise.all(
        [0, 1, 2, 3, 4].map((i) => w.container(`par-${i}`, { args: ["sh", "-c", SLEEPER] })),
      );
      const results = await Promise.all(ctxs.map((c) => create(c)));
      for (const [i, r] of results.entries()) assert.equal(r.code, 0, `${ctxs[i].id}: ${r.stderr}`);
      const l = await druntime(["--root", w.root, "list", "--format", "json"]);
      assert.equal(l.code, 0, l.stderr);
      const all = JSON.parse(l.stdout) as ContainerState[];
      assert.deepEqual(all.map((c) => c.id).sort(), ctxs.map((c) => c.id).sort());
      for (const c of all) assert.equal(c.status, "created", c.id);
      assert.equal(new Set(all.map((c) => c.pid)).size, ctxs.length, "distinct pids");
      for (const c of ctxs) {
        const d = await cmd(c, "delete", c.id);
        assert.equal(d.code, 0, d.stderr);
      }
      for (const c of ctxs) await assertNothingLeft(c);
    });
  },
});

Deno.test({
  name: "lifecycle: two parallel creates of one id: one wins, the other says it exists",
  ...rootOnly("lifecycle: two parallel creates of one id: one wins, the other says it exists"),
  async fn() {
    await withWorld(async (w) => {
      const one = await w.container("race-a", { args: ["sh", "-c", SLEEPER] });
      const two = await w.container("race-b", { args: ["sh", "-c", SLEEPER] });
      const id = one.id;
      two.id = id;
      const [r1, r2] = await Promise.all([create(one), create(two)]);
      assert.deepEqual([r1.code, r2.code].sort(), [0, 1], `${r1.stderr}\n${r2.stderr}`);
      const [winner, loser, lost] = r1.code === 0 ? [one, two, r2] : [two, one, r1];
      assert.equal(errorsOf(lost.stderr), `druntime: container "${id}" already exists`);

      const s = await stateOf(winner);
      assert.equal(s.status, "created");
      assert.equal(s.bundle, winner.bundle);
      assert.ok(await alive(s.pid));
      assert.deepEqual(await processesUsing(loser.bundle), [], "the loser left no process");
      assert.deepEqual(await listDir(w.root), [id]);

      await mustStart(winner);
      await waitForFile(winner, "started");
      assert.equal((await stateOf(winner)).status, "running");
      assert.ok(!await exists(join(loser.rootfs, "started")));
      const d = await cmd(winner, "delete", "--force", id);
      assert.equal(d.code, 0, d.stderr);
      await assertNothingLeft(winner);
      await assertNothingLeft(loser);
    });
  },
});

// ---------------------------------------------------------------------------------------
// The status comes from the live process
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: a state entry whose pid now names an unrelated process reads as stopped",
  ...rootOnly("lifecycle: a state entry whose pid now names an unrelated process reads as stopped"),
  async fn() {
    await withBundle("pid-reuse", { args: ["sh", "-c", SLEEPER] }, async (ctx) => {
      await createAndStart(ctx);
      const real = await stateOf(ctx);
      const stateFile = join(ctx.root, ctx.id, "state.json");
      const original = await Deno.readTextFile(stateFile);
      const stranger = new Deno.Command("sleep", {
        args: ["30"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      })
        .spawn();
      try {
        const stored = JSON.parse(original) as { pid: number; initStartTime: number };
        stored.pid = stranger.pid;
        await Deno.writeTextFile(stateFile, JSON.stringify(stored));

        const s = await stateOf(ctx);
        assert.equal(s.status, "stopped");
        assert.equal(s.pid, 0);
        const l = await cmd(ctx, "list", "--format", "json");
        assert.equal((JSON.parse(l.stdout) as ContainerState[])[0].status, "stopped");
        // ... and druntime does not signal the stranger
        const k = await cmd(ctx, "kill", ctx.id, "KILL");
        assert.equal(k.code, 1);
        assert.equal(errorsOf(k.stderr), `druntime: container "${ctx.id}" is not running`);
        assert.ok(await alive(stranger.pid), "the unrelated process survived kill");
        assert.ok(await alive(real.pid), "the real init was not touched either");
      } finally {
        await Deno.writeTextFile(stateFile, original);
        try {
          stranger.kill("SIGKILL");
        } catch {
          // gone already
        }
        await stranger.status;
      }
      assert.equal((await stateOf(ctx)).status, "running", "restored");
      const d = await cmd(ctx, "delete", "--force", ctx.id);
      assert.equal(d.code, 0, d.stderr);
      await assertNothingLeft(ctx);
    });
  },
});

// ---------------------------------------------------------------------------------------
// --log
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: --log FILE --log-format json writes errors as JSON lines",
  ...rootOnly("lifecycle: --log FILE --log-format json writes errors as JSON lines"),
  async fn() {
    await withWorld(async (w) => {
      const logFile = join(w.root, "..", `${uniqueId("lc", "log")}.log`);
      try {
        const id = uniqueId("lc", "log-unknown");
        const before = Date.now();
        const r = await druntime(["--root", w.root, "--log", logFile, "--log-format", "json", "state", id]);
        assert.equal(r.code, 1);
        const message = `container "${id}" does not exist`;
        assert.equal(errorsOf(r.stderr), `druntime: ${message}`);
        const lines = (await Deno.readTextFile(logFile)).split("\n").filter((l) => l !== "");
        assert.equal(lines.length, 1, lines.join("\n"));
        const entry = JSON.parse(lines[0]) as { level: unknown; msg: unknown; time: unknown };
        assert.equal(entry.level, "error");
        assert.equal(typeof entry.msg, "string");
        assert.ok((entry.msg as string).includes(message), String(entry.msg));
        assert.equal(typeof entry.time, "string");
        const time = Date.parse(entry.time as string);
        assert.ok(time >= before - 1000 && time <= Date.now() + 1000, `time ${entry.time}`);
      } finally {
        await Deno.remove(logFile).catch(() => {});
      }
    });
  },
});

// ---------------------------------------------------------------------------------------
// run --detach
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: run --detach returns while the container runs",
  ...rootOnly("lifecycle: run --detach returns while the container runs"),
  async fn() {
    await withBundle("detach", { args: ["sh", "-c", SLEEPER] }, async (ctx) => {
      const t0 = Date.now();
      const r = await druntimeDetached([
        "--root",
        ctx.root,
        "run",
        "--detach",
        "--bundle",
        ctx.bundle,
        ctx.id,
      ], 20_000);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(errorsOf(r.stderr), "");
      assert.ok(Date.now() - t0 < 20_000);
      await waitForFile(ctx, "started");
      const s = await stateOf(ctx);
      assert.equal(s.status, "running");
      assert.ok(await alive(s.pid));
      const d = await cmd(ctx, "delete", "--force", ctx.id);
      assert.equal(d.code, 0, d.stderr);
      assert.ok(!await alive(s.pid));
      await assertNothingLeft(ctx);
    });
  },
});

// ---------------------------------------------------------------------------------------
// Bad input for create
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: create with bad input fails clearly and leaves nothing",
  ...rootOnly("lifecycle: create with bad input fails clearly and leaves nothing"),
  async fn(t) {
    await t.step("bad id", async () => {
      await withBundle("bad-id", { args: ["true"] }, async (ctx) => {
        const r = await create({ ...ctx, id: "bad/id" });
        assert.equal(r.code, 1);
        assert.match(errorsOf(r.stderr), /^druntime: invalid container id "bad\/id": /);
        await assertNothingLeft(ctx);
      });
    });
    await t.step("missing bundle", async () => {
      await withBundle("no-bundle", { args: ["true"] }, async (ctx) => {
        const missing = join(ctx.bundle, "missing");
        const r = await create({ ...ctx, bundle: missing });
        assert.equal(r.code, 1);
        assert.equal(errorsOf(r.stderr), `druntime: bundle "${missing}": does not exist`);
        await assertNothingLeft(ctx);
      });
    });
    await t.step("relative process.cwd", async () => {
      const mutate = (spec: Spec) => {
        spec.process!.cwd = "tmp";
      };
      await withBundle("relative-cwd", { args: ["true"], mutate }, async (ctx) => {
        const r = await create(ctx);
        assert.equal(r.code, 1);
        assert.equal(
          errorsOf(r.stderr),
          'druntime: invalid config: process.cwd: must be an absolute path, got "tmp"',
        );
        await assertNothingLeft(ctx);
      });
    });
  },
});

// ---------------------------------------------------------------------------------------
// created
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "lifecycle: created is RFC 3339 with nanoseconds, in UTC, and about now",
  ...rootOnly("lifecycle: created is RFC 3339 with nanoseconds, in UTC, and about now"),
  async fn() {
    await withBundle("created", { args: ["sh", "-c", SLEEPER] }, async (ctx) => {
      const before = Date.now();
      await mustCreate(ctx);
      const after = Date.now();
      const s = await stateOf(ctx);
      assert.match(s.created, RFC3339_NANO);
      const ms = Date.parse(`${s.created.slice(0, 23)}Z`);
      assert.ok(ms >= before - 1000 && ms <= after + 1000, `${s.created} not between ${before} and ${after}`);
      const l = await cmd(ctx, "list", "--format", "json");
      assert.equal((JSON.parse(l.stdout) as ContainerState[])[0].created, s.created);
      const d = await cmd(ctx, "delete", ctx.id);
      assert.equal(d.code, 0, d.stderr);
      await assertNothingLeft(ctx);
    });
  },
});
