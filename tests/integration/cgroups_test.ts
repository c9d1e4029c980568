/**
 * The container's cgroup, end to end, as root, on real containers: every limit lands in its
 * file, the OOM killer and pids.max hold, pause/resume freeze and thaw every process, update
 * changes the limits of a running container, ps lists and kill --all reaches every member,
 * cgroupsPath and the cgroup namespace are honoured, and bad input leaves no cgroup behind.
 *
 * The container's cgroup is /druntime/<id> (or its linux.cgroupsPath): each test has its own
 * unique id, so its own cgroup path, and checks in `finally` (after `delete --force`) that no
 * directory of it is left in any hierarchy. The expectations are cgroup v1's (the development
 * and CI machines' layout: one hierarchy per controller, plus an empty cgroup2 at
 * /sys/fs/cgroup/unified where the container is placed too); on a v2-only host they are ignored.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ContainerState } from "../../runtime/container/state.ts";
import type { Resources, Spec } from "../../runtime/spec/types.ts";
import {
  alive,
  assertNothingLeft,
  type Container,
  druntimeDetached,
  errorsOf,
  exists,
  listDir,
  uniqueId,
  warningsOf,
  withoutNamespace,
} from "../fixtures/containers.ts";
import { druntime, druntimeCommand, isRoot, makeBundle } from "../fixtures/rootfs.ts";

// ---------------------------------------------------------------------------------------
// The host's hierarchies
// ---------------------------------------------------------------------------------------

/** The v1 controllers druntime manages here (the others a host may have are not checked). */
const V1_CONTROLLERS = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"];

interface Hierarchies {
  /** v1 controller -> its hierarchy's mount point (co-mounted controllers share one). */
  v1: Map<string, string>;
  /** The cgroup2 mount point, or null. */
  unified: string | null;
}

/** The cgroup hierarchies mounted here, read from /proc/self/mountinfo (the first mount of each wins). */
function readHierarchies(): Hierarchies {
  const v1 = new Map<string, string>();
  let unified: string | null = null;
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const mountPoint = line.slice(0, sep).split(" ")[4];
    const [fstype, , superOptions = ""] = line.slice(sep + 3).split(" ");
    if (fstype === "cgroup") {
      for (const o of superOptions.split(",")) {
        if (V1_CONTROLLERS.includes(o) && !v1.has(o)) v1.set(o, mountPoint);
      }
    } else if (fstype === "cgroup2" && unified === null) {
      unified = mountPoint;
    }
  }
  return { v1, unified };
}

const H: Hierarchies = isRoot ? readHierarchies() : { v1: new Map(), unified: null };

/** This host drives cgroup v1 with every controller these tests look at. */
const V1 = V1_CONTROLLERS.every((c) => H.v1.has(c));

/** memory+swap accounting (memory.memsw.*) exists: swap limits can be set and read back. */
const MEMSW = V1 && (() => {
  try {
    Deno.statSync(join(H.v1.get("memory")!, "memory.memsw.limit_in_bytes"));
    return true;
  } catch {
    return false;
  }
})();

let skipNotePrinted = false;

/** Spread into a Deno.test: ignored unless root on a cgroup v1 host (says why once). */
function v1Only(name: string): { ignore: boolean } {
  const ignore = !isRoot || !V1;
  if (ignore && !skipNotePrinted) {
    skipNotePrinted = true;
    console.error(
      `note: ${isRoot ? "not a cgroup v1 host" : `not root (uid ${Deno.uid()})`}: ` +
        `the cgroup tests are ignored (first: "${name}")`,
    );
  }
  return { ignore };
}

/** Every directory of the cgroup `path`: one per v1 hierarchy, and the unified tree's. */
function cgroupDirs(path: string): string[] {
  const mounts = new Set(H.v1.values());
  if (H.unified !== null) mounts.add(H.unified);
  return [...mounts].map((m) => join(m, path));
}

/** The directory of cgroup `path` in `controller`'s hierarchy. */
function cgDir(controller: string, path: string): string {
  const mount = H.v1.get(controller);
  if (mount === undefined) throw new Error(`no ${controller} hierarchy`);
  return join(mount, path);
}

/** A cgroup file's content, trimmed. */
async function cgRead(controller: string, path: string, file: string): Promise<string> {
  return (await Deno.readTextFile(join(cgDir(controller, path), file))).trim();
}

/** The directories of cgroup `path` that exist. */
async function existingDirs(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const d of cgroupDirs(path)) if (await exists(d)) found.push(d);
  return found;
}

async function assertNoCgroup(path: string): Promise<void> {
  assert.deepEqual(await existingDirs(path), [], `cgroup directories of ${path} left behind`);
}

/** The pids in cgroup `path` (its pids hierarchy's cgroup.procs), sorted. */
async function procsOf(path: string): Promise<number[]> {
  const text = await Deno.readTextFile(join(cgDir("pids", path), "cgroup.procs"));
  return text.split("\n").filter(Boolean).map(Number).sort((a, b) => a - b);
}

/**
 * Last resort after a failed test whose druntime left the cgroup behind: SIGKILL what is in it
 * (only this test's processes can be: the path is unique to it), thaw it, remove it deepest first.
 */
