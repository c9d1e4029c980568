/**
 * `deno task bench`: how long `run` of /bin/true takes with druntime (from source), runc and
 * crun, on one busybox bundle each, with their own state roots, ids and cgroup paths.
 *
 *   deno run -A tests/bench.ts [--runs N] [--only druntime,runc,crun]
 *
 * Each runtime gets one warm-up run, then N timed runs, interleaved. druntime runs with
 * DRUNTIME_TIMING=1; the `timing: <step> <ms>` lines it prints on stderr are summed per run
 * and their medians printed. Everything is cleaned up at the end: leftover containers are
 * deleted and the cgroup directories this bench named (/druntime/bench-<pid>-<runtime>-<n>
 * under each cgroup hierarchy) removed with rmdir, and only those.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import type { Spec } from "../runtime/spec/types.ts";
import { isRoot, MAIN_TS, makeBundle, templateRootfs } from "./fixtures/rootfs.ts";

const RUNTIMES = ["druntime", "runc", "crun"] as const;
type RuntimeName = typeof RUNTIMES[number];

const USAGE = `usage: deno run -A tests/bench.ts [--runs N] [--only ${RUNTIMES.join(",")}]`;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "20" },
    only: { type: "string", default: RUNTIMES.join(",") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const runs = Number(flags.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`bench: --runs wants a positive integer, got ${JSON.stringify(flags.runs)}\n${USAGE}`);
  Deno.exit(2);
}
const only = flags.only!.split(",").map((s) => s.trim()).filter(Boolean);
for (const name of only) {
  if (!(RUNTIMES as readonly string[]).includes(name)) {
    console.error(`bench: unknown runtime ${JSON.stringify(name)} in --only\n${USAGE}`);
    Deno.exit(2);
  }
}
if (!isRoot) {
  console.error("bench: needs root (it runs real containers with druntime, runc and crun)");
  Deno.exit(1);
}

const dec = new TextDecoder();

/** Mount points of the cgroup hierarchies (v1 controllers and/or the cgroup2 one). */
async function cgroupRoots(): Promise<string[]> {
  const roots: string[] = [];
  for (const line of (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!post) continue;
    const fstype = post.split(" ")[0];
    if (fstype === "cgroup" || fstype === "cgroup2") roots.push(pre.split(" ")[4]);
  }
  return roots;
}

/** True when a cgroup2 hierarchy is mounted at /sys/fs/cgroup/unified (the hybrid layout). */
async function hybridUnified(): Promise<boolean> {
  return (await cgroupRoots()).includes("/sys/fs/cgroup/unified");
}

interface Runtime {
  name: RuntimeName;
  bundle: string;
  state: string;
  /** argv for `run` of container `id` */
  argv(id: string): string[];
  /** argv for `delete -f` of container `id` */
  deleteArgv(id: string): string[];
  env?: Record<string, string>;
  unavailable?: string;
  times: number[];
  failures: number;
  firstFailure?: string;
  /** per timed run: step -> summed ms */
  steps: Map<string, number>[];
}

function stats(xs: number[]): { median: number; min: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const p90 = s[Math.max(0, Math.ceil(0.9 * s.length) - 1)];
  return { median, min: s[0], p90 };
}

function firstLines(text: string, n = 6): string {
  return text.trim().split("\n").slice(0, n).join("\n    ");
}

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "null" })
      .output();
    return dec.decode(out.stdout).split("\n")[0].trim() || "?";
  } catch {
    return "not installed";
  }
}

const TIMING_LINE = /^\s*timing:\s+(\S+)\s+([0-9]+(?:\.[0-9]+)?)\s*(?:ms)?\s*$/;

function parseTimings(stderr: string): Map<string, number> {
  const steps = new Map<string, number>();
  for (const line of stderr.split("\n")) {
    const m = TIMING_LINE.exec(line);
    if (m) steps.set(m[1], (steps.get(m[1]) ?? 0) + Number(m[2]));
  }
  return steps;
}

const pid = Deno.pid;
const tmp = await Deno.makeTempDir({ prefix: "druntime-bench-" });
/** cgroupsPath values this bench wrote into configs, for cleanup. */
const cgroupPaths: string[] = [];
let interrupted = false;
const onSigint = () => {
  interrupted = true;
};
Deno.addSignalListener("SIGINT", onSigint);

