/**
 * The start waiter: what a created container's init becomes while it waits for `start`.
 *
 * A Deno process that only waits still holds about 14 MB of private memory (V8's heap, its
 * threads) against runc init's 2. So once the container is built, the init execs this
 * instead: a static ELF of a few hundred bytes, written to a sealed memfd and run with
 * fexecve. Its argv is [resolved path, process.args...] and its environment the process's;
 * it makes only raw system calls:
 *
 *   rt_sigaction(HUP INT QUIT USR1 USR2 TERM)   a handler that exits 128+N: as PID 1 of its
 *                                               namespace it would otherwise ignore them
 *   accept4(listenFd)                           `start` connects to the start socket ...
 *   write(conn, "\0", 1)                        ... and reads this byte
 *   fcntl(listenFd|reportFd, F_SETFD, CLOEXEC)  neither reaches the process
 *   if the filter has instructions:             as late as can be (runc too), so a filter
 *     seccomp(SECCOMP_SET_MODE_FILTER, flags,   that denies what the waiter needs binds the
 *             &{len, filter})                   container's process alone
 *   execve(argv[0], argv + 1, envp)             become the container's process
 *
 * A failing accept or execve writes {EXEC_FAILED_MARKER: u32, errno: u32} to reportFd (the
 * init socket, which `run` still reads) and exits 127; a failing seccomp does the same with
 * SECCOMP_FAILED_MARKER (the marker waits in ebx, aarch64 w21, from the accept on). Loading a
 * filter takes no_new_privs or CAP_SYS_ADMIN, which the waiter does not arrange: no_new_privs
 * set before the waiter's exec holds. SECCOMP_FILTER_FLAG_NEW_LISTENER is of no use here: the
 * listener fd it returns is close-on-exec and nobody receives it. Handlers reset on execve,
 * so the process starts with default dispositions. While the container waits, /proc/PID/exe
 * is the memfd, never a host binary.
 *
 * The image is one read+exec PT_LOAD segment: the ELF header and program header (120
 * bytes), the code, zero bytes up to a multiple of 8, then the filter program (struct
 * sock_filter[], 8 bytes an instruction) when there is one. The code finds the filter
 * pc-relative (x86_64 `lea rdx,[rip+X]`, aarch64 `adr x1`: the code's length rounded up
 * to 8) and builds struct sock_fprog {u16 len; 6 bytes of padding; filter pointer} on the
 * stack. The fd numbers, the filter's length in instructions (0: no filter, the code skips
 * the seccomp call) and the seccomp flags are patched into the code: the rows marked
 * "(patched)" are `mov edi|eax|esi,imm32` (x86_64) and `movz x0|x1,#imm16` (aarch64).
 */
/** What the waiter writes on the report fd where a frame's length would be: accept or execve failed. */
export const EXEC_FAILED_MARKER = 0xfffffffe;
/** The same, when seccomp(SECCOMP_SET_MODE_FILTER) failed: "seccomp: EINVAL", not "execve: EINVAL". */
export const SECCOMP_FAILED_MARKER = 0xfffffffd;

/** BPF_MAXINSNS: the most instructions a classic BPF program (and so a seccomp filter) has. */
export const MAX_FILTER_INSTRUCTIONS = 4096;

/** A seccomp filter for the waiter to load right before its execve. */
export interface WaiterFilter {
  /** struct sock_filter[] in the host's byte order: 8 bytes an instruction, 1 to 4096 of them. */
  program: Uint8Array;
  /** seccomp(2) flags for SECCOMP_SET_MODE_FILTER (SECCOMP_FILTER_FLAG_*; all below 65536). */
  flags: number;
}

