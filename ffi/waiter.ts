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
 *   execve(argv[0], argv + 1, envp)             become the container's process
 *
 * A failing accept or execve writes {0xfffffffe: u32, errno: u32} to reportFd (the init
 * socket, which `run` still reads) and exits 127. Handlers reset on execve, so the process
 * starts with default dispositions. While the container waits, /proc/PID/exe is the memfd,
 * never a host binary.
 *
 * The fd numbers are patched into the code: the rows marked "(patched)" are `mov edi,imm32`
 * (x86_64) and `movz x0,#imm16` (aarch64).
 */
/** What the waiter writes on the report fd where a frame's length would be. */
export const EXEC_FAILED_MARKER = 0xfffffffe;

/** x86_64, one instruction a row with its assembly (Intel syntax). */
export const X86_64_WAITER: readonly (readonly number[])[] = [
  [0x49, 0x89, 0xe4], // 00: mov r12,rsp
  [0x48, 0x8d, 0x05, 0xf5, 0x00, 0x00, 0x00], // 03: lea rax,[rip+0xf5]
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
  [0xbf, 0x00, 0x00, 0x00, 0x00], // 53: mov edi,0x0                        listen fd (patched)
  [0x31, 0xf6], // 58: xor esi,esi
  [0x31, 0xd2], // 5a: xor edx,edx
  [0x41, 0xba, 0x00, 0x00, 0x08, 0x00], // 5c: mov r10d,0x80000             SOCK_CLOEXEC
  [0xb8, 0x20, 0x01, 0x00, 0x00], // 62: mov eax,0x120                      SYS_accept4
  [0x0f, 0x05], // 67: syscall
  [0x48, 0x83, 0xf8, 0xfc], // 69: cmp rax,0xfffffffffffffffc               -EINTR
  [0x74, 0xe4], // 6d: je 0x53
  [0x48, 0x85, 0xc0], // 6f: test rax,rax
  [0x78, 0x5a], // 72: js 0xce
  [0x48, 0x89, 0xc7], // 74: mov rdi,rax
  [0x6a, 0x00], // 77: push 0x0
  [0x48, 0x89, 0xe6], // 79: mov rsi,rsp
  [0xba, 0x01, 0x00, 0x00, 0x00], // 7c: mov edx,0x1
  [0xb8, 0x01, 0x00, 0x00, 0x00], // 81: mov eax,0x1                        SYS_write
  [0x0f, 0x05], // 86: syscall
  [0xbf, 0x00, 0x00, 0x00, 0x00], // 88: mov edi,0x0                        listen fd (patched)
  [0xbe, 0x02, 0x00, 0x00, 0x00], // 8d: mov esi,0x2
  [0xba, 0x01, 0x00, 0x00, 0x00], // 92: mov edx,0x1
  [0xb8, 0x48, 0x00, 0x00, 0x00], // 97: mov eax,0x48                       SYS_fcntl F_SETFD FD_CLOEXEC
  [0x0f, 0x05], // 9c: syscall
  [0xbf, 0x00, 0x00, 0x00, 0x00], // 9e: mov edi,0x0                        report fd (patched)
  [0xbe, 0x02, 0x00, 0x00, 0x00], // a3: mov esi,0x2
  [0xba, 0x01, 0x00, 0x00, 0x00], // a8: mov edx,0x1
  [0xb8, 0x48, 0x00, 0x00, 0x00], // ad: mov eax,0x48                       SYS_fcntl F_SETFD FD_CLOEXEC
  [0x0f, 0x05], // b2: syscall
  [0x49, 0x8b, 0x7c, 0x24, 0x08], // b4: mov rdi,QWORD PTR [r12+0x8]
  [0x49, 0x8d, 0x74, 0x24, 0x10], // b9: lea rsi,[r12+0x10]
  [0x49, 0x8b, 0x04, 0x24], // be: mov rax,QWORD PTR [r12]
  [0x49, 0x8d, 0x54, 0xc4, 0x10], // c2: lea rdx,[r12+rax*8+0x10]
  [0xb8, 0x3b, 0x00, 0x00, 0x00], // c7: mov eax,0x3b                       SYS_execve
  [0x0f, 0x05], // cc: syscall
  [0xf7, 0xd8], // ce: neg eax
  [0x48, 0x83, 0xec, 0x10], // d0: sub rsp,0x10
  [0xc7, 0x04, 0x24, 0xfe, 0xff, 0xff, 0xff], // d4: mov DWORD PTR [rsp],0xfffffffe  exec failed: marker, then errno
  [0x89, 0x44, 0x24, 0x04], // db: mov DWORD PTR [rsp+0x4],eax
  [0xbf, 0x00, 0x00, 0x00, 0x00], // df: mov edi,0x0                        report fd (patched)
  [0x48, 0x89, 0xe6], // e4: mov rsi,rsp
  [0xba, 0x08, 0x00, 0x00, 0x00], // e7: mov edx,0x8
  [0xb8, 0x01, 0x00, 0x00, 0x00], // ec: mov eax,0x1                        SYS_write
  [0x0f, 0x05], // f1: syscall
  [0xbf, 0x7f, 0x00, 0x00, 0x00], // f3: mov edi,0x7f
  [0xb8, 0xe7, 0x00, 0x00, 0x00], // f8: mov eax,0xe7                       SYS_exit_group
  [0x0f, 0x05], // fd: syscall
  [0x81, 0xc7, 0x80, 0x00, 0x00, 0x00], // ff: add edi,0x80                 exit code 128 + signal
  [0xb8, 0xe7, 0x00, 0x00, 0x00], // 105: mov eax,0xe7                      SYS_exit_group
  [0x0f, 0x05], // 10a: syscall
];

