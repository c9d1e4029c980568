/**
 * Computes the container's plan from a validated config: runc's prepareRootfs and
 * finalizeRootfs order, written out as steps before anything is touched.
 */
import type { Device, Mount, Process, Spec } from "../spec/types.ts";
import {
  capabilityNumbers,
  type CapabilitySet,
  IOPRIO_CLASSES,
  kernelLastCap,
  PERSONALITY_DOMAINS,
  SCHED_FLAGS,
  SCHED_POLICIES,
  unraisableAmbient,
} from "../spec/process_security.ts";
import type { Plan, Stage, StageName, Step } from "./types.ts";
import { parseMountOptions, parsePropagation } from "../spec/mount_options.ts";
import { DruntimeError } from "../errors.ts";
import {
  MS_BIND,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  MS_SLAVE,
  RLIMITS,
} from "../../ffi/constants.ts";
import { isAbsolute, normalize, resolve } from "../paths.ts";

export interface PlanOptions {
  /** The rootfs, an absolute host path. */
  rootfs: string;
  /** The bundle directory: relative bind sources are resolved against it. */
  bundle: string;
  /** --no-pivot: MS_MOVE + chroot instead of pivot_root. */
  noPivot?: boolean;
  /** Whether the host has /proc/kcore (for the /dev/core symlink); read from the host if unset. */
  hasKcore?: boolean;
  /** The kernel's last capability; read from the host if unset. */
  lastCap?: number;
  /** linux.seccomp compiled (the parent compiles it with libseccomp). */
  seccomp?: { filter: Uint8Array; flags: number };
}

function encodeBase64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

/**
 * The process stage in runc's order: oom_score_adj and rlimits while still root, the bounding
 * set dropped and the capabilities kept across the uid change, the capabilities set, then
 * umask, cwd, no_new_privs, the LSM exec label and the personality, and the exec.
 */
function processSteps(spec: Spec, process: Process, opts: PlanOptions): Step[] {
  const steps: Step[] = [];
  if (process.oomScoreAdj !== undefined) steps.push({ op: "oomScoreAdj", value: process.oomScoreAdj });
  for (const r of process.rlimits ?? []) {
    steps.push({ op: "setRlimit", type: r.type, resource: RLIMITS[r.type], soft: r.soft, hard: r.hard });
  }
  // While still root: a realtime policy or class needs CAP_SYS_NICE / CAP_SYS_ADMIN.
  const sched = process.scheduler;
  if (sched) {
    steps.push({
      op: "scheduler",
      policy: sched.policy,
      policyNumber: SCHED_POLICIES[sched.policy],
      flags: (sched.flags ?? []).reduce((all, f) => all | SCHED_FLAGS[f], 0),
      nice: sched.nice ?? 0,
      priority: sched.priority ?? 0,
      runtime: sched.runtime ?? 0,
      deadline: sched.deadline ?? 0,
      period: sched.period ?? 0,
    });
  }
  const io = process.ioPriority;
  if (io) {
    steps.push({
      op: "ioPriority",
      class: io.class,
      value: (IOPRIO_CLASSES[io.class] << 13) | (io.priority ?? 0),
    });
  }
  const seccomp = opts.seccomp
    ? {
      op: "seccomp" as const,
      program: encodeBase64(opts.seccomp.filter),
      flags: opts.seccomp.flags,
      instructions: opts.seccomp.filter.length / 8,
      early: !process.noNewPrivileges,
    }
    : null;
  if (seccomp?.early) steps.push(seccomp);
  // No process.capabilities means none at all (what runc and crun give), never the caller's.
  const caps = process.capabilities;
  const lastCap = opts.lastCap ?? kernelLastCap();
  const numbers = (set: CapabilitySet) => capabilityNumbers(caps?.[set] ?? [], lastCap).numbers;
  steps.push({ op: "dropBoundingSet", keep: numbers("bounding") }, { op: "keepCaps" });
  const user = process.user;
  steps.push({ op: "setUser", uid: user.uid, gid: user.gid, additionalGids: user.additionalGids ?? [] });
  steps.push({
    op: "setCapabilities",
    effective: numbers("effective"),
    permitted: numbers("permitted"),
    inheritable: numbers("inheritable"),
    ambient: capabilityNumbers(
      (caps?.ambient ?? []).filter((n) => !unraisableAmbient(caps ?? {}).includes(n)),
      lastCap,
    ).numbers,
  });
  steps.push({ op: "umask", mask: user.umask ?? DEFAULT_UMASK }, { op: "chdir", path: process.cwd });
  if (process.noNewPrivileges) steps.push({ op: "noNewPrivileges" });
  if (seccomp && !seccomp.early) steps.push(seccomp);
  if (process.apparmorProfile) {
    steps.push({ op: "execLabel", lsm: "apparmor", label: process.apparmorProfile });
  }
  if (process.selinuxLabel) steps.push({ op: "execLabel", lsm: "selinux", label: process.selinuxLabel });
  const domain = spec.linux?.personality?.domain;
  if (domain !== undefined) steps.push({ op: "personality", domain, persona: PERSONALITY_DOMAINS[domain] });
  steps.push({ op: "exec", args: process.args ?? [], env: process.env ?? [] });
  return steps;
}

