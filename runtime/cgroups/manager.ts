/**
 * The container's cgroup: made before the container runs any code of its own, the init
 * placed in it, the limits written, frozen and thawed for pause and resume, every member
 * signalled for kill --all, and removed, with the parents druntime made, on delete.
 *
 * druntime writes only below its own paths; the one exception is a v2 parent's
 * cgroup.subtree_control, which must name a controller before a child may use it.
 */
import { join } from "../paths.ts";
import type { DeviceCgroupRule, Resources } from "../spec/types.ts";
import { DruntimeError } from "../errors.ts";
import { detectHierarchies, type Hierarchies } from "./hierarchy.ts";
import { type CgroupWrite, deviceRuleLine, planResources } from "./resources.ts";
import { attachDeviceFilter } from "./devices_bpf.ts";
import { libc } from "../../ffi/libc.ts";

/** What state.json keeps of a container's cgroup. */
export interface CgroupRecord {
  /** The cgroup path, e.g. /druntime/web. */
  path: string;
  mode: "v1" | "v2";
  /** v1: controller -> the container's directory in its hierarchy; v2: "" -> its directory. */
  dirs: Record<string, string>;
  /** Directories druntime made, parents first; delete removes them deepest first. */
  created: string[];
}

function errorText(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.Busy) return "busy";
  const m = e instanceof Error ? e.message : String(e);
  const os = /\(os error (\d+)\)/.exec(m);
  const names: Record<string, string> = {
    "22": "EINVAL",
    "16": "EBUSY",
    "28": "ENOSPC",
    "1": "EPERM",
    "34": "ERANGE",
  };
  return os ? `${names[os[1]] ?? `errno ${os[1]}`} (${m.slice(0, m.indexOf(" (os error")).trim()})` : m;
}

/** Writes a cgroup file that must exist; the error names the file and the value. */
export function writeCgroupFile(dir: string, file: string, value: string): void {
  try {
    Deno.writeTextFileSync(join(dir, file), value, { create: false });
  } catch (e) {
    throw new DruntimeError(`cgroup: write ${JSON.stringify(value)} to ${join(dir, file)}: ${errorText(e)}`);
  }
}

