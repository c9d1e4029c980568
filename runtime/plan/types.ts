/**
 * The container's build as a typed plan: stages (named as runc names them) of steps. The
 * parent computes it from the config (and `--dry-run` prints it); the init executes it step
 * by step. Paths named `path`/`target` are container paths: before the pivotRoot stage the
 * init resolves them inside the rootfs without following symlinks out of it.
 */

export type StageName =
  | "prepareRoot"
  | "mountToRootfs"
  | "createDevices"
  | "setupPtmx"
  | "setupDevSymlinks"
  | "pivotRoot"
  | "finalizeRootfs"
  | "process";

/** What a mount target is created as when it is missing. */
export type CreateAs = "dir" | "file";

export type Step =
  /** mount("", "/", "", flags): the propagation of the whole mount tree (as seen before pivot). */
  | { op: "rootPropagation"; flags: number }
  /** Make the mount the rootfs sits on private, so pivot_root(2) accepts it. */
  | { op: "parentPrivate" }
  /** Bind the rootfs onto itself, so it is a mount point pivot_root(2) can move. */
  | { op: "bindRootfs" }
  /** Create the mount target (a directory or file) inside the rootfs. */
  | { op: "mkdir"; path: string; mode: number }
  | {
    op: "mount";
    /** Index into config.mounts, for error messages. */
    index?: number;
    source: string;
    target: string;
    fstype: string;
    flags: number;
    data: string;
    /** Missing targets: a dir, a file, or like the bind source. */
    create: CreateAs | "likeSource";
    /** tmpcopyup: copy what the image had at target into the new tmpfs. */
    copyUp?: boolean;
  }
  /** Bind remount with flags (ro, nosuid, ...), keeping the locked flags the mount already has. */
  | { op: "remount"; index?: number; target: string; flags: number }
  /** mount("", target, "", flags) with MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (|MS_REC). */
  | { op: "propagate"; index?: number; target: string; flags: number }
  /** Mount the host's cgroup hierarchies (read from /proc/self/mountinfo at run time). */
  | { op: "mountCgroups"; index?: number; target: string; flags: number; readonly: boolean; ns: boolean }
  /** mknod(2) a device node; where the kernel refuses, bind the host's node from hostPath. */
  | {
    op: "mknod";
    path: string;
    kind: "c" | "b" | "u" | "p";
    major: number;
    minor: number;
    mode: number;
    uid: number;
    gid: number;
    hostPath: string;
  }
  /** A symlink; an existing file at path is kept unless `replace` (ptmx). */
  | { op: "symlink"; path: string; target: string; replace?: boolean }
  | { op: "pivotRoot" }
  /** --no-pivot: MS_MOVE the rootfs onto / and chroot into it. */
  | { op: "moveRoot" }
  /** No mount namespace: chroot only. */
  | { op: "chroot" }
  /** A masked path: an empty read-only tmpfs over a directory, /dev/null over anything else. */
  | { op: "mask"; path: string }
  /** A read-only path: bound onto itself and remounted read-only. */
  | { op: "readonlyPath"; path: string }
  | { op: "sethostname"; name: string }
  | { op: "setdomainname"; name: string }
  /** A namespaced sysctl, written through the container's /proc/sys. */
  | { op: "sysctl"; key: string; value: string }
  | { op: "oomScoreAdj"; value: number }
  /** sched_setattr(2) for the process (and so the process it execs). */
  | {
    op: "scheduler";
    policy: string;
    policyNumber: number;
    flags: number;
    nice: number;
    priority: number;
    runtime: number;
    deadline: number;
    period: number;
  }
  /** ioprio_set(2): class << 13 | priority. */
  | { op: "ioPriority"; class: string; value: number }
  /** soft and hard as the config gives them; 2^63 and above mean RLIM_INFINITY. */
  | { op: "setRlimit"; type: string; resource: number; soft: number; hard: number }
  /** PR_CAPBSET_DROP every capability not in `keep`. */
  | { op: "dropBoundingSet"; keep: number[] }
  /** PR_SET_KEEPCAPS before the uid changes, so that setCapabilities has something to keep. */
  | { op: "keepCaps" }
  | { op: "setUser"; uid: number; gid: number; additionalGids: number[] }
  /** capset, then the ambient set raised (it needs each in permitted and inheritable). */
  | {
    op: "setCapabilities";
    effective: number[];
    permitted: number[];
    inheritable: number[];
    ambient: number[];
  }
  | { op: "noNewPrivileges" }
  /**
   * The seccomp filter (struct sock_filter[], base64), compiled by the parent with libseccomp.
   * Loaded `early` (before the capabilities drop, as runc does without no_new_privs, since it
   * then needs CAP_SYS_ADMIN), or last, right before the process's execve.
   */
  | { op: "seccomp"; program: string; flags: number; instructions: number; early: boolean }
  /** The LSM label the exec takes (/proc/thread-self/attr/...). */
  | { op: "execLabel"; lsm: "apparmor" | "selinux"; label: string }
  | { op: "personality"; domain: string; persona: number }
  | { op: "umask"; mask: number }
  | { op: "chdir"; path: string }
  | { op: "exec"; args: string[]; env: string[] };

export type StepOp = Step["op"];

export interface Stage {
  name: StageName;
  steps: Step[];
}

export interface Plan {
  /** The rootfs, an absolute host path. */
  rootfs: string;
  stages: Stage[];
}
