/**
 * linux.seccomp: validation (pure) and compilation with libseccomp to the classic-BPF program
 * the init loads with seccomp(2) right before execve.
 *
 * Semantics follow runc (libcontainer/seccomp) and crun:
 *  - the native architecture is always in the filter; `architectures` adds more;
 *  - a syscall name libseccomp knows on none of the filter's architectures is skipped (runc
 *    skips silently; compileSeccomp returns the names so druntime can warn);
 *  - a rule whose action equals the default action is skipped (libseccomp refuses it);
 *  - a rule whose comparisons name one argument twice becomes one rule per comparison (any
 *    of them matches: OR), otherwise one rule with every comparison (all must hold: AND);
 *  - SCMP_ACT_ERRNO and SCMP_ACT_TRACE take errnoRet (default EPERM); other actions refuse it,
 *    as the runtime spec asks;
 *  - libseccomp must not set no_new_privs itself (SCMP_FLTATR_CTL_NNP = 0): the init does what
 *    process.noNewPrivileges says.
 */
import {
  archNative,
  archResolveName,
  NR_SCMP_ERROR,
  SCMP_ACT_ALLOW,
  SCMP_ACT_ERRNO,
  SCMP_ACT_KILL,
  SCMP_ACT_KILL_PROCESS,
  SCMP_ACT_KILL_THREAD,
  SCMP_ACT_LOG,
  SCMP_ACT_TRACE,
  SCMP_ACT_TRAP,
  SCMP_ARG_MAX,
  SCMP_CMP_EQ,
  SCMP_CMP_GE,
  SCMP_CMP_GT,
  SCMP_CMP_LE,
  SCMP_CMP_LT,
  SCMP_CMP_MASKED_EQ,
  SCMP_CMP_NE,
  SCMP_FLTATR_API_SYSRAWRC,
  SCMP_FLTATR_CTL_NNP,
  type ScmpArgCmp,
  SeccompFilter,
  SOCK_FILTER_SIZE,
  syscallResolveName,
  syscallResolveNameArch,
} from "../../ffi/seccomp.ts";
import { SyscallError } from "../../ffi/errno.ts";
import { ConfigError, type ConfigProblem, DruntimeError } from "../errors.ts";

// ---------------------------------------------------------------------------------------------
// The OCI shape (runtime-spec config-linux.md, "Seccomp")
// ---------------------------------------------------------------------------------------------

export const SECCOMP_ACTIONS = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
] as const;
export type SeccompAction = typeof SECCOMP_ACTIONS[number];

export const SECCOMP_OPERATORS = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
] as const;
export type SeccompOperator = typeof SECCOMP_OPERATORS[number];

export const SECCOMP_ARCHES = [
  "SCMP_ARCH_X86",
  "SCMP_ARCH_X86_64",
  "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64",
] as const;
export type SeccompArch = typeof SECCOMP_ARCHES[number];

/** seccomp(2) SECCOMP_SET_MODE_FILTER flags, by their OCI (and kernel) names. */
export const SECCOMP_FILTER_FLAGS = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
} as const;
export type SeccompFlag = keyof typeof SECCOMP_FILTER_FLAGS;

export interface LinuxSeccompArg {
  /** Which syscall argument, 0 to 5. */
  index: number;
  /** The value compared with; for SCMP_CMP_MASKED_EQ, the mask. */
  value: number | bigint;
  /** For SCMP_CMP_MASKED_EQ, what the masked argument must equal; unused by other operators. */
  valueTwo?: number | bigint;
  op: SeccompOperator;
}

