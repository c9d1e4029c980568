/**
 * druntime driven in cgroup v2 mode, as root, on this hybrid host (cgroup v1 controllers, and a
 * cgroup2 hierarchy at /sys/fs/cgroup/unified with no controller but hugetlb).
 *
 * Every druntime command runs through a wrapper: a private mount namespace (unshare -m
 * --propagation private) in which the v1 tree at /sys/fs/cgroup is detached (umount -l: in that
 * namespace only; the host's mounts are not touched) and the host's cgroup2 hierarchy is mounted
 * on /sys/fs/cgroup. druntime then sees only cgroup2: v2 mode, and the container's cgroup is
 * <cgroup2>/druntime/<id>, which the test reads from the host at /sys/fs/cgroup/unified/druntime/<id>.
 * Each invocation mounts the same hierarchy in a namespace of its own, so the paths druntime
 * records in state.json are the same for every command.
 *
 * The v1 tree is detached, not just covered: mountinfo still lists mounts that a later mount
 * hides. druntime skips them, both when it picks the cgroup version and when the init mounts
 * the container's /sys/fs/cgroup; the tests with COVER_SCRIPT (the plain "mount cgroup2 over
 * /sys/fs/cgroup" wrapper) check both.
 *
 * What is tested needs no controller: placement, pause/resume through cgroup.freeze, kill --all
 * through cgroup.kill (and TERM through freeze, signal, thaw), delete removing the cgroup, the
 * cgroup namespace, the eBPF device filter, cpu.stat in `events --stats`; and what druntime says
 * about a limit whose controller this cgroup2 lacks (pids).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ContainerState, StoredState } from "../../runtime/container/state.ts";
import type { StatsEvent } from "../../runtime/container/control.ts";
import type { Spec } from "../../runtime/spec/types.ts";
import { readMountInfo } from "../../runtime/init/mountinfo.ts";
import { attachedDeviceFilters, PROG_NAME } from "../../runtime/cgroups/devices_bpf.ts";
import {
  alive,
  errorsOf,
  exists,
  listDir,
  runToFiles,
  uniqueId,
  warningsOf,
  withoutNamespace,
} from "../fixtures/containers.ts";
import { isRoot, MAIN_TS, makeBundle } from "../fixtures/rootfs.ts";

// ---------------------------------------------------------------------------------------------
// The v2 wrapper
// ---------------------------------------------------------------------------------------------

/** The host's cgroup2 mount point (here /sys/fs/cgroup/unified), or null. */
const HOST_CGROUP2: string | null = (() => {
  try {
    return readMountInfo().find((m) => m.fstype === "cgroup2")?.mountPoint ?? null;
  } catch {
    return null;
  }
})();