/** x86_64, one instruction a row with its assembly (Intel syntax). */
export const X86_64_WAITER: readonly (readonly number[])[] = [
  [0x49, 0x89, 0xe4], // 00: mov r12,rsp
  [0x48, 0x8d, 0x05, 0x2c, 0x01, 0x00, 0x00], // 03: lea rax,[rip+0x12c]
  [0x48, 0x83, 0xec, 0x20], // 0a: sub rsp,0x20
  [0x48, 0x89, 0x04, 0x24], // 0e: mov QWORD PTR [rsp],rax
  [0x48, 0xc7, 0x44, 0x24, 0x08, 0x00, 0x00, 0x00, 0x04], // 12: mov QWORD PTR [rsp+0x8],0x4000000  SA_RESTORER (the handler never returns)
  [0x48, 0x89, 0x44, 0x24, 0x10], // 1b: mov QWORD PTR [rsp+0x10],rax
  [0x48, 0xc7, 0x44, 0x24, 0x18, 0x00, 0x00, 0x00, 0x00], // 20: mov QWORD PTR [rsp+0x18],0x0
  [0xbb, 0x01, 0x00, 0x00, 0x00], // 29: mov ebx,0x1
  [0xb8, 0x0e, 0x94, 0x00, 0x00], // 2e: mov eax,0x940e                     HUP INT QUIT USR1 USR2 TERM
  [0x0f, 0xa3, 0xd8], // 33: bt eax,ebx
  [0x73, 0x14], // 36: jae 0x4c
  [0x89, 0xdf], // 38: mov edi,ebx
  [0x48, 0x89, 0xe6], // 3a: mov rsi,rsp
  [0x31, 0xd2], // 3d: xor edx,edx
  [0x41, 0xba, 0x08, 0x00, 0x00, 0x00], // 3f: mov r10d,0x8
  [0xb8, 0x0d, 0x00, 0x00, 0x00], // 45: mov eax,0xd                        SYS_rt_sigaction
  [0x0f, 0x05], // 4a: syscall
  [0xff, 0xc3], // 4c: inc ebx
  [0x83, 0xfb, 0x10], // 4e: cmp ebx,0x10
  [0x76, 0xdb], // 51: jbe 0x2e
  [0xbb, 0xfe, 0xff, 0xff, 0xff], // 53: mov ebx,0xfffffffe                 EXEC_FAILED_MARKER: the marker of any failure but seccomp's
  [0xbf, 0x00, 0x00, 0x00, 0x00], // 58: mov edi,0x0                        listen fd (patched)
  [0x31, 0xf6], // 5d: xor esi,esi
  [0x31, 0xd2], // 5f: xor edx,edx
  [0x41, 0xba, 0x00, 0x00, 0x08, 0x00], // 61: mov r10d,0x80000             SOCK_CLOEXEC
  [0xb8, 0x20, 0x01, 0x00, 0x00], // 67: mov eax,0x120                      SYS_accept4
  [0x0f, 0x05], // 6c: syscall
  [0x48, 0x83, 0xf8, 0xfc], // 6e: cmp rax,0xfffffffffffffffc               -EINTR
  [0x74, 0xe4], // 72: je 0x58
  [0x48, 0x85, 0xc0], // 74: test rax,rax
  [0x0f, 0x88, 0x8c, 0x00, 0x00, 0x00], // 77: js 0x109
  [0x48, 0x89, 0xc7], // 7d: mov rdi,rax
  [0x6a, 0x00], // 80: push 0x0
  [0x48, 0x89, 0xe6], // 82: mov rsi,rsp
  [0xba, 0x01, 0x00, 0x00, 0x00], // 85: mov edx,0x1
  [0xb8, 0x01, 0x00, 0x00, 0x00], // 8a: mov eax,0x1                        SYS_write
  [0x0f, 0x05], // 8f: syscall
  [0xbf, 0x00, 0x00, 0x00, 0x00], // 91: mov edi,0x0                        listen fd (patched)
  [0xbe, 0x02, 0x00, 0x00, 0x00], // 96: mov esi,0x2
  [0xba, 0x01, 0x00, 0x00, 0x00], // 9b: mov edx,0x1
  [0xb8, 0x48, 0x00, 0x00, 0x00], // a0: mov eax,0x48                       SYS_fcntl F_SETFD FD_CLOEXEC
  [0x0f, 0x05], // a5: syscall
  [0xbf, 0x00, 0x00, 0x00, 0x00], // a7: mov edi,0x0                        report fd (patched)
  [0xbe, 0x02, 0x00, 0x00, 0x00], // ac: mov esi,0x2
  [0xba, 0x01, 0x00, 0x00, 0x00], // b1: mov edx,0x1
  [0xb8, 0x48, 0x00, 0x00, 0x00], // b6: mov eax,0x48                       SYS_fcntl F_SETFD FD_CLOEXEC
  [0x0f, 0x05], // bb: syscall
  [0xb8, 0x00, 0x00, 0x00, 0x00], // bd: mov eax,0x0                        filter length (patched), 0 for none
  [0x85, 0xc0], // c2: test eax,eax
  [0x74, 0x29], // c4: je 0xef
  [0x48, 0x8d, 0x15, 0x7b, 0x00, 0x00, 0x00], // c6: lea rdx,[rip+0x7b]     the filter: after the code, 8-byte aligned
  [0x52], // cd: push rdx                                                   struct sock_fprog: .filter
  [0x50], // ce: push rax                                                   .len: rax < 2^16, so zero padding
  [0xbf, 0x01, 0x00, 0x00, 0x00], // cf: mov edi,0x1                        SECCOMP_SET_MODE_FILTER
  [0xbe, 0x00, 0x00, 0x00, 0x00], // d4: mov esi,0x0                        seccomp flags (patched)
  [0x48, 0x89, 0xe2], // d9: mov rdx,rsp
  [0xb8, 0x3d, 0x01, 0x00, 0x00], // dc: mov eax,0x13d                      SYS_seccomp
  [0x0f, 0x05], // e1: syscall
  [0x48, 0x85, 0xc0], // e3: test rax,rax                                   0 (or a NEW_LISTENER fd): loaded
  [0x79, 0x07], // e6: jns 0xef
  [0xbb, 0xfd, 0xff, 0xff, 0xff], // e8: mov ebx,0xfffffffd                 SECCOMP_FAILED_MARKER
  [0xeb, 0x1a], // ed: jmp 0x109
  [0x49, 0x8b, 0x7c, 0x24, 0x08], // ef: mov rdi,QWORD PTR [r12+0x8]
  [0x49, 0x8d, 0x74, 0x24, 0x10], // f4: lea rsi,[r12+0x10]
  [0x49, 0x8b, 0x04, 0x24], // f9: mov rax,QWORD PTR [r12]
  [0x49, 0x8d, 0x54, 0xc4, 0x10], // fd: lea rdx,[r12+rax*8+0x10]
  [0xb8, 0x3b, 0x00, 0x00, 0x00], // 102: mov eax,0x3b                      SYS_execve
  [0x0f, 0x05], // 107: syscall
  [0xf7, 0xd8], // 109: neg eax
  [0x48, 0x83, 0xec, 0x10], // 10b: sub rsp,0x10
  [0x89, 0x1c, 0x24], // 10f: mov DWORD PTR [rsp],ebx                       marker, then errno
  [0x89, 0x44, 0x24, 0x04], // 112: mov DWORD PTR [rsp+0x4],eax
  [0xbf, 0x00, 0x00, 0x00, 0x00], // 116: mov edi,0x0                       report fd (patched)
  [0x48, 0x89, 0xe6], // 11b: mov rsi,rsp
  [0xba, 0x08, 0x00, 0x00, 0x00], // 11e: mov edx,0x8
  [0xb8, 0x01, 0x00, 0x00, 0x00], // 123: mov eax,0x1                       SYS_write
  [0x0f, 0x05], // 128: syscall
  [0xbf, 0x7f, 0x00, 0x00, 0x00], // 12a: mov edi,0x7f
  [0xb8, 0xe7, 0x00, 0x00, 0x00], // 12f: mov eax,0xe7                      SYS_exit_group
  [0x0f, 0x05], // 134: syscall
  [0x81, 0xc7, 0x80, 0x00, 0x00, 0x00], // 136: add edi,0x80                exit code 128 + signal
  [0xb8, 0xe7, 0x00, 0x00, 0x00], // 13c: mov eax,0xe7                      SYS_exit_group
  [0x0f, 0x05], // 141: syscall
];

