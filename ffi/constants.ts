/**
 * Kernel constants by their kernel names. Values that differ between architectures
 * live in ARCH below; everything else is the same on x86_64 and aarch64.
 */

// clone(2) / setns(2) namespace flags
export const CLONE_NEWTIME = 0x00000080;
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;

// mount(2) flags
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_MANDLOCK = 0x40;
export const MS_DIRSYNC = 0x80;
export const MS_NOSYMFOLLOW = 0x100;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_SILENT = 0x8000;
export const MS_UNBINDABLE = 0x20000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_RELATIME = 0x200000;
export const MS_STRICTATIME = 0x1000000;
export const MS_LAZYTIME = 0x2000000;

// umount2(2)
export const MNT_DETACH = 0x2;
export const UMOUNT_NOFOLLOW = 0x8;

// statvfs(3) f_flag bits
export const ST_RDONLY = 0x1;
export const ST_NOSUID = 0x2;
export const ST_NODEV = 0x4;
export const ST_NOEXEC = 0x8;
export const ST_SYNCHRONOUS = 0x10;
export const ST_NOATIME = 0x400;
export const ST_NODIRATIME = 0x800;
export const ST_RELATIME = 0x1000;
export const ST_NOSYMFOLLOW = 0x2000;

// mmap(2)
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_STACK = 0x20000;

// fcntl(2), open(2), socket(2)
export const F_GETFD = 1;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_CLOEXEC = O_CLOEXEC;

// memfd_create(2) and file seals
export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;
export const F_ADD_SEALS = 1033;
export const F_SEAL_SEAL = 0x1;
export const F_SEAL_SHRINK = 0x2;
export const F_SEAL_GROW = 0x4;
export const F_SEAL_WRITE = 0x8;
export const CLOSE_RANGE_CLOEXEC = 1 << 2;

// stat(2) file types, for mknod(2)
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

// signals (the same numbers on x86_64 and aarch64)
export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGUSR2 = 12;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGSTOP = 19;
export const NSIG = 65;

/** Signal names (without SIG) to numbers, for `kill`: the same on x86_64 and aarch64. */
export const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};
export const SIG_SETMASK = 2;

// waitpid(2)
export const WNOHANG = 1;

/** What differs between the architectures druntime supports. */
export interface ArchConstants {
  SYS_pivot_root: number;
  SYS_setns: number;
  SYS_rt_sigaction: number;
  O_DIRECTORY: number;
  O_NOFOLLOW: number;
  SYS_bpf: number;
  SYS_seccomp: number;
  SYS_sched_setattr: number;
  SYS_ioprio_set: number;
}

const ARCHES: Record<string, ArchConstants> = {
  x86_64: {
    SYS_pivot_root: 155,
    SYS_setns: 308,
    SYS_rt_sigaction: 13,
    O_DIRECTORY: 0o200000,
    O_NOFOLLOW: 0o400000,
    SYS_bpf: 321,
    SYS_seccomp: 317,
    SYS_sched_setattr: 314,
    SYS_ioprio_set: 251,
  },
  aarch64: {
    SYS_pivot_root: 41,
    SYS_setns: 268,
    SYS_rt_sigaction: 134,
    O_DIRECTORY: 0o40000,
    O_NOFOLLOW: 0o100000,
    SYS_bpf: 280,
    SYS_seccomp: 277,
    SYS_sched_setattr: 274,
    SYS_ioprio_set: 30,
  },
};

/** Constants for the machine druntime runs on. */
export const ARCH: ArchConstants = ARCHES[Deno.build.arch] ??
  (() => {
    throw new Error(`druntime does not support the ${Deno.build.arch} architecture`);
  })();

/** Makes a dev_t as glibc's makedev(3) does. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
}

// bpf(2) commands (enum bpf_cmd)
export const BPF_PROG_LOAD = 5;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_DETACH = 9;
export const BPF_PROG_GET_FD_BY_ID = 13;
export const BPF_OBJ_GET_INFO_BY_FD = 15;
export const BPF_PROG_QUERY = 16;

// bpf(2) program and attach types, attach flags
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_OVERRIDE = 1 << 0;
export const BPF_F_ALLOW_MULTI = 1 << 1;
export const BPF_F_REPLACE = 1 << 2;
export const BPF_OBJ_NAME_LEN = 16;

// struct bpf_cgroup_dev_ctx: access_type = (access << 16) | type
export const BPF_DEVCG_ACC_MKNOD = 1 << 0;
export const BPF_DEVCG_ACC_READ = 1 << 1;
export const BPF_DEVCG_ACC_WRITE = 1 << 2;
export const BPF_DEVCG_DEV_BLOCK = 1 << 0;
export const BPF_DEVCG_DEV_CHAR = 1 << 1;

// eBPF instruction encoding (linux/bpf_common.h, linux/bpf.h): class | size | mode, or
// class | op | source
export const BPF_LDX = 0x01;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_ALU64 = 0x07;
export const BPF_W = 0x00;
export const BPF_MEM = 0x60;
export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_AND = 0x50;
export const BPF_RSH = 0x70;
export const BPF_MOV = 0xb0;
export const BPF_JEQ = 0x10;
export const BPF_JNE = 0x50;
export const BPF_EXIT = 0x90;

// Capabilities (linux/capability.h): the same numbers on every architecture.
export const CAPABILITIES: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};
export const _LINUX_CAPABILITY_VERSION_3 = 0x20080522;

// prctl(2)
export const PR_SET_KEEPCAPS = 8;
export const PR_CAPBSET_READ = 23;
export const PR_CAPBSET_DROP = 24;
export const PR_SET_NO_NEW_PRIVS = 38;
export const PR_CAP_AMBIENT = 47;
export const PR_CAP_AMBIENT_RAISE = 2;
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;

// setrlimit(2): the same numbers on x86_64 and aarch64.
export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};
/** RLIM_INFINITY, as the config writes it (2^64 - 1). */
export const RLIM_INFINITY = 0xffffffffffffffffn;

// personality(2)
export const PER_LINUX = 0x0000;
export const PER_LINUX32 = 0x0008;

// seccomp(2)
export const SECCOMP_SET_MODE_FILTER = 1;
export const IOPRIO_WHO_PROCESS = 1;