const UNSHARE = ["/usr/bin/unshare", "/bin/unshare"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

let skipPrinted = false;

/** Root, a cgroup2 hierarchy and unshare(1); says once why not. */
function needsV2(name: string): { ignore: boolean } {
  const why = !isRoot
    ? `not root (uid ${Deno.uid()})`
    : HOST_CGROUP2 === null
    ? "no cgroup2 hierarchy is mounted"
    : UNSHARE === undefined
    ? "no unshare(1)"
    : null;
  if (why !== null && !skipPrinted) {
    skipPrinted = true;
    console.error(`note: ${why}: the cgroup v2 tests are ignored (first: "${name}")`);
  }
  return { ignore: why !== null };
}

/**
 * sh -c script run by unshare: stdio to the files $1 and $2 (a created container keeps its
 * creator's stdio: a pipe would stay open), the v1 tree detached and cgroup2 mounted on
 * /sys/fs/cgroup in this namespace only, then the command.
 */
const V2_SCRIPT = 'o=$1 e=$2; shift 2; exec </dev/null >"$o" 2>"$e"; ' +
  'umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"';

/** The wrapper as the brief first had it: cgroup2 mounted over the v1 tree, which stays listed. */
const COVER_SCRIPT = 'o=$1 e=$2; shift 2; exec </dev/null >"$o" 2>"$e"; ' +
  'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"';

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `argv` in a private mount namespace set up by `script`; kills it after `timeoutMs`. */
function inNamespace(script: string, argv: string[], timeoutMs = 30_000): Promise<Output> {
  return runToFiles([UNSHARE!, "-m", "--propagation", "private"], script, argv, {
    timeoutMs,
    what: argv.join(" "),
    env: { DENO_NO_UPDATE_CHECK: "1" },
  });
}

/** `druntime --root <root> ...args` in cgroup v2 mode (see V2_SCRIPT). */
function v2(root: string, ...args: string[]): Promise<Output> {
  return inNamespace(V2_SCRIPT, [Deno.execPath(), "run", "-A", MAIN_TS, "--root", root, ...args]);
}

// ---------------------------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------------------------

interface Ctx {
  id: string;
  root: string;
  bundle: string;
  rootfs: string;
  /** The container's cgroup as the host sees it: <host cgroup2>/druntime/<id>. */
  cgroup: string;
}

/**
 * A container in its own state root and bundle. `finally`: delete --force through the v2
 * wrapper; then the cgroup directory must be gone (if it is not, it is emptied and removed
 * here, and the test fails).
 */
async function withContainer(
  name: string,
  script: string,
  mutate: ((spec: Spec) => void) | undefined,
  fn: (ctx: Ctx) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "druntime-state-" });
  const bundle = await Deno.realPath(await Deno.makeTempDir({ prefix: "druntime-bundle-" }));
  const id = uniqueId("cg2", name);
  const ctx: Ctx = {
    id,
    root,
    bundle,
    rootfs: join(bundle, "rootfs"),
    cgroup: join(HOST_CGROUP2!, "druntime", id),
  };
  try {
    await makeBundle({ dir: bundle, args: ["sh", "-c", script], mutate });
    await fn(ctx);
  } finally {
    await cleanUp(ctx);
  }
  // Reached only when the test passed: what the cleanup found is then the failure.
  if (leftovers.has(ctx.id)) throw new Error(`cleanup: ${leftovers.get(ctx.id)}`);
}

/** What withContainer's cleanup had to do beyond `delete --force`, by container id. */
const leftovers = new Map<string, string>();

/** delete --force through the wrapper; then the cgroup must be gone; then the temp dirs. */
async function cleanUp(ctx: Ctx): Promise<void> {
  const problems: string[] = [];
  try {
    if (await exists(join(ctx.root, ctx.id))) {
      const r = await v2(ctx.root, "delete", "--force", ctx.id);
      if (r.code !== 0) problems.push(`delete --force ${ctx.id}: exit ${r.code}: ${r.stderr.trim()}`);
    }
    if (await exists(ctx.cgroup)) {
      problems.push(`cgroup ${ctx.cgroup} left behind`);
      await removeCgroupTree(ctx.cgroup);
    }
  } finally {
    await Deno.remove(ctx.bundle, { recursive: true }).catch(() => {});
    await Deno.remove(ctx.root, { recursive: true }).catch(() => {});
  }
  if (problems.length) leftovers.set(ctx.id, problems.join("; "));
}

/** Last resort after a failed delete: kill what is in the cgroup, then rmdir it, deepest first. */
async function removeCgroupTree(dir: string): Promise<void> {
  await Deno.writeTextFile(join(dir, "cgroup.kill"), "1").catch(() => {});
  const dirs: string[] = [];
  const walk = async (d: string) => {
    dirs.push(d);
    for await (const e of Deno.readDir(d)) if (e.isDirectory) await walk(join(d, e.name));
  };
  await walk(dir).catch(() => {});
  for (const d of dirs.reverse()) {
    await waitUntil(`rmdir ${d}`, async () => {
      try {
        await Deno.remove(d);
        return true;
      } catch (e) {
        return e instanceof Deno.errors.NotFound;
      }
    }, 5000).catch(() => {});
  }
}

