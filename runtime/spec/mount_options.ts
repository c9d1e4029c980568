/**
 * OCI mount options (`mounts[i].options`) split into mount(2) flags, propagation changes and
 * filesystem data, following runc's table so that configs written for runc mean the same here.
 */

import {
  MS_BIND,
  MS_DIRSYNC,
  MS_LAZYTIME,
  MS_MANDLOCK,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_NOSYMFOLLOW,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_REMOUNT,
  MS_SHARED,
  MS_SILENT,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE,
} from "../../ffi/constants.ts";

// ffi/constants.ts does not declare it (nothing else needs it); runc accepts "iversion".
const MS_I_VERSION = 0x800000;

/** What a list of mount options asks for. */
export interface MountOptions {
  /** mount(2) flags to set. */
  flags: number;
  /** mount(2) flags an option turned off ("rw", "suid", ...), for remounts of inherited flags. */
  clearFlags: number;
  /** Propagation changes (MS_SHARED, MS_PRIVATE | MS_REC, ...) in the order given. */
  propagation: number[];
  /** Filesystem-specific options, for mount(2)'s data argument once joined with ",". */
  data: string[];
  /** "rbind" was given. */
  recursiveBind: boolean;
  /** "bind" or "rbind" was given. */
  bind: boolean;
  /** "tmpcopyup": copy the directory's existing contents into the new tmpfs. */
  copyUp: boolean;
  /** Options that are neither flags nor known filesystem options (see describeUnknownMountOption). */
  unknown: string[];
}

// [clear, flag]: clear means the option turns the flag off, as in runc's mountFlags table.
const FLAGS: ReadonlyMap<string, readonly [boolean, number]> = new Map<string, readonly [boolean, number]>([
  // mount(8) reads "defaults" as rw,suid,dev,exec,async; only rw can matter after an earlier "ro".
  ["defaults", [true, MS_RDONLY]],
  ["rw", [true, MS_RDONLY]],
  ["ro", [false, MS_RDONLY]],
  ["suid", [true, MS_NOSUID]],
  ["nosuid", [false, MS_NOSUID]],
  ["dev", [true, MS_NODEV]],
  ["nodev", [false, MS_NODEV]],
  ["exec", [true, MS_NOEXEC]],
  ["noexec", [false, MS_NOEXEC]],
  ["sync", [false, MS_SYNCHRONOUS]],
  ["async", [true, MS_SYNCHRONOUS]],
  ["dirsync", [false, MS_DIRSYNC]],
  ["remount", [false, MS_REMOUNT]],
  ["mand", [false, MS_MANDLOCK]],
  ["nomand", [true, MS_MANDLOCK]],
  ["atime", [true, MS_NOATIME]],
  ["noatime", [false, MS_NOATIME]],
  ["diratime", [true, MS_NODIRATIME]],
  ["nodiratime", [false, MS_NODIRATIME]],
  ["relatime", [false, MS_RELATIME]],
  ["norelatime", [true, MS_RELATIME]],
  ["strictatime", [false, MS_STRICTATIME]],
  ["nostrictatime", [true, MS_STRICTATIME]],
  ["lazytime", [false, MS_LAZYTIME]],
  ["nolazytime", [true, MS_LAZYTIME]],
  ["nosymfollow", [false, MS_NOSYMFOLLOW]],
  ["symfollow", [true, MS_NOSYMFOLLOW]],
  ["iversion", [false, MS_I_VERSION]],
  ["noiversion", [true, MS_I_VERSION]],
  ["silent", [false, MS_SILENT]],
  ["loud", [true, MS_SILENT]],
]);

const PROPAGATION: ReadonlyMap<string, number> = new Map([
  ["shared", MS_SHARED],
  ["rshared", MS_SHARED | MS_REC],
  ["slave", MS_SLAVE],
  ["rslave", MS_SLAVE | MS_REC],
  ["private", MS_PRIVATE],
  ["rprivate", MS_PRIVATE | MS_REC],
  ["unbindable", MS_UNBINDABLE],
  ["runbindable", MS_UNBINDABLE | MS_REC],
]);

