/**
 * The rootfs pipeline, run by the init inside the new mount namespace: each stage function is
 * named as in runc's rootfs_linux.go and executes its steps of the plan.
 */
import type { Plan, Stage, StageName, Step } from "../plan/types.ts";
import { describeStep } from "../plan/format.ts";
import { StageError } from "../errors.ts";
import * as K from "../../ffi/constants.ts";
import {
  chdir,
  chroot,
  close,
  fchdir,
  lchown,
  mknod,
  mount,
  mountFlagsOf,
  open,
  pivotRootSyscall,
  setdomainname,
  sethostname,
  umount2,
} from "../../ffi/libc.ts";
import { EPERM, SyscallError } from "../../ffi/errno.ts";
import { lstatOrNull, mkdirAllInRoot, resolveInRoot } from "./securejoin.ts";
import { copyTree } from "./copyup.ts";
import { mountPointOf, readMountInfo, readProcCgroups, visibleMounts } from "./mountinfo.ts";

/** Where the pipeline is: before pivot_root container paths live under the rootfs. */
export interface RootfsContext {
  rootfs: string;
  pivoted: boolean;
}

function hostPath(ctx: RootfsContext, path: string): string {
  return ctx.pivoted ? path : resolveInRoot(ctx.rootfs, path);
}

function ensureTarget(ctx: RootfsContext, path: string, file: boolean): string {
  return ctx.pivoted ? path : mkdirAllInRoot(ctx.rootfs, path, { file });
}

// The per-mount flags a bind remount would otherwise clear (and may not, in a user namespace).
const KEPT_FLAGS: [number, number][] = [
  [K.ST_NOSUID, K.MS_NOSUID],
  [K.ST_NODEV, K.MS_NODEV],
  [K.ST_NOEXEC, K.MS_NOEXEC],
];
const ATIME_FLAGS = K.MS_NOATIME | K.MS_NODIRATIME | K.MS_RELATIME | K.MS_STRICTATIME;

function remount(target: string, flags: number): void {
  const current = mountFlagsOf(target);
  let keep = 0;
  for (const [st, ms] of KEPT_FLAGS) if (current & st) keep |= ms;
  if (!(flags & ATIME_FLAGS)) {
    if (current & K.ST_NOATIME) keep |= K.MS_NOATIME;
    if (current & K.ST_NODIRATIME) keep |= K.MS_NODIRATIME;
    if (current & K.ST_RELATIME) keep |= K.MS_RELATIME;
  }
  mount(null, target, null, K.MS_BIND | K.MS_REMOUNT | (flags & ~K.MS_REMOUNT) | keep, null);
}

/** One config mount onto its target inside the rootfs. */
function mountToRootfs(ctx: RootfsContext, step: Extract<Step, { op: "mount" }>): void {
  let file = false;
  if (step.fstype === "bind") {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(step.source);
    } catch {
      throw new Error(`bind source ${JSON.stringify(step.source)} does not exist`);
    }
    file = !info.isDirectory;
  } else if (step.create === "file") {
    file = true;
  }
  const target = ensureTarget(ctx, step.target, file);
  let under = -1;
  if (step.copyUp) under = open(target, K.O_PATH | K.ARCH.O_DIRECTORY | K.O_CLOEXEC);
  try {
    mount(step.source, target, step.fstype === "bind" ? null : step.fstype, step.flags, step.data || null);
    if (under >= 0) copyTree(`/proc/self/fd/${under}`, target);
  } finally {
    if (under >= 0) close(under);
  }
}

