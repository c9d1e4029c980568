/**
 * linux.resources as the cgroup files to write, for v1 and v2, converted the way runc converts
 * them (cpu shares to cpu.weight, blkio weight to io.weight, memory+swap to swap alone). Pure:
 * the manager decides which files exist and writes them.
 */
import type { DeviceCgroupRule, Resources } from "../spec/types.ts";

export interface CgroupWrite {
  /** The v1 controller whose hierarchy holds the file; for v2 the file's prefix. */
  controller: string;
  file: string;
  value: string;
  /** Some files only exist with some kernels or I/O schedulers: where this file is missing, the first of these that exists. */
  alternatives?: { file: string; value: string }[];
}

export interface ResourcePlan {
  writes: CgroupWrite[];
  /** v1: device rules in the order to write them; v2: what the eBPF filter is built from. */
  devices: DeviceCgroupRule[] | null;
  /** Settings that this cgroup version has no file for. */
  warnings: string[];
}

/** The device rules runc always adds: what every container needs from /dev. */
export const DEFAULT_ALLOWED_DEVICES: readonly DeviceCgroupRule[] = [
  { allow: true, type: "c", major: -1, minor: -1, access: "m" },
  { allow: true, type: "b", major: -1, minor: -1, access: "m" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }, // /dev/null
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" }, // /dev/random
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" }, // /dev/full
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" }, // /dev/tty
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" }, // /dev/zero
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" }, // /dev/urandom
  { allow: true, type: "c", major: 5, minor: 1, access: "rwm" }, // /dev/console
  { allow: true, type: "c", major: 136, minor: -1, access: "rwm" }, // /dev/pts/*
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" }, // /dev/ptmx
  { allow: true, type: "c", major: 10, minor: 200, access: "rwm" }, // /dev/net/tun
];

/** cgroup v1 cpu.shares to v2 cpu.weight: [2, 262144] onto [1, 10000]. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** cgroup v1 blkio.weight to v2 io.weight: [10, 1000] onto [1, 10000]. */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** A v1 device rule line: "a", or "c 1:3 rwm". */
export function deviceRuleLine(rule: DeviceCgroupRule): string {
  const type = rule.type ?? "a";
  const num = (n: number | undefined) => n === undefined || n < 0 ? "*" : String(n);
  const access = rule.access || "rwm";
  if (type === "a" && num(rule.major) === "*" && num(rule.minor) === "*" && access === "rwm") return "a";
  return `${type} ${num(rule.major)}:${num(rule.minor)} ${access}`;
}

function limit(n: number, max: string): string {
  return n < 0 ? max : String(n);
}

/**
 * The container's device rules: its own, then runc's default allow list, then its
 * linux.devices (a device the container is given is one it may use).
 */
export function containerDeviceRules(
  resources: Resources | undefined,
  devices: readonly { type: string; major?: number; minor?: number }[] = [],
): DeviceCgroupRule[] {
  const rules = [...(resources?.devices ?? [])];
  rules.push(...DEFAULT_ALLOWED_DEVICES);
  for (const d of devices) {
    if (d.type !== "c" && d.type !== "b" && d.type !== "u") continue;
    rules.push({
      allow: true,
      type: d.type === "b" ? "b" : "c",
      major: d.major,
      minor: d.minor,
      access: "rwm",
    });
  }
  return rules;
}

/**
 * The files to write for a resources object. `devices` is passed separately (the full rule
 * list from containerDeviceRules) so that `update`, which changes no devices, passes null.
 */