async function mustV2(ctx: Ctx, ...args: string[]): Promise<Output> {
  const r = await v2(ctx.root, ...args);
  assert.equal(r.code, 0, `druntime ${args.join(" ")}: ${r.stderr}`);
  assert.equal(errorsOf(r.stderr), "", `druntime ${args.join(" ")}`);
  return r;
}

async function stateOf(ctx: Ctx): Promise<ContainerState> {
  return JSON.parse((await mustV2(ctx, "state", ctx.id)).stdout) as ContainerState;
}

/** Polls `cond` every 20 ms until it holds; throws after `ms`. */
async function waitUntil(what: string, cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!await cond()) {
    if (Date.now() > deadline) throw new Error(`timed out (${ms} ms) waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForFile(ctx: Ctx, name: string): Promise<void> {
  await waitUntil(`/${name} appears in ${ctx.id}`, () => exists(join(ctx.rootfs, name)));
}

/** create and start through the wrapper; then waits for /started. */
async function createAndStart(ctx: Ctx): Promise<void> {
  await mustV2(ctx, "create", "--bundle", ctx.bundle, ctx.id);
  await mustV2(ctx, "start", ctx.id);
  await waitForFile(ctx, "started");
}

/** The pids in a cgroup directory's cgroup.procs. */
async function procs(dir: string): Promise<number[]> {
  return (await Deno.readTextFile(join(dir, "cgroup.procs"))).split("\n").filter(Boolean).map(Number);
}

async function frozenLine(dir: string): Promise<string | undefined> {
  return (await Deno.readTextFile(join(dir, "cgroup.events"))).split("\n").find((l) =>
    l.startsWith("frozen ")
  );
}

async function size(path: string): Promise<number> {
  return (await Deno.stat(path)).size;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The wrapper itself
// ---------------------------------------------------------------------------------------------

const DETECT = `import { detectHierarchies } from ${
  JSON.stringify(new URL("../../runtime/cgroups/hierarchy.ts", import.meta.url).href)
};
const h = detectHierarchies();
console.log(JSON.stringify({ mode: h.mode, v1: Object.fromEntries(h.v1), v2: h.v2 }));`;

async function detectIn(
  script: string,
): Promise<{ mode: string; v1: Record<string, string>; v2: string | null }> {
  const r = await inNamespace(script, [Deno.execPath(), "eval", DETECT]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { mode: string; v1: Record<string, string>; v2: string | null };
}

Deno.test({
  name: "cgroup v2: in the wrapper's namespace druntime sees only cgroup2 (v2 mode at /sys/fs/cgroup)",
  ...needsV2("cgroup v2: in the wrapper's namespace druntime sees only cgroup2 (v2 mode at /sys/fs/cgroup)"),
  async fn() {
    const before = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n").filter((l) =>
      l.includes("cgroup")
    );
    assert.deepEqual(await detectIn(V2_SCRIPT), { mode: "v2", v1: {}, v2: "/sys/fs/cgroup" });
    const after = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n").filter((l) =>
      l.includes("cgroup")
    );
    assert.deepEqual(after, before, "the host's cgroup mounts are as they were");
  },
});

// Detection only: nothing is created (druntime create here would mkdir cgroups named "cpu",
// "memory", "unified"... in the cgroup2 root).
Deno.test({
  name: "cgroup v2: cgroup2 mounted over the v1 tree is v2 mode too (the hidden v1 mounts do not count)",
  ...needsV2(
    "cgroup v2: cgroup2 mounted over the v1 tree is v2 mode too (the hidden v1 mounts do not count)",
  ),
  async fn() {
    assert.deepEqual(await detectIn(COVER_SCRIPT), { mode: "v2", v1: {}, v2: "/sys/fs/cgroup" });
  },
});

// ---------------------------------------------------------------------------------------------
// Placement, ps, events
// ---------------------------------------------------------------------------------------------

Deno.test({
  name: "cgroup v2: the container's processes are in <cgroup2>/druntime/<id>, and state.json says v2",
  ...needsV2("cgroup v2: the container's processes are in <cgroup2>/druntime/<id>, and state.json says v2"),
  async fn() {
    await withContainer("placement", "sleep 1000 & echo started > /started; wait", undefined, async (ctx) => {
      await mustV2(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      const created = await stateOf(ctx);
      assert.equal(created.status, "created");
      assert.ok(await exists(ctx.cgroup), `${ctx.cgroup} exists once created`);
      assert.deepEqual(await procs(ctx.cgroup), [created.pid], "the init alone, before start");

      const stored = JSON.parse(await Deno.readTextFile(join(ctx.root, ctx.id, "state.json"))) as StoredState;
      assert.deepEqual(stored.cgroup?.mode, "v2");
      assert.equal(stored.cgroup?.path, `/druntime/${ctx.id}`);
      assert.deepEqual(stored.cgroup?.dirs, { "": `/sys/fs/cgroup/druntime/${ctx.id}` });

      await mustV2(ctx, "start", ctx.id);
      await waitForFile(ctx, "started");
      const pids = await procs(ctx.cgroup);
      assert.ok(pids.includes(created.pid), `init ${created.pid} in ${pids}`);
      assert.equal(pids.length, 2, `sh and sleep: ${pids}`);
      for (const pid of pids) {
        const lines = (await Deno.readTextFile(`/proc/${pid}/cgroup`)).split("\n");
        assert.ok(lines.includes(`0::/druntime/${ctx.id}`), `/proc/${pid}/cgroup: ${lines.join(" | ")}`);
      }

      const ps = await mustV2(ctx, "ps", "--format", "json", ctx.id);
      assert.deepEqual(JSON.parse(ps.stdout) as number[], [...pids].sort((a, b) => a - b));
    });
  },
});

Deno.test({
  name: "cgroup v2: events --stats reads cpu.stat (which every v2 cgroup has)",
  ...needsV2("cgroup v2: events --stats reads cpu.stat (which every v2 cgroup has)"),
  async fn() {
    const burn =
      "echo started > /started; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; touch /burnt; sleep 1000";
    await withContainer("stats", burn, undefined, async (ctx) => {
      await createAndStart(ctx);
      await waitForFile(ctx, "burnt");
      const r = await mustV2(ctx, "events", "--stats", ctx.id);
      const event = JSON.parse(r.stdout) as StatsEvent;
      assert.equal(event.type, "stats");
      assert.equal(event.id, ctx.id);
      assert.ok(event.data.cpu.usage.total > 0, `cpu usage ${JSON.stringify(event.data.cpu.usage)}`);
      assert.ok(event.data.cpu.usage.user > 0 || event.data.cpu.usage.kernel > 0);
    });
  },
});

// ---------------------------------------------------------------------------------------------
// pause and resume: cgroup.freeze
// ---------------------------------------------------------------------------------------------

Deno.test({
  name: "cgroup v2: pause freezes the cgroup (cgroup.events frozen 1, paused), resume thaws it",
  ...needsV2("cgroup v2: pause freezes the cgroup (cgroup.events frozen 1, paused), resume thaws it"),
  async fn() {
    const ticker = "echo started > /started; while :; do echo x >> /ticks; sleep 0.02; done";
    await withContainer("pause", ticker, undefined, async (ctx) => {
      await createAndStart(ctx);
      const ticks = join(ctx.rootfs, "ticks");
      await waitUntil("the ticker ticks", () => exists(ticks));
      assert.equal(await frozenLine(ctx.cgroup), "frozen 0");

      await mustV2(ctx, "pause", ctx.id);
      assert.equal(await frozenLine(ctx.cgroup), "frozen 1");
      assert.equal((await Deno.readTextFile(join(ctx.cgroup, "cgroup.freeze"))).trim(), "1");
      assert.equal((await stateOf(ctx)).status, "paused");
      const frozenAt = await size(ticks);
      await sleep(300);
      assert.equal(await size(ticks), frozenAt, "a paused container does nothing");

      // pausing twice is refused: it is paused, not running
      const again = await v2(ctx.root, "pause", ctx.id);
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /paused, not running/);

      await mustV2(ctx, "resume", ctx.id);
      assert.equal(await frozenLine(ctx.cgroup), "frozen 0");
      assert.equal((await stateOf(ctx)).status, "running");
      await waitUntil("the ticker ticks again", async () => await size(ticks) > frozenAt, 5000);
    });
  },
});

// ---------------------------------------------------------------------------------------------
// kill --all: cgroup.kill for KILL; freeze, signal, thaw for other signals
// ---------------------------------------------------------------------------------------------

/**
 * Without a pid namespace, so that the init's death takes nobody with it: a child, and a
 * grandchild that left its parent (setsid, reparented on the host); every one is in the cgroup.
 */
const FAMILY = "sleep 1001 & (setsid sleep 1002 &); sleep 0.1; echo started > /started; wait";

async function familyOf(ctx: Ctx): Promise<number[]> {
  let pids: number[] = [];
  await waitUntil("sh and its three sleeps (one in a subshell that exits) are in the cgroup", async () => {
    pids = await procs(ctx.cgroup);
    return pids.length === 3;
  });
  return pids;
}

Deno.test({
  name: "cgroup v2: kill --all KILL kills every process of the cgroup (cgroup.kill), children that left too",
  ...needsV2(
    "cgroup v2: kill --all KILL kills every process of the cgroup (cgroup.kill), children that left too",
  ),
  async fn() {
    await withContainer("kill-all", FAMILY, withoutNamespace("pid"), async (ctx) => {
      await createAndStart(ctx);
      const pids = await familyOf(ctx);
      const init = (await stateOf(ctx)).pid;
      const orphan = [];
      for (const pid of pids) {
        const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
        if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== init && pid !== init) {
          orphan.push(pid);
        }
      }
      assert.equal(orphan.length, 1, "one sleep is no child of the init");

      await mustV2(ctx, "kill", "--all", ctx.id, "KILL");
      for (const pid of pids) await waitUntil(`process ${pid} is gone`, async () => !await alive(pid), 5000);
      await waitUntil("the cgroup is empty", async () => (await procs(ctx.cgroup)).length === 0, 5000);
      assert.match(await Deno.readTextFile(join(ctx.cgroup, "cgroup.events")), /^populated 0$/m);
      assert.equal((await stateOf(ctx)).status, "stopped");

      await mustV2(ctx, "delete", ctx.id);
      assert.ok(!await exists(ctx.cgroup), "delete removes the cgroup");
    });
  },
});

Deno.test({
  name: "cgroup v2: kill --all TERM reaches every process, and leaves the cgroup thawed",
  ...needsV2("cgroup v2: kill --all TERM reaches every process, and leaves the cgroup thawed"),
  async fn() {
    await withContainer("killterm", FAMILY, withoutNamespace("pid"), async (ctx) => {
      await createAndStart(ctx);
      const pids = await familyOf(ctx);
      await mustV2(ctx, "kill", "--all", ctx.id, "TERM");
      for (const pid of pids) await waitUntil(`process ${pid} is gone`, async () => !await alive(pid), 5000);
      assert.equal(await frozenLine(ctx.cgroup), "frozen 0");
      assert.equal((await Deno.readTextFile(join(ctx.cgroup, "cgroup.freeze"))).trim(), "0");
    });
  },
});

Deno.test({
  name: "cgroup v2: delete --force of a paused container kills it and removes the cgroup and state",
  ...needsV2("cgroup v2: delete --force of a paused container kills it and removes the cgroup and state"),
  async fn() {
    await withContainer("delete", "sleep 1000 & echo started > /started; wait", undefined, async (ctx) => {
      await createAndStart(ctx);
      const pids = await procs(ctx.cgroup);
      await mustV2(ctx, "pause", ctx.id);
      const refused = await v2(ctx.root, "delete", ctx.id);
      assert.notEqual(refused.code, 0, "a paused container is not deleted without --force");
      assert.ok(await exists(ctx.cgroup));

      await mustV2(ctx, "delete", "--force", ctx.id);
      assert.ok(!await exists(ctx.cgroup), `${ctx.cgroup} is removed`);
      assert.deepEqual(await listDir(ctx.root), [], "no state entry left");
      for (const pid of pids) assert.ok(!await alive(pid), `process ${pid} is gone`);
      assert.ok(await exists(join(HOST_CGROUP2!, "druntime")), "the shared parent /druntime stays");
    });
  },
});

// ---------------------------------------------------------------------------------------------
// The cgroup namespace
// ---------------------------------------------------------------------------------------------

const CGROUPNS_SCRIPT =
  "cat /proc/self/cgroup > /cgroup.txt; grep ' /sys/fs/cgroup ' /proc/self/mountinfo > /mnt.txt; " +
  "cat /sys/fs/cgroup/cgroup.procs > /procs.txt; echo started > /started";

/** `run` of CGROUPNS_SCRIPT through the wrapper `wrapper`; checks what the container saw. */
async function checkCgroupNamespace(name: string, wrapper: string): Promise<void> {
  await withContainer(name, CGROUPNS_SCRIPT, undefined, async (ctx) => {
    const argv = [
      Deno.execPath(),
      "run",
      "-A",
      MAIN_TS,
      "--root",
      ctx.root,
      "run",
      "--bundle",
      ctx.bundle,
      ctx.id,
    ];
    const r = await inNamespace(wrapper, argv);
    assert.equal(r.code, 0, r.stderr);
    const lines = (await Deno.readTextFile(join(ctx.rootfs, "cgroup.txt"))).split("\n");
    assert.ok(lines.includes("0::/"), `/proc/self/cgroup: ${lines.join(" | ")}`);
    const mnt = (await Deno.readTextFile(join(ctx.rootfs, "mnt.txt"))).trim();
    assert.match(mnt, / - cgroup2 /, `the container's /sys/fs/cgroup is cgroup2: ${mnt}`);
    // Its own cgroup is the root of what it sees: its init (pid 1 in its pid namespace) is there.
    const procs = (await Deno.readTextFile(join(ctx.rootfs, "procs.txt"))).trim().split("\n");
    assert.ok(procs.includes("1"), `/sys/fs/cgroup/cgroup.procs in the container: ${procs}`);
    assert.ok(!await exists(ctx.cgroup), "run removes the cgroup when the container exits");
    assert.equal(errorsOf(r.stderr), "");
  });
}

