/** The plan as a person reads it (`run --dry-run`), or as JSON (`--format json`). */
import type { Plan, Step } from "./types.ts";
import * as K from "../../ffi/constants.ts";

const MS_NAMES: [number, string][] = [
  [K.MS_RDONLY, "ro"],
  [K.MS_NOSUID, "nosuid"],
  [K.MS_NODEV, "nodev"],
  [K.MS_NOEXEC, "noexec"],
  [K.MS_SYNCHRONOUS, "sync"],
  [K.MS_REMOUNT, "remount"],
  [K.MS_MANDLOCK, "mand"],
  [K.MS_DIRSYNC, "dirsync"],
  [K.MS_NOSYMFOLLOW, "nosymfollow"],
  [K.MS_NOATIME, "noatime"],
  [K.MS_NODIRATIME, "nodiratime"],
  [K.MS_BIND, "bind"],
  [K.MS_MOVE, "move"],
  [K.MS_REC, "rec"],
  [K.MS_UNBINDABLE, "unbindable"],
  [K.MS_PRIVATE, "private"],
  [K.MS_SLAVE, "slave"],
  [K.MS_SHARED, "shared"],
  [K.MS_RELATIME, "relatime"],
  [K.MS_STRICTATIME, "strictatime"],
  [K.MS_LAZYTIME, "lazytime"],
];

/** mount(2) flags as the option words `mount` prints (`nosuid,nodev,ro`). */
export function mountFlagNames(flags: number): string {
  return MS_NAMES.filter(([bit]) => flags & bit).map(([, name]) => name).join(",");
}

function propagationName(flags: number): string {
  const rec = flags & K.MS_REC ? "r" : "";
  if (flags & K.MS_SHARED) return `${rec}shared`;
  if (flags & K.MS_SLAVE) return `${rec}slave`;
  if (flags & K.MS_PRIVATE) return `${rec}private`;
  if (flags & K.MS_UNBINDABLE) return `${rec}unbindable`;
  return mountFlagNames(flags);
}

function opts(...parts: string[]): string {
  const shown = parts.filter((p) => p !== "").join(",");
  return shown ? ` (${shown})` : "";
}

/** One line describing a step. */
export function describeStep(step: Step, rootfs: string): string {
  const at = (i?: number) => (i === undefined ? "" : `mounts[${i}]: `);
  switch (step.op) {
    case "rootPropagation":
      return `make the mount tree ${propagationName(step.flags)} so nothing propagates to the host`;
    case "parentPrivate":
      return `make the mount holding ${rootfs} private`;
    case "bindRootfs":
      return `bind ${rootfs} onto itself`;
    case "mkdir":
      return `create directory ${step.path} (mode ${step.mode.toString(8)}) if missing`;
    case "mount":
      if (step.fstype === "bind") {
        return `${at(step.index)}bind ${step.source} on ${step.target}${opts(mountFlagNames(step.flags))}`;
      }
      return `${at(step.index)}mount ${step.fstype} on ${step.target}${
        opts(mountFlagNames(step.flags), step.data)
      }${step.copyUp ? ", copying the image's content into it" : ""}`;
    case "remount":
      return `${at(step.index)}remount ${step.target}${opts(mountFlagNames(step.flags))}`;
    case "propagate":
      return `${at(step.index)}make ${step.target} ${propagationName(step.flags)}`;
    case "mountCgroups":
      return `${at(step.index)}mount the cgroup hierarchies on ${step.target}${
        opts(mountFlagNames(step.flags), step.readonly ? "ro" : "")
      }: ${
        step.ns
          ? "new cgroup mounts in the cgroup namespace"
          : "a tmpfs with the container's cgroup bound from each host hierarchy"
      }`;
    case "mknod":
      return `mknod ${step.path} ${step.kind} ${step.major} ${step.minor} mode ${
        step.mode.toString(8).padStart(4, "0")
      } owner ${step.uid}:${step.gid} (or bind the host's ${step.hostPath})`;
    case "symlink":
      return `symlink ${step.path} -> ${step.target}`;
    case "pivotRoot":
      return `pivot_root into ${rootfs}; detach the old root`;
    case "moveRoot":
      return `move ${rootfs} onto / (MS_MOVE) and chroot into it`;
    case "chroot":
      return `chroot into ${rootfs} (no mount namespace)`;
    case "mask":
      return `mask ${step.path} (empty read-only tmpfs over a directory, /dev/null over a file)`;
    case "readonlyPath":
      return `make ${step.path} read-only`;
    case "sethostname":
      return `set hostname ${JSON.stringify(step.name)}`;
    case "setdomainname":
      return `set domainname ${JSON.stringify(step.name)}`;
    case "sysctl":
      return `sysctl ${step.key} = ${JSON.stringify(step.value)}`;
    case "scheduler":
      return `set the scheduler: ${step.policy}, nice ${step.nice}, priority ${step.priority}${
        step.flags ? `, flags 0x${step.flags.toString(16)}` : ""
      }${step.period ? `, runtime ${step.runtime} deadline ${step.deadline} period ${step.period}` : ""}`;
    case "ioPriority":
      return `set the I/O priority: ${step.class}, level ${step.value & 7}`;
    case "oomScoreAdj":
      return `set oom_score_adj ${step.value}`;
    case "setRlimit":
      return `setrlimit ${step.type} soft ${rlimitText(step.soft)} hard ${rlimitText(step.hard)}`;
    case "dropBoundingSet":
      return `drop from the bounding set every capability but [${capNames(step.keep)}]`;
    case "keepCaps":
      return "keep capabilities across the uid change (PR_SET_KEEPCAPS)";
    case "setCapabilities":
      return `set capabilities: effective [${capNames(step.effective)}], permitted [${
        capNames(step.permitted)
      }], inheritable [${capNames(step.inheritable)}], ambient [${capNames(step.ambient)}]`;
    case "noNewPrivileges":
      return "set no_new_privs";
    case "seccomp":
      return `load the seccomp filter (${step.instructions} instructions, flags 0x${
        step.flags.toString(16)
      }) ${step.early ? "now, while the capabilities allow it" : "right before the process's execve"}`;
    case "execLabel":
      return `exec with the ${step.lsm} label ${JSON.stringify(step.label)}`;
    case "personality":
      return `set personality ${step.domain}`;
    case "setUser":
      return `set user ${step.uid}:${step.gid}, additional groups [${step.additionalGids.join(", ")}]`;
    case "umask":
      return `set umask ${step.mask.toString(8).padStart(4, "0")}`;
    case "chdir":
      return `change directory to ${step.path}`;
    case "exec":
      return `reset signals, close inherited fds, exec ${
        JSON.stringify(step.args)
      } with ${step.env.length} environment variables`;
  }
}

function rlimitText(n: number): string {
  return n >= 2 ** 63 ? "unlimited" : String(n);
}

function capNames(numbers: readonly number[]): string {
  const byNumber = new Map(Object.entries(K.CAPABILITIES).map(([name, n]) => [n, name]));
  return numbers.map((n) => byNumber.get(n) ?? String(n)).join(", ");
}

/** The plan, stage by stage, one numbered line a step. */
export function formatPlan(plan: Plan): string {
  const lines: string[] = [`rootfs ${plan.rootfs}`];
  let n = 0;
  for (const stage of plan.stages) {
    lines.push(stage.name);
    for (const step of stage.steps) {
      lines.push(`  ${String(++n).padStart(2)}. ${describeStep(step, plan.rootfs)}`);
    }
  }
  return lines.join("\n");
}
