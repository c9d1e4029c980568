/**
 * The container process: user, umask, cwd, then the executable looked up on the container's
 * PATH. The final exec resets what Deno leaves behind (ignored SIGPIPE, blocked signals,
 * open fds), since ignored signals and fds survive execve.
 */
import type { Step } from "../plan/types.ts";
import * as K from "../../ffi/constants.ts";
import {
  capset,
  chdir,
  check,
  execve,
  fcntl,
  fexecve,
  ioprioSet,
  libc,
  loadSeccompFilter,
  personality,
  prctl,
  resetIgnoredSignal,
  schedSetattr,
  sealedMemfd,
  setgid,
  setgroups,
  setrlimit,
  setuid,
} from "../../ffi/libc.ts";
import { kernelLastCap } from "../spec/process_security.ts";
import { hostWaiterElf } from "../../ffi/waiter.ts";
import { DruntimeError } from "../errors.ts";

/** PATH for the lookup when the config sets none (execvp's default). */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What execve gets. */
export interface Prepared {
  path: string;
  args: string[];
  env: string[];
  /** A seccomp filter to load right before the execve. */
  seccomp?: { program: Uint8Array<ArrayBuffer>; flags: number };
}

function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function envValue(env: readonly string[], key: string): string | undefined {
  const hit = env.findLast((e) => e.startsWith(`${key}=`));
  return hit?.slice(key.length + 1);
}

/** The executable for args[0] as the container sees it (run after pivot_root). */
export function lookPath(name: string, env: readonly string[]): string {
  if (name.includes("/")) {
    try {
      Deno.statSync(name);
    } catch {
      throw new DruntimeError(`exec ${JSON.stringify(name)}: no such file in the container`);
    }
    if (!isExecutableFile(name)) {
      throw new DruntimeError(`exec ${JSON.stringify(name)}: not an executable file`);
    }
    return name;
  }
  for (const dir of (envValue(env, "PATH") ?? DEFAULT_PATH).split(":")) {
    const candidate = `${dir || "."}/${name}`;
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new DruntimeError(`exec ${JSON.stringify(name)}: not found in the container's PATH`);
}

/** HOME from the container's /etc/passwd, as runc sets it when the config has none. */
function homeOf(uid: number): string {
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f.length >= 6 && Number(f[2]) === uid && f[2] !== "") return f[5];
    }
  } catch {
    // no passwd file: the default below
  }
  return "/";
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** A config's rlimit value: 2^63 and above (JSON cannot say 2^64 - 1 exactly) is unlimited. */
function rlimitValue(n: number): bigint {
  return n >= 2 ** 63 ? K.RLIM_INFINITY : BigInt(n);
}