Deno.test({
  name: 'cgroup v2: in a cgroup namespace /proc/self/cgroup says "0::/" and /sys/fs/cgroup is the cgroup2',
  ...needsV2(
    'cgroup v2: in a cgroup namespace /proc/self/cgroup says "0::/" and /sys/fs/cgroup is the cgroup2',
  ),
  async fn() {
    await checkCgroupNamespace("cgroupns", V2_SCRIPT);
  },
});

// The brief's wrapper: cgroup2 mounted over the v1 tree, whose mounts stay listed in mountinfo.
// druntime's own detection skips them (v2 mode); the container's cgroup mount must too, or the
// container would get a tmpfs of v1 hierarchies rooted at the caller's cgroups.
Deno.test({
  name: "cgroup v2: with cgroup2 mounted over the v1 tree the container's /sys/fs/cgroup is cgroup2 too",
  ...needsV2(
    "cgroup v2: with cgroup2 mounted over the v1 tree the container's /sys/fs/cgroup is cgroup2 too",
  ),
  async fn() {
    await checkCgroupNamespace("cgroupns-cover", COVER_SCRIPT);
  },
});

// ---------------------------------------------------------------------------------------------
// A limit this cgroup2 has no controller for
// ---------------------------------------------------------------------------------------------

Deno.test({
  name:
    "cgroup v2: linux.resources.pids without a pids controller in cgroup2 is named in a warning or an error",
  ...needsV2(
    "cgroup v2: linux.resources.pids without a pids controller in cgroup2 is named in a warning or an error",
  ),
  async fn() {
    const controllers = (await Deno.readTextFile(join(HOST_CGROUP2!, "cgroup.controllers"))).trim().split(
      /\s+/,
    );
    if (controllers.includes("pids")) {
      console.error("note: this cgroup2 has a pids controller: nothing to test");
      return;
    }
    const mutate = (spec: Spec) => {
      spec.linux!.resources = { ...spec.linux!.resources, pids: { limit: 10 } };
    };
    await withContainer("nopids", "echo started > /started; sleep 1000", mutate, async (ctx) => {
      const r = await v2(ctx.root, "create", "--bundle", ctx.bundle, ctx.id);
      const said = r.code === 0 ? warningsOf(r.stderr).join("\n") : errorsOf(r.stderr);
      console.error(
        `  create with pids.limit 10 on a cgroup2 without pids: exit ${r.code}: ${r.stderr.trim()}`,
      );
      assert.match(said, /pids/, "the message names the pids limit");
      if (r.code === 0) {
        // A warning: the container runs without the limit. It must say what was not applied.
        assert.match(said, /pids\.max/);
        assert.match(said, /not applied/);
        assert.ok(!await exists(join(ctx.cgroup, "pids.max")));
        // update says the same about the same limit
        const u = await v2(ctx.root, "update", "--pids-limit", "20", ctx.id);
        console.error(`  update --pids-limit 20: exit ${u.code}: ${u.stderr.trim()}`);
        assert.match(u.code === 0 ? warningsOf(u.stderr).join("\n") : errorsOf(u.stderr), /pids/);
      } else {
        assert.ok(!await exists(ctx.cgroup), "a refused create leaves no cgroup");
        assert.deepEqual(await listDir(ctx.root), [], "nor a state entry");
      }
      // The kernel has the pids controller (bound to a v1 hierarchy here): what is missing is the
      // controller in this cgroup2 (its cgroup.controllers), and the message should say so, as
      // druntime's v1 mode does ("no pids controller on this host"), not blame the kernel.
      if (/^pids\s+\d+\s+\d+\s+1$/m.test(await Deno.readTextFile("/proc/cgroups"))) {
        assert.doesNotMatch(said, /on this kernel/, "the kernel has pids (/proc/cgroups)");
        assert.match(said, /pids controller/);
      }
    });
  },
});

