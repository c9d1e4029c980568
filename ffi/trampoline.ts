/**
 * The clone child. Deno is multi-threaded and V8 kills a forked child that runs JavaScript,
 * so the child of clone(2) runs these few bytes of machine code instead. They make only raw
 * system calls:
 *
 *   close(args.goWrite)                      the parent's end, so a dead parent reads as EOF
 *   for fd in args.nsFds: setns(fd, 0)       join namespaces given by path, user first
 *   read(args.goRead, &byte, 1)              wait for the parent (uid maps, cgroup) ...
 *   if args.unshareFlags: unshare(flags)     ... namespaces made only now: a cgroup namespace
 *                                            gets the container's cgroup as its root
 *   execve(args.path, args.argv, args.envp)  ... then become `druntime init`
 *
 * On a failure the child writes {stage: i32, index: i32, errno: i32} to args.errWrite (a
 * close-on-exec pipe, so a successful execve reads as EOF on the other end) and exits 127.
 * Stages: 1 setns (index: which fd), 2 the go byte (errno 0: EOF, the parent went away),
 * 3 execve, 4 unshare; for stages 2 to 4 the index is nsCount.
 *
 * The args block is nine 64-bit words: goRead, goWrite, errWrite, nsCount, nsFds (pointer
 * to i64[]), path, argv, envp, unshareFlags.
 *
 * The same code page holds a second entry after the trampoline's code, spawn3 (at
 * SPAWN3_OFFSET), called through Deno's FFI as i64 spawn3(clone_args *, args *). libc's clone()
 * cannot pass clone3's flags above 32 bits (CLONE_INTO_CGROUP), and the child must not return
 * into JavaScript, so spawn3 makes the raw call:
 *
 *   r = clone3(clone_args, 88)               CLONE_ARGS_SIZE_VER2: up to and with .cgroup
 *   if r != 0: return r                      the parent: the child's pid, or -errno
 *   trampoline(args)                         the child, on clone_args.stack: never returns
 *
 * The args pointer waits out the syscall in a register the kernel keeps in both processes
 * (x86_64: rdx, as syscall clobbers only rax, rcx and r11; aarch64: x2, as svc clobbers only
 * x0); it is caller-saved, so the parent path has nothing to restore.
 */
import {
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWTIME,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_STACK,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  SIGCHLD,
} from "./constants.ts";
import { addressOf, check, cstr, cstrArray, libc } from "./libc.ts";
import { errnoByName, errnoName, SyscallError } from "./errno.ts";