function writeProcFile(path: string, value: string): void {
  try {
    Deno.writeTextFileSync(path, value, { create: false });
  } catch (e) {
    throw new DruntimeError(
      `write ${JSON.stringify(value)} to ${path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** The label the next execve takes: this thread's, the one that execs. */
function setExecLabel(lsm: "apparmor" | "selinux", label: string): void {
  if (lsm === "apparmor") {
    try {
      return writeProcFile("/proc/thread-self/attr/apparmor/exec", `exec ${label}`);
    } catch {
      return writeProcFile("/proc/thread-self/attr/exec", `exec ${label}`);
    }
  }
  writeProcFile("/proc/thread-self/attr/exec", label);
}

/** Runs the process stage up to (not including) the exec; returns what to exec. */
export function prepareProcess(steps: readonly Step[]): Prepared {
  let prepared: Prepared | null = null;
  let seccomp: Prepared["seccomp"];
  let uid = 0;
  for (const step of steps) {
    switch (step.op) {
      case "oomScoreAdj":
        writeProcFile("/proc/self/oom_score_adj", String(step.value));
        break;
      case "scheduler":
        schedSetattr(step.policy, { ...step, policy: step.policyNumber });
        break;
      case "ioPriority":
        ioprioSet(step.class, step.value);
        break;
      case "setRlimit":
        setrlimit(step.type, step.resource, rlimitValue(step.soft), rlimitValue(step.hard));
        break;
      case "dropBoundingSet": {
        const last = kernelLastCap();
        for (let cap = 0; cap <= last; cap++) {
          if (!step.keep.includes(cap)) prctl(`PR_CAPBSET_DROP ${cap}`, K.PR_CAPBSET_DROP, BigInt(cap));
        }
        break;
      }
      case "keepCaps":
        prctl("PR_SET_KEEPCAPS", K.PR_SET_KEEPCAPS, 1n);
        break;
      case "setCapabilities":
        capset(step);
        prctl("PR_SET_KEEPCAPS", K.PR_SET_KEEPCAPS, 0n);
        prctl("PR_CAP_AMBIENT_CLEAR_ALL", K.PR_CAP_AMBIENT, BigInt(K.PR_CAP_AMBIENT_CLEAR_ALL));
        // Raised last: a capability is ambient only while it is permitted and inheritable.
        for (const cap of step.ambient) {
          prctl(`PR_CAP_AMBIENT_RAISE ${cap}`, K.PR_CAP_AMBIENT, BigInt(K.PR_CAP_AMBIENT_RAISE), BigInt(cap));
        }
        break;
      case "noNewPrivileges":
        prctl("PR_SET_NO_NEW_PRIVS", K.PR_SET_NO_NEW_PRIVS, 1n);
        break;
      case "seccomp": {
        const program = decodeBase64(step.program);
        if (step.early) loadSeccompFilter(program, step.flags);
        else seccomp = { program, flags: step.flags };
        break;
      }
      case "execLabel":
        setExecLabel(step.lsm, step.label);
        break;
      case "personality":
        personality(step.domain, step.persona);
        break;
      case "setUser":
        uid = step.uid;
        setgroups(step.additionalGids);
        setgid(step.gid);
        setuid(step.uid);
        break;
      case "umask":
        libc.umask(step.mask);
        break;
      case "chdir":
        chdir(step.path);
        break;
      case "exec": {
        if (step.args.length === 0) throw new DruntimeError("process.args is empty");
        const env = envValue(step.env, "HOME") === undefined
          ? [...step.env, `HOME=${homeOf(uid)}`]
          : step.env;
        prepared = { path: lookPath(step.args[0], env), args: step.args, env };
        break;
      }
      default:
        throw new Error(`step ${step.op} does not belong to the process stage`);
    }
  }
  if (prepared === null) throw new DruntimeError("the plan has no exec step");
  return seccomp ? { ...prepared, seccomp } : prepared;
}

/**
 * Resets what Deno leaves behind and survives execve: ignored signals, the signal mask, and
 * open fds from 3 + preserveFds up.
 */
function resetForExec(preserveFds: number): void {
  for (let sig = 1; sig < K.NSIG; sig++) {
    // KILL and STOP cannot change. glibc keeps 32 and 33 for itself and its signal() refuses
    // them, so they go to the kernel directly (when ignored: the handler glibc set on 33 is
    // reset by execve).
    if (sig === K.SIGKILL || sig === K.SIGSTOP) continue;
    resetIgnoredSignal(sig);
  }
  check("sigprocmask", ["SIG_SETMASK", "{}"], libc.sigprocmask(K.SIG_SETMASK, new Uint8Array(128), null));
  // Close-on-exec rather than close: Deno's own threads still use their fds until execve.
  const first = 3 + preserveFds;
  check(
    "close_range",
    [first, "~0", "CLOSE_RANGE_CLOEXEC"],
    libc.close_range(first, 0xffffffff, K.CLOSE_RANGE_CLOEXEC),
  );
}

/** Resets signals and fds and execs. Returns only by throwing. */
export function execProcess(p: Prepared, preserveFds = 0): never {
  resetForExec(preserveFds);
  if (p.seccomp) loadSeccompFilter(p.seccomp.program, p.seccomp.flags);
  return execve(p.path, p.args, p.env);
}

/**
 * Execs the start waiter (ffi/waiter.ts), which waits on listenFd for `start` and then execs
 * the process; an exec failure goes to reportFd. Returns only by throwing.
 */
export function execWaiter(p: Prepared, preserveFds: number, listenFd: number, reportFd: number): never {
  resetForExec(preserveFds);
  // The waiter needs both; it marks them close-on-exec itself before the last execve.
  fcntl(listenFd, K.F_SETFD, 0);
  fcntl(reportFd, K.F_SETFD, 0);
  const memfd = sealedMemfd("druntime-start-waiter", hostWaiterElf(listenFd, reportFd, p.seccomp));
  return fexecve(memfd, "start waiter", [p.path, ...p.args], p.env);
}
