/**
 * The parent side of the lifecycle, runc's commands: create (claim the id, clone the child
 * into its namespaces, hand the plan to the init, run the hooks, return once the init waits
 * on its start socket), start, state, kill, delete, list, and run = create + start + wait +
 * delete. Whatever fails, nothing is left behind.
 */
import type { Spec } from "../spec/types.ts";
import type { Plan } from "../plan/types.ts";
import { buildPlan } from "../plan/build.ts";
import { loadBundle, validateContainerId } from "../spec/validate.ts";
import { ConfigError, type ConfigProblem, DruntimeError, StageError } from "../errors.ts";
import { capabilityWarnings, hostLsms, kernelLastCap } from "../spec/process_security.ts";
import { compileSeccomp } from "../spec/seccomp.ts";
import type { Logger } from "../log.ts";
import { INIT_PIPE_ENV, receiveFromInit, sendMessage } from "../sync.ts";
import { type ChildSpec, cloneChild, describeChildFailure } from "../../ffi/trampoline.ts";
import { SyscallError } from "../../ffi/errno.ts";
import { check, close, fcntl, libc, open, pipe2, socketpair, writeAll } from "../../ffi/libc.ts";
import * as K from "../../ffi/constants.ts";
import { runHooks, runHooksWarning } from "../hooks.ts";
import { cgroupPathFor } from "../cgroups/hierarchy.ts";
import {
  applyPid,
  cgroupPids,
  createCgroup,
  destroyCgroup,
  setResources,
  signalAll,
  thawForKill,
} from "../cgroups/manager.ts";
import { containerDeviceRules } from "../cgroups/resources.ts";
import {
  type ContainerState,
  createStateEntry,
  currentState,
  hasStateEntry,
  initAlive,
  listIds,
  processStartTime,
  removeStateEntry,
  rfc3339Nano,
  startSocketPath,
  type StoredState,
  withLock,
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

/** Signals `run` passes on to the container. */
const FORWARDED: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

export interface CreateOptions {
  id: string;
  bundle: string;
  /** The state root. */
  root: string;
  pidFile?: string;
  noPivot?: boolean;
  /** Pass fds 3 .. 3+N-1 on to the container's process. */
  preserveFds?: number;
  log: Logger;
  /** Print `timing: <step> <ms>` lines on stderr. */
  timing?: boolean;
}

export interface RunOptions extends CreateOptions {
  /** Keep the state entry (stopped) after the container exits. */
  keep?: boolean;
  /** Return once the container has started. */
  detach?: boolean;
}

/** A loaded bundle and its plan: what `run --dry-run` prints and `run` executes. */
export interface PreparedBundle {
  spec: Spec;
  plan: Plan;
  bundle: string;
  rootfs: string;
  warnings: string[];
  /** What --debug shows. */
  notes: string[];
}

/** Loads and validates a bundle and computes its plan; touches nothing. */
export function prepareBundle(bundleDir: string, opts: { noPivot?: boolean } = {}): PreparedBundle {
  const { spec, warnings, bundle, rootfs } = loadBundle(bundleDir);
  checkHostLsms(spec);
  const lastCap = kernelLastCap();
  const more = capabilityWarnings(spec, lastCap);
  const notes: string[] = [];
  let seccomp: { filter: Uint8Array; flags: number } | undefined;
  if (spec.linux?.seccomp) {
    const compiled = compileSeccomp(spec.linux.seccomp);
    seccomp = compiled;
    // Profiles list syscalls of every architecture: skipping the others' is normal (runc says
    // nothing), so it is a debug note, not a warning.
    if (compiled.skipped.length) {
      notes.push(
        `linux.seccomp: not on this filter's architectures, skipped: ${compiled.skipped.join(", ")}`,
      );
    }
  }
  const plan = buildPlan(spec, { rootfs, bundle, noPivot: opts.noPivot, lastCap, seccomp });
  return { spec, plan, bundle, rootfs, warnings: [...warnings, ...more], notes };
}

/** An LSM label the host cannot apply is an error, not a container that runs unconfined. */
function checkHostLsms(spec: Spec): void {
  const lsms = hostLsms();
  const problems: ConfigProblem[] = [];
  if (spec.process?.apparmorProfile && !lsms.apparmor) {
    problems.push({ path: "process.apparmorProfile", reason: "this host does not run AppArmor" });
  }
  if (spec.process?.selinuxLabel && !lsms.selinux) {
    problems.push({ path: "process.selinuxLabel", reason: "this host does not run SELinux" });
  }
  if (problems.length) throw new ConfigError(problems);
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
  /** Namespaces the child unshares after the go byte: cgroup (once placed) and time. */
  unshareAfterGo: number;
  /** fds the child joins (user first). */
  childFds: number[];
  childNames: string[];
  /** A pid namespace to join: setns on the calling thread before clone (it applies to children). */
  pidFd: number | null;
  all: number[];
}

function openNamespaces(spec: Spec): Namespaces {
  const ns: Namespaces = { flags: 0, unshareAfterGo: 0, childFds: [], childNames: [], pidFd: null, all: [] };
  const sorted = [...(spec.linux?.namespaces ?? [])].sort((a, b) =>
    Number(b.type === "user") - Number(a.type === "user")
  );
  try {
    for (const n of sorted) {
      if (!n.path) {
        // A cgroup namespace's root is the cgroup its first process is in when it is made: made
        // after the parent has put the child in the container's cgroup, that is the container's.
        // A time namespace likewise: unshare makes it for the child's next execve, once the
        // child has written its clock offsets.
        if (n.type === "cgroup" || n.type === "time") ns.unshareAfterGo |= NAMESPACE_FLAGS[n.type];
        else ns.flags |= NAMESPACE_FLAGS[n.type];
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

/** linux.timeOffsets as /proc/PID/timens_offsets takes them: one "clock secs nanosecs" line each. */
export function timeOffsetsText(spec: Spec): string {
  return Object.entries(spec.linux?.timeOffsets ?? {})
    .map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`)
    .join("");
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

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** A created container whose creator is still here: run keeps the init socket to learn the exec's fate. */
interface Created {
  stored: StoredState;
  sock: number;
  timings: [string, number][];
  /** process.args[0], for an exec failure's message. */
  program: string;
}

/**
 * Creates the container: on success its init waits on the start socket, and the state says
 * created. On failure the init is killed and the state entry removed.
 * `onPid` learns the init's pid as soon as it exists (run forwards signals to it).
 */
async function createInit(opts: CreateOptions, onPid: (pid: number) => void): Promise<Created> {
  const t: [string, number][] = [["main", now()]];
  validateContainerId(opts.id);
  if (opts.preserveFds !== undefined && (!Number.isInteger(opts.preserveFds) || opts.preserveFds < 0)) {
    throw new DruntimeError(`--preserve-fds must be a whole number, not ${opts.preserveFds}`);
  }
  const prepared = prepareBundle(opts.bundle, { noPivot: opts.noPivot });
  for (const w of prepared.warnings) opts.log.warn(w);
  for (const n of prepared.notes) opts.log.debug(n);
  t.push(["load", now()]);

  createStateEntry(opts.root, opts.id);
  const hooks = prepared.spec.hooks;
  const stored: StoredState = {
    ociVersion: prepared.spec.ociVersion,
    id: opts.id,
    pid: 0,
    status: "creating",
    bundle: prepared.bundle,
    rootfs: prepared.rootfs,
    created: rfc3339Nano(now()),
    owner: "",
    annotations: prepared.spec.annotations ?? {},
    initStartTime: 0,
    creatorPid: Deno.pid,
    ...(hooks ? { hooks } : {}),
  };
  let pid = -1;
  const toClose: number[] = [];
  let parentSock = -1;
  try {
    writeState(opts.root, stored);
    // Made before the clone and recorded at once, so that a failure anywhere removes it.
    const resources = prepared.spec.linux?.resources ?? {};
    const cgroup = createCgroup(cgroupPathFor(prepared.spec.linux?.cgroupsPath, opts.id), resources);
    stored.cgroup = cgroup;
    stored.resources = resources;
    writeState(opts.root, stored);
    const ns = openNamespaces(prepared.spec);
    toClose.push(...ns.all);
    const [pSock, childSock] = socketpair(K.AF_UNIX, K.SOCK_STREAM | K.SOCK_CLOEXEC);
    parentSock = pSock;
    toClose.push(childSock);
    fcntl(childSock, K.F_SETFD, 0); // the init inherits this end
    const [goRead, goWrite] = pipe2(K.O_CLOEXEC);
    const [errRead, errWrite] = pipe2(K.O_CLOEXEC);
    toClose.push(goRead, goWrite, errRead, errWrite);

    const cmd = initCommand();
    const env = Object.entries({
      ...Deno.env.toObject(),
      [INIT_PIPE_ENV]: String(childSock),
      DENO_NO_UPDATE_CHECK: "1",
    }).map(([k, v]) => `${k}=${v}`);
    let restorePid = -1;
    if (ns.pidFd !== null) {
      restorePid = open("/proc/self/ns/pid", K.O_RDONLY | K.O_CLOEXEC);
      check("setns", ["pid namespace"], libc.setns(ns.pidFd, K.CLONE_NEWPID));
    }
    const child: ChildSpec = {
      flags: ns.flags,
      nsFds: ns.childFds,
      goRead,
      goWrite,
      errWrite,
      path: cmd.path,
      argv: cmd.argv,
      env,
      unshareAfterGo: ns.unshareAfterGo,
      ...(ns.unshareAfterGo & K.CLONE_NEWTIME ? { timeOffsets: timeOffsetsText(prepared.spec) } : {}),
    };
    // cgroup v2: clone3 makes the child in its cgroup (CLONE_INTO_CGROUP); a kernel without it
    // says so at once, and the child is placed by a write to cgroup.procs instead.
    let placed = false;
    try {
      if (cgroup.mode === "v2") {
        const dirFd = open(cgroup.dirs[""], K.O_RDONLY | K.ARCH.O_DIRECTORY | K.O_CLOEXEC);
        try {
          pid = cloneChild({ ...child, cgroupFd: dirFd });
          placed = true;
        } catch (e) {
          if (!(e instanceof SyscallError && e.call === "clone3")) throw e;
          opts.log.debug(`${e.message}: placing the child through cgroup.procs`);
        } finally {
          close(dirFd);
        }
      }
      if (!placed) pid = cloneChild(child);
    } finally {
      if (restorePid >= 0) {
        check("setns", ["own pid namespace"], libc.setns(restorePid, K.CLONE_NEWPID));
        close(restorePid);
      }
    }
    onPid(pid);
    t.push(["clone", now()]);
    for (const fd of [childSock, goRead, errWrite]) close(fd);
    toClose.splice(0, toClose.length, ...ns.all, goWrite, errRead);

    // The child waits for the go byte: in its cgroup, limited, before it runs anything.
    if (!placed) applyPid(cgroup, pid);
    setResources(
      cgroup,
      resources,
      containerDeviceRules(resources, prepared.spec.linux?.devices),
      (m) => opts.log.warn(m),
    );
    t.push(["cgroup", now()]);
    writeAll(goWrite, new Uint8Array([1]));
    const report = new Uint8Array(12);
    const n = Number(libc.read(errRead, report, BigInt(report.length)));
    if (n === 12) {
      throw new DruntimeError(describeChildFailure(report, ns.childNames, cmd.path, ns.unshareAfterGo));
    }
    t.push(["childExec", now()]);

    stored.pid = pid;
    stored.initStartTime = processStartTime(pid) ?? 0;
    const hooksSync = (hooks?.prestart?.length ?? 0) + (hooks?.createRuntime?.length ?? 0) > 0;
    sendMessage(parentSock, {
      type: "config",
      config: {
        plan: prepared.plan,
        startSocket: startSocketPath(opts.root, opts.id),
        hooksSync,
        hooks: { createContainer: hooks?.createContainer, startContainer: hooks?.startContainer },
        state: { ...stored, status: "creating" },
        preserveFds: opts.preserveFds ?? 0,
      },
    });
    for (;;) {
      const msg = await receiveFromInit(parentSock);
      if (msg === null) {
        const status = await waitStatus(pid);
        pid = -1;
        throw new DruntimeError(`container init exited before it was ready (${describeStatus(status)})`);
      }
      if (msg.type === "error") throw new StageError(msg.stage, msg.message);
      if (msg.type === "ready") {
        t.push(["ready", now()]);
        for (const [k, v] of Object.entries(msg.timings)) t.push([`init.${k}`, v]);
        break;
      }
      // hooks: the runtime-namespace hooks, between the mounts and pivot_root
      const state = { ...stored, status: "creating" as const };
      await runHooks("prestart", hooks, state);
      await runHooks("createRuntime", hooks, state);
      sendMessage(parentSock, { type: "resume", state });
    }
    stored.status = "created";
    writeState(opts.root, stored);
    if (opts.pidFile) {
      try {
        writeFileAtomic(opts.pidFile, String(pid));
      } catch (e) {
        throw new DruntimeError(`--pid-file ${opts.pidFile}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return { stored, sock: parentSock, timings: t, program: prepared.spec.process?.args?.[0] ?? "" };
  } catch (e) {
    if (pid > 0) killAndWait(pid);
    if (parentSock >= 0) libc.close(parentSock);
    await destroyAfterFailure(opts.root, stored, opts.log);
    throw e;
  } finally {
    for (const fd of toClose) libc.close(fd);
  }
}

/** SIGKILL and wait until the process is gone (reaped by us, or by whoever its parent is now). */
function killAndWait(pid: number, startTime?: number): void {
  libc.kill(pid, K.SIGKILL);
  // Ours: reap it. Not ours (created by another druntime): wait for it to vanish.
  if (libc.waitpid(pid, new Int32Array(1), 0) === pid) return;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const st = processStartTime(pid);
    if (st === null || (startTime !== undefined && st !== startTime)) return;
    const until = Date.now() + 5;
    while (Date.now() < until) { /* short spin: Atomics.wait is not allowed on the main thread here */ }
  }
}

/** `druntime create`: returns once the container is created (its init waits for start). */
export async function create(opts: CreateOptions): Promise<void> {
  const c = await createInit(opts, () => {});
  libc.close(c.sock);
  if (opts.timing) printTimings(c.timings);
}

/** Lets a created container's process exec; poststart hooks after. */
async function startInit(root: string, id: string, log: Logger): Promise<StoredState> {
  return await withLock(root, id, async () => {
    const { stored, state } = currentState(root, id);
    if (state.status !== "created") {
      throw new DruntimeError(`cannot start container "${id}": it is ${state.status}, not created`);
    }
    const path = startSocketPath(root, id);
    let answer: Uint8Array;
    try {
      const conn = await Deno.connect({ transport: "unix", path });
      const chunks: Uint8Array[] = [];
      const buf = new Uint8Array(4096);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
        if (chunks.length === 1 && buf[0] === 0) break;
      }
      conn.close();
      answer = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
      let off = 0;
      for (const c of chunks) answer.set(c, (off += c.length) - c.length);
    } finally {
      try {
        Deno.removeSync(path);
      } catch {
        // gone already
      }
    }
    if (answer.length === 0 || answer[0] !== 0) {
      const why = answer.length > 1 ? new TextDecoder().decode(answer.subarray(1)) : "the init went away";
      // A start that fails cleans everything up, as a failed create does.
      await destroyAfterFailure(root, stored, log);
      throw new DruntimeError(`start ${id}: ${why}`);
    }
    stored.status = "running";
    writeState(root, stored);
    await runHooksWarning("poststart", stored.hooks, { ...state, status: "running" }, log);
    return stored;
  });
}

/** `druntime start`. */
export async function start(root: string, id: string, log: Logger): Promise<void> {
  await startInit(root, id, log);
}

/** `druntime state`: the OCI state with the live status. */
export function state(root: string, id: string): ContainerState {
  validateContainerId(id);
  return currentState(root, id).state;
}

/** `druntime list`: every container under the root. */
export function list(root: string): ContainerState[] {
  const out: ContainerState[] = [];
  for (const id of listIds(root)) {
    try {
      out.push(currentState(root, id).state);
    } catch {
      // an entry being created or deleted right now
    }
  }
  return out;
}

/** A signal by name (KILL, SIGKILL) or number. */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n < K.NSIG) return n;
  } else {
    const name = s.toUpperCase().replace(/^SIG/, "");
    if (Object.hasOwn(K.SIGNALS, name)) return K.SIGNALS[name];
    const rt = /^RTMIN(?:\+(\d+))?$|^RTMAX(?:-(\d+))?$/.exec(name);
    if (rt) {
      const n = rt[1] !== undefined || name === "RTMIN" ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[2] ?? 0);
      if (n >= 34 && n <= 64) return n;
    }
  }
  throw new DruntimeError(`unknown signal ${JSON.stringify(s)}`);
}