/** aarch64, one little-endian instruction word a row with its assembly. */
export const AARCH64_WAITER: readonly number[] = [
  0x910003f3, // 00: mov x19, sp
  0x10000980, // 04: adr x0, 0x134
  0xd10083ff, // 08: sub sp, sp, #0x20
  0xf90003e0, // 0c: str x0, [sp]
  0xf90007ff, // 10: str xzr, [sp, #8]
  0xf9000bff, // 14: str xzr, [sp, #16]
  0xf9000fff, // 18: str xzr, [sp, #24]
  0xd2800034, // 1c: mov x20, #0x1
  0xd29281c0, // 20: mov x0, #0x940e            HUP INT QUIT USR1 USR2 TERM
  0x9ad42400, // 24: lsr x0, x0, x20
  0x360000e0, // 28: tbz w0, #0, 0x44
  0xaa1403e0, // 2c: mov x0, x20
  0x910003e1, // 30: mov x1, sp
  0xd2800002, // 34: mov x2, #0x0
  0xd2800103, // 38: mov x3, #0x8
  0xd28010c8, // 3c: mov x8, #0x86              SYS_rt_sigaction
  0xd4000001, // 40: svc #0x0
  0x91000694, // 44: add x20, x20, #0x1
  0xf100429f, // 48: cmp x20, #0x10
  0x54fffea9, // 4c: b.ls 0x20
  0x12800035, // 50: mov w21, #0xfffffffe       EXEC_FAILED_MARKER: the marker of any failure but seccomp's
  0xd2800000, // 54: mov x0, #0x0               listen fd (patched)
  0xd2800001, // 58: mov x1, #0x0
  0xd2800002, // 5c: mov x2, #0x0
  0xd2a00103, // 60: mov x3, #0x80000           SOCK_CLOEXEC
  0xd2801e48, // 64: mov x8, #0xf2              SYS_accept4
  0xd4000001, // 68: svc #0x0
  0xb100101f, // 6c: cmn x0, #0x4               -EINTR
  0x54ffff20, // 70: b.eq 0x54
  0xb7f80480, // 74: tbnz x0, #63, 0x104
  0xd10043ff, // 78: sub sp, sp, #0x10
  0xf90003ff, // 7c: str xzr, [sp]
  0x910003e1, // 80: mov x1, sp
  0xd2800022, // 84: mov x2, #0x1
  0xd2800808, // 88: mov x8, #0x40              SYS_write
  0xd4000001, // 8c: svc #0x0
  0xd2800000, // 90: mov x0, #0x0               listen fd (patched)
  0xd2800041, // 94: mov x1, #0x2
  0xd2800022, // 98: mov x2, #0x1
  0xd2800328, // 9c: mov x8, #0x19              SYS_fcntl F_SETFD FD_CLOEXEC
  0xd4000001, // a0: svc #0x0
  0xd2800000, // a4: mov x0, #0x0               report fd (patched)
  0xd2800041, // a8: mov x1, #0x2
  0xd2800022, // ac: mov x2, #0x1
  0xd2800328, // b0: mov x8, #0x19              SYS_fcntl F_SETFD FD_CLOEXEC
  0xd4000001, // b4: svc #0x0
  0xd2800000, // b8: mov x0, #0x0               filter length (patched), 0 for none
  0xb4000160, // bc: cbz x0, 0xe8
  0x10000401, // c0: adr x1, 0x140              the filter: after the code, 8-byte aligned
  0xa9bf07e0, // c4: stp x0, x1, [sp, #-16]!    struct sock_fprog {len, filter}: x0 < 2^16, so zero padding
  0xd2800020, // c8: mov x0, #0x1               SECCOMP_SET_MODE_FILTER
  0xd2800001, // cc: mov x1, #0x0               seccomp flags (patched)
  0x910003e2, // d0: mov x2, sp
  0xd28022a8, // d4: mov x8, #0x115             SYS_seccomp
  0xd4000001, // d8: svc #0x0
  0xb6f80060, // dc: tbz x0, #63, 0xe8          0 (or a NEW_LISTENER fd): loaded
  0x12800055, // e0: mov w21, #0xfffffffd       SECCOMP_FAILED_MARKER
  0x14000008, // e4: b 0x104
  0xf9400660, // e8: ldr x0, [x19, #8]
  0x91004261, // ec: add x1, x19, #0x10
  0xf9400262, // f0: ldr x2, [x19]
  0x8b020e62, // f4: add x2, x19, x2, lsl #3
  0x91004042, // f8: add x2, x2, #0x10
  0xd2801ba8, // fc: mov x8, #0xdd              SYS_execve
  0xd4000001, // 100: svc #0x0
  0x4b0003e0, // 104: neg w0, w0
  0xd10043ff, // 108: sub sp, sp, #0x10
  0xb90003f5, // 10c: str w21, [sp]             marker, then errno
  0xb90007e0, // 110: str w0, [sp, #4]
  0xd2800000, // 114: mov x0, #0x0              report fd (patched)
  0x910003e1, // 118: mov x1, sp
  0xd2800102, // 11c: mov x2, #0x8
  0xd2800808, // 120: mov x8, #0x40             SYS_write
  0xd4000001, // 124: svc #0x0
  0xd2800fe0, // 128: mov x0, #0x7f
  0xd2800bc8, // 12c: mov x8, #0x5e             SYS_exit_group
  0xd4000001, // 130: svc #0x0
  0x91020000, // 134: add x0, x0, #0x80         exit code 128 + signal
  0xd2800bc8, // 138: mov x8, #0x5e             SYS_exit_group
  0xd4000001, // 13c: svc #0x0
];