/** aarch64, one little-endian instruction word a row with its assembly. */
export const AARCH64_WAITER: readonly number[] = [
  0x910003f3, // 00: mov x19, sp
  0x10000800, // 04: adr x0, 0x104
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
  0xd2800000, // 50: mov x0, #0x0               listen fd (patched)
  0xd2800001, // 54: mov x1, #0x0
  0xd2800002, // 58: mov x2, #0x0
  0xd2a00103, // 5c: mov x3, #0x80000           SOCK_CLOEXEC
  0xd2801e48, // 60: mov x8, #0xf2              SYS_accept4
  0xd4000001, // 64: svc #0x0
  0xb100101f, // 68: cmn x0, #0x4               -EINTR
  0x54ffff20, // 6c: b.eq 0x50
  0xb7f80300, // 70: tbnz x0, #63, 0xd0
  0xd10043ff, // 74: sub sp, sp, #0x10
  0xf90003ff, // 78: str xzr, [sp]
  0x910003e1, // 7c: mov x1, sp
  0xd2800022, // 80: mov x2, #0x1
  0xd2800808, // 84: mov x8, #0x40              SYS_write
  0xd4000001, // 88: svc #0x0
  0xd2800000, // 8c: mov x0, #0x0               listen fd (patched)
  0xd2800041, // 90: mov x1, #0x2
  0xd2800022, // 94: mov x2, #0x1
  0xd2800328, // 98: mov x8, #0x19              SYS_fcntl F_SETFD FD_CLOEXEC
  0xd4000001, // 9c: svc #0x0
  0xd2800000, // a0: mov x0, #0x0               report fd (patched)
  0xd2800041, // a4: mov x1, #0x2
  0xd2800022, // a8: mov x2, #0x1
  0xd2800328, // ac: mov x8, #0x19              SYS_fcntl F_SETFD FD_CLOEXEC
  0xd4000001, // b0: svc #0x0
  0xf9400660, // b4: ldr x0, [x19, #8]
  0x91004261, // b8: add x1, x19, #0x10
  0xf9400262, // bc: ldr x2, [x19]
  0x8b020e62, // c0: add x2, x19, x2, lsl #3
  0x91004042, // c4: add x2, x2, #0x10
  0xd2801ba8, // c8: mov x8, #0xdd              SYS_execve
  0xd4000001, // cc: svc #0x0
  0x4b0003e0, // d0: neg w0, w0
  0xd10043ff, // d4: sub sp, sp, #0x10
  0x12800021, // d8: mov w1, #0xfffffffe        exec failed: marker, then errno
  0xb90003e1, // dc: str w1, [sp]
  0xb90007e0, // e0: str w0, [sp, #4]
  0xd2800000, // e4: mov x0, #0x0               report fd (patched)
  0x910003e1, // e8: mov x1, sp
  0xd2800102, // ec: mov x2, #0x8
  0xd2800808, // f0: mov x8, #0x40              SYS_write
  0xd4000001, // f4: svc #0x0
  0xd2800fe0, // f8: mov x0, #0x7f
  0xd2800bc8, // fc: mov x8, #0x5e              SYS_exit_group
  0xd4000001, // 100: svc #0x0
  0x91020000, // 104: add x0, x0, #0x80         exit code 128 + signal
  0xd2800bc8, // 108: mov x8, #0x5e             SYS_exit_group
  0xd4000001, // 10c: svc #0x0
];

/** Offsets of the patched rows: listen fd, listen fd, report fd, report fd. */
const PATCHES: Record<string, readonly number[]> = {
  x86_64: [0x53, 0x88, 0x9e, 0xdf],
  aarch64: [0x50, 0x8c, 0xa0, 0xe4],
};

const ELF_MACHINE: Record<string, number> = { x86_64: 0x3e, aarch64: 0xb7 };
const LOAD_ADDRESS = 0x400000n;
const HEADERS = 64 + 56; // ELF header + one program header

/** The waiter's machine code for an architecture, with the two fds patched in. */
export function waiterCode(arch: string, listenFd: number, reportFd: number): Uint8Array<ArrayBuffer> {
  const patches = PATCHES[arch];
  if (!patches) throw new Error(`no start waiter for ${arch}`);
  if (!Number.isInteger(listenFd) || !Number.isInteger(reportFd) || listenFd < 0 || reportFd < 0) {
    throw new Error(`start waiter: bad fds ${listenFd}, ${reportFd}`);
  }
  const fds = [listenFd, listenFd, reportFd, reportFd];
  if (arch === "x86_64") {
    const code = new Uint8Array(X86_64_WAITER.flat());
    const view = new DataView(code.buffer);
    patches.forEach((at, i) => view.setUint32(at + 1, fds[i], true));
    return code;
  }
  if (fds.some((fd) => fd > 0xffff)) throw new Error(`start waiter: fd above 65535`);
  const words = new Uint32Array(AARCH64_WAITER);
  patches.forEach((at, i) => words[at / 4] = (words[at / 4] | (fds[i] << 5)) >>> 0);
  return new Uint8Array(words.buffer);
}

/** A complete static ELF executable: one read+exec segment, entry at the code's start. */
export function waiterElf(arch: string, listenFd: number, reportFd: number): Uint8Array<ArrayBuffer> {
  const code = waiterCode(arch, listenFd, reportFd);
  const elf = new Uint8Array(HEADERS + code.length);
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
  return elf;
}

/** The waiter for the machine druntime runs on. */
export function hostWaiterElf(listenFd: number, reportFd: number): Uint8Array<ArrayBuffer> {
  return waiterElf(Deno.build.arch, listenFd, reportFd);
}