/** x86_64, one instruction a row with its assembly (Intel syntax). */
export const X86_64_CODE: readonly (readonly number[])[] = [
  [0x49, 0x89, 0xfc], // 00: mov r12,rdi
  [0x49, 0x8b, 0x7c, 0x24, 0x08], // 03: mov rdi,QWORD PTR [r12+0x8]
  [0xb8, 0x03, 0x00, 0x00, 0x00], // 08: mov eax,0x3                 SYS_close
  [0x0f, 0x05], // 0d: syscall
  [0x45, 0x31, 0xed], // 0f: xor r13d,r13d
  [0x4d, 0x3b, 0x6c, 0x24, 0x18], // 12: cmp r13,QWORD PTR [r12+0x18]
  [0x73, 0x22], // 17: jae 0x3b
  [0x49, 0x8b, 0x44, 0x24, 0x20], // 19: mov rax,QWORD PTR [r12+0x20]
  [0x4a, 0x8b, 0x3c, 0xe8], // 1e: mov rdi,QWORD PTR [rax+r13*8]
  [0x31, 0xf6], // 22: xor esi,esi
  [0xb8, 0x34, 0x01, 0x00, 0x00], // 24: mov eax,0x134               SYS_setns
  [0x0f, 0x05], // 29: syscall
  [0x41, 0xbe, 0x01, 0x00, 0x00, 0x00], // 2b: mov r14d,0x1           stage 1
  [0x48, 0x85, 0xc0], // 31: test rax,rax
  [0x75, 0x63], // 34: jne 0x99
  [0x49, 0xff, 0xc5], // 36: inc r13
  [0xeb, 0xd7], // 39: jmp 0x12
  [0x48, 0x83, 0xec, 0x10], // 3b: sub rsp,0x10
  [0x49, 0x8b, 0x3c, 0x24], // 3f: mov rdi,QWORD PTR [r12]
  [0x48, 0x89, 0xe6], // 43: mov rsi,rsp
  [0xba, 0x01, 0x00, 0x00, 0x00], // 46: mov edx,0x1
  [0x31, 0xc0], // 4b: xor eax,eax                                   SYS_read
  [0x0f, 0x05], // 4d: syscall
  [0x48, 0x83, 0xf8, 0xfc], // 4f: cmp rax,0xfffffffffffffffc         -EINTR
  [0x74, 0xea], // 53: je 0x3f
  [0x41, 0xbe, 0x02, 0x00, 0x00, 0x00], // 55: mov r14d,0x2           stage 2
  [0x48, 0x83, 0xf8, 0x01], // 5b: cmp rax,0x1
  [0x75, 0x38], // 5f: jne 0x99
  [0x49, 0x8b, 0x7c, 0x24, 0x40], // 61: mov rdi,QWORD PTR [r12+0x40]
  [0x48, 0x85, 0xff], // 66: test rdi,rdi
  [0x74, 0x12], // 69: je 0x7d
  [0xb8, 0x10, 0x01, 0x00, 0x00], // 6b: mov eax,0x110               SYS_unshare
  [0x0f, 0x05], // 70: syscall
  [0x41, 0xbe, 0x04, 0x00, 0x00, 0x00], // 72: mov r14d,0x4           stage 4
  [0x48, 0x85, 0xc0], // 78: test rax,rax
  [0x75, 0x1c], // 7b: jne 0x99
  [0x49, 0x8b, 0x7c, 0x24, 0x28], // 7d: mov rdi,QWORD PTR [r12+0x28]
  [0x49, 0x8b, 0x74, 0x24, 0x30], // 82: mov rsi,QWORD PTR [r12+0x30]
  [0x49, 0x8b, 0x54, 0x24, 0x38], // 87: mov rdx,QWORD PTR [r12+0x38]
  [0xb8, 0x3b, 0x00, 0x00, 0x00], // 8c: mov eax,0x3b                SYS_execve
  [0x0f, 0x05], // 91: syscall
  [0x41, 0xbe, 0x03, 0x00, 0x00, 0x00], // 93: mov r14d,0x3           stage 3
  [0xf7, 0xd8], // 99: neg eax
  [0x48, 0x83, 0xec, 0x10], // 9b: sub rsp,0x10
  [0x44, 0x89, 0x34, 0x24], // 9f: mov DWORD PTR [rsp],r14d
  [0x44, 0x89, 0x6c, 0x24, 0x04], // a3: mov DWORD PTR [rsp+0x4],r13d
  [0x89, 0x44, 0x24, 0x08], // a8: mov DWORD PTR [rsp+0x8],eax
  [0x49, 0x8b, 0x7c, 0x24, 0x10], // ac: mov rdi,QWORD PTR [r12+0x10]
  [0x48, 0x89, 0xe6], // b1: mov rsi,rsp
  [0xba, 0x0c, 0x00, 0x00, 0x00], // b4: mov edx,0xc
  [0xb8, 0x01, 0x00, 0x00, 0x00], // b9: mov eax,0x1                 SYS_write
  [0x0f, 0x05], // be: syscall
  [0xbf, 0x7f, 0x00, 0x00, 0x00], // c0: mov edi,0x7f
  [0xb8, 0xe7, 0x00, 0x00, 0x00], // c5: mov eax,0xe7                SYS_exit_group
  [0x0f, 0x05], // ca: syscall
  [0x48, 0x89, 0xf2], // cc: mov rdx,rsi                             spawn3: keep the args pointer
  [0xbe, 0x58, 0x00, 0x00, 0x00], // cf: mov esi,0x58                sizeof(struct clone_args)
  [0xb8, 0xb3, 0x01, 0x00, 0x00], // d4: mov eax,0x1b3               SYS_clone3
  [0x0f, 0x05], // d9: syscall
  [0x48, 0x85, 0xc0], // db: test rax,rax
  [0x75, 0x08], // de: jne 0xe8                                      parent (pid or -errno)
  [0x48, 0x89, 0xd7], // e0: mov rdi,rdx                             child: args for ...
  [0xe9, 0x18, 0xff, 0xff, 0xff], // e3: jmp 0x0                     ... the trampoline
  [0xc3], // e8: ret
];