export interface LinuxSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: SeccompArch[];
  flags?: SeccompFlag[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

/** What compileSeccomp hands the init. */
export interface CompiledSeccomp {
  /** The classic-BPF program: struct sock_filter[] (8 bytes each), for struct sock_fprog. */
  filter: Uint8Array<ArrayBuffer>;
  /** The flags argument of seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog). */
  flags: number;
  /** Syscall names no architecture of the filter has (skipped, as runc does): warn about them. */
  skipped: string[];
}

const EPERM = 1;

/** The errno field of SCMP_ACT_ERRNO/SCMP_ACT_TRACE is 16 bits (SECCOMP_RET_DATA). */
const ERRNO_RET_MAX = 0xffff;

const U64_MAX = (1n << 64n) - 1n;

/** The most instructions seccomp(2) takes in one filter (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

const OPERATOR_VALUES: Record<SeccompOperator, number> = {
  SCMP_CMP_NE: SCMP_CMP_NE,
  SCMP_CMP_LT: SCMP_CMP_LT,
  SCMP_CMP_LE: SCMP_CMP_LE,
  SCMP_CMP_EQ: SCMP_CMP_EQ,
  SCMP_CMP_GE: SCMP_CMP_GE,
  SCMP_CMP_GT: SCMP_CMP_GT,
  SCMP_CMP_MASKED_EQ: SCMP_CMP_MASKED_EQ,
};

/** libseccomp's name for an OCI architecture ("SCMP_ARCH_X86_64" -> "x86_64"). */
export function libseccompArchName(arch: SeccompArch): string {
  return arch.slice("SCMP_ARCH_".length).toLowerCase();
}

function takesErrno(action: SeccompAction): boolean {
  return action === "SCMP_ACT_ERRNO" || action === "SCMP_ACT_TRACE";
}

/** The libseccomp action value of an OCI action (SCMP_ACT_NOTIFY is refused before this). */
export function actionValue(action: SeccompAction, errnoRet?: number): number {
  switch (action) {
    case "SCMP_ACT_KILL":
      return SCMP_ACT_KILL;
    case "SCMP_ACT_KILL_THREAD":
      return SCMP_ACT_KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SCMP_ACT_KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return SCMP_ACT_TRAP;
    case "SCMP_ACT_ERRNO":
      return SCMP_ACT_ERRNO(errnoRet ?? EPERM);
    case "SCMP_ACT_TRACE":
      return SCMP_ACT_TRACE(errnoRet ?? EPERM);
    case "SCMP_ACT_ALLOW":
      return SCMP_ACT_ALLOW;
    case "SCMP_ACT_LOG":
      return SCMP_ACT_LOG;
    case "SCMP_ACT_NOTIFY":
      throw notifyUnsupported();
  }
}

function notifyUnsupported(): DruntimeError {
  return new DruntimeError("linux.seccomp: SCMP_ACT_NOTIFY is not supported yet");
}

// ---------------------------------------------------------------------------------------------
// Validation (pure: no libseccomp)
// ---------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function oneOf(list: readonly string[]): string {
  return `must be one of ${list.join(", ")}`;
}

/**
 * Every problem in a linux.seccomp object, each at its JSON path under `at`. Pure: usable
 * before anything is created, on a host without libseccomp.
 */