/** The v1 hierarchies (or the v2 one) bound or mounted under target, as runc does. */
function mountCgroups(ctx: RootfsContext, step: Extract<Step, { op: "mountCgroups" }>): void {
  const target = ensureTarget(ctx, step.target, false);
  const mounts = visibleMounts(readMountInfo());
  const v1 = mounts.filter((m) => m.fstype === "cgroup");
  const own = readProcCgroups(Deno.readTextFileSync("/proc/self/cgroup"));
  const roFlags = step.readonly ? K.MS_RDONLY : 0;
  if (v1.length === 0) {
    const v2 = mounts.find((m) => m.fstype === "cgroup2");
    if (!v2) throw new Error("the host has no cgroup hierarchy to mount");
    if (step.ns) {
      mount("cgroup2", target, "cgroup2", step.flags | roFlags, null);
    } else {
      mount(`${v2.mountPoint}${own.get("") ?? "/"}`, target, null, K.MS_BIND | K.MS_REC, null);
      remount(target, step.flags | roFlags);
    }
    return;
  }
  mount("tmpfs", target, "tmpfs", step.flags, "mode=755");
  for (const m of v1) {
    const controllers = m.superOptions.filter((o) => o !== "rw" && o !== "ro" && !o.startsWith("xattr"));
    const name = m.mountPoint.slice(m.mountPoint.lastIndexOf("/") + 1);
    const dir = `${target}/${name}`;
    Deno.mkdirSync(dir, { recursive: true });
    if (step.ns) {
      mount("cgroup", dir, "cgroup", step.flags | roFlags, controllers.join(","));
    } else {
      const key = controllers.join(",");
      const path = own.get(key) ?? "/";
      const rel = m.root === "/" ? path : path.slice(m.root.length) || "/";
      mount(`${m.mountPoint}${rel}`, dir, null, K.MS_BIND | K.MS_REC, null);
      remount(dir, step.flags | roFlags);
    }
    // co-mounted controllers (cpu,cpuacct) are reachable by each name, as on the host
    const parts = name.split(",");
    if (parts.length > 1) {
      for (const p of parts) {
        try {
          Deno.symlinkSync(name, `${target}/${p}`);
        } catch (e) {
          if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
        }
      }
    }
  }
  if (step.readonly) remount(target, step.flags | K.MS_RDONLY);
}

/** One device node; where the kernel refuses mknod, the host's node bound in (runc's bindMountDeviceNode). */
function createDeviceNode(ctx: RootfsContext, step: Extract<Step, { op: "mknod" }>): void {
  const path = ensureTarget(ctx, step.path.slice(0, step.path.lastIndexOf("/")) || "/", false) +
    step.path.slice(step.path.lastIndexOf("/"));
  const existing = lstatOrNull(path);
  if (existing?.isDirectory) throw new Error(`${step.path} exists and is a directory`);
  if (existing) Deno.removeSync(path);
  const type = step.kind === "b" ? K.S_IFBLK : step.kind === "p" ? K.S_IFIFO : K.S_IFCHR;
  try {
    mknod(path, type | step.mode, step.kind === "p" ? 0n : K.makedev(step.major, step.minor));
  } catch (e) {
    // Refused (a user namespace, or a seccomp'd host): the host's node, bound in.
    if (!(e instanceof SyscallError) || e.errno !== EPERM) throw e;
    Deno.writeFileSync(path, new Uint8Array(), { mode: 0o000 });
    mount(step.hostPath, path, null, K.MS_BIND, null);
    return;
  }
  Deno.chmodSync(path, step.mode);
  lchown(path, step.uid, step.gid);
}