// ---------------------------------------------------------------------------------------------
// The eBPF device filter
// ---------------------------------------------------------------------------------------------

/**
 * A config edit that adds capabilities to every set the config has: the default set lacks
 * CAP_MKNOD (for mknod) and CAP_SYSLOG (for reading /dev/kmsg while kernel.dmesg_restrict is 1),
 * and without them an EPERM would not be the device filter's.
 */
function withCapabilities(...caps: string[]): (spec: Spec) => void {
  return (spec) => {
    const sets = spec.process!.capabilities!;
    for (const key of ["bounding", "effective", "permitted"] as const) {
      sets[key] = [...new Set([...(sets[key] ?? []), ...caps])];
    }
  };
}

Deno.test({
  name:
    "cgroup v2: the device filter allows runc's default devices and refuses others (EPERM), whatever the node's path",
  ...needsV2(
    "cgroup v2: the device filter allows runc's default devices and refuses others (EPERM), whatever the node's path",
  ),
  async fn() {
    const script = [
      "head -c 4 /dev/zero | wc -c > /zero.txt",
      "echo hi > /dev/null && echo ok > /null.txt",
      "head -c 4 /dev/urandom | wc -c > /urandom.txt",
      // mknod of any device is allowed (c *:* m, b *:* m); opening is what the filter decides
      "mknod /dev/mynull c 1 3 && echo x > /dev/mynull && echo ok > /mynull.txt",
      "mknod /dev/mykmsg c 1 11 && echo ok > /mknod.txt",
      "sh -c ': < /dev/mykmsg' 2> /kmsg.err; echo $? > /kmsg.rc",
      "sh -c ': > /dev/mykmsg' 2> /kmsgw.err; echo $? > /kmsgw.rc",
      "mknod /dev/myloop b 7 0 && sh -c ': < /dev/myloop' 2> /loop.err; echo $? > /loop.rc",
      "echo started > /started",
      "sleep 1000",
    ].join("; ");
    await withContainer("devices", script, withCapabilities("CAP_MKNOD", "CAP_SYSLOG"), async (ctx) => {
      const spec = JSON.parse(await Deno.readTextFile(join(ctx.bundle, "config.json"))) as Spec;
      assert.deepEqual(
        spec.linux?.resources?.devices,
        [{ allow: false, access: "rwm" }],
        "the default deny-all",
      );

      await mustV2(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      const filters = attachedDeviceFilters(ctx.cgroup);
      assert.deepEqual(filters.map((f) => f.name), [PROG_NAME], "one druntime device program on the cgroup");

      await mustV2(ctx, "start", ctx.id);
      await waitForFile(ctx, "started");
      const read = (name: string) => Deno.readTextFile(join(ctx.rootfs, name)).then((s) => s.trim());
      assert.equal(await read("zero.txt"), "4", "/dev/zero reads");
      assert.equal(await read("null.txt"), "ok", "/dev/null writes");
      assert.equal(await read("urandom.txt"), "4", "/dev/urandom reads");
      assert.equal(await read("mynull.txt"), "ok", "c 1:3 is allowed at any path");
      assert.equal(await read("mknod.txt"), "ok", "mknod c 1:11 is allowed");
      assert.notEqual(await read("kmsg.rc"), "0", "opening c 1:11 for reading fails");
      assert.match(await read("kmsg.err"), /Operation not permitted/);
      assert.notEqual(await read("kmsgw.rc"), "0", "opening c 1:11 for writing fails");
      assert.match(await read("kmsgw.err"), /Operation not permitted/);
      assert.notEqual(await read("loop.rc"), "0", "opening b 7:0 fails");
      assert.match(await read("loop.err"), /Operation not permitted/);
    });
  },
});

Deno.test({
  name:
    "cgroup v2: a linux.devices entry is allowed through the filter; the default allow list follows the config's rules",
  ...needsV2(
    "cgroup v2: a linux.devices entry is allowed through the filter; the default allow list follows the config's rules",
  ),
  async fn() {
    const script = [
      "sh -c ': < /dev/kmsg' 2> /kmsg.err; echo $? > /kmsg.rc",
      // /dev/full is in the default allow list; denied here after it, by a rule of the config's
      "sh -c ': < /dev/full' 2> /full.err; echo $? > /full.rc",
      "echo started > /started",
    ].join("; ");
    const mutate = (spec: Spec) => {
      withCapabilities("CAP_SYSLOG")(spec);
      spec.linux!.devices = [{
        path: "/dev/kmsg",
        type: "c",
        major: 1,
        minor: 11,
        fileMode: 0o644,
        uid: 0,
        gid: 0,
      }];
      spec.linux!.resources!.devices = [
        { allow: false, access: "rwm" },
        { allow: false, type: "c", major: 1, minor: 7, access: "rwm" },
      ];
    };
    await withContainer("devices-own", script, mutate, async (ctx) => {
      await mustV2(ctx, "run", "--bundle", ctx.bundle, ctx.id);
      const read = (name: string) => Deno.readTextFile(join(ctx.rootfs, name)).then((s) => s.trim());
      assert.equal(await read("kmsg.rc"), "0", `/dev/kmsg (linux.devices) opens: ${await read("kmsg.err")}`);
      // The config's rules come first, the defaults after: the default allow of c 1:7 is the
      // last rule that matches, so /dev/full stays allowed, as in runc.
      assert.equal(await read("full.rc"), "0", `/dev/full: ${await read("full.err")}`);
    });
  },
});
