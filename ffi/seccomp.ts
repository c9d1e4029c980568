/**
 * libseccomp through Deno.dlopen, opened on first use: only a container with linux.seccomp
 * needs it, so druntime starts (and runs every other container) on a host without it.
 *
 * druntime uses libseccomp as a compiler only: it builds a filter context, exports the
 * classic-BPF program (an array of struct sock_filter) and releases the context. The init
 * loads the program itself with seccomp(2) right before execve; nothing here loads a filter.
 *
 * libseccomp returns negative errno values (-EINVAL) rather than setting errno; the wrappers
 * below turn them into SyscallErrors naming the call, its arguments and errno by name.
 */
import { DruntimeError } from "../runtime/errors.ts";
import { SyscallError } from "./errno.ts";
import { check, cstr, libc } from "./libc.ts";
import { MFD_CLOEXEC } from "./constants.ts";

// Actions (seccomp.h). The low 16 bits of ERRNO and TRACE carry the errno or the tracer's data.
export const SCMP_ACT_KILL_PROCESS = 0x80000000;
export const SCMP_ACT_KILL_THREAD = 0x00000000;
export const SCMP_ACT_KILL = SCMP_ACT_KILL_THREAD;
export const SCMP_ACT_TRAP = 0x00030000;
export const SCMP_ACT_NOTIFY = 0x7fc00000;
export const SCMP_ACT_LOG = 0x7ffc0000;
export const SCMP_ACT_ALLOW = 0x7fff0000;

/** SCMP_ACT_ERRNO(x): fail the call with errno x (16 bits; the kernel caps it at 4095). */
export function SCMP_ACT_ERRNO(x: number): number {
  return (0x00050000 | (x & 0xffff)) >>> 0;
}

/** SCMP_ACT_TRACE(x): hand the call to a ptrace tracer with x as the event message. */
export function SCMP_ACT_TRACE(x: number): number {
  return (0x7ff00000 | (x & 0xffff)) >>> 0;
}

// enum scmp_compare
export const SCMP_CMP_NE = 1;
export const SCMP_CMP_LT = 2;
export const SCMP_CMP_LE = 3;
export const SCMP_CMP_EQ = 4;
export const SCMP_CMP_GE = 5;
export const SCMP_CMP_GT = 6;
export const SCMP_CMP_MASKED_EQ = 7;

// enum scmp_filter_attr
export const SCMP_FLTATR_ACT_DEFAULT = 1;
export const SCMP_FLTATR_ACT_BADARCH = 2;
export const SCMP_FLTATR_CTL_NNP = 3;
export const SCMP_FLTATR_CTL_TSYNC = 4;
export const SCMP_FLTATR_API_TSKIP = 5;
export const SCMP_FLTATR_CTL_LOG = 6;
export const SCMP_FLTATR_CTL_SSB = 7;
export const SCMP_FLTATR_CTL_OPTIMIZE = 8;
export const SCMP_FLTATR_API_SYSRAWRC = 9;

/** What seccomp_syscall_resolve_name returns for a name it does not know (__NR_SCMP_ERROR). */
export const NR_SCMP_ERROR = -1;

/** The 6 syscall arguments a rule may compare. */
export const SCMP_ARG_MAX = 6;

/** sizeof(struct scmp_arg_cmp): u32 arg, u32 op, u64 datum_a, u64 datum_b. */
export const SCMP_ARG_CMP_SIZE = 24;

/** sizeof(struct sock_filter): u16 code, u8 jt, u8 jf, u32 k. */
export const SOCK_FILTER_SIZE = 8;

const SYMBOLS = {
  seccomp_version: { parameters: [], result: "pointer" },
  seccomp_api_get: { parameters: [], result: "u32" },
  seccomp_init: { parameters: ["u32"], result: "pointer" },
  seccomp_release: { parameters: ["pointer"], result: "void" },
  seccomp_arch_add: { parameters: ["pointer", "u32"], result: "i32" },
  seccomp_arch_remove: { parameters: ["pointer", "u32"], result: "i32" },
  seccomp_arch_exist: { parameters: ["pointer", "u32"], result: "i32" },
  seccomp_arch_native: { parameters: [], result: "u32" },
  seccomp_arch_resolve_name: { parameters: ["buffer"], result: "u32" },
  seccomp_syscall_resolve_name: { parameters: ["buffer"], result: "i32" },
  seccomp_syscall_resolve_name_arch: { parameters: ["u32", "buffer"], result: "i32" },
  seccomp_rule_add_array: { parameters: ["pointer", "u32", "i32", "u32", "buffer"], result: "i32" },
  seccomp_attr_set: { parameters: ["pointer", "u32", "u32"], result: "i32" },
  seccomp_export_bpf: { parameters: ["pointer", "i32"], result: "i32" },
} as const;