export function validateSeccomp(config: unknown, at = "linux.seccomp"): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (path: string, reason: string) => problems.push({ path, reason });
  if (!isObject(config)) {
    problem(at, "must be an object");
    return problems;
  }

  const checkAction = (path: string, action: unknown, isDefault: boolean): SeccompAction | null => {
    if (action === undefined) {
      problem(path, "is required");
      return null;
    }
    if (typeof action !== "string" || !(SECCOMP_ACTIONS as readonly string[]).includes(action)) {
      problem(path, `${JSON.stringify(action)} is not a seccomp action: ${oneOf(SECCOMP_ACTIONS)}`);
      return null;
    }
    if (action === "SCMP_ACT_NOTIFY") {
      problem(
        path,
        isDefault ? "SCMP_ACT_NOTIFY cannot be the default action" : "SCMP_ACT_NOTIFY is not supported yet",
      );
    }
    return action as SeccompAction;
  };

  const checkErrnoRet = (path: string, value: unknown, action: SeccompAction | null) => {
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > ERRNO_RET_MAX) {
      problem(path, `must be an integer from 0 to ${ERRNO_RET_MAX}`);
    } else if (action !== null && !takesErrno(action)) {
      problem(path, `is only used with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not ${action}`);
    }
  };

  const checkU64 = (path: string, value: unknown, required: boolean) => {
    if (value === undefined) {
      if (required) problem(path, "is required");
      return;
    }
    if (typeof value === "bigint") {
      if (value < 0n || value > U64_MAX) problem(path, "must be an integer from 0 to 2^64-1");
      return;
    }
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      problem(path, "must be an integer from 0 to 2^64-1");
    } else if (!Number.isSafeInteger(value)) {
      problem(path, `${value} is above 2^53-1, which a JSON number does not hold exactly`);
    }
  };

  const defaultAction = checkAction(`${at}.defaultAction`, config.defaultAction, true);
  checkErrnoRet(`${at}.defaultErrnoRet`, config.defaultErrnoRet, defaultAction);

  const { architectures, flags, syscalls } = config;
  if (architectures !== undefined) {
    if (!Array.isArray(architectures)) problem(`${at}.architectures`, "must be an array");
    else {
      architectures.forEach((a, i) => {
        if (typeof a !== "string" || !(SECCOMP_ARCHES as readonly string[]).includes(a)) {
          problem(
            `${at}.architectures[${i}]`,
            `${JSON.stringify(a)} is not a seccomp architecture: ${oneOf(SECCOMP_ARCHES)}`,
          );
        }
      });
    }
  }

  if (flags !== undefined) {
    if (!Array.isArray(flags)) problem(`${at}.flags`, "must be an array");
    else {
      flags.forEach((f, i) => {
        if (typeof f !== "string" || !Object.hasOwn(SECCOMP_FILTER_FLAGS, f)) {
          problem(
            `${at}.flags[${i}]`,
            `${JSON.stringify(f)} is not a seccomp filter flag: ${oneOf(Object.keys(SECCOMP_FILTER_FLAGS))}`,
          );
        }
      });
    }
  }

  for (const key of ["listenerPath", "listenerMetadata"]) {
    if (config[key] !== undefined && typeof config[key] !== "string") {
      problem(`${at}.${key}`, "must be a string");
    }
  }

  if (syscalls !== undefined) {
    if (!Array.isArray(syscalls)) problem(`${at}.syscalls`, "must be an array");
    else {
      syscalls.forEach((sc: unknown, i) => {
        const p = `${at}.syscalls[${i}]`;
        if (!isObject(sc)) {
          problem(p, "must be an object");
          return;
        }
        if (sc.names === undefined) problem(`${p}.names`, "is required");
        else if (!Array.isArray(sc.names)) problem(`${p}.names`, "must be an array of syscall names");
        else if (sc.names.length === 0) problem(`${p}.names`, "must name at least one syscall");
        else {
          sc.names.forEach((n: unknown, j) => {
            if (typeof n !== "string" || n === "") problem(`${p}.names[${j}]`, "must be a non-empty string");
          });
        }
        const action = checkAction(`${p}.action`, sc.action, false);
        checkErrnoRet(`${p}.errnoRet`, sc.errnoRet, action);
        if (sc.args === undefined) return;
        if (!Array.isArray(sc.args)) {
          problem(`${p}.args`, "must be an array");
          return;
        }
        sc.args.forEach((arg: unknown, j) => {
          const ap = `${p}.args[${j}]`;
          if (!isObject(arg)) {
            problem(ap, "must be an object");
            return;
          }
          const { index, op } = arg;
          if (index === undefined) problem(`${ap}.index`, "is required");
          else if (
            typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= SCMP_ARG_MAX
          ) {
            problem(`${ap}.index`, `must be an integer from 0 to ${SCMP_ARG_MAX - 1}`);
          }
          checkU64(`${ap}.value`, arg.value, true);
          checkU64(`${ap}.valueTwo`, arg.valueTwo, false);
          if (op === undefined) problem(`${ap}.op`, "is required");
          else if (typeof op !== "string" || !(SECCOMP_OPERATORS as readonly string[]).includes(op)) {
            problem(`${ap}.op`, `${JSON.stringify(op)} is not a comparison: ${oneOf(SECCOMP_OPERATORS)}`);
          }
        });
      });
    }
  }
  return problems;
}

/** A linux.seccomp value checked with validateSeccomp; a ConfigError listing every problem. */
export function checkSeccomp(config: unknown, at = "linux.seccomp"): LinuxSeccomp {
  const problems = validateSeccomp(config, at);
  if (problems.length > 0) throw new ConfigError(problems);
  return config as LinuxSeccomp;
}

// ---------------------------------------------------------------------------------------------
// Compilation (libseccomp)
// ---------------------------------------------------------------------------------------------

