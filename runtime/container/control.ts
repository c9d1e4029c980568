/**
 * The commands that act on a running container through its cgroup, as runc has them:
 * pause, resume, update, ps and events.
 */
import { DruntimeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Resources } from "../spec/types.ts";
import { validateResources } from "../spec/validate.ts";
import { cgroupPids, type CgroupRecord, freeze, setResources, thaw } from "../cgroups/manager.ts";
import { oomKills, readStats, type Stats } from "../cgroups/stats.ts";
import { currentState, type StoredState, withLock, writeState } from "./state.ts";

function cgroupOf(stored: StoredState): CgroupRecord {
  if (!stored.cgroup) throw new DruntimeError(`container "${stored.id}" has no cgroup`);
  return stored.cgroup;
}

/** `druntime pause`: freezes every process of a running container. */
export async function pause(root: string, id: string): Promise<void> {
  await withLock(root, id, () => {
    const { stored, state } = currentState(root, id);
    if (state.status !== "running") {
      throw new DruntimeError(`cannot pause container "${id}": it is ${state.status}, not running`);
    }
    freeze(cgroupOf(stored));
  });
}

/** `druntime resume`: thaws a paused container. */
export async function resume(root: string, id: string): Promise<void> {
  await withLock(root, id, () => {
    const { stored, state } = currentState(root, id);
    if (state.status !== "paused") {
      throw new DruntimeError(`cannot resume container "${id}": it is ${state.status}, not paused`);
    }
    thaw(cgroupOf(stored));
  });
}

/** Merges b into a, section by section (update changes only what it names). */
export function mergeResources(a: Resources, b: Resources): Resources {
  const out: Resources = { ...a };
  for (const key of Object.keys(b) as (keyof Resources)[]) {
    const value = b[key];
    const old = a[key];
    if (
      value !== undefined && typeof value === "object" && !Array.isArray(value) && old &&
      typeof old === "object" && !Array.isArray(old)
    ) {
      (out as Record<string, unknown>)[key] = { ...old, ...value };
    } else {
      (out as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}

/** `druntime update`: new limits for a created, running or paused container. */
export async function update(root: string, id: string, changes: Resources, log: Logger): Promise<void> {
  validateResources(changes);
  if (changes.devices !== undefined) {
    throw new DruntimeError("update: linux.resources.devices cannot be changed on a running container");
  }
  await withLock(root, id, () => {
    const { stored, state } = currentState(root, id);
    if (state.status === "stopped") throw new DruntimeError(`cannot update container "${id}": it is stopped`);
    const merged = mergeResources(stored.resources ?? {}, changes);
    validateResources(merged);
    // The v2 swap file needs the memory limit beside it: pass the merged memory section.
    const apply: Resources = { ...changes, ...(changes.memory ? { memory: merged.memory } : {}) };
    setResources(cgroupOf(stored), apply, null, (m) => log.warn(m));
    stored.resources = merged;
    writeState(root, stored);
  });
}

/** `druntime ps`: the host pids of every process in the container's cgroup. */
export function ps(root: string, id: string): number[] {
  const { stored } = currentState(root, id);
  if (!stored.cgroup) return [];
  return cgroupPids(stored.cgroup);
}

/**
 * `ps` output restricted to the container's processes: the header and the lines whose PID
 * column names one of them.
 */
export function filterPsOutput(output: string, pids: readonly number[]): string {
  const lines = output.split("\n").filter((l) => l !== "");
  if (lines.length === 0) return "";
  const header = lines[0];
  const column = header.trim().split(/\s+/).indexOf("PID");
  if (column < 0) throw new DruntimeError("ps: its output has no PID column (give -o pid,... or -ef)");
  const wanted = new Set(pids.map(String));
  return [header, ...lines.slice(1).filter((l) => wanted.has(l.trim().split(/\s+/)[column]))].join("\n");
}

export interface StatsEvent {
  type: "stats";
  id: string;
  data: Stats;
}

export interface OomEvent {
  type: "oom";
  id: string;
}

/** One stats event for a container that is not stopped. */
export function statsEvent(root: string, id: string): StatsEvent {
  const { stored, state } = currentState(root, id);
  if (state.status === "stopped") throw new DruntimeError(`container "${id}" is stopped`);
  return { type: "stats", id, data: readStats(cgroupOf(stored)) };
}

/** A Go duration (runc's --interval): "5s", "100ms", "1m30s". */
export function parseDuration(text: string): number {
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    "µs": 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0, at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) {
      throw new DruntimeError(`--interval: ${JSON.stringify(text)} is not a duration such as 5s or 250ms`);
    }
    total += Number(m[1]) * units[m[2]];
    at = re.lastIndex;
  }
  if (text === "" || total <= 0) {
    throw new DruntimeError(`--interval: ${JSON.stringify(text)} is not a positive duration such as 5s`);
  }
  return total;
}

/**
 * `druntime events`: a stats event every interval and an oom event when the kernel OOM-kills
 * in the container, until it stops (OOM kills are looked for ten times an interval, at least
 * every 100 ms).
 */
export async function watchEvents(
  root: string,
  id: string,
  intervalMs: number,
  emit: (e: StatsEvent | OomEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const { stored } = currentState(root, id);
  const rec = cgroupOf(stored);
  let ooms = oomKills(rec);
  let nextStats = 0;
  const tick = Math.min(100, intervalMs);
  while (!signal?.aborted) {
    const { state } = currentState(root, id);
    const nowOoms = oomKills(rec);
    if (nowOoms > ooms) emit({ type: "oom", id });
    ooms = nowOoms;
    if (state.status === "stopped") return;
    if (Date.now() >= nextStats) {
      emit({ type: "stats", id, data: readStats(rec) });
      nextStats = Date.now() + intervalMs;
    }
    await new Promise((r) => setTimeout(r, tick));
  }
}
