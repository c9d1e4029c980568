/**
 * A container's resource usage, read from its cgroup, in the shape runc's `events` prints
 * (libcontainer's types.Stats): cpu, memory, pids, blkio, hugetlb.
 */
import { join } from "../paths.ts";
import type { CgroupRecord } from "./manager.ts";

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface MemoryEntry {
  limit: number;
  usage: number;
  max: number;
  failcnt: number;
}

export interface Stats {
  cpu: {
    usage: { total: number; percpu: number[]; kernel: number; user: number };
    throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  };
  memory: { usage: MemoryEntry; swap: MemoryEntry; raw: Record<string, number> };
  pids: { current: number; limit: number };
  blkio: { ioServiceBytesRecursive: BlkioEntry[]; ioServicedRecursive: BlkioEntry[] };
  hugetlb: Record<string, { usage: number; max: number; failcnt: number }>;
}

const NO_LIMIT = 2 ** 63 - 1;

function read(dir: string | undefined, file: string): string | null {
  if (dir === undefined) return null;
  try {
    return Deno.readTextFileSync(join(dir, file)).trim();
  } catch {
    return null;
  }
}

function num(text: string | null): number {
  if (text === null || text === "") return 0;
  if (text === "max") return NO_LIMIT;
  const n = Number(text);
  return Number.isFinite(n) ? n : 0;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events) as a map. */
export function parseKeyValues(text: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

/** v1 blkio "8:0 Read 4096" lines; the Total lines are runc's too. */
export function parseBlkioV1(text: string | null): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3], value: Number(m[4]) });
  }
  return out;
}

/** v2 io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." into v1's Read/Write entries. */
export function parseIoStatV2(text: string | null): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [], ios: BlkioEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    const [dev, ...fields] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? "");
    if (!m) continue;
    const kv = Object.fromEntries(fields.map((f) => f.split("=")).map(([k, v]) => [k, Number(v)]));
    const at = { major: Number(m[1]), minor: Number(m[2]) };
    bytes.push({ ...at, op: "Read", value: kv.rbytes ?? 0 }, { ...at, op: "Write", value: kv.wbytes ?? 0 });
    ios.push({ ...at, op: "Read", value: kv.rios ?? 0 }, { ...at, op: "Write", value: kv.wios ?? 0 });
  }
  return { bytes, ios };
}

function hugepageSizes(dir: string | undefined, suffix: string): string[] {
  if (dir === undefined) return [];
  const sizes: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      const m = new RegExp(`^hugetlb\\.(\\w+)\\.${suffix.replace(".", "\\.")}$`).exec(e.name);
      if (m) sizes.push(m[1]);
    }
  } catch {
    // no hugetlb
  }
  return sizes.sort();
}

/** The number of OOM kills in the container's cgroup so far (events watches it grow). */
export function oomKills(rec: CgroupRecord): number {
  if (rec.mode === "v2") return parseKeyValues(read(rec.dirs[""], "memory.events")).oom_kill ?? 0;
  return parseKeyValues(read(rec.dirs["memory"], "memory.oom_control")).oom_kill ?? 0;
}

/** Reads the container's usage now. */
export function readStats(rec: CgroupRecord): Stats {
  return rec.mode === "v2" ? statsV2(rec.dirs[""]) : statsV1(rec.dirs);
}