async function scrubCgroup(path: string): Promise<void> {
  for (const dir of await existingDirs(path)) {
    const all: string[] = [];
    const walk = async (d: string) => {
      all.push(d);
      for await (const e of Deno.readDir(d)) if (e.isDirectory) await walk(join(d, e.name));
    };
    await walk(dir).catch(() => {});
    for (const d of all) {
      const procs = await Deno.readTextFile(join(d, "cgroup.procs")).catch(() => "");
      for (const pid of procs.split("\n").filter(Boolean)) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch {
          // gone
        }
      }
      if (await exists(join(d, "freezer.state"))) {
        await Deno.writeTextFile(join(d, "freezer.state"), "THAWED").catch(() => {});
      }
    }
    for (const d of all.reverse()) {
      for (let i = 0; i < 100; i++) {
        try {
          await Deno.remove(d);
          break;
        } catch (e) {
          if (e instanceof Deno.errors.NotFound) break;
          await sleep(20);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------------------

const MiB = 1024 * 1024;

/** One container: its id, state root, bundle, and the cgroup path it should get. */
interface Ctx extends Container {
  /** The container's cgroup path, e.g. /druntime/<id>. */
  cgroup: string;
}

interface Opts {
  args: string[];
  resources?: Resources;
  /** linux.cgroupsPath as written in config.json. */
  cgroupsPath?: string;
  /** The cgroup path that cgroupsPath should become (default /druntime/<id>). */
  expectCgroup?: string;
  mutate?: (spec: Spec) => void;
}

/** A config edit that sets linux.resources (keeping the default device rules unless given). */
function withResources(r: Resources): (spec: Spec) => void {
  return (spec) => {
    spec.linux!.resources = { ...spec.linux!.resources, ...r };
  };
}

/**
 * A container in its own state root and bundle; afterwards `delete --force` if its state entry
 * is there, then (when the test passed) the checks that nothing is left: no state entry, mount or
 * process, and no directory of its cgroup in any hierarchy. A cgroup left behind by a failure
 * is scrubbed, so that the next run starts clean.
 */
async function withContainer(name: string, opts: Opts, fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "druntime-state-" });
  const bundle = await Deno.realPath(await Deno.makeTempDir({ prefix: "druntime-bundle-" }));
  const id = uniqueId("cg", name);
  const ctx: Ctx = {
    id,
    root,
    bundle,
    rootfs: join(bundle, "rootfs"),
    cgroup: opts.expectCgroup ?? `/druntime/${id}`,
  };
  let passed = false;
  const problems: string[] = [];
  try {
    await makeBundle({
      dir: bundle,
      args: opts.args,
      mutate: (spec) => {
        if (opts.resources) withResources(opts.resources)(spec);
        if (opts.cgroupsPath !== undefined) spec.linux!.cgroupsPath = opts.cgroupsPath;
        opts.mutate?.(spec);
      },
    });
    await fn(ctx);
    passed = true;
  } finally {
    if (await exists(join(root, id))) {
      const d = await druntime(["--root", root, "delete", "--force", id]);
      if (d.code !== 0) problems.push(`delete --force ${id}: exit ${d.code}: ${d.stderr}`);
    }
    const left = await existingDirs(ctx.cgroup);
    if (left.length) {
      problems.push(`cgroup directories left behind: ${left.join(", ")}`);
      await scrubCgroup(ctx.cgroup);
    }
    if (passed) {
      try {
        await assertNothingLeft(ctx);
      } catch (e) {
        problems.push(e instanceof Error ? e.message : String(e));
      }
    }
    await Deno.remove(bundle, { recursive: true }).catch(() => {});
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  if (problems.length) throw new Error(`after the test: ${problems.join("\n")}`);
}

/** `druntime --root <root> ...args`, to completion, with pipes. */
async function dr(ctx: Ctx, args: string[], stdin?: string) {
  return await druntime(["--root", ctx.root, ...args], stdin === undefined ? {} : { stdin });
}

/** run --detach (through druntimeDetached: the container keeps its creator's stdio). */
async function runDetached(ctx: Ctx) {
  return await druntimeDetached(["--root", ctx.root, "run", "--detach", "--bundle", ctx.bundle, ctx.id]);
}

/** run --detach, asserting success and no error, then waits until the process wrote /started. */
async function mustRunDetached(ctx: Ctx): Promise<{ stderr: string }> {
  const r = await runDetached(ctx);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(errorsOf(r.stderr), "");
  await waitForFile(ctx, "started");
  return r;
}

async function stateOf(ctx: Ctx): Promise<ContainerState> {
  const r = await dr(ctx, ["state", ctx.id]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ContainerState;
}

async function psJson(ctx: Ctx): Promise<number[]> {
  const r = await dr(ctx, ["ps", "--format", "json", ctx.id]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as number[]).sort((a, b) => a - b);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `p`'s value, or null when it takes longer than `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<null>((r) => timer = setTimeout(() => r(null), ms))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every 20 ms until it holds; throws after `ms`. */
async function waitUntil(what: string, cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!await cond()) {
    if (Date.now() > deadline) throw new Error(`timed out (${ms} ms) waiting until ${what}`);
    await sleep(20);
  }
}

async function waitForFile(ctx: Ctx, name: string, ms = 10_000): Promise<void> {
  await waitUntil(`/${name} appears in ${ctx.id}`, () => exists(join(ctx.rootfs, name)), ms);
}

/** A file the container wrote, trimmed ("" while it is being rewritten). */
async function readOut(ctx: Ctx, name: string): Promise<string> {
  return (await Deno.readTextFile(join(ctx.rootfs, name)).catch(() => "")).trim();
}

async function waitGone(pids: number[]): Promise<void> {
  await waitUntil(`processes ${pids.join(" ")} are gone`, async () => {
    for (const p of pids) if (await alive(p)) return false;
    return true;
  });
}

/**
 * /proc/<pid>/cgroup as controller -> path, for the hierarchies druntime manages ("" for the
 * unified tree); named hierarchies (name=systemd) are left out.
 */
function cgroupLines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n").filter(Boolean)) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    assert.ok(m, `not a /proc/<pid>/cgroup line: ${JSON.stringify(line)}`);
    const [, , controllers, path] = m;
    if (controllers === "") out.set("", path);
    for (const c of controllers.split(",")) if (V1_CONTROLLERS.includes(c)) out.set(c, path);
  }
  return out;
}

/** Asserts that every managed hierarchy's line of a /proc/<pid>/cgroup text names `path`. */
function assertCgroupLines(text: string, path: string, who: string): void {
  const lines = cgroupLines(text);
  for (const c of V1_CONTROLLERS) assert.equal(lines.get(c), path, `${who}: the ${c} line of\n${text}`);
  if (H.unified !== null) assert.equal(lines.get(""), path, `${who}: the unified (0::) line of\n${text}`);
}

/** A shell that reports, then sleeps as PID 1. */
const SLEEPER = "echo started > /started; exec sleep 60";

// ---------------------------------------------------------------------------------------
// 1. Each limit in its file
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "cgroups: every linux.resources limit lands in its cgroup file",
  ...v1Only("cgroups: every linux.resources limit lands in its cgroup file"),
  async fn() {
    const resources: Resources = {
      memory: {
        limit: 64 * MiB,
        reservation: 32 * MiB,
        swappiness: 10,
        ...(MEMSW ? { swap: 128 * MiB } : {}),
      },
      cpu: { shares: 512, quota: 50_000, period: 200_000, cpus: "0", mems: "0" },
      pids: { limit: 50 },
      blockIO: { weight: 300 },
      // deny all, then read-only access to the loop device 7:0 (before runc's default allow list)
      devices: [{ allow: false, access: "rwm" }, { allow: true, type: "b", major: 7, minor: 0, access: "r" }],
    };
    // The container reports its cgroups, and whether it may open a device it was not given
    // (10:229, fuse) and one it was (1:5, zero): mknod (with CAP_MKNOD) is allowed for every
    // character device ("c *:* m"), open only for the allowed ones.
    const script = "cat /proc/self/cgroup > /cgroup.txt; " +
      "mknod /dev/denied c 10 229 2> /mknod.err; mknod /dev/allowed c 1 5 2>> /mknod.err; " +
      "(: < /dev/denied) 2> /denied.err; echo $? > /denied.rc; head -c 3 /dev/allowed | wc -c > /allowed.txt; " +
      SLEEPER;
    const withMknod = (spec: Spec) => {
      const caps = spec.process!.capabilities!;
      for (const set of [caps.bounding!, caps.effective!, caps.permitted!]) set.push("CAP_MKNOD");
    };
    await withContainer(
      "limits",
      {
        args: ["sh", "-c", script],
        resources,
        mutate: (spec) => {
          withoutNamespace("cgroup")(spec);
          withMknod(spec);
        },
      },
      async (ctx) => {
        const r = await mustRunDetached(ctx);
        const p = ctx.cgroup;
        const mem = (f: string) => cgRead("memory", p, f);
        assert.equal(await mem("memory.limit_in_bytes"), String(64 * MiB));
        assert.equal(await mem("memory.soft_limit_in_bytes"), String(32 * MiB));
        if (MEMSW) assert.equal(await mem("memory.memsw.limit_in_bytes"), String(128 * MiB));
        assert.equal(await mem("memory.swappiness"), "10");
        assert.equal(await cgRead("cpu", p, "cpu.shares"), "512");
        assert.equal(await cgRead("cpu", p, "cpu.cfs_quota_us"), "50000");
        assert.equal(await cgRead("cpu", p, "cpu.cfs_period_us"), "200000");
        assert.equal(await cgRead("cpuset", p, "cpuset.cpus"), "0");
        assert.equal(await cgRead("cpuset", p, "cpuset.mems"), "0");
        assert.equal(await cgRead("pids", p, "pids.max"), "50");

        // blkio: blkio.weight (CFQ), else blkio.bfq.weight (BFQ, "default 300" or "300"), else a warning
        const blkio = cgDir("blkio", p);
        if (await exists(join(blkio, "blkio.weight"))) {
          assert.match(await cgRead("blkio", p, "blkio.weight"), /^(default )?300$/m);
        } else if (await exists(join(blkio, "blkio.bfq.weight"))) {
          assert.match(await cgRead("blkio", p, "blkio.bfq.weight"), /^(default )?300$/m);
        } else {
          assert.ok(
            warningsOf(r.stderr).some((w) => w.includes("blkio.weight")),
            `no warning about blkio.weight in:\n${r.stderr}`,
          );
        }

        // devices: deny-all first (no "a *:* rwm"), then the allow list
        const devices = (await cgRead("devices", p, "devices.list")).split("\n");
        assert.ok(
          !devices.includes("a *:* rwm"),
          `devices.list still allows everything:\n${devices.join("\n")}`,
        );
        for (
          const rule of [
            "b 7:0 r",
            "c *:* m",
            "b *:* m",
            "c 1:3 rwm",
            "c 1:5 rwm",
            "c 1:9 rwm",
            "c 136:* rwm",
          ]
        ) {
          assert.ok(
            devices.includes(rule),
            `devices.list lacks ${JSON.stringify(rule)}:\n${devices.join("\n")}`,
          );
        }
        assert.ok(!devices.some((l) => l.startsWith("c 10:229 ")), "devices.list allows 10:229");
        assert.equal(await readOut(ctx, "mknod.err"), "");
        assert.notEqual(
          await readOut(ctx, "denied.rc"),
          "0",
          "the container could open a device it was not given",
        );
        assert.match(await readOut(ctx, "denied.err"), /Operation not permitted/);
        assert.equal(await readOut(ctx, "allowed.txt"), "3", "the container could not read /dev/zero (1:5)");

        // the container's own view, and the host's, of where it is
        const pid = (await stateOf(ctx)).pid;
        assertCgroupLines(await readOut(ctx, "cgroup.txt"), p, "the container's /proc/self/cgroup");
        assertCgroupLines(
          await Deno.readTextFile(`/proc/${pid}/cgroup`),
          p,
          `the host's /proc/${pid}/cgroup`,
        );
        for (const dir of cgroupDirs(p)) {
          const procs = (await Deno.readTextFile(join(dir, "cgroup.procs"))).split("\n");
          assert.ok(procs.includes(String(pid)), `${dir}/cgroup.procs lacks the init ${pid}`);
        }
      },
    );
  },
});