/** Offsets of the patched rows. */
interface Patches {
  listenFd: readonly number[];
  reportFd: readonly number[];
  /** The filter's length in instructions. */
  filterLength: number;
  /** The seccomp flags. */
  filterFlags: number;
}

const PATCHES: Record<string, Patches> = {
  x86_64: { listenFd: [0x58, 0x91], reportFd: [0xa7, 0x116], filterLength: 0xbd, filterFlags: 0xd4 },
  aarch64: { listenFd: [0x54, 0x90], reportFd: [0xa4, 0x114], filterLength: 0xb8, filterFlags: 0xcc },
};

const ELF_MACHINE: Record<string, number> = { x86_64: 0x3e, aarch64: 0xb7 };
const LOAD_ADDRESS = 0x400000n;
const HEADERS = 64 + 56; // ELF header + one program header (a multiple of 8)

function checkFilter(filter: WaiterFilter): number {
  const { program, flags } = filter;
  const length = program.length / 8;
  if (!Number.isInteger(length) || length < 1 || length > MAX_FILTER_INSTRUCTIONS) {
    throw new Error(
      `start waiter: a seccomp filter of ${program.length} bytes: 8 an instruction, 1 to ${MAX_FILTER_INSTRUCTIONS}`,
    );
  }
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff) {
    throw new Error(`start waiter: bad seccomp flags ${flags}`);
  }
  return length;
}