type Libseccomp = Deno.DynamicLibrary<typeof SYMBOLS>;

const LIBRARY = "libseccomp.so.2";

let opened: Libseccomp | null = null;

/** The library's symbols, opening it on first use; a DruntimeError if it is not installed. */
export function libseccomp(): Libseccomp["symbols"] {
  if (opened === null) {
    try {
      opened = Deno.dlopen(LIBRARY, SYMBOLS);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new DruntimeError(
        `${LIBRARY} is needed for linux.seccomp and could not be loaded (${why}); install libseccomp ` +
          `(Debian, Ubuntu: apt-get install libseccomp2; Fedora: dnf install libseccomp; ` +
          `Alpine: apk add libseccomp)`,
      );
    }
  }
  return opened.symbols;
}

/** Whether libseccomp can be opened here (for tests and `druntime features`). */
export function haveLibseccomp(): boolean {
  try {
    libseccomp();
    return true;
  } catch {
    return false;
  }
}

/** The version of the libseccomp that was loaded. */
export function libseccompVersion(): { major: number; minor: number; micro: number } {
  const p = libseccomp().seccomp_version();
  if (p === null) return { major: 0, minor: 0, micro: 0 };
  const v = new Deno.UnsafePointerView(p);
  return { major: v.getUint32(0), minor: v.getUint32(4), micro: v.getUint32(8) };
}

/** Throws a SyscallError when a libseccomp call returned a negative errno; returns it otherwise. */
function checkRc(call: string, args: readonly (string | number)[], rc: number): number {
  if (rc < 0) throw new SyscallError(call, args, -rc);
  return rc;
}

/** One comparison of a rule: argument `arg` compared with `op` against a (and b for MASKED_EQ). */
export interface ScmpArgCmp {
  arg: number;
  op: number;
  /** datum_a: the value, or the mask for SCMP_CMP_MASKED_EQ. */
  a: bigint;
  /** datum_b: the value the masked argument must equal for SCMP_CMP_MASKED_EQ; else unused. */
  b: bigint;
}

/** The struct scmp_arg_cmp array for seccomp_rule_add_array. */
export function packArgCmps(cmps: readonly ScmpArgCmp[]): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(Math.max(1, cmps.length) * SCMP_ARG_CMP_SIZE);
  const view = new DataView(buf.buffer);
  cmps.forEach((c, i) => {
    const off = i * SCMP_ARG_CMP_SIZE;
    view.setUint32(off, c.arg, true);
    view.setUint32(off + 4, c.op, true);
    view.setBigUint64(off + 8, BigInt.asUintN(64, c.a), true);
    view.setBigUint64(off + 16, BigInt.asUintN(64, c.b), true);
  });
  return buf;
}

/** The architecture token of the machine (SCMP_ARCH_X86_64 on x86_64). */
export function archNative(): number {
  return libseccomp().seccomp_arch_native();
}

/** The token of a libseccomp architecture name ("x86_64", "aarch64"), or null if unknown. */
export function archResolveName(name: string): number | null {
  const token = libseccomp().seccomp_arch_resolve_name(cstr(name));
  return token === 0 ? null : token;
}

/**
 * The syscall number of `name` for the native architecture, as seccomp_rule_add takes it: a
 * negative pseudo-number (__PNR_*) for a syscall that exists only on other architectures;
 * NR_SCMP_ERROR if libseccomp does not know the name at all.
 */
export function syscallResolveName(name: string): number {
  return libseccomp().seccomp_syscall_resolve_name(cstr(name));
}

/** The syscall number of `name` on the architecture `arch`: negative if it has none there. */
export function syscallResolveNameArch(arch: number, name: string): number {
  return libseccomp().seccomp_syscall_resolve_name_arch(arch, cstr(name));
}

