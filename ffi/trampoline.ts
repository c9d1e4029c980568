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
 *   if args.timensLen:                       clock offsets for the time namespace that
 *     fd = open(args.timensPath, O_WRONLY)   CLONE_NEWTIME made for the child's children and
 *     write(fd, args.timens, timensLen)      the child enters at its execve: they can be set
 *     close(fd)                              only before a process is in it
 *   execve(args.path, args.argv, args.envp)  ... then become `druntime init`
 *
 * On a failure the child writes {stage: i32, index: i32, errno: i32} to args.errWrite (a
 * close-on-exec pipe, so a successful execve reads as EOF on the other end) and exits 127.
 * Stages: 1 setns (index: which fd), 2 the go byte (errno 0: EOF, the parent went away),
 * 3 execve, 4 unshare, 5 the open or the write of /proc/self/timens_offsets; for stages 2 to 5
 * the index is nsCount.
 *
 * The args block is twelve 64-bit words: goRead, goWrite, errWrite, nsCount, nsFds (pointer
 * to i64[]), path, argv, envp, unshareFlags, timens (pointer to the offsets text, no NUL
 * needed), timensLen (its length in bytes; 0: no offsets, the child opens nothing),
 * timensPath (pointer to the C string "/proc/self/timens_offsets").
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
  [0x73, 0x26], // 17: jae 0x3f
  [0x49, 0x8b, 0x44, 0x24, 0x20], // 19: mov rax,QWORD PTR [r12+0x20]
  [0x4a, 0x8b, 0x3c, 0xe8], // 1e: mov rdi,QWORD PTR [rax+r13*8]
  [0x31, 0xf6], // 22: xor esi,esi
  [0xb8, 0x34, 0x01, 0x00, 0x00], // 24: mov eax,0x134               SYS_setns
  [0x0f, 0x05], // 29: syscall
  [0x41, 0xbe, 0x01, 0x00, 0x00, 0x00], // 2b: mov r14d,0x1          stage 1
  [0x48, 0x85, 0xc0], // 31: test rax,rax
  [0x0f, 0x85, 0xb3, 0x00, 0x00, 0x00], // 34: jne 0xed
  [0x49, 0xff, 0xc5], // 3a: inc r13
  [0xeb, 0xd3], // 3d: jmp 0x12
  [0x48, 0x83, 0xec, 0x10], // 3f: sub rsp,0x10
  [0x49, 0x8b, 0x3c, 0x24], // 43: mov rdi,QWORD PTR [r12]
  [0x48, 0x89, 0xe6], // 47: mov rsi,rsp
  [0xba, 0x01, 0x00, 0x00, 0x00], // 4a: mov edx,0x1
  [0x31, 0xc0], // 4f: xor eax,eax                                   SYS_read
  [0x0f, 0x05], // 51: syscall
  [0x48, 0x83, 0xf8, 0xfc], // 53: cmp rax,0xfffffffffffffffc        -EINTR
  [0x74, 0xea], // 57: je 0x43
  [0x41, 0xbe, 0x02, 0x00, 0x00, 0x00], // 59: mov r14d,0x2          stage 2
  [0x48, 0x83, 0xf8, 0x01], // 5f: cmp rax,0x1
  [0x0f, 0x85, 0x84, 0x00, 0x00, 0x00], // 63: jne 0xed
  [0x49, 0x8b, 0x7c, 0x24, 0x40], // 69: mov rdi,QWORD PTR [r12+0x40]
  [0x48, 0x85, 0xff], // 6e: test rdi,rdi
  [0x74, 0x12], // 71: je 0x85
  [0xb8, 0x10, 0x01, 0x00, 0x00], // 73: mov eax,0x110               SYS_unshare
  [0x0f, 0x05], // 78: syscall
  [0x41, 0xbe, 0x04, 0x00, 0x00, 0x00], // 7a: mov r14d,0x4          stage 4
  [0x48, 0x85, 0xc0], // 80: test rax,rax
  [0x75, 0x68], // 83: jne 0xed
  [0x49, 0x8b, 0x54, 0x24, 0x50], // 85: mov rdx,QWORD PTR [r12+0x50]  timens offsets: the text's length
  [0x48, 0x85, 0xd2], // 8a: test rdx,rdx
  [0x74, 0x42], // 8d: je 0xd1
  [0x49, 0x8b, 0x7c, 0x24, 0x58], // 8f: mov rdi,QWORD PTR [r12+0x58]  "/proc/self/timens_offsets"
  [0xbe, 0x01, 0x00, 0x00, 0x00], // 94: mov esi,0x1                 O_WRONLY
  [0xb8, 0x02, 0x00, 0x00, 0x00], // 99: mov eax,0x2                 SYS_open
  [0x0f, 0x05], // 9e: syscall
  [0x41, 0xbe, 0x05, 0x00, 0x00, 0x00], // a0: mov r14d,0x5          stage 5
  [0x48, 0x85, 0xc0], // a6: test rax,rax
  [0x78, 0x42], // a9: js 0xed
  [0x49, 0x89, 0xc7], // ab: mov r15,rax
  [0x48, 0x89, 0xc7], // ae: mov rdi,rax
  [0x49, 0x8b, 0x74, 0x24, 0x48], // b1: mov rsi,QWORD PTR [r12+0x48]  the text
  [0x49, 0x8b, 0x54, 0x24, 0x50], // b6: mov rdx,QWORD PTR [r12+0x50]
  [0xb8, 0x01, 0x00, 0x00, 0x00], // bb: mov eax,0x1                 SYS_write
  [0x0f, 0x05], // c0: syscall
  [0x48, 0x85, 0xc0], // c2: test rax,rax
  [0x78, 0x26], // c5: js 0xed
  [0x4c, 0x89, 0xff], // c7: mov rdi,r15
  [0xb8, 0x03, 0x00, 0x00, 0x00], // ca: mov eax,0x3                 SYS_close
  [0x0f, 0x05], // cf: syscall
  [0x49, 0x8b, 0x7c, 0x24, 0x28], // d1: mov rdi,QWORD PTR [r12+0x28]
  [0x49, 0x8b, 0x74, 0x24, 0x30], // d6: mov rsi,QWORD PTR [r12+0x30]
  [0x49, 0x8b, 0x54, 0x24, 0x38], // db: mov rdx,QWORD PTR [r12+0x38]
  [0xb8, 0x3b, 0x00, 0x00, 0x00], // e0: mov eax,0x3b                SYS_execve
  [0x0f, 0x05], // e5: syscall
  [0x41, 0xbe, 0x03, 0x00, 0x00, 0x00], // e7: mov r14d,0x3          stage 3
  [0xf7, 0xd8], // ed: neg eax
  [0x48, 0x83, 0xec, 0x10], // ef: sub rsp,0x10
  [0x44, 0x89, 0x34, 0x24], // f3: mov DWORD PTR [rsp],r14d
  [0x44, 0x89, 0x6c, 0x24, 0x04], // f7: mov DWORD PTR [rsp+0x4],r13d
  [0x89, 0x44, 0x24, 0x08], // fc: mov DWORD PTR [rsp+0x8],eax
  [0x49, 0x8b, 0x7c, 0x24, 0x10], // 100: mov rdi,QWORD PTR [r12+0x10]
  [0x48, 0x89, 0xe6], // 105: mov rsi,rsp
  [0xba, 0x0c, 0x00, 0x00, 0x00], // 108: mov edx,0xc
  [0xb8, 0x01, 0x00, 0x00, 0x00], // 10d: mov eax,0x1                SYS_write
  [0x0f, 0x05], // 112: syscall
  [0xbf, 0x7f, 0x00, 0x00, 0x00], // 114: mov edi,0x7f
  [0xb8, 0xe7, 0x00, 0x00, 0x00], // 119: mov eax,0xe7               SYS_exit_group
  [0x0f, 0x05], // 11e: syscall
  [0x48, 0x89, 0xf2], // 120: mov rdx,rsi                            spawn3: keep the args pointer
  [0xbe, 0x58, 0x00, 0x00, 0x00], // 123: mov esi,0x58               sizeof(struct clone_args)
  [0xb8, 0xb3, 0x01, 0x00, 0x00], // 128: mov eax,0x1b3              SYS_clone3
  [0x0f, 0x05], // 12d: syscall
  [0x48, 0x85, 0xc0], // 12f: test rax,rax
  [0x75, 0x08], // 132: jne 0x13c                                    parent (pid or -errno)
  [0x48, 0x89, 0xd7], // 134: mov rdi,rdx                            child: args for ...
  [0xe9, 0xc4, 0xfe, 0xff, 0xff], // 137: jmp 0x0                    ... the trampoline
  [0xc3], // 13c: ret
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
  0xb5000580, // 38: cbnz x0, 0xe8
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
  0x540003e1, // 6c: b.ne 0xe8
  0xf9402260, // 70: ldr x0, [x19, #64]
  0xb40000a0, // 74: cbz x0, 0x88
  0xd2800c28, // 78: mov x8, #97                    SYS_unshare
  0xd4000001, // 7c: svc #0
  0xd2800095, // 80: mov x21, #4                    stage 4
  0xb5000320, // 84: cbnz x0, 0xe8
  0xf9402a62, // 88: ldr x2, [x19, #80]             timens offsets: the text's length
  0xb4000222, // 8c: cbz x2, 0xd0
  0x92800c60, // 90: mov x0, #-100                  AT_FDCWD
  0xf9402e61, // 94: ldr x1, [x19, #88]             "/proc/self/timens_offsets"
  0xd2800022, // 98: mov x2, #1                     O_WRONLY
  0xd2800708, // 9c: mov x8, #56                    SYS_openat
  0xd4000001, // a0: svc #0
  0xd28000b5, // a4: mov x21, #5                    stage 5
  0xb7f80200, // a8: tbnz x0, #63, 0xe8
  0xaa0003f6, // ac: mov x22, x0
  0xf9402661, // b0: ldr x1, [x19, #72]             the text
  0xf9402a62, // b4: ldr x2, [x19, #80]
  0xd2800808, // b8: mov x8, #64                    SYS_write
  0xd4000001, // bc: svc #0
  0xb7f80140, // c0: tbnz x0, #63, 0xe8
  0xaa1603e0, // c4: mov x0, x22
  0xd2800728, // c8: mov x8, #57                    SYS_close
  0xd4000001, // cc: svc #0
  0xf9401660, // d0: ldr x0, [x19, #40]
  0xf9401a61, // d4: ldr x1, [x19, #48]
  0xf9401e62, // d8: ldr x2, [x19, #56]
  0xd2801ba8, // dc: mov x8, #221                   SYS_execve
  0xd4000001, // e0: svc #0
  0xd2800075, // e4: mov x21, #3                    stage 3
  0x4b0003e0, // e8: neg w0, w0
  0xd10043ff, // ec: sub sp, sp, #16
  0xb90003f5, // f0: str w21, [sp]
  0xb90007f4, // f4: str w20, [sp, #4]
  0xb9000be0, // f8: str w0, [sp, #8]
  0xf9400a60, // fc: ldr x0, [x19, #16]
  0x910003e1, // 100: mov x1, sp
  0xd2800182, // 104: mov x2, #12
  0xd2800808, // 108: mov x8, #64                   SYS_write
  0xd4000001, // 10c: svc #0
  0xd2800fe0, // 110: mov x0, #127
  0xd2800bc8, // 114: mov x8, #94                   SYS_exit_group
  0xd4000001, // 118: svc #0
  0xaa0103e2, // 11c: mov x2, x1                    spawn3: keep the args pointer
  0xd2800b01, // 120: mov x1, #88                   sizeof(struct clone_args)
  0xd2803668, // 124: mov x8, #435                  SYS_clone3
  0xd4000001, // 128: svc #0
  0xb5000060, // 12c: cbnz x0, 0x138                parent (pid or -errno)
  0xaa0203e0, // 130: mov x0, x2                    child: args for ...
  0x17ffffb3, // 134: b 0x0                         ... the trampoline
  0xd65f03c0, // 138: ret
];