/**
 * Every process of the container, for kill --all and delete --force: the members of its pid
 * namespace, or, when it shares the host's, the init and its descendants.
 */
function containerPids(stored: StoredState): number[] {
  let ns: string;
  try {
    ns = Deno.readLinkSync(`/proc/${stored.pid}/ns/pid`);
  } catch {
    return [];
  }
  const shared = ns === Deno.readLinkSync("/proc/self/ns/pid");
  const parents = new Map<number, number>();
  const members: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    try {
      if (shared) {
        const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
        parents.set(pid, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      } else if (Deno.readLinkSync(`/proc/${pid}/ns/pid`) === ns) {
        members.push(pid);
      }
    } catch {
      // exited meanwhile
    }
  }
  if (!shared) return members;
  const found = [stored.pid];
  for (let i = 0; i < found.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === found[i]) found.push(pid);
  }
  return found;
}

/** `druntime kill`. */
export async function kill(root: string, id: string, signal: number, all = false): Promise<void> {
  validateContainerId(id);
  await withLock(root, id, () => {
    const { stored, state } = currentState(root, id);
    // --all still reaches what a stopped container's init left in its cgroup.
    const leftovers = all && stored.cgroup !== undefined && cgroupPids(stored.cgroup).length > 0;
    if (state.status === "stopped" && !leftovers) throw new DruntimeError(`container "${id}" is not running`);
    if (all && stored.cgroup) return signalAll(stored.cgroup, signal);
    for (const pid of all ? containerPids(stored) : [stored.pid]) {
      if (libc.kill(pid, signal) === -1 && pid === stored.pid) {
        check("kill", [pid, signal], -1);
      }
    }
    if (stored.cgroup) thawForKill(stored.cgroup, signal);
  });
}

