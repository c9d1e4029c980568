/** `druntime update`'s flags, runc's, read into a linux.resources object. */
import { DruntimeError } from "../errors.ts";
import type { Resources } from "../spec/types.ts";
import { type Parsed, stringFlag } from "./args.ts";

/** runc update's flags: name, where the value goes in linux.resources, help. */
export const UPDATE_FLAGS: readonly [string, string, string][] = [
  ["memory", "memory.limit", "memory limit in bytes (suffixes k, m, g)"],
  ["memory-reservation", "memory.reservation", "memory soft limit in bytes"],
  ["memory-swap", "memory.swap", "memory plus swap limit in bytes (-1: unlimited)"],
  ["kernel-memory", "memory.kernel", "kernel memory limit (ignored by Linux 5.16 on)"],
  ["kernel-memory-tcp", "memory.kernelTCP", "kernel TCP buffer limit"],
  ["cpu-shares", "cpu.shares", "relative cpu weight"],
  ["cpu-quota", "cpu.quota", "cpu time in microseconds a period"],
  ["cpu-period", "cpu.period", "the cfs period in microseconds"],
  ["cpu-rt-period", "cpu.realtimePeriod", "realtime period in microseconds"],
  ["cpu-rt-runtime", "cpu.realtimeRuntime", "realtime runtime in microseconds"],
  ["cpu-idle", "cpu.idle", "1: SCHED_IDLE for the cgroup"],
  ["cpuset-cpus", "cpu.cpus", "cpus to use, e.g. 0-2,4"],
  ["cpuset-mems", "cpu.mems", "memory nodes to use"],
  ["pids-limit", "pids.limit", "the most processes (-1: unlimited)"],
  ["blkio-weight", "blockIO.weight", "block io weight, 10 to 1000"],
];

/** A byte size as runc takes it: a number with an optional k, m, g or t (1024-based) suffix. */
export function parseBytes(flag: string, text: string): number {
  const m = /^(-?\d+)([kmgt]?)b?$/i.exec(text.trim());
  if (!m) {
    throw new DruntimeError(
      `update: --${flag} must be a number of bytes such as 512m, got ${JSON.stringify(text)}`,
    );
  }
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as "" | "k"]!;
  return Number(m[1]) * mult;
}

/** The linux.resources an `update` asks for: --resources, then each flag over it. */
export async function updateResources(p: Parsed): Promise<Resources> {
  let r: Resources = {};
  const file = stringFlag(p, "resources");
  if (file !== undefined) {
    let text: string;
    try {
      text = file === "-" ? await new Response(Deno.stdin.readable).text() : await Deno.readTextFile(file);
    } catch (e) {
      throw new DruntimeError(`update: --resources ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
      r = JSON.parse(text) as Resources;
    } catch (e) {
      throw new DruntimeError(
        `update: --resources ${file}: not JSON: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
  const sections = r as Record<string, Record<string, unknown>>;
  for (const [flag, where] of UPDATE_FLAGS) {
    const text = stringFlag(p, flag);
    if (text === undefined) continue;
    const [section, field] = where.split(".");
    let value: string | number;
    if (field === "cpus" || field === "mems") value = text;
    else if (section === "memory") value = parseBytes(flag, text);
    else if (/^-?\d+$/.test(text)) value = Number(text);
    else throw new DruntimeError(`update: --${flag} must be a whole number, got ${JSON.stringify(text)}`);
    sections[section] = { ...(sections[section] ?? {}), [field]: value };
  }
  if (Object.keys(r).length === 0) {
    throw new DruntimeError("update: nothing to update (give --resources or a flag)");
  }
  return r;
}