/** aarch64, one little-endian instruction word a row with its assembly. */
export const AARCH64_CODE: readonly number[] = [
  0xaa0003f3, // 00: mov x19, x0
  0xf9400660, // 04: ldr x0, [x19, #8]
  0xd2800728, // 08: mov x8, #57                    SYS_close
  0xd4000001, // 0c: svc #0
  0xd2800014, // 10: mov x20, #0
  0xf9400e61, // 14: ldr x1, [x19, #24]
  0xeb01029f, // 18: cmp x20, x1
  0x54000142, // 1c: b.hs 0x44
  0xf9401261, // 20: ldr x1, [x19, #32]
  0xf8747820, // 24: ldr x0, [x1, x20, lsl #3]
  0xd2800001, // 28: mov x1, #0
  0xd2802188, // 2c: mov x8, #268                   SYS_setns
  0xd4000001, // 30: svc #0
  0xd2800035, // 34: mov x21, #1                    stage 1
  0xb5000340, // 38: cbnz x0, 0xa0
  0x91000694, // 3c: add x20, x20, #1
  0x17fffff5, // 40: b 0x14
  0xd10043ff, // 44: sub sp, sp, #16
  0xf9400260, // 48: ldr x0, [x19]
  0x910003e1, // 4c: mov x1, sp
  0xd2800022, // 50: mov x2, #1
  0xd28007e8, // 54: mov x8, #63                    SYS_read
  0xd4000001, // 58: svc #0
  0xb100101f, // 5c: cmn x0, #4                     -EINTR
  0x54ffff40, // 60: b.eq 0x48
  0xd2800055, // 64: mov x21, #2                    stage 2
  0xf100041f, // 68: cmp x0, #1
  0x540001a1, // 6c: b.ne 0xa0
  0xf9402260, // 70: ldr x0, [x19, #64]
  0xb40000a0, // 74: cbz x0, 0x88
  0xd2800c28, // 78: mov x8, #97                    SYS_unshare
  0xd4000001, // 7c: svc #0
  0xd2800095, // 80: mov x21, #4                    stage 4
  0xb50000e0, // 84: cbnz x0, 0xa0
  0xf9401660, // 88: ldr x0, [x19, #40]
  0xf9401a61, // 8c: ldr x1, [x19, #48]
  0xf9401e62, // 90: ldr x2, [x19, #56]
  0xd2801ba8, // 94: mov x8, #221                   SYS_execve
  0xd4000001, // 98: svc #0
  0xd2800075, // 9c: mov x21, #3                    stage 3
  0x4b0003e0, // a0: neg w0, w0
  0xd10043ff, // a4: sub sp, sp, #16
  0xb90003f5, // a8: str w21, [sp]
  0xb90007f4, // ac: str w20, [sp, #4]
  0xb9000be0, // b0: str w0, [sp, #8]
  0xf9400a60, // b4: ldr x0, [x19, #16]
  0x910003e1, // b8: mov x1, sp
  0xd2800182, // bc: mov x2, #12
  0xd2800808, // c0: mov x8, #64                    SYS_write
  0xd4000001, // c4: svc #0
  0xd2800fe0, // c8: mov x0, #127
  0xd2800bc8, // cc: mov x8, #94                    SYS_exit_group
  0xd4000001, // d0: svc #0
  0xaa0103e2, // d4: mov x2, x1                     spawn3: keep the args pointer
  0xd2800b01, // d8: mov x1, #88                    sizeof(struct clone_args)
  0xd2803668, // dc: mov x8, #435                   SYS_clone3
  0xd4000001, // e0: svc #0
  0xb5000060, // e4: cbnz x0, 0xf0                  parent (pid or -errno)
  0xaa0203e0, // e8: mov x0, x2                     child: args for ...
  0x17ffffc5, // ec: b 0x0                          ... the trampoline
  0xd65f03c0, // f0: ret
];