/**
 * Where spawn3 starts on the code page, per architecture: the row after the trampoline's
 * last (its remark begins "spawn3").
 */
export const SPAWN3_OFFSET: Readonly<Record<"x86_64" | "aarch64", number>> = {
  x86_64: 0x120,
  aarch64: 0x11c,
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
  /**
   * Clock offsets for the time namespace that unshareAfterGo's CLONE_NEWTIME makes, in the
   * text of /proc/<pid>/timens_offsets (time_namespaces(7)): lines "monotonic <secs>
   * <nanosecs>" and "boottime <secs> <nanosecs>". The child writes it to
   * /proc/self/timens_offsets after the unshare and before execve (the namespace's offsets can
   * be set only until a process enters it; the child itself enters it at execve). A failed
   * open or write is stage 5. Unset or empty: nothing is written.
   */
  timeOffsets?: string;
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
  const timens = new TextEncoder().encode(spec.timeOffsets ?? "");
  if (timens.includes(0)) throw new RangeError("cloneChild: timeOffsets holds a NUL byte");
  const timensPath = cstr(TIMENS_OFFSETS);
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
    timens.length ? addressOf(timens) : 0n,
    BigInt(timens.length),
    addressOf(timensPath),
  ]);
  if (spec.cgroupFd !== undefined) {
    const clone = cloneArgs(BigInt(spec.flags >>> 0) | CLONE_INTO_CGROUP, spec.cgroupFd);
    const r = callSpawn3(clone, args);
    keepAlive(path, argv, env, nsFds, timens, timensPath, args, clone);
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
  keepAlive(path, argv, env, nsFds, timens, timensPath, args);
  return check("clone", [`0x${spec.flags.toString(16)}`], pid);
}

/** Where the child writes ChildSpec.timeOffsets. */
const TIMENS_OFFSETS = "/proc/self/timens_offsets";

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
    const args = new BigUint64Array([bad, bad, bad, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
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
    : stage === 5
    ? `write ${TIMENS_OFFSETS}`
    : `stage ${stage}`;
  return `clone child: ${what}: ${err === 0 ? "parent went away" : errnoName(err)}`;
}