// ---------------------------------------------------------------------------------------
// 2. OOM
// ---------------------------------------------------------------------------------------

/** A memory limit the container cannot escape into swap. */
function tightMemory(limit: number): Resources {
  return { memory: { limit, ...(MEMSW ? { swap: limit } : {}) } };
}

Deno.test({
  name: "cgroups: a container over its memory limit is OOM-killed: run exits 137",
  ...v1Only("cgroups: a container over its memory limit is OOM-killed: run exits 137"),
  async fn() {
    // busybox sort holds its input in memory, and /dev/zero is one endless line.
    await withContainer(
      "oom-run",
      { args: ["sort", "/dev/zero"], resources: tightMemory(16 * MiB) },
      async (ctx) => {
        const r = await dr(ctx, ["run", "--keep", "--bundle", ctx.bundle, ctx.id]);
        assert.equal(r.code, 137, `run: exit ${r.code}: ${r.stderr}`);
        assert.equal(errorsOf(r.stderr), "");
        assert.equal((await stateOf(ctx)).status, "stopped");
        // memory.oom_control counts the kill; the limit was hit
        const oom = await cgRead("memory", ctx.cgroup, "memory.oom_control");
        assert.match(oom, /^oom_kill [1-9]\d*$/m, `memory.oom_control:\n${oom}`);
        // (memory.failcnt stays 0 on recent kernels: the high-water mark shows the limit was hit)
        const peak = Number(await cgRead("memory", ctx.cgroup, "memory.max_usage_in_bytes"));
        assert.ok(peak > 15 * MiB && peak <= 16 * MiB, `memory.max_usage_in_bytes ${peak}`);
        assert.equal(await cgRead("memory", ctx.cgroup, "memory.limit_in_bytes"), String(16 * MiB));
        const d = await dr(ctx, ["delete", ctx.id]);
        assert.equal(d.code, 0, d.stderr);
        await assertNoCgroup(ctx.cgroup);
      },
    );
  },
});

/** Lines read from a stream as they come, in the background. */
class LineCollector {
  readonly lines: string[] = [];
  readonly done: Promise<void>;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
      }
      if (rest) this.lines.push(rest);
    })();
  }
}

interface StatsLine {
  type: "stats";
  id: string;
  data: {
    memory: { usage: { usage: number } };
    cpu: { usage: { total: number } };
    pids: { current: number };
  };
}

Deno.test({
  name: "cgroups: events prints stats lines and an oom line when a process of the container is OOM-killed",
  ...v1Only(
    "cgroups: events prints stats lines and an oom line when a process of the container is OOM-killed",
  ),
  async fn() {
    // The container waits for /go (written once events watches), then a child of the init
    // blows the limit: it is OOM-killed, the container goes on.
    const script = "echo started > /started; until [ -e /go ]; do sleep 0.05; done; " +
      "sort /dev/zero > /dev/null; echo survived > /survived; until [ -e /exit ]; do sleep 0.05; done";
    await withContainer(
      "oom-events",
      { args: ["sh", "-c", script], resources: tightMemory(16 * MiB) },
      async (ctx) => {
        await mustRunDetached(ctx);
        const events = druntimeCommand(["--root", ctx.root, "events", "--interval", "100ms", ctx.id]).spawn();
        const out = new LineCollector(events.stdout);
        const err = new LineCollector(events.stderr);
        try {
          await waitUntil("events prints a line", () => out.lines.length > 0);
          await Deno.writeTextFile(join(ctx.rootfs, "go"), "");
          await waitUntil(
            `events prints an oom line (so far:\n${out.lines.join("\n")}\nstderr:\n${err.lines.join("\n")})`,
            () => out.lines.some((l) => l.includes('"oom"')),
            20_000,
          );
          await waitForFile(ctx, "survived");
          assert.equal((await stateOf(ctx)).status, "running");
          // at least one more stats line after the OOM
          const at = out.lines.findIndex((l) => l.includes('"oom"'));
          await waitUntil("a stats line after the oom line", () => out.lines.length > at + 1);
          // the container ends: so does events, by itself, with exit 0
          await Deno.writeTextFile(join(ctx.rootfs, "exit"), "");
          const ended = await within(events.status, 10_000);
          assert.ok(ended !== null, "events still runs 10 s after the container stopped");
          assert.equal(ended.code, 0, err.lines.join("\n"));
        } finally {
          try {
            events.kill("SIGTERM");
          } catch {
            // exited
          }
          await events.status;
          await Promise.all([out.done, err.done]);
        }
        const parsed = out.lines.map((l) => JSON.parse(l) as { type: string; id: string });
        const ooms = parsed.filter((e) => e.type === "oom");
        assert.equal(ooms.length, 1, `oom lines:\n${out.lines.join("\n")}`);
        assert.deepEqual(ooms[0], { type: "oom", id: ctx.id });
        const stats = parsed.filter((e): e is StatsLine => e.type === "stats");
        assert.ok(stats.length >= 2, `${stats.length} stats lines`);
        assert.equal(stats.length + ooms.length, parsed.length, "lines that are neither stats nor oom");
        for (const s of stats) {
          assert.equal(s.id, ctx.id);
          assert.equal(typeof s.data.memory.usage.usage, "number");
          assert.ok(s.data.memory.usage.usage > 0, "memory usage 0");
          assert.ok(
            s.data.memory.usage.usage <= 16 * MiB,
            `memory usage ${s.data.memory.usage.usage} over the limit`,
          );
          assert.equal(typeof s.data.cpu.usage.total, "number");
          assert.ok(s.data.cpu.usage.total > 0, "cpu usage 0");
          assert.ok(s.data.pids.current >= 1, `pids.current ${s.data.pids.current}`);
        }
        assert.equal(errorsOf(err.lines.join("\n")), "");
      },
    );
  },
});