async function runOnce(
  rt: Runtime,
  spec: Spec,
  n: number,
): Promise<{ ok: boolean; ms: number; stderr: string }> {
  const id = `bench-${pid}-${rt.name}-${n}`;
  const cgroupsPath = `/druntime/${id}`;
  cgroupPaths.push(cgroupsPath);
  spec.linux = { ...(spec.linux ?? {}), cgroupsPath };
  await Deno.writeTextFile(join(rt.bundle, "config.json"), JSON.stringify(spec, null, 2) + "\n");
  const [cmd, ...args] = rt.argv(id);
  const command = new Deno.Command(cmd, {
    args,
    cwd: rt.bundle,
    env: rt.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const t0 = performance.now();
  const out = await command.output();
  const ms = performance.now() - t0;
  const stderr = dec.decode(out.stderr);
  const stdout = dec.decode(out.stdout);
  return { ok: out.success, ms, stderr: out.success ? stderr : `exit ${out.code}\n${stderr}${stdout}` };
}

async function cleanup(rts: Runtime[]): Promise<void> {
  // Containers left behind (a failed or interrupted run): delete -f each entry of the state root.
  for (const rt of rts) {
    let entries: string[] = [];
    try {
      for await (const e of Deno.readDir(rt.state)) {
        if (e.name.startsWith(`bench-${pid}-`)) entries.push(e.name);
      }
    } catch {
      entries = [];
    }
    for (const id of entries) {
      const [cmd, ...args] = rt.deleteArgv(id);
      try {
        const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "piped" })
          .output();
        console.error(
          `cleanup: ${rt.name} delete -f ${id}: ${out.success ? "ok" : dec.decode(out.stderr).trim()}`,
        );
      } catch (e) {
        console.error(`cleanup: ${rt.name} delete -f ${id}: ${e}`);
      }
    }
  }
  // Cgroup directories this bench named and a runtime left behind.
  const left = new Map<string, number>();
  for (const root of await cgroupRoots()) {
    for (const path of cgroupPaths) {
      const dir = join(root, path);
      try {
        await Deno.stat(dir);
      } catch {
        continue;
      }
      const rtName = path.split("-").at(-2) ?? "?";
      left.set(rtName, (left.get(rtName) ?? 0) + 1);
      try {
        await Deno.remove(dir); // rmdir(2)
      } catch (e) {
        console.error(`cleanup: rmdir ${dir}: ${e instanceof Error ? e.message : e}`);
      }
    }
  }
  for (const [name, count] of left) {
    console.log(`note: ${name} left ${count} cgroup director${count === 1 ? "y" : "ies"} behind (removed)`);
  }
  await Deno.remove(tmp, { recursive: true }).catch((e) => console.error(`cleanup: rm -r ${tmp}: ${e}`));
}

