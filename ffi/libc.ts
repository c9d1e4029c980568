/**
 * libc through Deno.dlopen: every symbol druntime calls is declared here once, and every
 * wrapper turns a failure into a SyscallError naming the call, its arguments and errno.
 */
import { EINTR, ENAMETOOLONG, SyscallError } from "./errno.ts";
import {
  _LINUX_CAPABILITY_VERSION_3,
  AF_UNIX,
  ARCH,
  F_ADD_SEALS,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  IOPRIO_WHO_PROCESS,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  SECCOMP_SET_MODE_FILTER,
  SOCK_CLOEXEC,
  SOCK_STREAM,
} from "./constants.ts";

/** Every libc symbol druntime calls, declared once. */
const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  clone: {
    parameters: ["pointer", "pointer", "i32", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // The same read(2), run on a worker thread so the parent's event loop (signal
  // forwarding) keeps going while it waits on the init.
  readAsync: { name: "read", parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  close_range: { parameters: ["u32", "u32", "i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  waitpidAsync: { name: "waitpid", parameters: ["i32", "buffer", "i32"], result: "i32", nonblocking: true },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  mount: { parameters: ["buffer", "buffer", "buffer", "usize", "buffer"], result: "i32" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  syscall: { parameters: ["i64", "buffer", "buffer"], result: "i64" },
  // syscall(2) shaped for rt_sigaction(sig, act, oldact, sigsetsize).
  syscallSigaction: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "buffer", "usize"],
    result: "i64",
  },
  chroot: { parameters: ["buffer"], result: "i32" },
  chdir: { parameters: ["buffer"], result: "i32" },
  fchdir: { parameters: ["i32"], result: "i32" },
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  lchown: { parameters: ["buffer", "u32", "u32"], result: "i32" },
  statvfs: { parameters: ["buffer", "buffer"], result: "i32" },
  sethostname: { parameters: ["buffer", "usize"], result: "i32" },
  setdomainname: { parameters: ["buffer", "usize"], result: "i32" },
  umask: { parameters: ["u32"], result: "u32" },
  setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  setuid: { parameters: ["u32"], result: "i32" },
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
  sigprocmask: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  capset: { parameters: ["buffer", "buffer"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  personality: { parameters: ["u64"], result: "i32" },
  fexecve: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  // accept4(2) on a worker thread: the init's event loop (its signal handlers) keeps going.
  accept4Async: {
    name: "accept4",
    parameters: ["i32", "pointer", "pointer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // syscall(2) shaped for sched_setattr(pid, attr, flags) and ioprio_set(which, who, ioprio).
  syscallSchedSetattr: { name: "syscall", parameters: ["i64", "i64", "buffer", "u32"], result: "i64" },
  syscallIoprioSet: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  // syscall(2) shaped for seccomp(op, flags, args).
  syscallSeccomp: { name: "syscall", parameters: ["i64", "i64", "i64", "buffer"], result: "i64" },
  // syscall(2) shaped for bpf(cmd, attr, size).
  syscallBpf: { name: "syscall", parameters: ["i64", "i64", "buffer", "u32"], result: "i64" },
} as const;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * The raw symbols, for the few callers that handle the return value themselves. Each is bound
 * on first use: binding all of them costs about 10 ms at every start of the parent and of the
 * init, which each use only some.
 */
export const libc: Symbols = new Proxy({} as Symbols, {
  get(bound, name) {
    const key = name as keyof typeof SYMBOLS;
    if (!(key in bound) && Object.hasOwn(SYMBOLS, key)) {
      const one = { [key]: SYMBOLS[key] } as Pick<typeof SYMBOLS, typeof key>;
      Object.assign(bound, Deno.dlopen("libc.so.6", one).symbols);
    }
    return bound[key];
  },
});

/** errno of the last failed call on this thread. */
export function errno(): number {
  const p = libc.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

type Arg = string | number;

/** Throws a SyscallError when a call returned -1; returns the result otherwise. */
export function check<T extends number | bigint>(call: string, args: readonly Arg[], ret: T): T {
  if (ret === -1 || ret === -1n) throw new SyscallError(call, args, errno());
  return ret;
}

const encoder = new TextEncoder();

/** A NUL-terminated C string. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/**
 * A NULL-terminated array of C strings (argv, envp). The returned `keep` holds the strings:
 * it must stay referenced for as long as the pointers are used.
 */
export function cstrArray(
  items: readonly string[],
): { array: BigUint64Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep = items.map(cstr);
  const array = new BigUint64Array(items.length + 1);
  keep.forEach((s, i) => array[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s))));
  return { array, keep };
}

/** The address of a buffer, as the 64-bit integer a C struct stores. */
export function addressOf(buf: BufferSource): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

function orNull(s: string | null): Uint8Array<ArrayBuffer> | null {
  return s === null ? null : cstr(s);
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
): void {
  const args: Arg[] = [source ?? "", target];
  if (fstype) args.push(fstype);
  if (flags) args.push(`0x${flags.toString(16)}`);
  if (data) args.push(data);
  check("mount", args, libc.mount(orNull(source), cstr(target), orNull(fstype), BigInt(flags), orNull(data)));
}

export function umount2(target: string, flags: number): void {
  check("umount2", [target, flags], libc.umount2(cstr(target), flags));
}

export function pivotRootSyscall(newRoot: string, putOld: string): void {
  const ret = libc.syscall(BigInt(ARCH.SYS_pivot_root), cstr(newRoot), cstr(putOld));
  check("pivot_root", [newRoot, putOld], Number(ret));
}

const SIG_IGN = 1n;

/**
 * Resets `sig` to SIG_DFL if it is ignored, with rt_sigaction(2) straight to the kernel: glibc's
 * signal() and sigaction() refuse the signals it reserves (32 and 33), yet an ignored one is
 * inherited from whoever started druntime (Deno.Command children start with both ignored) and
 * survives execve. A handled one (glibc's own) is left alone: execve resets it.
 */
export function resetIgnoredSignal(sig: number): void {
  // struct sigaction as the kernel takes it: the handler comes first on x86_64 and aarch64 (then
  // flags, restorer, mask: 32 bytes); sigsetsize is 8 (64 signals).
  const old = new BigUint64Array(4);
  const nr = BigInt(ARCH.SYS_rt_sigaction);
  check("rt_sigaction", [sig], Number(libc.syscallSigaction(nr, BigInt(sig), null, old, 8n)));
  if (old[0] !== SIG_IGN) return;
  check(
    "rt_sigaction",
    [sig, "SIG_DFL"],
    Number(libc.syscallSigaction(nr, BigInt(sig), new BigUint64Array(4), null, 8n)),
  );
}

export function chroot(path: string): void {
  check("chroot", [path], libc.chroot(cstr(path)));
}

export function chdir(path: string): void {
  check("chdir", [path], libc.chdir(cstr(path)));
}

export function fchdir(fd: number): void {
  check("fchdir", [fd], libc.fchdir(fd));
}

export function open(path: string, flags: number, mode = 0): number {
  return check("open", [path], libc.open(cstr(path), flags, mode));
}

export function close(fd: number): void {
  check("close", [fd], libc.close(fd));
}

export function mknod(path: string, mode: number, dev: bigint): void {
  check("mknod", [path, `0${mode.toString(8)}`], libc.mknod(cstr(path), mode, dev));
}

export function lchown(path: string, uid: number, gid: number): void {
  check("lchown", [path, uid, gid], libc.lchown(cstr(path), uid, gid));
}

/** statvfs(3)'s f_flag: the ST_* mount flags of the filesystem holding path. */
export function mountFlagsOf(path: string): number {
  const buf = new BigUint64Array(14);
  check("statvfs", [path], libc.statvfs(cstr(path), buf));
  return Number(buf[9]); // f_flag: after 8 counters and f_fsid on 64-bit glibc
}

export function sethostname(name: string): void {
  const b = new TextEncoder().encode(name);
  check("sethostname", [name], libc.sethostname(b, BigInt(b.length)));
}

export function setdomainname(name: string): void {
  const b = new TextEncoder().encode(name);
  check("setdomainname", [name], libc.setdomainname(b, BigInt(b.length)));
}

export function setgroups(gids: readonly number[]): void {
  check("setgroups", [gids.join(",")], libc.setgroups(BigInt(gids.length), new Uint32Array(gids)));
}

export function setgid(gid: number): void {
  check("setgid", [gid], libc.setgid(gid));
}

export function setuid(uid: number): void {
  check("setuid", [uid], libc.setuid(uid));
}

export function kill(pid: number, sig: number): void {
  check("kill", [pid, sig], libc.kill(pid, sig));
}

/** pipe2(2): [read end, write end]. */
export function pipe2(flags: number): [number, number] {
  const fds = new Int32Array(2);
  check("pipe2", [], libc.pipe2(fds, flags));
  return [fds[0], fds[1]];
}

/** socketpair(2) of two connected sockets. */
export function socketpair(domain: number, type: number): [number, number] {
  const fds = new Int32Array(2);
  check("socketpair", [], libc.socketpair(domain, type, 0, fds));
  return [fds[0], fds[1]];
}

export function fcntl(fd: number, cmd: number, arg: number): number {
  return check("fcntl", [fd, cmd], libc.fcntl(fd, cmd, arg));
}

/** write(2) of the whole buffer, retrying short writes. */
export function writeAll(fd: number, data: Uint8Array<ArrayBuffer>): void {
  let off = 0;
  while (off < data.length) {
    const n = Number(libc.write(fd, data.subarray(off), BigInt(data.length - off)));
    if (n < 0) {
      if (errno() === EINTR) continue;
      throw new SyscallError("write", [fd], errno());
    }
    off += n;
  }
}

/** A listening unix stream socket bound to path (close-on-exec). */
export function listenUnix(path: string): number {
  const name = encoder.encode(path);
  // struct sockaddr_un: sa_family_t (u16), then sun_path[108], NUL-terminated.
  if (name.length >= 108) throw new SyscallError("bind", [path], ENAMETOOLONG);
  const addr = new Uint8Array(2 + 108);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, 2);
  const fd = check("socket", ["AF_UNIX", "SOCK_STREAM"], libc.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  try {
    check("bind", [path], libc.bind(fd, addr, 2 + name.length + 1));
    check("listen", [path], libc.listen(fd, 1));
  } catch (e) {
    libc.close(fd);
    throw e;
  }
  return fd;
}

/** Accepts one connection without blocking the event loop; the new fd is close-on-exec. */
export async function acceptAsync(fd: number): Promise<number> {
  for (;;) {
    const conn = await libc.accept4Async(fd, null, null, SOCK_CLOEXEC);
    if (conn >= 0) return conn;
    if (errno() !== EINTR) throw new SyscallError("accept4", [fd], errno());
  }
}

/** A sealed, close-on-exec memfd holding data. */
export function sealedMemfd(name: string, data: Uint8Array<ArrayBuffer>): number {
  const fd = check("memfd_create", [name], libc.memfd_create(cstr(name), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  try {
    writeAll(fd, data);
    check(
      "fcntl",
      [fd, "F_ADD_SEALS"],
      libc.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
    );
  } catch (e) {
    libc.close(fd);
    throw e;
  }
  return fd;
}

/** fexecve(3): exec the file open on fd. */
export function fexecve(fd: number, what: string, argv: readonly string[], env: readonly string[]): never {
  const a = cstrArray(argv), e = cstrArray(env);
  libc.fexecve(fd, new Uint8Array(a.array.buffer), new Uint8Array(e.array.buffer));
  throw new SyscallError("fexecve", [what], errno());
}

export function execve(path: string, argv: readonly string[], env: readonly string[]): never {
  const a = cstrArray(argv), e = cstrArray(env);
  libc.execve(cstr(path), new Uint8Array(a.array.buffer), new Uint8Array(e.array.buffer));
  throw new SyscallError("execve", [path], errno());
}

/**
 * bpf(2): runs `cmd` (named `what` in errors) on the union bpf_attr in `attr`; returns what the
 * kernel returned (an fd for the commands that make one, else 0).
 */
export function bpf(
  cmd: number,
  what: string,
  attr: Uint8Array<ArrayBuffer>,
  args: readonly Arg[] = [],
): number {
  const ret = Number(libc.syscallBpf(BigInt(ARCH.SYS_bpf), BigInt(cmd), attr, attr.byteLength));
  return check("bpf", [what, ...args], ret);
}

/** prctl(2) with its option named in errors. */
export function prctl(what: string, option: number, arg2 = 0n, arg3 = 0n): number {
  return check("prctl", [what], libc.prctl(option, arg2, arg3, 0n, 0n));
}

/** capset(2) of the calling thread: each set a list of capability numbers. */
export function capset(sets: { effective: number[]; permitted: number[]; inheritable: number[] }): void {
  const header = new Uint32Array([_LINUX_CAPABILITY_VERSION_3, 0]);
  // Two struct __user_cap_data_struct {effective, permitted, inheritable}: bits 0-31, then 32-63.
  const data = new Uint32Array(6);
  const put = (caps: number[], field: number) => {
    for (const c of caps) data[(c >> 5) * 3 + field] |= 1 << (c & 31);
  };
  put(sets.effective, 0);
  put(sets.permitted, 1);
  put(sets.inheritable, 2);
  check("capset", [], libc.capset(header, data));
}

/** setrlimit(2); limits as bigints, RLIM_INFINITY for unlimited. */
export function setrlimit(name: string, resource: number, soft: bigint, hard: bigint): void {
  check("setrlimit", [name], libc.setrlimit(resource, new BigUint64Array([soft, hard])));
}

/** getrlimit(2): [soft, hard]. */
export function getrlimit(name: string, resource: number): [bigint, bigint] {
  const buf = new BigUint64Array(2);
  check("getrlimit", [name], libc.getrlimit(resource, buf));
  return [buf[0], buf[1]];
}

export function personality(name: string, persona: number): void {
  check("personality", [name], libc.personality(BigInt(persona)));
}

/**
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog) on the calling thread (and, with
 * SECCOMP_FILTER_FLAG_TSYNC, every thread); program is struct sock_filter[].
 */
export function loadSeccompFilter(program: Uint8Array<ArrayBuffer>, flags: number): void {
  const fprog = new BigUint64Array([BigInt(program.length / 8), addressOf(program)]);
  const ret = Number(
    libc.syscallSeccomp(BigInt(ARCH.SYS_seccomp), BigInt(SECCOMP_SET_MODE_FILTER), BigInt(flags), fprog),
  );
  check("seccomp", ["SECCOMP_SET_MODE_FILTER", `0x${flags.toString(16)}`], ret);
}

/** sched_setattr(2) for the calling thread. */
export function schedSetattr(
  what: string,
  a: {
    policy: number;
    flags: number;
    nice: number;
    priority: number;
    runtime: number;
    deadline: number;
    period: number;
  },
): void {
  // struct sched_attr, SCHED_ATTR_SIZE_VER0 (48 bytes): size, policy, flags, nice, priority,
  // runtime, deadline, period.
  const buf = new ArrayBuffer(48);
  const v = new DataView(buf);
  v.setUint32(0, 48, true);
  v.setUint32(4, a.policy, true);
  v.setBigUint64(8, BigInt(a.flags), true);
  v.setInt32(16, a.nice, true);
  v.setUint32(20, a.priority, true);
  v.setBigUint64(24, BigInt(a.runtime), true);
  v.setBigUint64(32, BigInt(a.deadline), true);
  v.setBigUint64(40, BigInt(a.period), true);
  const ret = Number(libc.syscallSchedSetattr(BigInt(ARCH.SYS_sched_setattr), 0n, new Uint8Array(buf), 0));
  check("sched_setattr", [what], ret);
}

/** ioprio_set(IOPRIO_WHO_PROCESS, 0, value) for the calling process. */
export function ioprioSet(what: string, value: number): void {
  const ret = Number(
    libc.syscallIoprioSet(BigInt(ARCH.SYS_ioprio_set), BigInt(IOPRIO_WHO_PROCESS), 0n, BigInt(value)),
  );
  check("ioprio_set", [what], ret);
}