// ---------------------------------------------------------------------------------------
// 3. pids.max
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "cgroups: a fork bomb stays under pids.max",
  ...v1Only("cgroups: a fork bomb stays under pids.max"),
  async fn() {
    // A subshell forks sleeps until a fork fails (ash then exits the subshell); its sleeps
    // stay, reparented to the init.
    const script = "echo started > /started; " +
      "( i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); echo $i > /forked; done ) 2>/dev/null; " +
      "echo done > /done; exec sleep 60";
    await withContainer(
      "forkbomb",
      { args: ["sh", "-c", script], resources: { pids: { limit: 20 } } },
      async (ctx) => {
        const r = await runDetached(ctx);
        assert.equal(r.code, 0, r.stderr);
        let most = 0;
        await waitUntil("the fork bomb is done", async () => {
          const current = Number(await cgRead("pids", ctx.cgroup, "pids.current"));
          most = Math.max(most, current);
          return await exists(join(ctx.rootfs, "done"));
        }, 20_000);
        assert.ok(most <= 20, `pids.current reached ${most}`);
        assert.equal(await cgRead("pids", ctx.cgroup, "pids.max"), "20");
        assert.ok(Number(await readOut(ctx, "forked")) < 100, "every fork succeeded");
        const events = await cgRead("pids", ctx.cgroup, "pids.events");
        assert.match(events, /^max [1-9]\d*$/m, `pids.events:\n${events}`);
        const current = Number(await cgRead("pids", ctx.cgroup, "pids.current"));
        assert.ok(current <= 20 && current >= 15, `pids.current ${current}`);
        const pids = await psJson(ctx);
        assert.ok(pids.length <= 20 && pids.length >= 15, `ps lists ${pids.length} pids`);
        // events --stats agrees
        const s = await dr(ctx, ["events", "--stats", ctx.id]);
        assert.equal(s.code, 0, s.stderr);
        const data = (JSON.parse(s.stdout) as { data: { pids: { current: number; limit: number } } }).data;
        assert.equal(data.pids.limit, 20);
        assert.ok(data.pids.current <= 20, `events: pids.current ${data.pids.current}`);
      },
    );
  },
});

// ---------------------------------------------------------------------------------------
// 4. pause and resume
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "cgroups: pause freezes every process, resume thaws them; repeated ones fail clearly",
  ...v1Only("cgroups: pause freezes every process, resume thaws them; repeated ones fail clearly"),
  async fn() {
    // A child of the init counts into /counter; the init waits for it.
    const script = "( i=0; while :; do i=$((i+1)); echo $i > /counter.tmp; mv /counter.tmp /counter; " +
      "sleep 0.02; done ) & echo started > /started; wait";
    await withContainer("pause", { args: ["sh", "-c", script] }, async (ctx) => {
      await mustRunDetached(ctx);
      const counter = async () => Number(await readOut(ctx, "counter"));
      await waitUntil("the counter counts", async () => await counter() >= 3);
      const pids = await psJson(ctx);
      assert.ok(pids.length >= 2, `ps: ${pids}`);

      const p = await dr(ctx, ["pause", ctx.id]);
      assert.equal(p.code, 0, p.stderr);
      assert.equal(errorsOf(p.stderr), "");
      assert.equal(await cgRead("freezer", ctx.cgroup, "freezer.state"), "FROZEN");
      assert.equal((await stateOf(ctx)).status, "paused");
      // every process is there, stopped: the same ones, the counter still
      const frozen = await psJson(ctx);
      const init = (await stateOf(ctx)).pid;
      assert.ok(frozen.includes(init) && frozen.length >= 2, `ps while paused: ${frozen}`);
      const frozenAt = await counter();
      await sleep(300);
      assert.equal(await counter(), frozenAt, "the counter advanced while paused");
      assert.deepEqual(await psJson(ctx), frozen, "the processes changed while paused");
      for (const pid of frozen) assert.ok(await alive(pid), `process ${pid} died of the pause`);

      const again = await dr(ctx, ["pause", ctx.id]);
      assert.equal(again.code, 1);
      assert.equal(
        errorsOf(again.stderr),
        `druntime: cannot pause container "${ctx.id}": it is paused, not running`,
      );
      assert.equal(await cgRead("freezer", ctx.cgroup, "freezer.state"), "FROZEN");

      const r = await dr(ctx, ["resume", ctx.id]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(errorsOf(r.stderr), "");
      assert.equal(await cgRead("freezer", ctx.cgroup, "freezer.state"), "THAWED");
      assert.equal((await stateOf(ctx)).status, "running");
      await waitUntil("the counter counts again", async () => await counter() > frozenAt + 2);

      const resumeRunning = await dr(ctx, ["resume", ctx.id]);
      assert.equal(resumeRunning.code, 1);
      assert.equal(
        errorsOf(resumeRunning.stderr),
        `druntime: cannot resume container "${ctx.id}": it is running, not paused`,
      );

      // delete --force of a paused container: every process goes, and the cgroup
      const p2 = await dr(ctx, ["pause", ctx.id]);
      assert.equal(p2.code, 0, p2.stderr);
      const d = await dr(ctx, ["delete", "--force", ctx.id]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(errorsOf(d.stderr), "");
      await waitGone(frozen);
      await assertNoCgroup(ctx.cgroup);
    });
  },
});

Deno.test({
  name: "cgroups: pause and resume of a container that does not run fail clearly",
  ...v1Only("cgroups: pause and resume of a container that does not run fail clearly"),
  async fn() {
    await withContainer("pause-created", { args: ["sh", "-c", SLEEPER] }, async (ctx) => {
      const c = await druntimeDetached(["--root", ctx.root, "create", "--bundle", ctx.bundle, ctx.id]);
      assert.equal(c.code, 0, c.stderr);
      const p = await dr(ctx, ["pause", ctx.id]);
      assert.equal(p.code, 1);
      assert.equal(
        errorsOf(p.stderr),
        `druntime: cannot pause container "${ctx.id}": it is created, not running`,
      );
      const r = await dr(ctx, ["resume", ctx.id]);
      assert.equal(r.code, 1);
      assert.equal(
        errorsOf(r.stderr),
        `druntime: cannot resume container "${ctx.id}": it is created, not paused`,
      );
      assert.equal(await cgRead("freezer", ctx.cgroup, "freezer.state"), "THAWED");
      const missing = await dr(ctx, ["pause", `${ctx.id}-nope`]);
      assert.equal(missing.code, 1);
      assert.equal(errorsOf(missing.stderr), `druntime: container "${ctx.id}-nope" does not exist`);
    });
  },
});