/** `druntime delete`: a stopped or created container; a running one only with force. */
export async function deleteContainer(root: string, id: string, force: boolean, log: Logger): Promise<void> {
  validateContainerId(id);
  await withLock(root, id, async () => {
    const { stored, state } = currentState(root, id);
    if (state.status === "running" || state.status === "paused" || state.status === "creating") {
      if (!force) {
        throw new DruntimeError(
          `cannot delete container "${id}": it is ${state.status} (stop it first, or use --force)`,
        );
      }
    }
    await destroy(root, stored, log);
  });
}

/**
 * Ends a container: every process of it killed (through its cgroup where it has one), the
 * cgroup removed, poststop hooks run, the state entry removed. What `delete` does, and what
 * every failure does once the entry exists. A cgroup that cannot be removed stops it before
 * the entry goes, so that a later delete can try again.
 */
async function destroy(root: string, stored: StoredState, log: Logger): Promise<void> {
  if (stored.cgroup) {
    signalAll(stored.cgroup, K.SIGKILL);
  } else if (initAlive(stored)) {
    for (const pid of containerPids(stored)) if (pid !== stored.pid) libc.kill(pid, K.SIGKILL);
  }
  if (initAlive(stored)) killAndWait(stored.pid, stored.initStartTime);
  if (stored.cgroup) destroyCgroup(stored.cgroup);
  await runHooksWarning("poststop", stored.hooks, { ...stored, status: "stopped" }, log);
  removeStateEntry(root, stored.id);
}

