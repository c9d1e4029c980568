/**
 * tmpcopyup: what the image had at a mount target, copied into the tmpfs mounted over it.
 * The source is read through an fd opened before the mount (/proc/self/fd/N reaches the
 * directory underneath), so no temporary mount point is needed.
 */
import { lchown, mknod } from "../../ffi/libc.ts";
import { S_IFMT } from "../../ffi/constants.ts";

/** Copies the tree at `from` into the existing directory `to`, keeping owners, modes, links and nodes. */
export function copyTree(from: string, to: string): void {
  for (const entry of Deno.readDirSync(from)) {
    const src = `${from}/${entry.name}`;
    const dst = `${to}/${entry.name}`;
    const info = Deno.lstatSync(src);
    const mode = info.mode ?? 0o644;
    if (info.isSymlink) {
      Deno.symlinkSync(Deno.readLinkSync(src), dst);
    } else if (info.isDirectory) {
      Deno.mkdirSync(dst);
      copyTree(src, dst);
      Deno.chmodSync(dst, mode & 0o7777);
    } else if (info.isFile) {
      Deno.copyFileSync(src, dst);
      Deno.chmodSync(dst, mode & 0o7777);
    } else {
      // Device nodes, fifos and sockets: the same node, by its type bits and rdev.
      mknod(dst, (mode & S_IFMT) | (mode & 0o7777), BigInt(info.rdev ?? 0));
      Deno.chmodSync(dst, mode & 0o7777);
    }
    lchown(dst, info.uid ?? 0, info.gid ?? 0);
  }
}
