/** /proc/self/mountinfo and /proc/self/cgroup, parsed. */

export interface MountInfo {
  id: number;
  parent: number;
  /** st_dev of the filesystem, "major:minor". */
  majorMinor: string;
  root: string;
  mountPoint: string;
  /** Per-mount options (ro, nosuid, relatime, ...). */
  options: string[];
  /** Propagation tags: shared:N, master:N, ... */
  optional: string[];
  fstype: string;
  source: string;
  /** Superblock options (for cgroup v1: the controllers). */
  superOptions: string[];
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses mountinfo text (proc(5)). */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (!/^\d+ \d+ /.test(line)) continue;
    const [left, right] = line.split(" - ");
    const f = left.split(" ");
    const r = (right ?? "").split(" ");
    out.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      majorMinor: f[2],
      root: unescape(f[3]),
      mountPoint: unescape(f[4]),
      options: f[5].split(","),
      optional: f.slice(6),
      fstype: r[0],
      source: unescape(r[1] ?? ""),
      superOptions: r[2] ? r[2].split(",") : [],
    });
  }
  return out;
}

/**
 * The mounts a path lookup can reach: a later mount on (or above) an earlier one's mount point
 * hides it (a cgroup2 mounted over /sys/fs/cgroup leaves the v1 mounts under it listed).
 */
export function visibleMounts<T extends { mountPoint: string }>(mounts: readonly T[]): T[] {
  return mounts.filter((m, i) =>
    !mounts.slice(i + 1).some((later) =>
      m.mountPoint === later.mountPoint || m.mountPoint.startsWith(`${later.mountPoint.replace(/\/$/, "")}/`)
    )
  );
}

/** The mounts of the calling process's mount namespace. */
export function readMountInfo(): MountInfo[] {
  return parseMountInfo(Deno.readTextFileSync("/proc/self/mountinfo"));
}

/** The mount point holding `path`: the longest mount point that is a prefix of it. */
export function mountPointOf(mounts: MountInfo[], path: string): string {
  let best = "/";
  for (const m of mounts) {
    const mp = m.mountPoint;
    if ((path === mp || path.startsWith(mp.endsWith("/") ? mp : `${mp}/`)) && mp.length > best.length) {
      best = mp;
    }
  }
  return best;
}

/** /proc/self/cgroup as hierarchy-controllers -> path ("" for the v2 hierarchy). */
export function readProcCgroups(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}
