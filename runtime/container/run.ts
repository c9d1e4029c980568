/**
 * The parent side of `druntime run`: claim the id, clone the child into its namespaces, hand
 * the plan to the init, start it, forward signals, wait, and leave nothing behind.
 */
import type { Spec } from "../spec/types.ts";
import type { Plan } from "../plan/types.ts";
import { buildPlan } from "../plan/build.ts";
import { loadBundle, validateContainerId } from "../spec/validate.ts";
import { DruntimeError, StageError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { INIT_PIPE_ENV, receiveFromInit, sendMessage } from "../sync.ts";
import { cloneChild, describeChildFailure } from "../../ffi/trampoline.ts";
import { check, close, fcntl, libc, open, pipe2, socketpair, writeAll } from "../../ffi/libc.ts";
import * as K from "../../ffi/constants.ts";
import {
  type ContainerState,
  createStateEntry,
  removeStateEntry,
  writeFileAtomic,
  writeState,
} from "./state.ts";

/** Namespace type -> CLONE_* flag. */
export const NAMESPACE_FLAGS: Record<string, number> = {
  pid: K.CLONE_NEWPID,
  network: K.CLONE_NEWNET,
  mount: K.CLONE_NEWNS,
  ipc: K.CLONE_NEWIPC,
  uts: K.CLONE_NEWUTS,
  user: K.CLONE_NEWUSER,
  cgroup: K.CLONE_NEWCGROUP,
  time: K.CLONE_NEWTIME,
};

/** Signals `run` passes on to the container, with their numbers. */
const FORWARDED: [Deno.Signal, number][] = [
  ["SIGINT", K.SIGINT],
  ["SIGTERM", K.SIGTERM],
  ["SIGHUP", K.SIGHUP],
  ["SIGQUIT", K.SIGQUIT],
  ["SIGUSR1", K.SIGUSR1],
  ["SIGUSR2", K.SIGUSR2],
];

export interface RunOptions {
  id: string;
  bundle: string;
  /** The state root. */
  root: string;
  pidFile?: string;
  noPivot?: boolean;
  /** Keep the state entry after the container exits. */
  keep?: boolean;
  log: Logger;
  /** Print `timing: <step> <ms>` lines on stderr. */
  timing?: boolean;
}

/** A loaded bundle and its plan: what `run --dry-run` prints and `run` executes. */
export interface PreparedBundle {
  spec: Spec;
  plan: Plan;
  bundle: string;
  rootfs: string;
  warnings: string[];
}

/** Loads and validates a bundle and computes its plan; touches nothing. */
export function prepareBundle(bundleDir: string, opts: { noPivot?: boolean } = {}): PreparedBundle {
  const { spec, warnings, bundle, rootfs } = loadBundle(bundleDir);
  const plan = buildPlan(spec, { rootfs, bundle, noPivot: opts.noPivot });
  return { spec, plan, bundle, rootfs, warnings };
}

function initCommand(): { path: string; argv: string[] } {
  const exe = Deno.execPath();
  if (Deno.build.standalone) return { path: exe, argv: [exe, "init"] };
  const main = new URL("../../main.ts", import.meta.url).pathname;
  return { path: exe, argv: [exe, "run", "-A", "--no-config", "--no-lock", main, "init"] };
}

/** The exit code for a wait(2) status: the code, or 128+N for signal N. */
export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  return sig === 0 ? (status >> 8) & 0xff : 128 + sig;
}

interface Namespaces {
  flags: number;
  /** fds the child joins (user first). */
  childFds: number[];
  childNames: string[];
  /** A pid namespace to join: setns on the calling thread before clone (it applies to children). */
  pidFd: number | null;
  all: number[];
}

function openNamespaces(spec: Spec): Namespaces {
  const ns: Namespaces = { flags: 0, childFds: [], childNames: [], pidFd: null, all: [] };
  const sorted = [...(spec.linux?.namespaces ?? [])].sort((a, b) =>
    Number(b.type === "user") - Number(a.type === "user")
  );
  try {
    for (const n of sorted) {
      if (!n.path) {
        ns.flags |= NAMESPACE_FLAGS[n.type];
        continue;
      }
      let fd: number;
      try {
        fd = open(n.path, K.O_RDONLY | K.O_CLOEXEC);
      } catch (e) {
        throw new DruntimeError(`linux.namespaces: ${n.type} namespace ${n.path}: ${(e as Error).message}`);
      }
      ns.all.push(fd);
      if (n.type === "pid") ns.pidFd = fd;
      else {
        ns.childFds.push(fd);
        ns.childNames.push(`${n.type} ${n.path}`);
      }
    }
  } catch (e) {
    ns.all.forEach(close);
    throw e;
  }
  return ns;
}

function waitStatus(pid: number): Promise<number> {
  const st = new Int32Array(1);
  return (async () => {
    for (;;) {
      const r = await libc.waitpidAsync(pid, st, 0);
      if (r === pid) return st[0];
      if (r === -1) return -1; // not our child any more: nothing to report
    }
  })();
}