/** Where the filter starts, counted from the code's start: the code's length rounded up to 8. */
function filterOffset(codeLength: number): number {
  return (codeLength + 7) & ~7;
}

/**
 * The waiter's machine code for an architecture, with the two fds and the filter's length
 * (in instructions; 0 without a filter) and flags patched in. The filter itself is not in
 * the code: waiterElf places it.
 */
export function waiterCode(
  arch: string,
  listenFd: number,
  reportFd: number,
  filter?: WaiterFilter,
): Uint8Array<ArrayBuffer> {
  const patches = PATCHES[arch];
  if (!patches) throw new Error(`no start waiter for ${arch}`);
  if (!Number.isInteger(listenFd) || !Number.isInteger(reportFd) || listenFd < 0 || reportFd < 0) {
    throw new Error(`start waiter: bad fds ${listenFd}, ${reportFd}`);
  }
  const length = filter ? checkFilter(filter) : 0;
  const values: [number, number][] = [
    ...patches.listenFd.map((at) => [at, listenFd] as [number, number]),
    ...patches.reportFd.map((at) => [at, reportFd] as [number, number]),
    [patches.filterLength, length],
    [patches.filterFlags, filter?.flags ?? 0],
  ];
  if (arch === "x86_64") {
    const code = new Uint8Array(X86_64_WAITER.flat());
    const view = new DataView(code.buffer);
    for (const [at, value] of values) view.setUint32(at + 1, value, true);
    return code;
  }
  if (listenFd > 0xffff || reportFd > 0xffff) throw new Error(`start waiter: fd above 65535`);
  const words = new Uint32Array(AARCH64_WAITER);
  for (const [at, value] of values) words[at / 4] = (words[at / 4] | (value << 5)) >>> 0;
  return new Uint8Array(words.buffer);
}

/**
 * A complete static ELF executable: one read+exec segment (headers, code, then the filter at
 * an 8-byte boundary), entry at the code's start.
 */
export function waiterElf(
  arch: string,
  listenFd: number,
  reportFd: number,
  filter?: WaiterFilter,
): Uint8Array<ArrayBuffer> {
  const code = waiterCode(arch, listenFd, reportFd, filter);
  const at = HEADERS + filterOffset(code.length);
  const elf = new Uint8Array(filter ? at + filter.program.length : HEADERS + code.length);
  const v = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // \x7fELF, 64-bit, little-endian, version 1
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, ELF_MACHINE[arch], true);
  v.setUint32(20, 1, true); // EV_CURRENT
  v.setBigUint64(24, LOAD_ADDRESS + BigInt(HEADERS), true); // e_entry
  v.setBigUint64(32, 64n, true); // e_phoff
  v.setUint16(52, 64, true); // e_ehsize
  v.setUint16(54, 56, true); // e_phentsize
  v.setUint16(56, 1, true); // e_phnum
  const ph = 64;
  v.setUint32(ph, 1, true); // PT_LOAD
  v.setUint32(ph + 4, 5, true); // PF_R | PF_X
  v.setBigUint64(ph + 16, LOAD_ADDRESS, true); // p_vaddr (p_offset 0: the headers load too)
  v.setBigUint64(ph + 24, LOAD_ADDRESS, true); // p_paddr
  v.setBigUint64(ph + 32, BigInt(elf.length), true); // p_filesz
  v.setBigUint64(ph + 40, BigInt(elf.length), true); // p_memsz
  v.setBigUint64(ph + 48, 0x1000n, true); // p_align
  elf.set(code, HEADERS);
  if (filter) elf.set(filter.program, at);
  return elf;
}

/** The waiter for the machine druntime runs on. */
export function hostWaiterElf(
  listenFd: number,
  reportFd: number,
  filter?: WaiterFilter,
): Uint8Array<ArrayBuffer> {
  return waiterElf(Deno.build.arch, listenFd, reportFd, filter);
}