function statsV1(dirs: Record<string, string>): Stats {
  const cpuacct = dirs["cpuacct"], mem = dirs["memory"];
  // cpuacct.stat counts USER_HZ ticks (100 a second on Linux).
  const ticks = parseKeyValues(read(cpuacct, "cpuacct.stat"));
  const throttle = parseKeyValues(read(dirs["cpu"], "cpu.stat"));
  const entry = (prefix: string): MemoryEntry => ({
    limit: num(read(mem, `${prefix}.limit_in_bytes`)),
    usage: num(read(mem, `${prefix}.usage_in_bytes`)),
    max: num(read(mem, `${prefix}.max_usage_in_bytes`)),
    failcnt: num(read(mem, `${prefix}.failcnt`)),
  });
  const hugetlb: Stats["hugetlb"] = {};
  for (const size of hugepageSizes(dirs["hugetlb"], "usage_in_bytes")) {
    hugetlb[size] = {
      usage: num(read(dirs["hugetlb"], `hugetlb.${size}.usage_in_bytes`)),
      max: num(read(dirs["hugetlb"], `hugetlb.${size}.max_usage_in_bytes`)),
      failcnt: num(read(dirs["hugetlb"], `hugetlb.${size}.failcnt`)),
    };
  }
  const pidsMax = read(dirs["pids"], "pids.max");
  return {
    cpu: {
      usage: {
        total: num(read(cpuacct, "cpuacct.usage")),
        percpu: (read(cpuacct, "cpuacct.usage_percpu") ?? "").split(/\s+/).filter(Boolean).map(Number),
        kernel: (ticks.system ?? 0) * 1e7,
        user: (ticks.user ?? 0) * 1e7,
      },
      throttling: {
        periods: throttle.nr_periods ?? 0,
        throttledPeriods: throttle.nr_throttled ?? 0,
        throttledTime: throttle.throttled_time ?? 0,
      },
    },
    memory: {
      usage: entry("memory"),
      swap: entry("memory.memsw"),
      raw: parseKeyValues(read(mem, "memory.stat")),
    },
    pids: { current: num(read(dirs["pids"], "pids.current")), limit: pidsMax === "max" ? 0 : num(pidsMax) },
    blkio: {
      ioServiceBytesRecursive: parseBlkioV1(read(dirs["blkio"], "blkio.throttle.io_service_bytes_recursive")),
      ioServicedRecursive: parseBlkioV1(read(dirs["blkio"], "blkio.throttle.io_serviced_recursive")),
    },
    hugetlb,
  };
}

function statsV2(dir: string): Stats {
  const cpu = parseKeyValues(read(dir, "cpu.stat"));
  const events = parseKeyValues(read(dir, "memory.events"));
  const io = parseIoStatV2(read(dir, "io.stat"));
  const hugetlb: Stats["hugetlb"] = {};
  for (const size of hugepageSizes(dir, "current")) {
    hugetlb[size] = {
      usage: num(read(dir, `hugetlb.${size}.current`)),
      max: num(read(dir, `hugetlb.${size}.max`)),
      failcnt: parseKeyValues(read(dir, `hugetlb.${size}.events`)).max ?? 0,
    };
  }
  const pidsMax = read(dir, "pids.max");
  return {
    cpu: {
      usage: {
        total: (cpu.usage_usec ?? 0) * 1000,
        percpu: [],
        kernel: (cpu.system_usec ?? 0) * 1000,
        user: (cpu.user_usec ?? 0) * 1000,
      },
      throttling: {
        periods: cpu.nr_periods ?? 0,
        throttledPeriods: cpu.nr_throttled ?? 0,
        throttledTime: (cpu.throttled_usec ?? 0) * 1000,
      },
    },
    memory: {
      usage: {
        limit: num(read(dir, "memory.max")),
        usage: num(read(dir, "memory.current")),
        max: num(read(dir, "memory.peak")),
        failcnt: events.max ?? 0,
      },
      swap: {
        limit: num(read(dir, "memory.swap.max")),
        usage: num(read(dir, "memory.swap.current")),
        max: num(read(dir, "memory.swap.peak")),
        failcnt: parseKeyValues(read(dir, "memory.swap.events")).max ?? 0,
      },
      raw: parseKeyValues(read(dir, "memory.stat")),
    },
    pids: { current: num(read(dir, "pids.current")), limit: pidsMax === "max" ? 0 : num(pidsMax) },
    blkio: { ioServiceBytesRecursive: io.bytes, ioServicedRecursive: io.ios },
    hugetlb,
  };
}