/** The devices every container gets (OCI runtime spec, "Default Devices"). */
export const DEFAULT_DEVICES: readonly Required<Device>[] = [
  { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/zero", type: "c", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/full", type: "c", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/random", type: "c", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/urandom", type: "c", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/tty", type: "c", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** The /proc files a non-proc mount may cover (runc's checkProcMount list). */
const PROC_MOUNT_ALLOWED = new Set([
  "/proc/cpuinfo",
  "/proc/diskstats",
  "/proc/meminfo",
  "/proc/stat",
  "/proc/swaps",
  "/proc/uptime",
  "/proc/loadavg",
  "/proc/slabinfo",
  "/proc/net/dev",
  "/proc/sys/kernel/ns_last_pid",
]);

/** The user-visible default umask (runc's). */
const DEFAULT_UMASK = 0o022;

function hasNamespace(spec: Spec, type: string): boolean {
  return spec.linux?.namespaces?.some((n) => n.type === type) ?? false;
}

function cleanPath(p: string): string {
  const n = normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/** A bind mount: by its type ("bind", "rbind") or by a bind/rbind option. */
function isBindMount(m: Mount): boolean {
  return m.type === "bind" || m.type === "rbind" || parseMountOptions(m.options ?? []).bind;
}

function mountSteps(m: Mount, index: number, opts: PlanOptions, cgroupNs: boolean): Step[] {
  const parsed = parseMountOptions(m.options ?? []);
  const target = cleanPath(m.destination);
  const type = m.type ?? "";
  const isBind = isBindMount(m);
  // A container that could cover /proc with anything but a procfs could hide what the
  // masked paths protect (runc's checkProcMount).
  if (target === "/proc" && type !== "proc") {
    throw new DruntimeError(
      `mounts[${index}]: only a proc mount may be mounted on /proc, not ${type || "a bind"}`,
    );
  }
  if (target.startsWith("/proc/") && type !== "proc" && !PROC_MOUNT_ALLOWED.has(target)) {
    throw new DruntimeError(
      `mounts[${index}]: ${target} is inside /proc; only proc mounts and ${
        [...PROC_MOUNT_ALLOWED].join(", ")
      } may be mounted there`,
    );
  }
  const steps: Step[] = [];
  const flags = parsed.flags & ~MS_BIND & ~MS_REC;
  const propagation: Step[] = parsed.propagation.map((p) => ({ op: "propagate", index, target, flags: p }));
  if (isBind) {
    const src = m.source ?? "";
    const source = isAbsolute(src) ? cleanPath(src) : resolve(opts.bundle, src);
    const recursive = parsed.recursiveBind || type === "rbind";
    steps.push({
      op: "mount",
      index,
      source,
      target,
      fstype: "bind",
      flags: MS_BIND | (recursive ? MS_REC : 0),
      data: "",
      create: "likeSource",
    });
    // A bind mount ignores every flag but MS_BIND|MS_REC: ro, nosuid... need a remount.
    if (flags & ~MS_REMOUNT) steps.push({ op: "remount", index, target, flags: flags & ~MS_REMOUNT });
  } else if (type === "cgroup" || type === "cgroup2") {
    steps.push({
      op: "mountCgroups",
      index,
      target,
      flags: flags & ~MS_RDONLY,
      readonly: (flags & MS_RDONLY) !== 0,
      ns: cgroupNs,
    });
  } else {
    const copyUp = parsed.copyUp && type === "tmpfs";
    // Mounted writable first where something must still be written into it (copy-up, device
    // nodes under /dev), then remounted read-only.
    const laterReadonly = (flags & MS_RDONLY) !== 0 && (copyUp || target === "/dev");
    steps.push({
      op: "mount",
      index,
      source: m.source ?? type,
      target,
      fstype: type,
      flags: laterReadonly ? flags & ~MS_RDONLY : flags,
      data: parsed.data.join(","),
      create: "dir",
      ...(copyUp ? { copyUp } : {}),
    });
    // A read-only /dev is remounted in finalizeRootfs, once its device nodes exist.
    if (laterReadonly && copyUp && target !== "/dev") {
      steps.push({ op: "remount", index, target, flags: flags & ~MS_REMOUNT });
    }
  }
  return [...steps, ...propagation];
}

function deviceSteps(spec: Spec): Step[] {
  const byPath = new Map<string, Required<Device>>();
  for (const d of DEFAULT_DEVICES) byPath.set(d.path, d);
  for (const d of spec.linux?.devices ?? []) {
    byPath.set(cleanPath(d.path), {
      path: cleanPath(d.path),
      type: d.type,
      major: d.major ?? 0,
      minor: d.minor ?? 0,
      fileMode: d.fileMode ?? 0o666,
      uid: d.uid ?? 0,
      gid: d.gid ?? 0,
    });
  }
  return [...byPath.values()].map((d) => ({
    op: "mknod",
    path: d.path,
    kind: d.type,
    major: d.major,
    minor: d.minor,
    mode: d.fileMode & 0o7777,
    uid: d.uid,
    gid: d.gid,
    hostPath: d.path,
  }));
}

function kcoreExists(): boolean {
  try {
    Deno.statSync("/proc/kcore");
    return true;
  } catch {
    return false;
  }
}

/** The plan for a validated config. Throws DruntimeError for configs the plan cannot honour. */
export function buildPlan(spec: Spec, opts: PlanOptions): Plan {
  const mountNs = hasNamespace(spec, "mount");
  const mounts = spec.mounts ?? [];
  const propagation = spec.linux?.rootfsPropagation
    ? parsePropagation(spec.linux.rootfsPropagation)
    : undefined;
  const stages: Record<StageName, Step[]> = {
    prepareRoot: [],
    mountToRootfs: [],
    createDevices: [],
    setupPtmx: [],
    setupDevSymlinks: [],
    pivotRoot: [],
    finalizeRootfs: [],
    process: [],
  };
  const process = spec.process;
  if (!process) throw new DruntimeError("config has no process to run");

  if (mountNs) {
    // Nothing the container mounts may reach the host while it is built: / stays a slave (or
    // private) until pivot_root; a shared rootfsPropagation is applied to the new root after.
    const privateRoot = propagation !== undefined && (propagation & MS_PRIVATE) !== 0;
    stages.prepareRoot.push(
      { op: "rootPropagation", flags: (privateRoot ? MS_PRIVATE : MS_SLAVE) | MS_REC },
      { op: "parentPrivate" },
      { op: "bindRootfs" },
    );
    const cgroupNs = hasNamespace(spec, "cgroup");
    mounts.forEach((m, i) => stages.mountToRootfs.push(...mountSteps(m, i, opts, cgroupNs)));
    // runc creates a missing cwd, after the mounts so that it lands on the right filesystem.
    if (cleanPath(process.cwd) !== "/") {
      stages.mountToRootfs.push({ op: "mkdir", path: cleanPath(process.cwd), mode: 0o755 });
    }

    // A bind-mounted /dev is the host's (or the user's) to populate, as in runc.
    const devBound = mounts.some((m) => cleanPath(m.destination) === "/dev" && isBindMount(m));
    if (!devBound) {
      stages.createDevices.push(...deviceSteps(spec));
      stages.setupPtmx.push({ op: "symlink", path: "/dev/ptmx", target: "pts/ptmx", replace: true });
      stages.setupDevSymlinks.push(
        { op: "symlink", path: "/dev/fd", target: "/proc/self/fd" },
        { op: "symlink", path: "/dev/stdin", target: "/proc/self/fd/0" },
        { op: "symlink", path: "/dev/stdout", target: "/proc/self/fd/1" },
        { op: "symlink", path: "/dev/stderr", target: "/proc/self/fd/2" },
      );
      if (opts.hasKcore ?? kcoreExists()) {
        stages.setupDevSymlinks.push({ op: "symlink", path: "/dev/core", target: "/proc/kcore" });
      }
    }
    stages.pivotRoot.push(opts.noPivot ? { op: "moveRoot" } : { op: "pivotRoot" });
    if (propagation !== undefined) {
      stages.pivotRoot.push({ op: "propagate", target: "/", flags: propagation });
    }

    // Before the read-only paths: /proc/sys usually is one.
    for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
      stages.finalizeRootfs.push({ op: "sysctl", key, value });
    }
    for (const p of spec.linux?.readonlyPaths ?? []) {
      stages.finalizeRootfs.push({ op: "readonlyPath", path: p });
    }
    for (const p of spec.linux?.maskedPaths ?? []) stages.finalizeRootfs.push({ op: "mask", path: p });
    const devMount = mounts.findIndex((m) => cleanPath(m.destination) === "/dev");
    if (devMount >= 0 && !devBound && (parseMountOptions(mounts[devMount].options ?? []).flags & MS_RDONLY)) {
      stages.finalizeRootfs.push({ op: "remount", index: devMount, target: "/dev", flags: MS_RDONLY });
    }
    if (spec.root?.readonly) stages.finalizeRootfs.push({ op: "remount", target: "/", flags: MS_RDONLY });
  } else {
    stages.pivotRoot.push({ op: "chroot" });
  }
  if (spec.hostname !== undefined) stages.finalizeRootfs.push({ op: "sethostname", name: spec.hostname });
  if (spec.domainname !== undefined) {
    stages.finalizeRootfs.push({ op: "setdomainname", name: spec.domainname });
  }

  stages.process.push(...processSteps(spec, process, opts));

  const ordered: Stage[] = (Object.keys(stages) as StageName[])
    .map((name) => ({ name, steps: stages[name] }))
    .filter((s) => s.steps.length > 0);
  return { rootfs: opts.rootfs, stages: ordered };
}