// ---------------------------------------------------------------------------------------
// 5. update
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "cgroups: update changes the limits of a running container; bad input changes nothing",
  ...v1Only("cgroups: update changes the limits of a running container; bad input changes nothing"),
  async fn() {
    await withContainer(
      "update",
      { args: ["sh", "-c", SLEEPER], resources: { pids: { limit: 100 }, memory: { limit: 256 * MiB } } },
      async (ctx) => {
        await mustRunDetached(ctx);
        const p = ctx.cgroup;
        const update = async (args: string[], stdin?: string) => {
          const r = await dr(ctx, ["update", ...args, ctx.id], stdin);
          assert.equal(r.code, 0, `update ${args.join(" ")}: ${r.stderr}`);
          assert.equal(errorsOf(r.stderr), "");
        };
        const files = async () => ({
          memory: await cgRead("memory", p, "memory.limit_in_bytes"),
          pids: await cgRead("pids", p, "pids.max"),
          shares: await cgRead("cpu", p, "cpu.shares"),
          quota: await cgRead("cpu", p, "cpu.cfs_quota_us"),
          period: await cgRead("cpu", p, "cpu.cfs_period_us"),
        });

        await update(["--memory", "64m"]);
        assert.equal(await cgRead("memory", p, "memory.limit_in_bytes"), String(64 * MiB));
        await update(["--pids-limit", "30"]);
        assert.equal(await cgRead("pids", p, "pids.max"), "30");
        await update(["--cpu-shares", "256"]);
        assert.equal(await cgRead("cpu", p, "cpu.shares"), "256");
        await update(["--cpu-period", "200000", "--cpu-quota", "50000"]);
        assert.equal(await cgRead("cpu", p, "cpu.cfs_period_us"), "200000");
        assert.equal(await cgRead("cpu", p, "cpu.cfs_quota_us"), "50000");
        // the earlier updates stayed
        assert.equal(await cgRead("memory", p, "memory.limit_in_bytes"), String(64 * MiB));
        assert.equal(await cgRead("pids", p, "pids.max"), "30");

        // --resources FILE
        const file = join(ctx.bundle, "resources.json");
        await Deno.writeTextFile(file, JSON.stringify({ memory: { limit: 48 * MiB }, pids: { limit: 25 } }));
        await update(["--resources", file]);
        assert.equal(await cgRead("memory", p, "memory.limit_in_bytes"), String(48 * MiB));
        assert.equal(await cgRead("pids", p, "pids.max"), "25");
        // -r - (stdin)
        await update(["-r", "-"], JSON.stringify({ cpu: { shares: 128 } }));
        assert.equal(await cgRead("cpu", p, "cpu.shares"), "128");
        // -1: unlimited
        await update(["--pids-limit", "-1"]);
        assert.equal(await cgRead("pids", p, "pids.max"), "max");
        await update(["--pids-limit", "25"]);

        const before = await files();
        assert.deepEqual(before, {
          memory: String(48 * MiB),
          pids: "25",
          shares: "128",
          quota: "50000",
          period: "200000",
        });
        const bad = async (args: string[], stdin: string | undefined, field: string | RegExp) => {
          const r = await dr(ctx, ["update", ...args, ctx.id], stdin);
          assert.equal(r.code, 1, `update ${args.join(" ")} ${stdin ?? ""}: succeeded`);
          const e = errorsOf(r.stderr);
          if (typeof field === "string") {
            assert.ok(e.includes(field), `the error does not name ${field}: ${e}`);
          } else assert.match(e, field);
          assert.deepEqual(await files(), before, `update ${args.join(" ")} ${stdin ?? ""} changed a limit`);
        };
        await bad(["--memory", "lots"], undefined, "--memory");
        await bad(["--pids-limit", "many", "--memory", "32m"], undefined, "--pids-limit");
        await bad(["-r", "-"], JSON.stringify({ pids: { limit: "x" } }), "linux.resources.pids.limit");
        // one bad field: the good one beside it is not applied either
        await bad(
          ["-r", "-"],
          JSON.stringify({ pids: { limit: 40 }, cpu: { shares: "lots" } }),
          "linux.resources.cpu.shares",
        );
        await bad(["-r", "-"], "{ not json", /not JSON/);
        await bad(["--memory", "32m", "--memory-swap", "16m"], undefined, "memory.swap");
        assert.equal((await stateOf(ctx)).status, "running");
      },
    );
  },
});

Deno.test({
  name:
    "cgroups: update moves memory and memory+swap together, works while paused, refuses a stopped container",
  ...v1Only(
    "cgroups: update moves memory and memory+swap together, works while paused, refuses a stopped container",
  ),
  async fn() {
    const script = "echo started > /started; until [ -e /exit ]; do sleep 0.05; done";
    const resources: Resources = { memory: { limit: 64 * MiB, ...(MEMSW ? { swap: 128 * MiB } : {}) } };
    await withContainer("update-memsw", { args: ["sh", "-c", script], resources }, async (ctx) => {
      await mustRunDetached(ctx);
      const p = ctx.cgroup;
      const update = async (...args: string[]) => {
        const r = await dr(ctx, ["update", ...args, ctx.id]);
        assert.equal(r.code, 0, `update ${args.join(" ")}: ${r.stderr}`);
        assert.equal(errorsOf(r.stderr), "");
      };
      const memory = async () => ({
        limit: await cgRead("memory", p, "memory.limit_in_bytes"),
        ...(MEMSW ? { swap: await cgRead("memory", p, "memory.memsw.limit_in_bytes") } : {}),
      });
      if (MEMSW) {
        // up: memsw must grow before the limit; down: the limit must shrink before memsw
        await update("--memory", "256m", "--memory-swap", "512m");
        assert.deepEqual(await memory(), { limit: String(256 * MiB), swap: String(512 * MiB) });
        await update("--memory", "32m", "--memory-swap", "48m");
        assert.deepEqual(await memory(), { limit: String(32 * MiB), swap: String(48 * MiB) });
        // the limit alone, above memory+swap: refused, naming the field, nothing changed
        const r = await dr(ctx, ["update", "--memory", "96m", ctx.id]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(errorsOf(r.stderr), /memory\.swap/);
        assert.deepEqual(await memory(), { limit: String(32 * MiB), swap: String(48 * MiB) });
      }

      // --cpu-quota -1: no quota
      await update("--cpu-quota", "50000");
      assert.equal(await cgRead("cpu", p, "cpu.cfs_quota_us"), "50000");
      await update("--cpu-quota", "-1");
      assert.equal(await cgRead("cpu", p, "cpu.cfs_quota_us"), "-1");

      // a value the kernel refuses: the error names the file
      const possible = Deno.readTextFileSync("/sys/devices/system/cpu/possible").trim();
      const cpu = String(Math.max(63, ...possible.split(/[,-]/).map(Number).map((n) => n + 1)));
      const refused = await dr(ctx, ["update", "--cpuset-cpus", cpu, ctx.id]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.ok(
        errorsOf(refused.stderr).includes(join(cgDir("cpuset", p), "cpuset.cpus")),
        `the error does not name cpuset.cpus: ${refused.stderr}`,
      );
      assert.notEqual(await cgRead("cpuset", p, "cpuset.cpus"), cpu);
      assert.equal((await stateOf(ctx)).status, "running");

      // paused: update still works, and the container stays paused
      const pause = await dr(ctx, ["pause", ctx.id]);
      assert.equal(pause.code, 0, pause.stderr);
      await update("--pids-limit", "77");
      assert.equal(await cgRead("pids", p, "pids.max"), "77");
      assert.equal((await stateOf(ctx)).status, "paused");
      assert.equal(await cgRead("freezer", p, "freezer.state"), "FROZEN");
      const resume = await dr(ctx, ["resume", ctx.id]);
      assert.equal(resume.code, 0, resume.stderr);

      // stopped: refused
      await Deno.writeTextFile(join(ctx.rootfs, "exit"), "");
      await waitUntil("the container stops", async () => (await stateOf(ctx)).status === "stopped");
      const stopped = await dr(ctx, ["update", "--pids-limit", "10", ctx.id]);
      assert.equal(stopped.code, 1);
      assert.equal(errorsOf(stopped.stderr), `druntime: cannot update container "${ctx.id}": it is stopped`);
    });
  },
});

// ---------------------------------------------------------------------------------------
// 6. ps
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "cgroups: ps lists the init and its children (json, table, ps options)",
  ...v1Only("cgroups: ps lists the init and its children (json, table, ps options)"),
  async fn() {
    const script = "sleep 100 & sleep 100 & echo started > /started; wait";
    await withContainer("ps", { args: ["sh", "-c", script] }, async (ctx) => {
      await mustRunDetached(ctx);
      const init = (await stateOf(ctx)).pid;
      await waitUntil("3 processes in the cgroup", async () => (await procsOf(ctx.cgroup)).length === 3);
      const procs = await procsOf(ctx.cgroup);
      const pids = await psJson(ctx);
      assert.deepEqual(pids, procs, "ps --format json = cgroup.procs");
      assert.ok(pids.includes(init), `the init ${init} is not listed`);

      const table = await dr(ctx, ["ps", ctx.id]);
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.split("\n").filter(Boolean);
      const header = lines[0].trim().split(/\s+/);
      const col = header.indexOf("PID");
      assert.ok(col >= 0, `no PID column: ${lines[0]}`);
      assert.deepEqual(
        lines.slice(1).map((l) => Number(l.trim().split(/\s+/)[col])).sort((a, b) => a - b),
        pids,
      );

      const custom = await dr(ctx, ["ps", ctx.id, "--", "-o", "pid,comm"]);
      assert.equal(custom.code, 0, custom.stderr);
      const rows = custom.stdout.split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/));
      assert.deepEqual(rows[0], ["PID", "COMMAND"]);
      const byPid = new Map(rows.slice(1).map(([pid, comm]) => [Number(pid), comm]));
      assert.deepEqual([...byPid.keys()].sort((a, b) => a - b), pids);
      assert.equal(byPid.get(init), "sh");
      assert.deepEqual([...byPid.values()].sort(), ["sh", "sleep", "sleep"]);

      const both = await dr(ctx, ["ps", "--format", "json", ctx.id, "--", "-o", "pid"]);
      assert.equal(both.code, 1);
      assert.equal(errorsOf(both.stderr), "druntime: ps: ps options go with --format table");
    });
  },
});