export function planResources(
  r: Resources,
  mode: "v1" | "v2",
  devices: DeviceCgroupRule[] | null,
): ResourcePlan {
  const writes: CgroupWrite[] = [];
  const warnings: string[] = [];
  const w = (
    controller: string,
    file: string,
    value: string | number,
    alternatives?: { file: string; value: string }[],
  ) => writes.push({ controller, file, value: String(value), ...(alternatives ? { alternatives } : {}) });
  const alt = (file: string, value: string | number) => [{ file, value: String(value) }];
  const none = (field: string) =>
    warnings.push(`linux.resources.${field}: cgroup ${mode} has no such setting; ignored`);
  const m = r.memory;
  const c = r.cpu;
  const b = r.blockIO;

  if (mode === "v1") {
    if (m) {
      // 0 means "not set" for these, as runc reads them.
      if (m.limit) w("memory", "memory.limit_in_bytes", m.limit);
      if (m.reservation) w("memory", "memory.soft_limit_in_bytes", m.reservation);
      if (m.swap) w("memory", "memory.memsw.limit_in_bytes", m.swap);
      if (m.kernel !== undefined) {
        warnings.push(
          "linux.resources.memory.kernel: kernel memory limits are gone from Linux 5.16 on; ignored",
        );
      }
      if (m.kernelTCP !== undefined) w("memory", "memory.kmem.tcp.limit_in_bytes", m.kernelTCP);
      if (m.swappiness !== undefined) w("memory", "memory.swappiness", m.swappiness);
      if (m.disableOOMKiller) w("memory", "memory.oom_control", 1);
    }
    if (c) {
      if (c.shares) w("cpu", "cpu.shares", c.shares);
      // The period first: a quota is checked against the current period.
      if (c.period) w("cpu", "cpu.cfs_period_us", c.period);
      if (c.quota !== undefined && c.quota !== 0) w("cpu", "cpu.cfs_quota_us", c.quota);
      if (c.burst !== undefined) w("cpu", "cpu.cfs_burst_us", c.burst);
      if (c.realtimePeriod) w("cpu", "cpu.rt_period_us", c.realtimePeriod);
      if (c.realtimeRuntime !== undefined && c.realtimeRuntime !== 0) {
        w("cpu", "cpu.rt_runtime_us", c.realtimeRuntime);
      }
      if (c.idle !== undefined) w("cpu", "cpu.idle", c.idle);
      if (c.cpus) w("cpuset", "cpuset.cpus", c.cpus);
      if (c.mems) w("cpuset", "cpuset.mems", c.mems);
    }
    if (r.pids) w("pids", "pids.max", limit(r.pids.limit <= 0 ? -1 : r.pids.limit, "max"));
    if (b) {
      if (b.weight) w("blkio", "blkio.weight", b.weight, alt("blkio.bfq.weight", b.weight));
      if (b.leafWeight) w("blkio", "blkio.leaf_weight", b.leafWeight);
      for (const d of b.weightDevice ?? []) {
        if (d.weight) {
          const line = `${d.major}:${d.minor} ${d.weight}`;
          w("blkio", "blkio.weight_device", line, alt("blkio.bfq.weight_device", line));
        }
        if (d.leafWeight) w("blkio", "blkio.leaf_weight_device", `${d.major}:${d.minor} ${d.leafWeight}`);
      }
      const throttles = [
        ["throttleReadBpsDevice", "blkio.throttle.read_bps_device"],
        ["throttleWriteBpsDevice", "blkio.throttle.write_bps_device"],
        ["throttleReadIOPSDevice", "blkio.throttle.read_iops_device"],
        ["throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"],
      ] as const;
      for (const [field, file] of throttles) {
        for (const d of b[field] ?? []) w("blkio", file, `${d.major}:${d.minor} ${d.rate}`);
      }
    }
    for (const h of r.hugepageLimits ?? []) w("hugetlb", `hugetlb.${h.pageSize}.limit_in_bytes`, h.limit);
    if (r.network?.classID !== undefined) w("net_cls", "net_cls.classid", r.network.classID);
    for (const p of r.network?.priorities ?? []) {
      w("net_prio", "net_prio.ifpriomap", `${p.name} ${p.priority}`);
    }
    if (r.unified && Object.keys(r.unified).length > 0) {
      warnings.push("linux.resources.unified: cgroup v2 files, and this host drives cgroup v1; ignored");
    }
    return { writes, devices, warnings };
  }

  // cgroup v2
  if (m) {
    // 0 means "not set" for these, as runc reads them.
    if (m.limit) w("memory", "memory.max", limit(m.limit, "max"));
    if (m.reservation) w("memory", "memory.low", limit(m.reservation, "max"));
    if (m.swap) {
      // v1's swap is memory+swap; v2's memory.swap.max is swap alone.
      if (m.swap < 0) w("memory", "memory.swap.max", "max");
      else if (m.limit !== undefined && m.limit > 0) {
        w("memory", "memory.swap.max", Math.max(0, m.swap - m.limit));
      } else {warnings.push(
          "linux.resources.memory.swap: needs memory.limit on cgroup v2 (it is memory plus swap); ignored",
        );}
    }
    if (m.kernel !== undefined) none("memory.kernel");
    if (m.kernelTCP !== undefined) none("memory.kernelTCP");
    if (m.swappiness !== undefined) none("memory.swappiness");
    if (m.disableOOMKiller) none("memory.disableOOMKiller");
  }
  if (c) {
    if (c.shares) w("cpu", "cpu.weight", sharesToWeight(c.shares));
    if ((c.quota !== undefined && c.quota !== 0) || c.period) {
      const quota = c.quota === undefined || c.quota <= 0 ? "max" : String(c.quota);
      w("cpu", "cpu.max", `${quota} ${c.period || 100000}`);
    }
    if (c.burst !== undefined) w("cpu", "cpu.max.burst", c.burst);
    if (c.realtimePeriod || c.realtimeRuntime) none("cpu.realtimeRuntime/realtimePeriod");
    if (c.idle !== undefined) w("cpu", "cpu.idle", c.idle);
    if (c.cpus) w("cpuset", "cpuset.cpus", c.cpus);
    if (c.mems) w("cpuset", "cpuset.mems", c.mems);
  }
  if (r.pids) w("pids", "pids.max", limit(r.pids.limit <= 0 ? -1 : r.pids.limit, "max"));
  if (b) {
    if (b.weight) w("io", "io.bfq.weight", b.weight, alt("io.weight", blkioWeightToIoWeight(b.weight)));
    if (b.leafWeight) none("blockIO.leafWeight");
    for (const d of b.weightDevice ?? []) {
      if (d.weight) w("io", "io.bfq.weight", `${d.major}:${d.minor} ${d.weight}`);
    }
    const throttles = [
      ["throttleReadBpsDevice", "rbps"],
      ["throttleWriteBpsDevice", "wbps"],
      ["throttleReadIOPSDevice", "riops"],
      ["throttleWriteIOPSDevice", "wiops"],
    ] as const;
    for (const [field, key] of throttles) {
      for (const d of b[field] ?? []) w("io", "io.max", `${d.major}:${d.minor} ${key}=${d.rate}`);
    }
  }
  for (const h of r.hugepageLimits ?? []) w("hugetlb", `hugetlb.${h.pageSize}.max`, h.limit);
  if (r.network) none("network");
  for (const [file, value] of Object.entries(r.unified ?? {})) {
    w(file.slice(0, file.indexOf(".")), file, value);
  }
  return { writes, devices, warnings };
}
