/**
 * The state root (`--root`, default /run/druntime): one directory a container, holding
 * state.json written atomically (temp file + rename).
 */
import { DruntimeError } from "../errors.ts";
import { join } from "node:path";

export const DEFAULT_STATE_ROOT = "/run/druntime";

/** What `state` prints, plus what druntime needs to find the container again. */
export interface ContainerState {
  ociVersion: string;
  id: string;
  pid: number;
  status: "creating" | "created" | "running" | "stopped" | "paused";
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export function stateDir(root: string, id: string): string {
  return join(root, id);
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

export function writeState(root: string, state: ContainerState): void {
  writeFileAtomic(join(stateDir(root, state.id), "state.json"), JSON.stringify(state));
}

export function removeStateEntry(root: string, id: string): void {
  try {
    Deno.removeSync(stateDir(root, id), { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