/**
 * Where spawn3 starts on the code page, per architecture: the row after the trampoline's
 * last (its remark begins "spawn3").
 */
export const SPAWN3_OFFSET: Readonly<Record<"x86_64" | "aarch64", number>> = {
  x86_64: 0xcc,
  aarch64: 0xd4,
};

/** clone3(2) flag (Linux 5.7, cgroup v2): create the child in the cgroup clone_args.cgroup. */
export const CLONE_INTO_CGROUP = 0x200000000n;
/** sizeof(struct clone_args) up to and with .cgroup (CLONE_ARGS_SIZE_VER2). */
export const CLONE_ARGS_SIZE_VER2 = 88;

/** The child's machine code for an architecture, as bytes (the trampoline, then spawn3). */
export function trampolineBytes(arch: string): Uint8Array {
  if (arch === "x86_64") return new Uint8Array(X86_64_CODE.flat());
  if (arch === "aarch64") return new Uint8Array(new Uint32Array(AARCH64_CODE).buffer);
  throw new Error(`no clone trampoline for ${arch}`);
}

const PAGE = 4096;
const STACK_SIZE = 64 * 1024;
let code: Deno.PointerObject | null = null;
let stackTop: Deno.PointerObject | null = null;
let stackBase: Deno.PointerObject | null = null;