// ---------------------------------------------------------------------------------------
// 7. kill --all, delete --force
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "cgroups: kill --all signals every process of the container, kill only the init",
  ...v1Only("cgroups: kill --all signals every process of the container, kill only the init"),
  async fn() {
    // The init (PID 1: SIGTERM does nothing to it) waits for two children, then sleeps on.
    const script =
      "sleep 100 & sleep 100 & echo started > /started; wait; echo > /children-gone; exec sleep 100";
    await withContainer("kill-all", { args: ["sh", "-c", script] }, async (ctx) => {
      await mustRunDetached(ctx);
      await waitUntil("3 processes in the cgroup", async () => (await procsOf(ctx.cgroup)).length === 3);
      const init = (await stateOf(ctx)).pid;
      const children = (await procsOf(ctx.cgroup)).filter((p) => p !== init);

      const k = await dr(ctx, ["kill", ctx.id, "TERM"]);
      assert.equal(k.code, 0, k.stderr);
      await sleep(300);
      for (const c of children) assert.ok(await alive(c), `kill (without --all) reached ${c}`);

      const all = await dr(ctx, ["kill", "--all", ctx.id, "TERM"]);
      assert.equal(all.code, 0, all.stderr);
      assert.equal(errorsOf(all.stderr), "");
      await waitGone(children);
      await waitForFile(ctx, "children-gone");
      assert.equal((await stateOf(ctx)).status, "running");
      assert.equal(
        await cgRead("freezer", ctx.cgroup, "freezer.state"),
        "THAWED",
        "kill --all left it frozen",
      );

      const kill9 = await dr(ctx, ["kill", "--all", ctx.id, "KILL"]);
      assert.equal(kill9.code, 0, kill9.stderr);
      await waitGone([init]);
      await waitUntil("the cgroup is empty", async () => (await procsOf(ctx.cgroup)).length === 0);
      assert.equal((await stateOf(ctx)).status, "stopped");
    });
  },
});

Deno.test({
  name: "cgroups: without a pid namespace kill --all reaches an orphan that left the init's tree",
  ...v1Only("cgroups: without a pid namespace kill --all reaches an orphan that left the init's tree"),
  async fn() {
    // The orphan's parent (a subshell) exits: it is reparented outside the container.
    const script =
      "(sleep 100 & echo $! > /orphan); sleep 100 & echo $! > /child; echo started > /started; wait";
    await withContainer(
      "kill-all-nopidns",
      { args: ["sh", "-c", script], mutate: withoutNamespace("pid") },
      async (ctx) => {
        await mustRunDetached(ctx);
        const init = (await stateOf(ctx)).pid;
        const orphan = Number(await readOut(ctx, "orphan"));
        const child = Number(await readOut(ctx, "child"));
        assert.deepEqual(await procsOf(ctx.cgroup), [init, orphan, child].sort((a, b) => a - b));
        const all = await dr(ctx, ["kill", "--all", ctx.id, "KILL"]);
        assert.equal(all.code, 0, all.stderr);
        assert.equal(errorsOf(all.stderr), "");
        await waitGone([init, orphan, child]);
        await waitUntil("the cgroup is empty", async () => (await procsOf(ctx.cgroup)).length === 0);
        assert.equal((await stateOf(ctx)).status, "stopped");
        const d = await dr(ctx, ["delete", ctx.id]);
        assert.equal(d.code, 0, d.stderr);
        await assertNoCgroup(ctx.cgroup);
      },
    );
  },
});

Deno.test({
  name: "cgroups: delete --force leaves no process and no cgroup directory in any hierarchy",
  ...v1Only("cgroups: delete --force leaves no process and no cgroup directory in any hierarchy"),
  async fn(t) {
    const script =
      "(sleep 100 & echo $! > /orphan); sleep 100 & echo $! > /child; echo started > /started; wait";
    for (const [name, mutate] of [["pidns", undefined], ["no-pidns", withoutNamespace("pid")]] as const) {
      await t.step(name, async () => {
        await withContainer(`delete-force-${name}`, { args: ["sh", "-c", script], mutate }, async (ctx) => {
          await mustRunDetached(ctx);
          const procs = await procsOf(ctx.cgroup);
          assert.equal(procs.length, 3, `cgroup.procs: ${procs}`);
          assert.deepEqual(await existingDirs(ctx.cgroup), cgroupDirs(ctx.cgroup));
          const d = await dr(ctx, ["delete", "--force", ctx.id]);
          assert.equal(d.code, 0, d.stderr);
          assert.equal(errorsOf(d.stderr), "");
          await waitGone(procs);
          await assertNoCgroup(ctx.cgroup);
          assert.deepEqual(await listDir(ctx.root), []);
        });
      });
    }
  },
});

Deno.test({
  name: "cgroups: SIGKILL reaches a paused container (kill and kill --all), as with runc",
  ...v1Only("cgroups: SIGKILL reaches a paused container (kill and kill --all), as with runc"),
  async fn(t) {
    // runc 1.1 thaws a paused container after signalling it, so that SIGKILL lands; a frozen
    // process does not act on a signal until thawed.
    const script = "sleep 100 & echo started > /started; exec sleep 100";
    for (const args of [["kill"], ["kill", "--all"]]) {
      await t.step(args.join(" "), async () => {
        await withContainer(`paused-${args.join("-")}`, { args: ["sh", "-c", script] }, async (ctx) => {
          await mustRunDetached(ctx);
          await waitUntil("2 processes in the cgroup", async () => (await procsOf(ctx.cgroup)).length === 2);
          const procs = await procsOf(ctx.cgroup);
          const pause = await dr(ctx, ["pause", ctx.id]);
          assert.equal(pause.code, 0, pause.stderr);
          const k = await dr(ctx, [...args, ctx.id, "KILL"]);
          assert.equal(k.code, 0, k.stderr);
          assert.equal(errorsOf(k.stderr), "");
          await waitUntil(
            `the container stops (state ${(await stateOf(ctx)).status}, freezer ${await cgRead(
              "freezer",
              ctx.cgroup,
              "freezer.state",
            )})`,
            async () => (await stateOf(ctx)).status === "stopped",
            3000,
          );
          await waitGone(procs);
        });
      });
    }
  },
});