/** destroy on a failure path: its own error is a warning, the first error is the one to report. */
async function destroyAfterFailure(root: string, stored: StoredState, log: Logger): Promise<void> {
  try {
    await destroy(root, stored, log);
  } catch (e) {
    log.warn(e instanceof Error ? e.message : String(e));
  }
}

/**
 * `druntime run`: create, start, wait, delete. Signals to druntime are forwarded to the
 * container; returns its exit code (128+N when signal N killed it).
 */
export async function run(opts: RunOptions): Promise<number> {
  let pid = -1;
  let started = false;
  const pending: Deno.Signal[] = [];
  const handlers = FORWARDED.map((sig) =>
    [sig, () => {
      if (pid > 0 && started) libc.kill(pid, K.SIGNALS[sig.slice(3)]);
      else pending.push(sig);
    }] as const
  );
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  let created: Created | null = null;
  try {
    created = await createInit(opts, (p) => pid = p);
    if (pending.length) throw new DruntimeError(`interrupted by ${pending[0]} before the container started`);
    started = true;
    await startInit(opts.root, opts.id, opts.log);
    // EOF on the init socket: the process exec'd; a message: the exec failed.
    const execResult = await receiveFromInit(created.sock);
    if (execResult?.type === "error") {
      const message = execResult.message.replace(/^execve\(\)/, `execve(${JSON.stringify(created.program)})`);
      throw new StageError(execResult.stage, message);
    }
    created.timings.push(["exec", now()]);
    if (opts.detach) return 0;
    const status = await waitStatus(pid);
    created.timings.push(["exit", now()]);
    if (opts.timing) printTimings(created.timings);
    if (opts.keep) return exitCodeOf(status);
    await deleteContainer(opts.root, opts.id, true, opts.log);
    return exitCodeOf(status);
  } catch (e) {
    // Created but then failed (a failed start has cleaned up already): the whole container goes.
    if (created !== null && hasStateEntry(opts.root, opts.id)) {
      await destroyAfterFailure(opts.root, created.stored, opts.log);
    }
    throw e;
  } finally {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
    if (created !== null) libc.close(created.sock);
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
