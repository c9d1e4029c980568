/**
 * Container paths resolved inside the rootfs: symlinks are followed as the container would
 * see them (an absolute link starts again at the rootfs, `..` stops at it), so a hostile
 * image cannot point a mount target outside its own tree.
 */
import { join } from "../paths.ts";

const MAX_LINKS = 255;

/** lstat, or null where nothing exists. */
export function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw e;
  }
}

/**
 * The host path of `path` in `root`, every existing symlink on the way resolved within root.
 * Components that do not exist yet are kept as given.
 */
export function resolveInRoot(root: string, path: string): string {
  let pending = path.split("/").filter((c) => c !== "" && c !== ".");
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const host = join(root, ...resolved, part);
    const info = lstatOrNull(host);
    if (info?.isSymlink) {
      if (++links > MAX_LINKS) throw new Error(`${path}: too many levels of symbolic links`);
      const target = Deno.readLinkSync(host);
      if (target.startsWith("/")) resolved.length = 0;
      pending = [...target.split("/").filter((c) => c !== "" && c !== "."), ...pending];
      continue;
    }
    resolved.push(part);
  }
  return join(root, ...resolved);
}

/**
 * Creates `path` inside root (resolved as above) as a directory, or as an empty file when
 * `file`, with every missing parent directory. Returns the host path.
 */
export function mkdirAllInRoot(
  root: string,
  path: string,
  opts: { file?: boolean; mode?: number } = {},
): string {
  const host = resolveInRoot(root, path);
  if (lstatOrNull(host) !== null) return host;
  const parent = host.slice(0, host.lastIndexOf("/")) || "/";
  if (opts.file) {
    Deno.mkdirSync(parent, { recursive: true, mode: 0o755 });
    // createNew: a symlink planted between resolve and create makes this fail instead of
    // creating a file where it points.
    Deno.openSync(host, { createNew: true, write: true, mode: opts.mode ?? 0o644 }).close();
  } else {
    Deno.mkdirSync(host, { recursive: true, mode: opts.mode ?? 0o755 });
  }
  return host;
}