Deno.test({
  name: "cgroups: ps and delete --force reach cgroups the workload made below its own",
  ...v1Only("cgroups: ps and delete --force reach cgroups the workload made below its own"),
  async fn() {
    const script = "sleep 100 & echo started > /started; wait";
    await withContainer(
      "sub-cgroups",
      { args: ["sh", "-c", script], mutate: withoutNamespace("cgroup") },
      async (ctx) => {
        await mustRunDetached(ctx);
        const init = (await stateOf(ctx)).pid;
        await waitUntil("2 processes in the cgroup", async () => (await procsOf(ctx.cgroup)).length === 2);
        // (host pids: $! in the container would be its pid namespace's)
        const [child] = (await procsOf(ctx.cgroup)).filter((p) => p !== init);
        // what a workload that manages cgroups (systemd in a container) does: a cgroup of its own
        // in every hierarchy, a process moved into it
        for (const dir of new Set(cgroupDirs(ctx.cgroup))) {
          await Deno.mkdir(join(dir, "sub"));
          if (await exists(join(dir, "cpuset.cpus"))) {
            for (const f of ["cpuset.cpus", "cpuset.mems"]) {
              await Deno.writeTextFile(join(dir, "sub", f), await Deno.readTextFile(join(dir, f)));
            }
          }
          await Deno.writeTextFile(join(dir, "sub", "cgroup.procs"), String(child));
        }
        assert.deepEqual(await procsOf(ctx.cgroup), [init]);
        assert.deepEqual(await procsOf(`${ctx.cgroup}/sub`), [child]);
        assert.deepEqual(await psJson(ctx), [init, child].sort((a, b) => a - b));
        const d = await dr(ctx, ["delete", "--force", ctx.id]);
        assert.equal(d.code, 0, d.stderr);
        assert.equal(errorsOf(d.stderr), "");
        await waitGone([init, child]);
        await assertNoCgroup(`${ctx.cgroup}/sub`);
        await assertNoCgroup(ctx.cgroup);
      },
    );
  },
});

Deno.test({
  name: "cgroups: delete of a stopped container kills what its init left in the cgroup",
  ...v1Only("cgroups: delete of a stopped container kills what its init left in the cgroup"),
  async fn() {
    // no pid namespace: the init exits, its orphan runs on in the cgroup
    const script = "(sleep 100 & echo $! > /orphan); echo started > /started";
    await withContainer(
      "delete-leftovers",
      { args: ["sh", "-c", script], mutate: withoutNamespace("pid") },
      async (ctx) => {
        await mustRunDetached(ctx);
        await waitUntil("the container stops", async () => (await stateOf(ctx)).status === "stopped");
        const orphan = Number(await readOut(ctx, "orphan"));
        assert.ok(await alive(orphan), "the orphan is gone already");
        assert.deepEqual(await procsOf(ctx.cgroup), [orphan]);
        assert.deepEqual(await psJson(ctx), [orphan], "ps of a stopped container lists what is left");
        const d = await dr(ctx, ["delete", ctx.id]);
        assert.equal(d.code, 0, d.stderr);
        assert.equal(errorsOf(d.stderr), "");
        await waitGone([orphan]);
        await assertNoCgroup(ctx.cgroup);
      },
    );
  },
});

Deno.test({
  name: "cgroups: delete of a stopped container whose cgroup is already gone succeeds (as runc's)",
  ...v1Only("cgroups: delete of a stopped container whose cgroup is already gone succeeds (as runc's)"),
  async fn() {
    await withContainer("cgroup-gone", { args: ["sh", "-c", "echo started > /started"] }, async (ctx) => {
      await mustRunDetached(ctx);
      await waitUntil("the container stops", async () => (await stateOf(ctx)).status === "stopped");
      await waitUntil("the cgroup is empty", async () => (await procsOf(ctx.cgroup)).length === 0);
      // removed by someone else (an administrator, a cleanup job): empty, so rmdir takes it
      for (const dir of await existingDirs(ctx.cgroup)) await Deno.remove(dir);
      for (const args of [["delete"], ["delete", "--force"]]) {
        if (!await exists(join(ctx.root, ctx.id))) break;
        const d = await dr(ctx, [...args, ctx.id]);
        assert.equal(d.code, 0, `${args.join(" ")}: ${d.stderr}`);
      }
      assert.deepEqual(await listDir(ctx.root), [], "the state entry is left");
    });
  },
});

Deno.test({
  name: "cgroups: a second container given a cgroupsPath in use does not take the first one down",
  ...v1Only("cgroups: a second container given a cgroupsPath in use does not take the first one down"),
  async fn() {
    // runc 1.2 refuses a non-empty cgroup; at the least, deleting the second container must not
    // kill the first one's processes or remove its cgroup.
    const shared = `/druntime/cg-shared-${crypto.randomUUID().slice(0, 8)}`;
    await withContainer(
      "shared-a",
      { args: ["sh", "-c", SLEEPER], cgroupsPath: shared, expectCgroup: shared },
      async (a) => {
        await mustRunDetached(a);
        const aPid = (await stateOf(a)).pid;
        const bBundle = await Deno.realPath(await Deno.makeTempDir({ prefix: "druntime-bundle-" }));
        const bId = uniqueId("cg", "shared-b");
        try {
          await makeBundle({
            dir: bBundle,
            args: ["sleep", "60"],
            mutate: (spec) => spec.linux!.cgroupsPath = shared,
          });
          const b = await druntimeDetached(["--root", a.root, "run", "--detach", "--bundle", bBundle, bId]);
          if (b.code !== 0) {
            assert.equal(b.code, 1);
            assert.ok(errorsOf(b.stderr).includes(shared), `the error does not name the cgroup: ${b.stderr}`);
          } else {
            const d = await dr(a, ["delete", "--force", bId]);
            assert.equal(d.code, 0, d.stderr);
          }
          assert.ok(await alive(aPid), "the first container's init was killed");
          assert.equal((await stateOf(a)).status, "running");
          assert.deepEqual(
            await existingDirs(shared),
            cgroupDirs(shared),
            "the first container's cgroup went",
          );
          assert.deepEqual(await procsOf(shared), [aPid]);
        } finally {
          if (await exists(join(a.root, bId))) await dr(a, ["delete", "--force", bId]);
          await Deno.remove(bBundle, { recursive: true }).catch(() => {});
        }
      },
    );
  },
});

// ---------------------------------------------------------------------------------------
// 8. cgroup namespace
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "cgroups: in a cgroup namespace the container sees / for its cgroups, the host /druntime/<id>",
  ...v1Only("cgroups: in a cgroup namespace the container sees / for its cgroups, the host /druntime/<id>"),
  async fn() {
    const script = "cat /proc/self/cgroup > /cgroup.txt; " +
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /limit.txt 2>&1; " + SLEEPER;
    await withContainer(
      "cgroupns",
      {
        args: ["sh", "-c", script],
        resources: { memory: { limit: 64 * MiB } },
        mutate: (spec) => {
          const ns = spec.linux!.namespaces!;
          if (!ns.some((n) => n.type === "cgroup")) ns.push({ type: "cgroup" });
        },
      },
      async (ctx) => {
        await mustRunDetached(ctx);
        const pid = (await stateOf(ctx)).pid;
        assert.notEqual(
          await Deno.readLink(`/proc/${pid}/ns/cgroup`),
          await Deno.readLink("/proc/self/ns/cgroup"),
        );
        assertCgroupLines(await readOut(ctx, "cgroup.txt"), "/", "the container's /proc/self/cgroup");
        assertCgroupLines(await Deno.readTextFile(`/proc/${pid}/cgroup`), ctx.cgroup, "the host's view");
        // its /sys/fs/cgroup is its own cgroup: it reads its own limit there
        assert.equal(await readOut(ctx, "limit.txt"), String(64 * MiB));
      },
    );
  },
});