function killAndReap(pid: number): void {
  libc.kill(pid, K.SIGKILL);
  libc.waitpid(pid, new Int32Array(1), 0);
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Runs a container in the foreground and returns its exit code. */
export async function run(opts: RunOptions): Promise<number> {
  const t: [string, number][] = [["main", now()]];
  validateContainerId(opts.id);
  const prepared = prepareBundle(opts.bundle, { noPivot: opts.noPivot });
  for (const w of prepared.warnings) opts.log.warn(w);
  t.push(["load", now()]);

  createStateEntry(opts.root, opts.id);
  const state: ContainerState = {
    ociVersion: prepared.spec.ociVersion,
    id: opts.id,
    pid: 0,
    status: "creating",
    bundle: prepared.bundle,
    rootfs: prepared.rootfs,
    created: new Date().toISOString(),
    owner: "",
    annotations: prepared.spec.annotations ?? {},
  };
  let pid = -1;
  const toClose: number[] = [];
  const pendingSignals: Deno.Signal[] = [];
  let started = false;
  const handlers = FORWARDED.map(([name, num]) =>
    [name, () => {
      if (pid > 0 && started) libc.kill(pid, num);
      else pendingSignals.push(name);
    }] as const
  );
  try {
    writeState(opts.root, state);
    for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);

    const ns = openNamespaces(prepared.spec);
    toClose.push(...ns.all);
    const [parentSock, childSock] = socketpair(K.AF_UNIX, K.SOCK_STREAM | K.SOCK_CLOEXEC);
    toClose.push(parentSock, childSock);
    fcntl(childSock, K.F_SETFD, 0); // the init inherits this end
    const [goRead, goWrite] = pipe2(K.O_CLOEXEC);
    const [errRead, errWrite] = pipe2(K.O_CLOEXEC);
    toClose.push(goRead, goWrite, errRead, errWrite);

    const cmd = initCommand();
    const env = Object.entries({
      ...Deno.env.toObject(),
      [INIT_PIPE_ENV]: String(childSock),
      DENO_NO_UPDATE_CHECK: "1",
    })
      .map(([k, v]) => `${k}=${v}`);
    let restorePid = -1;
    if (ns.pidFd !== null) {
      restorePid = open("/proc/self/ns/pid", K.O_RDONLY | K.O_CLOEXEC);
      check("setns", ["pid namespace"], libc.setns(ns.pidFd, K.CLONE_NEWPID));
    }
    try {
      pid = cloneChild({
        flags: ns.flags,
        nsFds: ns.childFds,
        goRead,
        goWrite,
        errWrite,
        path: cmd.path,
        argv: cmd.argv,
        env,
      });
    } finally {
      if (restorePid >= 0) {
        check("setns", ["own pid namespace"], libc.setns(restorePid, K.CLONE_NEWPID));
        close(restorePid);
      }
    }
    t.push(["clone", now()]);
    for (const fd of [childSock, goRead, errWrite]) close(fd);
    toClose.splice(0, toClose.length, ...ns.all, parentSock, goWrite, errRead);

    // uid/gid maps and cgroups go here, before the child may exec.
    writeAll(goWrite, new Uint8Array([1]));
    const report = new Uint8Array(12);
    const n = Number(libc.read(errRead, report, BigInt(report.length)));
    if (n === 12) throw new DruntimeError(describeChildFailure(report, ns.childNames, cmd.path));
    t.push(["childExec", now()]);

    sendMessage(parentSock, {
      type: "config",
      config: { plan: prepared.plan, timing: opts.timing ?? false },
    });
    const ready = await receiveFromInit(parentSock);
    if (ready === null) {
      const status = await waitStatus(pid);
      pid = -1;
      throw new DruntimeError(`container init exited before it was ready (${describeStatus(status)})`);
    }
    if (ready.type === "error") throw new StageError(ready.stage, ready.message);
    t.push(["ready", now()]);
    for (const [k, v] of Object.entries(ready.timings)) t.push([`init.${k}`, v]);
    if (pendingSignals.length) {
      throw new DruntimeError(`interrupted by ${pendingSignals[0]} before the container started`);
    }

    state.pid = pid;
    state.status = "running";
    writeState(opts.root, state);
    if (opts.pidFile) {
      try {
        writeFileAtomic(opts.pidFile, String(pid));
      } catch (e) {
        throw new DruntimeError(`--pid-file ${opts.pidFile}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    started = true;
    sendMessage(parentSock, { type: "start" });
    const execResult = await receiveFromInit(parentSock);
    if (execResult?.type === "error") throw new StageError(execResult.stage, execResult.message);
    t.push(["exec", now()]);

    const status = await waitStatus(pid);
    pid = -1;
    t.push(["exit", now()]);
    if (opts.timing) printTimings(t);
    if (opts.keep) {
      state.status = "stopped";
      writeState(opts.root, state);
    }
    return exitCodeOf(status);
  } catch (e) {
    if (pid > 0) killAndReap(pid);
    pid = -1;
    throw e;
  } finally {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
    for (const fd of toClose) libc.close(fd);
    if (!(opts.keep && state.status === "stopped")) removeStateEntry(opts.root, opts.id);
  }
}

function describeStatus(status: number): string {
  if (status === -1) return "status unknown";
  const sig = status & 0x7f;
  return sig === 0 ? `exit code ${(status >> 8) & 0xff}` : `killed by signal ${sig}`;
}

function printTimings(t: [string, number][]): void {
  const origin = performance.timeOrigin;
  const sorted = [...t].sort((a, b) => a[1] - b[1]);
  let prev = origin;
  console.error(`timing: parentStart 0.0`);
  for (const [name, at] of sorted) {
    console.error(`timing: ${name} ${(at - prev).toFixed(1)}`);
    prev = at;
  }
  console.error(`timing: total ${(prev - origin).toFixed(1)}`);
}