function mapOnce(): {
  code: Deno.PointerObject;
  stackTop: Deno.PointerObject;
  stackBase: Deno.PointerObject;
} {
  if (code === null || stackTop === null || stackBase === null) {
    const bytes = trampolineBytes(Deno.build.arch);
    const page = libc.mmap(null, BigInt(PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
    if (page === null || Deno.UnsafePointer.value(page) === -1n) {
      throw new Error("mmap of the clone trampoline failed");
    }
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(page, PAGE)).set(bytes);
    check("mprotect", ["trampoline"], libc.mprotect(page, BigInt(PAGE), PROT_READ | PROT_EXEC));
    const stack = libc.mmap(
      null,
      BigInt(STACK_SIZE),
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
      -1,
      0n,
    );
    if (stack === null || Deno.UnsafePointer.value(stack) === -1n) {
      throw new Error("mmap of the clone stack failed");
    }
    code = page;
    stackBase = stack;
    stackTop = Deno.UnsafePointer.offset(stack, STACK_SIZE)!;
  }
  return { code, stackTop, stackBase };
}

const SPAWN3_SIGNATURE = { parameters: ["pointer", "pointer"], result: "i64" } as const;
let spawn3Fn: Deno.UnsafeFnPointer<typeof SPAWN3_SIGNATURE> | null = null;

/** spawn3 on the mapped code page. */
function spawn3(): Deno.UnsafeFnPointer<typeof SPAWN3_SIGNATURE> {
  if (spawn3Fn === null) {
    const arch = Deno.build.arch as keyof typeof SPAWN3_OFFSET;
    const entry = Deno.UnsafePointer.offset(mapOnce().code, SPAWN3_OFFSET[arch])!;
    spawn3Fn = new Deno.UnsafeFnPointer(
      entry as Deno.PointerObject<typeof SPAWN3_SIGNATURE>,
      SPAWN3_SIGNATURE,
    );
  }
  return spawn3Fn;
}

/**
 * struct clone_args (eleven u64: flags, pidfd, child_tid, parent_tid, exit_signal, stack,
 * stack_size, tls, set_tid, set_tid_size, cgroup) for a child that is like libc clone()'s:
 * SIGCHLD at its exit, the trampoline's stack, nothing else shared.
 */
function cloneArgs(flags: bigint, cgroupFd: number): BigUint64Array<ArrayBuffer> {
  const { stackBase } = mapOnce();
  const a = new BigUint64Array(CLONE_ARGS_SIZE_VER2 / 8);
  a[0] = flags;
  a[4] = BigInt(SIGCHLD);
  a[5] = BigInt(Deno.UnsafePointer.value(stackBase));
  a[6] = BigInt(STACK_SIZE);
  a[10] = BigInt(cgroupFd);
  return a;
}

/** Runs spawn3; returns clone3's result: the child's pid, or -errno. */
function callSpawn3(clone: BigUint64Array<ArrayBuffer>, args: BigUint64Array<ArrayBuffer>): number {
  return Number(spawn3().call(Deno.UnsafePointer.of(clone), Deno.UnsafePointer.of(args)));
}

/** What the child is to do. */
export interface ChildSpec {
  /** CLONE_NEW* flags for the namespaces to create. */
  flags: number;
  /** Namespace fds to join with setns before execve, in order (user first). */
  nsFds: readonly number[];
  /** fd the child reads its go byte from, and the parent's end of it. */
  goRead: number;
  goWrite: number;
  /** Close-on-exec pipe end the child reports a failure on. */
  errWrite: number;
  path: string;
  argv: readonly string[];
  env: readonly string[];
  /**
   * CLONE_NEW* flags the child unshares after the go byte and before execve (0, the default:
   * none). For the cgroup namespace, which must be made after the parent has put the child in
   * the container's cgroup so that cgroup is its root (as runc's nsexec does).
   */
  unshareAfterGo?: number;
  /**
   * A cgroup v2 directory fd (open O_RDONLY|O_DIRECTORY or O_PATH): the child is created in
   * that cgroup by clone3(CLONE_INTO_CGROUP), so the parent need not write its pid to
   * cgroup.procs. Where clone3 or the flag is missing (ENOSYS, E2BIG, EINVAL, EOPNOTSUPP)
   * cloneChild throws a SyscallError naming clone3, and the caller falls back to a spec
   * without it. Unset: libc clone(), as before.
   */
  cgroupFd?: number;
}

/**
 * clone(2) a child that runs the trampoline. Returns its pid; the child waits for one byte on
 * goRead before it unshares (if asked) and execs.
 */
export function cloneChild(spec: ChildSpec): number {
  if (spec.cgroupFd !== undefined && (!Number.isInteger(spec.cgroupFd) || spec.cgroupFd < 0)) {
    throw new RangeError(`cloneChild: cgroupFd ${spec.cgroupFd} is not a file descriptor`);
  }
  const { code, stackTop } = mapOnce();
  const path = cstr(spec.path);
  const argv = cstrArray(spec.argv);
  const env = cstrArray(spec.env);
  const nsFds = new BigInt64Array(spec.nsFds.map(BigInt));
  const args = new BigUint64Array([
    BigInt(spec.goRead),
    BigInt(spec.goWrite),
    BigInt(spec.errWrite),
    BigInt(spec.nsFds.length),
    nsFds.length ? addressOf(nsFds) : 0n,
    addressOf(path),
    addressOf(argv.array),
    addressOf(env.array),
    BigInt(spec.unshareAfterGo ?? 0),
  ]);
  if (spec.cgroupFd !== undefined) {
    const clone = cloneArgs(BigInt(spec.flags >>> 0) | CLONE_INTO_CGROUP, spec.cgroupFd);
    const r = callSpawn3(clone, args);
    keepAlive(path, argv, env, nsFds, args, clone);
    if (r < 0) {
      const names = spec.flags === 0
        ? "CLONE_INTO_CGROUP"
        : `${unshareFlagNames(spec.flags)}|CLONE_INTO_CGROUP`;
      throw new SyscallError("clone3", [names, `cgroup fd ${spec.cgroupFd}`], -r);
    }
    return r;
  }
  const pid = libc.clone(
    code,
    stackTop,
    spec.flags | SIGCHLD,
    Deno.UnsafePointer.of(args),
    null,
    null,
    null,
  );
  // The buffers above must outlive the call: the child reads them from its copy of memory.
  keepAlive(path, argv, env, nsFds, args);
  return check("clone", [`0x${spec.flags.toString(16)}`], pid);
}

function keepAlive(..._values: unknown[]): void {}

let intoCgroup: boolean | null = null;

/**
 * Whether this kernel has clone3 with CLONE_INTO_CGROUP (Linux 5.7+). Asks once: clone3 into
 * the cgroup fd INT_MAX, which can never be open, fails with EBADF where the flag is known
 * and with ENOSYS, E2BIG or EINVAL where it is not.
 */
export function supportsCloneIntoCgroup(): boolean {
  if (intoCgroup === null) {
    // Should the call ever succeed, the child finds every fd bad (-1) and exits 127.
    const bad = 0xffffffffffffffffn;
    const args = new BigUint64Array([bad, bad, bad, 0n, 0n, 0n, 0n, 0n, 0n]);
    const r = callSpawn3(cloneArgs(CLONE_INTO_CGROUP, 0x7fffffff), args);
    if (r > 0) libc.waitpid(r, new Int32Array(1), 0);
    intoCgroup = r > 0 || r === -errnoByName("EBADF");
  }
  return intoCgroup;
}

const NAMESPACE_FLAGS: readonly (readonly [number, string])[] = [
  [CLONE_NEWTIME, "CLONE_NEWTIME"],
  [CLONE_NEWNS, "CLONE_NEWNS"],
  [CLONE_NEWCGROUP, "CLONE_NEWCGROUP"],
  [CLONE_NEWUTS, "CLONE_NEWUTS"],
  [CLONE_NEWIPC, "CLONE_NEWIPC"],
  [CLONE_NEWUSER, "CLONE_NEWUSER"],
  [CLONE_NEWPID, "CLONE_NEWPID"],
  [CLONE_NEWNET, "CLONE_NEWNET"],
];

/** unshare(2) flags by name, e.g. "CLONE_NEWCGROUP|CLONE_NEWNET"; other bits in hex. */
export function unshareFlagNames(flags: number): string {
  const names: string[] = [];
  let rest = flags >>> 0;
  for (const [bit, name] of NAMESPACE_FLAGS) {
    if (rest & bit) {
      names.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest !== 0 || names.length === 0) names.push(`0x${rest.toString(16)}`);
  return names.join("|");
}

/**
 * Decodes the child's 12-byte failure report into a message. unshareFlags (the spec's
 * unshareAfterGo) names the flags of a failed unshare.
 */
export function describeChildFailure(
  report: Uint8Array,
  nsNames: readonly string[],
  path: string,
  unshareFlags?: number,
): string {
  const v = new DataView(report.buffer, report.byteOffset, report.byteLength);
  const stage = v.getInt32(0, true), index = v.getInt32(4, true), err = v.getInt32(8, true);
  const what = stage === 1
    ? `setns(${nsNames[index] ?? `#${index}`})`
    : stage === 2
    ? "waiting for the parent's go byte"
    : stage === 3
    ? `execve(${JSON.stringify(path)})`
    : stage === 4
    ? (unshareFlags === undefined ? "unshare" : `unshare(${unshareFlagNames(unshareFlags)})`)
    : `stage ${stage}`;
  return `clone child: ${what}: ${err === 0 ? "parent went away" : errnoName(err)}`;
}