function readCgroupFile(dir: string, file: string): string | null {
  try {
    return Deno.readTextFileSync(join(dir, file));
  } catch {
    return null;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** mkdir -p, recording what it made. */
function makeDirs(dir: string, created: string[]): void {
  if (exists(dir)) return;
  const parent = dir.slice(0, dir.lastIndexOf("/")) || "/";
  makeDirs(parent, created);
  try {
    Deno.mkdirSync(dir);
    created.push(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) {
      throw new DruntimeError(`cgroup: mkdir ${dir}: ${errorText(e)}`);
    }
  }
}

/** The v1 directories of the container: one per mounted hierarchy, by controller. */
function v1Dirs(h: Hierarchies, path: string): Record<string, string> {
  const dirs: Record<string, string> = {};
  for (const [controller, mount] of h.v1) dirs[controller] = join(mount, path);
  return dirs;
}

/** A new v1 cpuset is empty, and an empty cpuset takes no task: fill it from its parent. */
function initCpuset(dir: string, mount: string): void {
  if (dir === mount) return;
  const parent = dir.slice(0, dir.lastIndexOf("/"));
  initCpuset(parent, mount);
  for (const file of ["cpuset.cpus", "cpuset.mems"]) {
    if ((readCgroupFile(dir, file) ?? "").trim() === "") {
      writeCgroupFile(dir, file, (readCgroupFile(parent, file) ?? "").trim());
    }
  }
}

/**
 * A v2 parent hands its controllers down: each ancestor's subtree_control must name the ones
 * the container's limits use. Only those are enabled, and only where missing, so a container
 * without limits changes nothing above its own cgroup.
 */
function enableV2Controllers(mount: string, dir: string, needed: readonly string[]): void {
  const rel = dir.slice(mount.length).split("/").filter(Boolean);
  let at = mount;
  for (const part of rel) {
    const available = (readCgroupFile(at, "cgroup.controllers") ?? "").trim().split(/\s+/).filter(Boolean);
    const enabled = new Set((readCgroupFile(at, "cgroup.subtree_control") ?? "").trim().split(/\s+/));
    const missing = available.filter((c) => needed.includes(c) && !enabled.has(c));
    if (missing.length) {
      try {
        Deno.writeTextFileSync(join(at, "cgroup.subtree_control"), missing.map((c) => `+${c}`).join(" "));
      } catch {
        // A parent with processes of its own cannot hand controllers down; the limits that need
        // them fail below with a message naming the file.
      }
    }
    at = join(at, part);
  }
}

/** Two containers in one cgroup would kill each other on delete: a cgroup with members is refused. */
function refuseInUse(dirs: readonly string[], path: string): void {
  for (const dir of dirs) {
    if ((readCgroupFile(dir, "cgroup.procs") ?? "").trim() !== "") {
      throw new DruntimeError(`cgroup ${path} is in use: ${dir} has processes (another container's?)`);
    }
  }
}

/**
 * Makes the container's cgroup directories (nothing is written into them yet). `resources` says
 * which v2 controllers the parents must hand down.
 */
export function createCgroup(
  path: string,
  resources: Resources = {},
  h: Hierarchies = detectHierarchies(),
): CgroupRecord {
  const created: string[] = [];
  const rec: CgroupRecord = { path, mode: h.mode, dirs: {}, created };
  try {
    if (h.mode === "v1") {
      rec.dirs = v1Dirs(h, path);
      refuseInUse(Object.values(rec.dirs), path);
      // A hybrid host's unified tree: placement only, so that tools reading it agree.
      if (h.v2 !== null) rec.dirs["unified"] = join(h.v2, path);
      for (const dir of new Set(Object.values(rec.dirs))) makeDirs(dir, created);
      const cpuset = h.v1.get("cpuset");
      if (cpuset) initCpuset(rec.dirs["cpuset"], cpuset);
    } else {
      const dir = join(h.v2!, path);
      rec.dirs = { "": dir };
      refuseInUse([dir], path);
      makeDirs(dir, created);
      const needed = planResources(resources, "v2", null).writes.map((w) => w.controller);
      enableV2Controllers(h.v2!, dir, needed);
    }
  } catch (e) {
    destroyCgroup(rec);
    throw e;
  }
  return rec;
}

function distinctDirs(rec: CgroupRecord): string[] {
  return [...new Set(Object.values(rec.dirs))];
}

/** Moves a process (all its threads) into the container's cgroup in every hierarchy. */
export function applyPid(rec: CgroupRecord, pid: number): void {
  for (const dir of distinctDirs(rec)) writeCgroupFile(dir, "cgroup.procs", String(pid));
}

function dirFor(rec: CgroupRecord, controller: string): string | undefined {
  return rec.mode === "v2" ? rec.dirs[""] : rec.dirs[controller];
}

function applyWrite(rec: CgroupRecord, w: CgroupWrite, warn: (m: string) => void): void {
  const dir = dirFor(rec, w.controller);
  if (dir === undefined) {
    warn(`cgroup: no ${w.controller} controller on this host; ${w.file} = ${w.value} not applied`);
    return;
  }
  for (const { file, value } of [{ file: w.file, value: w.value }, ...(w.alternatives ?? [])]) {
    if (exists(join(dir, file))) return writeCgroupFile(dir, file, value);
  }
  const controllers = rec.mode === "v2"
    ? (readCgroupFile(dir, "cgroup.controllers") ?? "").trim().split(/\s+/)
    : [];
  if (rec.mode === "v2" && !controllers.includes(w.controller)) {
    warn(
      `cgroup: the ${w.controller} controller is not enabled for ${dir}; ${w.file} = ${w.value} not applied`,
    );
  } else {
    warn(`cgroup: ${join(dir, w.file)} does not exist on this kernel; ${w.file} = ${w.value} not applied`);
  }
}

/** v1 device rules, in order: each line to devices.allow or devices.deny. */
function applyV1Devices(dir: string, rules: DeviceCgroupRule[]): void {
  for (const rule of rules) {
    writeCgroupFile(dir, rule.allow ? "devices.allow" : "devices.deny", deviceRuleLine(rule));
  }
}

/**
 * Writes the limits. `devices` is the full rule list (containerDeviceRules) at create, null
 * for an update that leaves devices alone.
 */
export function setResources(
  rec: CgroupRecord,
  r: Resources,
  devices: DeviceCgroupRule[] | null,
  warn: (m: string) => void,
): void {
  const plan = planResources(r, rec.mode, devices);
  plan.warnings.forEach(warn);
  const memory = plan.writes.filter((w) =>
    w.file === "memory.limit_in_bytes" || w.file === "memory.memsw.limit_in_bytes"
  );
  for (const w of plan.writes) {
    if (memory.includes(w)) continue;
    applyWrite(rec, w, warn);
  }
  if (memory.length) {
    // memsw must stay >= limit at every step: try one order, then the other.
    try {
      memory.forEach((w) => applyWrite(rec, w, warn));
    } catch {
      [...memory].reverse().forEach((w) => applyWrite(rec, w, warn));
    }
  }
  if (plan.devices !== null) {
    if (rec.mode === "v1") {
      const dir = rec.dirs["devices"];
      if (dir) applyV1Devices(dir, plan.devices);
      else warn("cgroup: no devices controller on this host; linux.resources.devices not applied");
    } else {
      attachDeviceFilter(rec.dirs[""], plan.devices);
    }
  }
}

/** The directory whose cgroup.procs lists the container's processes. */
function primaryDir(rec: CgroupRecord): string {
  if (rec.mode === "v2") return rec.dirs[""];
  for (const c of ["pids", "freezer", "memory", "cpu"]) if (rec.dirs[c]) return rec.dirs[c];
  return Object.values(rec.dirs)[0];
}

function walk(dir: string, out: string[]): void {
  out.push(dir);
  try {
    for (const e of Deno.readDirSync(dir)) if (e.isDirectory) walk(join(dir, e.name), out);
  } catch {
    // removed meanwhile
  }
}

/** Every process of the container's cgroup and the cgroups below it. */
export function cgroupPids(rec: CgroupRecord): number[] {
  const dirs: string[] = [];
  walk(primaryDir(rec), dirs);
  const pids = new Set<number>();
  for (const d of dirs) {
    for (const line of (readCgroupFile(d, "cgroup.procs") ?? "").split("\n")) {
      if (line) pids.add(Number(line));
    }
  }
  return [...pids].sort((a, b) => a - b);
}

function waitUntil(what: string, done: () => boolean, ms = 5000): void {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new DruntimeError(`cgroup: timed out waiting for ${what}`);
    const until = Date.now() + 2;
    while (Date.now() < until) { /* a short spin: the main thread may not sleep synchronously */ }
  }
}

/** Whether the container's cgroup is frozen. */
export function isFrozen(rec: CgroupRecord): boolean {
  if (rec.mode === "v2") return /^frozen 1$/m.test(readCgroupFile(rec.dirs[""], "cgroup.events") ?? "");
  const dir = rec.dirs["freezer"];
  return dir !== undefined && (readCgroupFile(dir, "freezer.state") ?? "").trim() === "FROZEN";
}

function freezerDir(rec: CgroupRecord): string {
  const dir = rec.mode === "v2" ? rec.dirs[""] : rec.dirs["freezer"];
  if (dir === undefined) throw new DruntimeError("cgroup: this host has no freezer controller");
  return dir;
}

/** Freezes every process of the container and waits until the kernel says so. */
export function freeze(rec: CgroupRecord): void {
  const dir = freezerDir(rec);
  if (rec.mode === "v2") writeCgroupFile(dir, "cgroup.freeze", "1");
  else writeCgroupFile(dir, "freezer.state", "FROZEN");
  waitUntil("the freezer", () => isFrozen(rec));
}

export function thaw(rec: CgroupRecord): void {
  const dir = freezerDir(rec);
  if (rec.mode === "v2") writeCgroupFile(dir, "cgroup.freeze", "0");
  else writeCgroupFile(dir, "freezer.state", "THAWED");
  waitUntil("the thaw", () => !isFrozen(rec));
}

/**
 * Sends a signal to every process of the container: v2's cgroup.kill for SIGKILL where the
 * kernel has it; otherwise frozen, so no process forks away meanwhile, signalled, thawed.
 */
export function signalAll(rec: CgroupRecord, signal: number): void {
  // Removed by someone else: nothing is left in it to signal.
  if (!exists(primaryDir(rec))) return;
  if (signal === 9 && rec.mode === "v2" && exists(join(rec.dirs[""], "cgroup.kill"))) {
    writeCgroupFile(rec.dirs[""], "cgroup.kill", "1");
    return;
  }
  const freezer = rec.mode === "v2" ? rec.dirs[""] : rec.dirs["freezer"];
  const canFreeze = freezer !== undefined && exists(freezer);
  const wasFrozen = canFreeze && isFrozen(rec);
  if (canFreeze && !wasFrozen) freeze(rec);
  try {
    // A pid that exited meanwhile fails with ESRCH: nothing to do.
    for (const pid of cgroupPids(rec)) libc.kill(pid, signal);
  } finally {
    // Thawed unless it was paused; a paused container that is killed is thawed so it can die.
    if (canFreeze && (!wasFrozen || signal === 9)) thaw(rec);
  }
}

/** Thaws a frozen container so that a SIGKILL sent to it takes effect (runc does the same). */
export function thawForKill(rec: CgroupRecord, signal: number): void {
  if (signal === 9 && exists(primaryDir(rec)) && isFrozen(rec)) thaw(rec);
}

function rmdirRetry(dir: string): void {
  const deadline = Date.now() + 2000;
  for (;;) {
    try {
      Deno.removeSync(dir);
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      // EBUSY while the last members are still exiting.
      if (Date.now() > deadline) throw new DruntimeError(`cgroup: rmdir ${dir}: ${errorText(e)}`);
      const until = Date.now() + 5;
      while (Date.now() < until) { /* short spin */ }
    }
  }
}

/** Removes the container's cgroups (and the cgroups below them), then the empty parents druntime made. */
export function destroyCgroup(rec: CgroupRecord): void {
  for (const dir of distinctDirs(rec)) {
    const all: string[] = [];
    walk(dir, all);
    if (!exists(dir)) continue;
    for (const d of all.reverse()) rmdirRetry(d);
  }
  for (const dir of [...rec.created].reverse()) {
    try {
      Deno.removeSync(dir);
    } catch {
      // not empty (another container's parent too), or gone
    }
  }
}