// Bare words the kernel's filesystems take as data (key=value options always pass as data).
// A bare word outside this list and the flag table is most likely a typo, which the kernel
// would report only as an EINVAL from mount(2) deep inside the container's init.
const DATA_WORDS: ReadonlySet<string> = new Set([
  // devpts
  "newinstance",
  // tmpfs
  "inode64",
  "inode32",
  "noswap",
  // ext4, xfs, btrfs and friends
  "acl",
  "noacl",
  "user_xattr",
  "nouser_xattr",
  "discard",
  "nodiscard",
  "barrier",
  "nobarrier",
  "quota",
  "noquota",
  "usrquota",
  "grpquota",
  "prjquota",
  // overlay
  "userxattr",
  "volatile",
  // fuse
  "allow_other",
  "default_permissions",
  // cgroup v1: controllers and hierarchy options
  "all",
  "none",
  "noprefix",
  "xattr",
  "clone_children",
  "cpuset_v2_mode",
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "devices",
  "freezer",
  "blkio",
  "pids",
  "net_cls",
  "net_prio",
  "perf_event",
  "hugetlb",
  "rdma",
  "misc",
  // cgroup2
  "nsdelegate",
  "memory_recursiveprot",
  "memory_localevents",
  "favordynmods",
]);

// Options runc or crun understand that druntime cannot honour yet: saying so beats "unknown".
const NOT_SUPPORTED: ReadonlyMap<string, string> = new Map([
  ["idmap", "idmapped mounts need user namespaces, which are not supported yet"],
  ["ridmap", "idmapped mounts need user namespaces, which are not supported yet"],
  ...[
    "ro",
    "rw",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "symfollow",
    "nosymfollow",
  ].map((o): [string, string] => [
    `r${o}`,
    "recursive mount attributes (mount_setattr) are not supported yet",
  ]),
]);

/** The option's name: "idmap" for "idmap=uids=0-1000-10", the word itself otherwise. */
function optionName(option: string): string {
  const eq = option.indexOf("=");
  return eq < 0 ? option : option.slice(0, eq);
}

/** Splits OCI mount options into flags, propagation, data and the options nobody knows. */
export function parseMountOptions(options: readonly string[]): MountOptions {
  const out: MountOptions = {
    flags: 0,
    clearFlags: 0,
    propagation: [],
    data: [],
    recursiveBind: false,
    bind: false,
    copyUp: false,
    unknown: [],
  };
  for (const option of options) {
    const flag = FLAGS.get(option);
    if (flag !== undefined) {
      // The last of two opposite options wins, as it does for mount(8).
      const [clear, value] = flag;
      if (clear) {
        out.clearFlags |= value;
        out.flags &= ~value;
      } else {
        out.flags |= value;
        out.clearFlags &= ~value;
      }
      continue;
    }
    const propagation = PROPAGATION.get(option);
    if (propagation !== undefined) {
      out.propagation.push(propagation);
      continue;
    }
    switch (option) {
      case "bind":
        out.flags |= MS_BIND;
        out.bind = true;
        continue;
      case "rbind":
        out.flags |= MS_BIND | MS_REC;
        out.bind = true;
        out.recursiveBind = true;
        continue;
      case "tmpcopyup":
        out.copyUp = true;
        continue;
      case "notmpcopyup":
        out.copyUp = false;
        continue;
    }
    if (NOT_SUPPORTED.has(optionName(option))) out.unknown.push(option);
    else if (option.includes("=") && !option.startsWith("=")) out.data.push(option);
    else if (DATA_WORDS.has(option)) out.data.push(option);
    else out.unknown.push(option);
  }
  return out;
}

/** Why an option parseMountOptions put in `unknown` cannot be used, as a short sentence. */
export function describeUnknownMountOption(option: string): string {
  const why = NOT_SUPPORTED.get(optionName(option));
  return why === undefined
    ? `unknown mount option ${JSON.stringify(option)}`
    : `unsupported mount option ${JSON.stringify(option)} (${why})`;
}

/** The propagation flags (MS_PRIVATE, MS_SLAVE | MS_REC, ...) for a linux.rootfsPropagation value. */
export function parsePropagation(name: string): number | undefined {
  return PROPAGATION.get(name);
}