// ---------------------------------------------------------------------------------------
// 9. linux.cgroupsPath
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "cgroups: linux.cgroupsPath, absolute and relative, is honoured and removed by delete",
  ...v1Only("cgroups: linux.cgroupsPath, absolute and relative, is honoured and removed by delete"),
  async fn(t) {
    const rand = () => crypto.randomUUID().slice(0, 8);
    const cases: [string, string, string, string[]][] = [];
    const abs = `/druntime/cg-custom-${rand()}`;
    cases.push(["absolute", abs, abs, []]);
    const rel = `cg-rel-${rand()}`;
    cases.push(["relative", rel, `/druntime/${rel}`, []]);
    const nested = `cg-nested-${rand()}`;
    // a nested relative path: druntime makes the parent too, and removes it on delete
    cases.push(["nested", `${nested}/leaf`, `/druntime/${nested}/leaf`, [`/druntime/${nested}`]]);
    for (const [name, cgroupsPath, expected, parents] of cases) {
      await t.step(name, async () => {
        try {
          await withContainer(
            `path-${name}`,
            {
              args: ["sh", "-c", "cat /proc/self/cgroup > /cgroup.txt; " + SLEEPER],
              cgroupsPath,
              expectCgroup: expected,
              resources: { pids: { limit: 42 } },
              mutate: withoutNamespace("cgroup"),
            },
            async (ctx) => {
              await mustRunDetached(ctx);
              const pid = (await stateOf(ctx)).pid;
              assert.deepEqual(await existingDirs(expected), cgroupDirs(expected));
              assert.deepEqual(await procsOf(expected), [pid]);
              assert.equal(await cgRead("pids", expected, "pids.max"), "42");
              assertCgroupLines(
                await readOut(ctx, "cgroup.txt"),
                expected,
                "the container's /proc/self/cgroup",
              );
              assert.ok(
                !await exists(cgDir("pids", `/druntime/${ctx.id}`)),
                "a cgroup named after the id too",
              );
              const d = await dr(ctx, ["delete", "--force", ctx.id]);
              assert.equal(d.code, 0, d.stderr);
              await assertNoCgroup(expected);
              for (const parent of parents) await assertNoCgroup(parent);
            },
          );
        } finally {
          for (const parent of parents) {
            if ((await existingDirs(parent)).length) await scrubCgroup(parent);
          }
        }
      });
    }
  },
});

Deno.test({
  name: "cgroups: a relative linux.cgroupsPath with .. stays under /druntime",
  ...v1Only("cgroups: a relative linux.cgroupsPath with .. stays under /druntime"),
  async fn() {
    // runc cleans a relative path as if it were absolute ("../x" is "x"), so that it cannot
    // climb out of its parent; druntime's parent is /druntime. Refusing the path would do too.
    const name = `cg-escape-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await withContainer(
        "path-dotdot",
        { args: ["sh", "-c", SLEEPER], cgroupsPath: `../${name}`, expectCgroup: `/druntime/${name}` },
        async (ctx) => {
          const r = await runDetached(ctx);
          if (r.code !== 0) {
            assert.equal(r.code, 1);
            assert.match(errorsOf(r.stderr), /linux\.cgroupsPath/);
          } else {
            await waitForFile(ctx, "started");
            assert.deepEqual(await procsOf(`/druntime/${name}`), [(await stateOf(ctx)).pid]);
          }
          assert.deepEqual(await existingDirs(`/${name}`), [], `a cgroup made outside /druntime`);
        },
      );
    } finally {
      // what the failure above made (a unique name: nobody else's)
      if ((await existingDirs(`/${name}`)).length) await scrubCgroup(`/${name}`);
    }
  },
});

// ---------------------------------------------------------------------------------------
// 10-12. Bad input leaves nothing
// ---------------------------------------------------------------------------------------

/** run (foreground) must fail with exit 1 and an error naming `expected`, leaving nothing. */
async function assertRunFailsCleanly(
  ctx: Ctx,
  expected: string | RegExp,
  globals: string[] = [],
): Promise<string> {
  const r = await dr(ctx, [...globals, "run", "--bundle", ctx.bundle, ctx.id]);
  assert.equal(r.code, 1, `run: exit ${r.code}: ${r.stderr}`);
  const e = errorsOf(r.stderr);
  if (typeof expected === "string") {
    assert.ok(e.includes(expected), `the error does not name ${expected}: ${e}`);
  } else assert.match(e, expected);
  await assertNoCgroup(ctx.cgroup);
  assert.deepEqual(await listDir(ctx.root), [], "a state entry is left");
  await assertNothingLeft(ctx);
  return e;
}

Deno.test({
  name: "cgroups: invalid linux.resources fail run with the JSON path named, and leave nothing",
  ...v1Only("cgroups: invalid linux.resources fail run with the JSON path named, and leave nothing"),
  async fn(t) {
    const cases: [string, Resources, string][] = [
      ["cpus", { cpu: { cpus: "abc" } }, "linux.resources.cpu.cpus"],
      ["swap", { memory: { limit: 64 * MiB, swap: 32 * MiB } }, "linux.resources.memory.swap"],
      ["pids", { pids: {} as { limit: number } }, "linux.resources.pids.limit"],
      ["shares", { cpu: { shares: -5 } }, "linux.resources.cpu.shares"],
      ["blkio", { blockIO: { weight: 5 } }, "linux.resources.blockIO.weight"],
    ];
    for (const [name, resources, path] of cases) {
      await t.step(name, async () => {
        await withContainer(`bad-${name}`, { args: ["true"], resources }, async (ctx) => {
          const e = await assertRunFailsCleanly(ctx, path);
          assert.match(e, /invalid config/);
        });
      });
    }
  },
});

Deno.test({
  name: "cgroups: --systemd-cgroup is refused clearly and leaves nothing",
  ...v1Only("cgroups: --systemd-cgroup is refused clearly and leaves nothing"),
  async fn() {
    await withContainer("systemd", { args: ["true"] }, async (ctx) => {
      const e = await assertRunFailsCleanly(ctx, "--systemd-cgroup", ["--systemd-cgroup"]);
      assert.match(e, /not supported/);
    });
  },
});

Deno.test({
  name: "cgroups: a limit the kernel refuses fails create naming the file, and leaves nothing",
  ...v1Only("cgroups: a limit the kernel refuses fails create naming the file, and leaves nothing"),
  async fn(t) {
    const possible = Deno.readTextFileSync("/sys/devices/system/cpu/possible").trim();
    const highest = Math.max(...possible.split(/[,-]/).map(Number));
    const cpu = String(Math.max(63, highest + 1));
    const cases: [string, Resources, string][] = [
      ["cpuset", { cpu: { cpus: cpu } }, "cpuset.cpus"],
      // below what the kernel takes: a quota under 1 ms
      ["quota", { cpu: { quota: 10, period: 100_000 } }, "cpu.cfs_quota_us"],
    ];
    for (const [name, resources, file] of cases) {
      await t.step(name, async () => {
        await withContainer(`refused-${name}`, { args: ["sh", "-c", SLEEPER], resources }, async (ctx) => {
          const c = await druntimeDetached(["--root", ctx.root, "create", "--bundle", ctx.bundle, ctx.id]);
          assert.equal(c.code, 1, `create: exit ${c.code}: ${c.stderr}`);
          const e = errorsOf(c.stderr);
          assert.ok(
            e.includes(join(cgDir(file.split(".")[0], ctx.cgroup), file)),
            `the error does not name the file: ${e}`,
          );
          await assertNoCgroup(ctx.cgroup);
          assert.deepEqual(await listDir(ctx.root), [], "a state entry is left");
          await assertNothingLeft(ctx);
          assert.ok(!await exists(join(ctx.rootfs, "started")));
        });
      });
    }
  },
});

Deno.test({
  name: "cgroups: a run whose program cannot be executed leaves no cgroup",
  ...v1Only("cgroups: a run whose program cannot be executed leaves no cgroup"),
  async fn() {
    await withContainer("no-program", { args: ["/no/such/program"] }, async (ctx) => {
      const r = await dr(ctx, ["run", "--bundle", ctx.bundle, ctx.id]);
      assert.notEqual(r.code, 0, "run of a missing program succeeded");
      assert.match(errorsOf(r.stderr), /no\/such\/program/);
      await assertNoCgroup(ctx.cgroup);
      assert.deepEqual(await listDir(ctx.root), [], "a state entry is left");
      await assertNothingLeft(ctx);
    });
  },
});