function createSymlink(ctx: RootfsContext, step: Extract<Step, { op: "symlink" }>): void {
  const slash = step.path.lastIndexOf("/");
  const dir = ensureTarget(ctx, step.path.slice(0, slash) || "/", false);
  const path = dir + step.path.slice(slash);
  if (step.replace && lstatOrNull(path) !== null) Deno.removeSync(path);
  try {
    Deno.symlinkSync(step.target, path);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
}

/** pivot_root(".", ".") as runc does: the old root ends up stacked under the new and is detached. */
function pivotRoot(ctx: RootfsContext): void {
  const oldRoot = open("/", K.O_RDONLY | K.ARCH.O_DIRECTORY | K.O_CLOEXEC);
  const newRoot = open(ctx.rootfs, K.O_RDONLY | K.ARCH.O_DIRECTORY | K.O_CLOEXEC);
  try {
    fchdir(newRoot);
    pivotRootSyscall(".", ".");
    fchdir(oldRoot);
    // The old root must not propagate its unmount to the host's mounts.
    mount(null, ".", null, K.MS_SLAVE | K.MS_REC, null);
    umount2(".", K.MNT_DETACH);
    chdir("/");
  } finally {
    close(oldRoot);
    close(newRoot);
  }
}

/** --no-pivot. */
function msMoveRoot(ctx: RootfsContext): void {
  chdir(ctx.rootfs);
  mount(ctx.rootfs, "/", null, K.MS_MOVE, null);
  chroot(".");
  chdir("/");
}

function maskPath(path: string): void {
  const info = lstatOrNull(path);
  if (info === null) return;
  if (info.isDirectory) mount("tmpfs", path, "tmpfs", K.MS_RDONLY, null);
  else mount("/dev/null", path, null, K.MS_BIND, null);
}

function readonlyPath(path: string): void {
  if (lstatOrNull(path) === null) return;
  mount(path, path, null, K.MS_BIND | K.MS_REC, null);
  remount(path, K.MS_RDONLY);
}

/** A namespaced sysctl, through the container's own /proc/sys (runc writes it the same way). */
function writeSysctl(key: string, value: string): void {
  const path = `/proc/sys/${key.replaceAll(".", "/")}`;
  try {
    Deno.writeTextFileSync(path, value, { create: false });
  } catch (e) {
    throw new Error(`write ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Runs one step of the rootfs stages. */
export function runRootfsStep(ctx: RootfsContext, step: Step): void {
  switch (step.op) {
    case "rootPropagation":
      return mount(null, "/", null, step.flags, null);
    case "parentPrivate":
      return mount(null, mountPointOf(readMountInfo(), ctx.rootfs), null, K.MS_PRIVATE, null);
    case "bindRootfs":
      return mount(ctx.rootfs, ctx.rootfs, null, K.MS_BIND | K.MS_REC, null);
    case "mkdir":
      ensureTarget(ctx, step.path, false);
      return;
    case "mount":
      return mountToRootfs(ctx, step);
    case "remount":
      return remount(hostPath(ctx, step.target), step.flags);
    case "propagate":
      return mount(null, hostPath(ctx, step.target), null, step.flags, null);
    case "mountCgroups":
      return mountCgroups(ctx, step);
    case "mknod":
      return createDeviceNode(ctx, step);
    case "symlink":
      return createSymlink(ctx, step);
    case "pivotRoot":
      pivotRoot(ctx);
      ctx.pivoted = true;
      return;
    case "moveRoot":
      msMoveRoot(ctx);
      ctx.pivoted = true;
      return;
    case "chroot":
      chroot(ctx.rootfs);
      chdir("/");
      ctx.pivoted = true;
      return;
    case "mask":
      return maskPath(hostPath(ctx, step.path));
    case "readonlyPath":
      return readonlyPath(hostPath(ctx, step.path));
    case "sysctl":
      return writeSysctl(step.key, step.value);
    case "sethostname":
      return sethostname(step.name);
    case "setdomainname":
      return setdomainname(step.name);
    default:
      throw new Error(`step ${step.op} does not belong to the rootfs stages`);
  }
}

function runStage(ctx: RootfsContext, stage: Stage): void {
  for (const step of stage.steps) {
    try {
      runRootfsStep(ctx, step);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new StageError(stage.name, `${describeStep(step, ctx.rootfs)}: ${why}`);
    }
  }
}

const ROOTFS_STAGES: ReadonlySet<StageName> = new Set([
  "prepareRoot",
  "mountToRootfs",
  "createDevices",
  "setupPtmx",
  "setupDevSymlinks",
  "pivotRoot",
  "finalizeRootfs",
]);

/**
 * Runs every rootfs stage of the plan, in order, telling onStage which one is running;
 * beforePivot runs between the mounts and pivot_root (where runc runs its hooks).
 */
export async function buildRootfs(
  plan: Plan,
  onStage: (name: StageName) => void,
  beforePivot: () => Promise<void>,
): Promise<void> {
  const ctx: RootfsContext = { rootfs: plan.rootfs, pivoted: false };
  for (const stage of plan.stages) {
    if (!ROOTFS_STAGES.has(stage.name)) continue;
    if (stage.name === "pivotRoot") await beforePivot();
    onStage(stage.name);
    runStage(ctx, stage);
  }
}
