/**
 * The state root (`--root`, default /run/druntime): one directory a container, holding
 * state.json (written atomically: temp file + rename), a lock file that serialises the
 * commands acting on the container, and while it is created but not started, start.sock, the
 * socket its init waits on.
 *
 * The status is never trusted from the file: it comes from the live process, identified by
 * its pid together with its start time, so a reused pid is never taken for the container.
 */
import { DruntimeError } from "../errors.ts";
import { validateContainerId } from "../spec/validate.ts";
import type { Hooks, Resources } from "../spec/types.ts";
import { type CgroupRecord, isFrozen } from "../cgroups/manager.ts";
import { join } from "../paths.ts";

export const DEFAULT_STATE_ROOT = "/run/druntime";

export type Status = "creating" | "created" | "running" | "stopped" | "paused";

/** What `state` prints (runc's fields). */
export interface ContainerState {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

/** state.json: the printed state plus what later commands need. */
export interface StoredState extends ContainerState {
  /** The init's start time (clock ticks since boot, /proc/PID/stat field 22). */
  initStartTime: number;
  /** The pid of the druntime that is creating the container (for `creating`). */
  creatorPid: number;
  /** The hooks later commands run: poststart by start, poststop by delete. */
  hooks?: Hooks;
  /** The container's cgroup, once made. */
  cgroup?: CgroupRecord;
  /** linux.resources as applied (create, then each update merged in). */
  resources?: Resources;
}

export function stateDir(root: string, id: string): string {
  return join(root, id);
}

/** The socket a created container's init waits on for `start`. */
export function startSocketPath(root: string, id: string): string {
  return join(stateDir(root, id), "start.sock");
}

/** RFC 3339 with nanoseconds, as runc writes `created`. */
export function rfc3339Nano(epochMs: number): string {
  const whole = Math.floor(epochMs);
  const iso = new Date(whole).toISOString(); // 2026-11-23T12:00:00.123Z
  // floor, not round: a fraction that rounds up to a whole millisecond must not read 000000.
  const nanos = Math.min(999999, Math.floor((epochMs - whole) * 1e6)).toString().padStart(6, "0");
  return `${iso.slice(0, 23)}${nanos}Z`;
}

/** Claims the id: creates its directory, failing if another container has it. */
export function createStateEntry(root: string, id: string): string {
  Deno.mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = stateDir(root, id);
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) throw new DruntimeError(`container "${id}" already exists`);
    throw e;
  }
  return dir;
}

/** Writes a file so that readers see the old or the new content, never a part. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(tmp, data, { mode: 0o600 });
  Deno.renameSync(tmp, path);
}

export function writeState(root: string, state: StoredState): void {
  writeFileAtomic(join(stateDir(root, state.id), "state.json"), JSON.stringify(state));
}

export function removeStateEntry(root: string, id: string): void {
  try {
    Deno.removeSync(stateDir(root, id), { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Whether the container still has its state entry. */
export function hasStateEntry(root: string, id: string): boolean {
  return exists(stateDir(root, id));
}

function notFound(id: string): DruntimeError {
  return new DruntimeError(`container "${id}" does not exist`);
}

/** state.json of a container; `container "x" does not exist` when there is none. */
export function readState(root: string, id: string): StoredState {
  validateContainerId(id);
  let text: string;
  try {
    text = Deno.readTextFileSync(join(stateDir(root, id), "state.json"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) throw notFound(id);
    throw e;
  }
  return JSON.parse(text) as StoredState;
}

/** A process's start time (field 22 of /proc/PID/stat), or null when it is gone or a zombie. */
export function processStartTime(pid: number): number | null {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // comm (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (rest[0] === "Z" || rest[0] === "X") return null;
  return Number(rest[19]);
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether the container's init is still the process the state names. */
export function initAlive(state: StoredState): boolean {
  return state.pid > 0 && processStartTime(state.pid) === state.initStartTime;
}

/** The status from the live process, as `state` reports it. */
export function liveStatus(root: string, state: StoredState): Status {
  if (state.pid === 0) return processStartTime(state.creatorPid) !== null ? "creating" : "stopped";
  if (!initAlive(state)) return "stopped";
  if (exists(startSocketPath(root, state.id))) return "created";
  if (state.cgroup && isFrozen(state.cgroup)) return "paused";
  return "running";
}

/** The printed state: the stored one with its live status (pid 0 once stopped, as runc). */
export function currentState(root: string, id: string): { stored: StoredState; state: ContainerState } {
  const stored = readState(root, id);
  const status = liveStatus(root, stored);
  const state: ContainerState = {
    ociVersion: stored.ociVersion,
    id: stored.id,
    pid: status === "stopped" ? 0 : stored.pid,
    status,
    bundle: stored.bundle,
    rootfs: stored.rootfs,
    created: stored.created,
    owner: stored.owner,
  };
  if (stored.annotations && Object.keys(stored.annotations).length) state.annotations = stored.annotations;
  return { stored, state };
}

/** The ids under the state root. */
export function listIds(root: string): string[] {
  const ids: string[] = [];
  try {
    for (const e of Deno.readDirSync(root)) if (e.isDirectory) ids.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return ids.sort();
}

/**
 * Runs fn holding the container's lock, so two commands on one id never interleave. The lock
 * is an flock on a file inside the entry: it goes with the entry and dies with its holder.
 */
export async function withLock<T>(root: string, id: string, fn: () => Promise<T> | T): Promise<T> {
  // The id becomes a path: "..", "/" and the like must never reach the file system.
  validateContainerId(id);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(join(stateDir(root, id), "lock"), {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw notFound(id);
    throw e;
  }
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close();
  }
}