/** The seccomp(2) flags for the filter. */
export function seccompFlags(config: LinuxSeccomp): number {
  let flags = 0;
  for (const f of config.flags ?? []) {
    // WAIT_KILLABLE_RECV only means something with SECCOMP_FILTER_FLAG_NEW_LISTENER (the
    // kernel refuses it alone with EINVAL); without SCMP_ACT_NOTIFY there is no listener, and
    // runc (through libseccomp) drops it in that case too.
    if (f === "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") continue;
    flags |= SECCOMP_FILTER_FLAGS[f];
  }
  return flags;
}

function u64(v: number | bigint | undefined): bigint {
  return v === undefined ? 0n : BigInt(v);
}

/**
 * Compiles linux.seccomp with libseccomp into the BPF program the init loads with seccomp(2).
 * Throws a ConfigError for an invalid config, a DruntimeError for SCMP_ACT_NOTIFY or a host
 * without libseccomp, and a DruntimeError naming the rule when libseccomp refuses one.
 */
export function compileSeccomp(config: LinuxSeccomp): CompiledSeccomp {
  if (
    config.defaultAction === "SCMP_ACT_NOTIFY" ||
    (config.syscalls ?? []).some((s) => s.action === "SCMP_ACT_NOTIFY")
  ) {
    throw notifyUnsupported();
  }
  checkSeccomp(config);

  const defaultAction = actionValue(config.defaultAction, config.defaultErrnoRet);
  const filter = new SeccompFilter(defaultAction);
  try {
    // The init sets no_new_privs itself when process.noNewPrivileges says so.
    filter.attrSet(SCMP_FLTATR_CTL_NNP, 0, "SCMP_FLTATR_CTL_NNP");
    // Raw kernel errnos from libseccomp where it supports it (API level 4+); not needed.
    filter.tryAttrSet(SCMP_FLTATR_API_SYSRAWRC, 1);

    const arches = [archNative()];
    for (const arch of config.architectures ?? []) {
      const name = libseccompArchName(arch);
      const token = archResolveName(name);
      if (token === null) {
        throw new DruntimeError(`linux.seccomp: libseccomp does not know ${arch} (${name})`);
      }
      filter.archAdd(token, arch);
      if (!arches.includes(token)) arches.push(token);
    }

    const skipped = new Set<string>();
    (config.syscalls ?? []).forEach((sc, i) => {
      const action = actionValue(sc.action, sc.errnoRet);
      if (action === defaultAction) return;
      const cmps: ScmpArgCmp[] = (sc.args ?? []).map((a) => ({
        arg: a.index,
        op: OPERATOR_VALUES[a.op],
        a: u64(a.value),
        b: u64(a.valueTwo),
      }));
      const indexes = new Set(cmps.map((c) => c.arg));
      // One argument compared twice: libseccomp refuses that in one rule, so as runc does,
      // each comparison becomes its own rule (OR).
      const rules = indexes.size < cmps.length ? cmps.map((c) => [c]) : [cmps];
      for (const name of sc.names) {
        if (arches.every((arch) => syscallResolveNameArch(arch, name) < 0)) {
          skipped.add(name);
          continue;
        }
        const nr = syscallResolveName(name);
        if (nr === NR_SCMP_ERROR) {
          skipped.add(name);
          continue;
        }
        for (const rule of rules) {
          try {
            filter.ruleAdd(action, nr, rule, name);
          } catch (e) {
            if (e instanceof SyscallError) {
              throw new DruntimeError(`linux.seccomp.syscalls[${i}] (${name}): ${e.message}`);
            }
            throw e;
          }
        }
      }
    });

    const program = filter.exportBpf();
    if (program.length === 0 || program.length % SOCK_FILTER_SIZE !== 0) {
      throw new DruntimeError(
        `linux.seccomp: libseccomp exported a BPF program of ${program.length} bytes (not whole instructions)`,
      );
    }
    const insns = program.length / SOCK_FILTER_SIZE;
    if (insns > BPF_MAXINSNS) {
      throw new DruntimeError(
        `linux.seccomp: the filter compiles to ${insns} BPF instructions; the kernel takes at most ${BPF_MAXINSNS}`,
      );
    }
    return { filter: program, flags: seccompFlags(config), skipped: [...skipped] };
  } finally {
    filter.release();
  }
}