/**
 * A libseccomp filter context. Use it in a try/finally that calls release(): the context is
 * native memory the garbage collector does not see.
 */
export class SeccompFilter {
  #ctx: Deno.PointerValue;

  constructor(defaultAction: number) {
    const ctx = libseccomp().seccomp_init(defaultAction >>> 0);
    if (ctx === null) {
      throw new DruntimeError(
        `seccomp_init(${hexAction(defaultAction)}): libseccomp refused the default action`,
      );
    }
    this.#ctx = ctx;
  }

  #live(): Deno.PointerObject {
    if (this.#ctx === null) throw new Error("seccomp filter context used after release()");
    return this.#ctx;
  }

  /** Adds an architecture; one already in the filter (the native one) is not an error. */
  archAdd(token: number, name = hexAction(token)): void {
    const rc = libseccomp().seccomp_arch_add(this.#live(), token);
    if (rc === -17 /* EEXIST */) return;
    checkRc("seccomp_arch_add", [name], rc);
  }

  archRemove(token: number, name = hexAction(token)): void {
    checkRc("seccomp_arch_remove", [name], libseccomp().seccomp_arch_remove(this.#live(), token));
  }

  /** Whether the architecture is in the filter. */
  archExists(token: number): boolean {
    return libseccomp().seccomp_arch_exist(this.#live(), token) === 0;
  }

  /** seccomp_attr_set; `attrName` names the attribute in errors. */
  attrSet(attr: number, value: number, attrName = String(attr)): void {
    checkRc("seccomp_attr_set", [attrName, value], this.tryAttrSet(attr, value));
  }

  /** seccomp_attr_set that reports failure as the negative errno (for optional attributes). */
  tryAttrSet(attr: number, value: number): number {
    return libseccomp().seccomp_attr_set(this.#live(), attr, value >>> 0);
  }

  /**
   * seccomp_rule_add_array: `action` when syscall `nr` is made and every comparison holds.
   * `name` names the syscall in errors.
   */
  ruleAdd(action: number, nr: number, cmps: readonly ScmpArgCmp[], name = String(nr)): void {
    const rc = libseccomp().seccomp_rule_add_array(
      this.#live(),
      action >>> 0,
      nr,
      cmps.length,
      packArgCmps(cmps),
    );
    checkRc("seccomp_rule_add_array", [name, hexAction(action), ...cmps.map(describeCmp)], rc);
  }

  /** The classic-BPF program (struct sock_filter[]) libseccomp generates for this filter. */
  exportBpf(): Uint8Array<ArrayBuffer> {
    // libseccomp 2.5 exports only to a file descriptor (seccomp_export_bpf_mem came in 2.6):
    // a memfd takes a program of any size without a reader on the other end.
    const fd = check(
      "memfd_create",
      ["druntime-seccomp"],
      libc.memfd_create(cstr("druntime-seccomp"), MFD_CLOEXEC),
    );
    try {
      checkRc("seccomp_export_bpf", [fd], libseccomp().seccomp_export_bpf(this.#live(), fd));
      // A fresh open of the memfd starts at offset 0 whatever the write offset is.
      const bytes = Deno.readFileSync(`/proc/self/fd/${fd}`);
      return new Uint8Array(bytes);
    } finally {
      libc.close(fd);
    }
  }

  /** Frees the context; safe to call twice. */
  release(): void {
    if (this.#ctx === null) return;
    libseccomp().seccomp_release(this.#ctx);
    this.#ctx = null;
  }
}

function hexAction(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

const CMP_NAMES: Record<number, string> = {
  [SCMP_CMP_NE]: "NE",
  [SCMP_CMP_LT]: "LT",
  [SCMP_CMP_LE]: "LE",
  [SCMP_CMP_EQ]: "EQ",
  [SCMP_CMP_GE]: "GE",
  [SCMP_CMP_GT]: "GT",
  [SCMP_CMP_MASKED_EQ]: "MASKED_EQ",
};

function describeCmp(c: ScmpArgCmp): string {
  const op = CMP_NAMES[c.op] ?? `op ${c.op}`;
  return c.op === SCMP_CMP_MASKED_EQ
    ? `arg${c.arg} & 0x${c.a.toString(16)} == 0x${c.b.toString(16)}`
    : `arg${c.arg} ${op} 0x${c.a.toString(16)}`;
}