const runtimes: Runtime[] = [];
let exitCode = 0;
try {
  const { kind } = await templateRootfs();
  const crunWrap = await hybridUnified();
  for (const name of RUNTIMES) {
    if (!only.includes(name)) continue;
    const state = join(tmp, `${name}-state`);
    await Deno.mkdir(state, { recursive: true });
    const bundle = await makeBundle({
      dir: join(tmp, `${name}-bundle`),
      args: ["/bin/true"],
      mutate: (s) => {
        // crun 1.8 refuses ociVersion 1.2.x ("unknown version specified"); all three take 1.0.2.
        s.ociVersion = "1.0.2";
        s.root = { path: "rootfs", readonly: false };
        if (s.process) s.process.terminal = false;
      },
    });
    const rt: Runtime = {
      name,
      bundle,
      state,
      times: [],
      failures: 0,
      steps: [],
      argv: () => [],
      deleteArgv: () => [],
    };
    if (name === "druntime") {
      const deno = Deno.execPath();
      rt.argv = (id) => [deno, "run", "-A", MAIN_TS, "--root", state, "run", "--bundle", bundle, id];
      rt.deleteArgv = (id) => [deno, "run", "-A", MAIN_TS, "--root", state, "delete", "--force", id];
      rt.env = { DRUNTIME_TIMING: "1" };
    } else if (name === "runc") {
      rt.argv = (id) => ["runc", "--root", state, "run", "--bundle", bundle, id];
      rt.deleteArgv = (id) => ["runc", "--root", state, "delete", "--force", id];
    } else {
      // crun 1.8 refuses the hybrid v1 + empty cgroup2 layout: run it in a private mount
      // namespace (unshare -m makes propagation private) where the cgroup2 mount is gone.
      const wrap = (args: string[]) =>
        crunWrap
          ? ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec crun "$@"', "crun", ...args]
          : ["crun", ...args];
      rt.argv = (id) => wrap(["--root", state, "run", "--bundle", bundle, id]);
      rt.deleteArgv = (id) => wrap(["--root", state, "delete", "--force", id]);
    }
    runtimes.push(rt);
  }

  const specs = new Map<Runtime, Spec>();
  for (const rt of runtimes) {
    specs.set(rt, JSON.parse(await Deno.readTextFile(join(rt.bundle, "config.json"))) as Spec);
  }

  console.log(
    `bench: ${runs} runs of /bin/true in a ${kind} bundle (after one warm-up each), runtimes: ${
      runtimes.map((r) => r.name).join(", ")
    }`,
  );
  const versions = [
    await version(Deno.execPath(), ["--version"]),
    await version("runc", ["--version"]),
    await version("crun", ["--version"]) +
    (crunWrap ? " (through unshare -m + umount /sys/fs/cgroup/unified)" : ""),
  ];
  console.log(`  ${versions.join("; ")}`);

  // Warm-up: also tells whether each runtime works at all here.
  for (const rt of runtimes) {
    if (rt.name === "druntime") {
      try {
        await Deno.stat(MAIN_TS);
      } catch {
        rt.unavailable = `${MAIN_TS} does not exist`;
        continue;
      }
    }
    try {
      const r = await runOnce(rt, specs.get(rt)!, 0);
      if (!r.ok) rt.unavailable = `warm-up failed: ${firstLines(r.stderr)}`;
    } catch (e) {
      rt.unavailable = e instanceof Deno.errors.NotFound ? "not installed" : `${e}`;
    }
  }

  for (let n = 1; n <= runs && !interrupted; n++) {
    for (const rt of runtimes) {
      if (rt.unavailable || interrupted) continue;
      const r = await runOnce(rt, specs.get(rt)!, n);
      if (!r.ok) {
        rt.failures++;
        rt.firstFailure ??= firstLines(r.stderr);
        continue;
      }
      rt.times.push(r.ms);
      if (rt.name === "druntime") rt.steps.push(parseTimings(r.stderr));
    }
  }
  if (interrupted) console.log("bench: interrupted; results so far:");

  // The table.
  const runc = runtimes.find((r) => r.name === "runc" && r.times.length > 0);
  const runcMedian = runc ? stats(runc.times).median : undefined;
  const pad = (s: string, w: number) => s.padStart(w);
  console.log("");
  console.log(
    `${"runtime".padEnd(10)}${pad("runs", 6)}${pad("median", 10)}${pad("min", 10)}${pad("p90", 10)}${
      pad("vs runc", 10)
    }   (ms)`,
  );
  for (const rt of runtimes) {
    if (rt.unavailable) {
      console.log(`${rt.name.padEnd(10)}  unavailable: ${rt.unavailable}`);
      if (rt.name !== "crun") exitCode = 1;
      continue;
    }
    if (rt.times.length === 0) {
      console.log(`${rt.name.padEnd(10)}  no successful runs`);
      exitCode = 1;
      continue;
    }
    const s = stats(rt.times);
    const ratio = runcMedian ? `${(s.median / runcMedian).toFixed(2)}x` : "-";
    console.log(
      `${rt.name.padEnd(10)}${pad(String(rt.times.length), 6)}${pad(s.median.toFixed(1), 10)}${
        pad(s.min.toFixed(1), 10)
      }${pad(s.p90.toFixed(1), 10)}${pad(ratio, 10)}`,
    );
  }
  const crun = runtimes.find((r) => r.name === "crun" && r.times.length > 0);
  if (crun && crunWrap) {
    // What the wrapper alone costs, so that crun's own time can be read off the table.
    const xs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await new Deno.Command("unshare", {
        args: ["-m", "sh", "-c", "umount /sys/fs/cgroup/unified && exec true"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      xs.push(performance.now() - t0);
    }
    console.log(
      `(crun's times include its wrapper, unshare -m + umount, which alone takes ${
        stats(xs).median.toFixed(1)
      } ms median)`,
    );
  }
  for (const rt of runtimes) {
    if (rt.failures) {
      console.log(`\n${rt.name}: ${rt.failures} failed run(s); the first:\n    ${rt.firstFailure}`);
      exitCode = 1;
    }
  }

  // druntime's own step timings.
  const dr = runtimes.find((r) => r.name === "druntime" && r.times.length > 0);
  if (dr) {
    const order: string[] = [];
    for (const m of dr.steps) for (const k of m.keys()) if (!order.includes(k)) order.push(k);
    console.log("");
    if (order.length === 0) {
      console.log(
        "druntime printed no `timing: <step> <ms>` lines on stderr with DRUNTIME_TIMING=1: no per-step times",
      );
    } else {
      console.log(`druntime steps (DRUNTIME_TIMING=1), median over ${dr.steps.length} runs:`);
      const w = Math.max(...order.map((k) => k.length), 4) + 2;
      for (const k of order) {
        const xs = dr.steps.flatMap((m) => m.has(k) ? [m.get(k)!] : []);
        const seen = xs.length === dr.steps.length ? "" : `   (in ${xs.length}/${dr.steps.length} runs)`;
        console.log(`  ${k.padEnd(w)}${pad(stats(xs).median.toFixed(2), 9)} ms${seen}`);
      }
    }
  }
} catch (e) {
  console.error(`bench: ${e instanceof Error ? e.stack ?? e.message : e}`);
  exitCode = 1;
} finally {
  await cleanup(runtimes);
  Deno.removeSignalListener("SIGINT", onSigint);
}
Deno.exit(exitCode);
