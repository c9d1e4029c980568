/**
 * Where the host's cgroup hierarchies are, and where a container's cgroup goes in them.
 *
 * cgroup v1 mounts one hierarchy per controller (or a few co-mounted); cgroup v2 one unified
 * tree. A hybrid host (this development machine: v1 controllers, and a cgroup2 at
 * /sys/fs/cgroup/unified with no controllers but hugetlb) is driven as v1, and the container
 * is also placed in the unified tree so that everything that reads it sees it.
 */
import { isAbsolute, normalize } from "../paths.ts";
import { type MountInfo, readMountInfo, visibleMounts } from "../init/mountinfo.ts";
import { DruntimeError } from "../errors.ts";

/** druntime's own parent at the root of every hierarchy: it never nests under its caller. */
export const DRUNTIME_PARENT = "/druntime";

export interface Hierarchies {
  /** "v2" when the unified tree is all there is; "v1" when any v1 controller is mounted. */
  mode: "v1" | "v2";
  /** v1: controller -> mount point (co-mounted controllers share one). */
  v1: Map<string, string>;
  /** The cgroup2 mount point, or null. */
  v2: string | null;
}

/** The controllers of a v1 cgroup mount: its superblock options that name one. */
function v1Controllers(m: MountInfo): string[] {
  return m.superOptions.filter((o) =>
    o !== "rw" && o !== "ro" && !o.startsWith("xattr") && !o.startsWith("name=") && !o.includes("=")
  );
}

/** The hierarchies mounted in this mount namespace (the first mount of each wins). */
export function detectHierarchies(mounts: readonly MountInfo[] = readMountInfo()): Hierarchies {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const m of visibleMounts(mounts)) {
    if (m.fstype === "cgroup") {
      for (const c of v1Controllers(m)) if (!v1.has(c)) v1.set(c, m.mountPoint);
    } else if (m.fstype === "cgroup2" && v2 === null) {
      v2 = m.mountPoint;
    }
  }
  if (v1.size === 0 && v2 === null) {
    throw new DruntimeError("cgroups: the host has no cgroup hierarchy mounted");
  }
  return { mode: v1.size > 0 ? "v1" : "v2", v1, v2 };
}

/**
 * The container's cgroup path, as runc reads linux.cgroupsPath: absolute as it is; relative
 * under druntime's parent; absent: the parent and the container id.
 */
export function cgroupPathFor(cgroupsPath: string | undefined, id: string): string {
  const path = cgroupsPath ? cgroupsPath : id;
  const full = normalize(isAbsolute(path) ? path : `${DRUNTIME_PARENT}/${path}`).replace(/\/+$/, "");
  if (full === "" || full === "/") {
    throw new DruntimeError(`linux.cgroupsPath: ${JSON.stringify(cgroupsPath)} names the root cgroup`);
  }
  return full;
}
