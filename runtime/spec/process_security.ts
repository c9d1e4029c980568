/**
 * Process security settings read from the config: capability names to numbers, rlimit names,
 * the namespaced sysctls, personality domains. Validation (pure) and the host facts they
 * depend on (the kernel's last capability, the LSMs present).
 */
import { CAPABILITIES, PER_LINUX, PER_LINUX32, RLIMITS } from "../../ffi/constants.ts";
import type { Spec } from "./types.ts";

export const CAPABILITY_SETS = ["bounding", "effective", "inheritable", "permitted", "ambient"] as const;
export type CapabilitySet = typeof CAPABILITY_SETS[number];

/** The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap). */
export function kernelLastCap(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
  } catch {
    return Math.max(...Object.values(CAPABILITIES));
  }
}

/** The numbers of a set's capabilities that the kernel has; the others are `skipped`. */
export function capabilityNumbers(
  names: readonly string[],
  lastCap: number,
): { numbers: number[]; skipped: string[] } {
  const numbers: number[] = [], skipped: string[] = [];
  for (const name of names) {
    if (!Object.hasOwn(CAPABILITIES, name)) continue; // refused by validation
    const n = CAPABILITIES[name];
    if (n > lastCap) skipped.push(name);
    else if (!numbers.includes(n)) numbers.push(n);
  }
  return { numbers: numbers.sort((a, b) => a - b), skipped };
}

/** Warnings for capabilities the running kernel lacks: skipped, as runc does. */
export function capabilityWarnings(spec: Spec, lastCap: number): string[] {
  const caps = spec.process?.capabilities;
  if (!caps) return [];
  const skipped = new Set<string>();
  for (const set of CAPABILITY_SETS) {
    for (const s of capabilityNumbers(caps[set] ?? [], lastCap).skipped) skipped.add(s);
  }
  const out = [...skipped].map((name) =>
    `process.capabilities: ${name} is not known to this kernel; skipped`
  );
  for (const name of unraisableAmbient(caps)) {
    out.push(
      `process.capabilities.ambient: ${name} is not in both permitted and inheritable, so it cannot be ambient; skipped`,
    );
  }
  return out;
}

/**
 * Ambient capabilities that are not also permitted and inheritable: the kernel refuses to raise
 * them, so they are skipped with a warning (runc warns too; its own default config has them).
 */
export function unraisableAmbient(caps: Partial<Record<CapabilitySet, string[]>>): string[] {
  return (caps.ambient ?? []).filter((n) =>
    Object.hasOwn(CAPABILITIES, n) &&
    !((caps.permitted ?? []).includes(n) && (caps.inheritable ?? []).includes(n))
  );
}

export function isRlimitName(name: string): boolean {
  return Object.hasOwn(RLIMITS, name);
}

export const PERSONALITY_DOMAINS: Readonly<Record<string, number>> = {
  LINUX: PER_LINUX,
  LINUX32: PER_LINUX32,
};

/** The IPC-namespaced sysctls (runc's list); fs.mqueue.* is IPC too, net.* needs a network namespace. */
const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

/**
 * Why a sysctl cannot be set in a container with these namespaces, or null when it can:
 * only namespaced keys, and each only with its namespace.
 */
export function sysctlProblem(key: string, namespaces: ReadonlySet<string>): string | null {
  if (!/^[a-z0-9_][a-z0-9_.\-/]*$/i.test(key) || key.split(/[./]/).some((p) => p === "" || p === "..")) {
    return `${JSON.stringify(key)} is not a sysctl name`;
  }
  const dotted = key.replaceAll("/", ".");
  if (IPC_SYSCTLS.has(dotted) || dotted.startsWith("fs.mqueue.")) {
    return namespaces.has("ipc") ? null : "an IPC sysctl needs an ipc namespace";
  }
  if (dotted.startsWith("net.")) {
    return namespaces.has("network") ? null : "a net.* sysctl needs a network namespace";
  }
  if (dotted === "kernel.hostname" || dotted === "kernel.domainname") {
    return namespaces.has("uts") ? null : `${dotted} needs a uts namespace`;
  }
  return "is not namespaced: it would change the host (only IPC, fs.mqueue.*, net.* and the uts names are allowed)";
}

/** Whether the host runs AppArmor, and SELinux. */
export function hostLsms(): { apparmor: boolean; selinux: boolean } {
  const read = (p: string) => {
    try {
      return Deno.readTextFileSync(p).trim();
    } catch {
      return null;
    }
  };
  return {
    apparmor: read("/sys/module/apparmor/parameters/enabled") === "Y",
    selinux: read("/sys/fs/selinux/enforce") !== null,
  };
}

/** sched_setattr(2) policies by their OCI names (SCHED_ISO is reserved: Linux has no such policy). */
export const SCHED_POLICIES: Readonly<Record<string, number>> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};

export const SCHED_FLAGS: Readonly<Record<string, number>> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};

/** ioprio_set(2) classes by their OCI names. */
export const IOPRIO_CLASSES: Readonly<Record<string, number>> = {
  IOPRIO_CLASS_RT: 1,
  IOPRIO_CLASS_BE: 2,
  IOPRIO_CLASS_IDLE: 3,
};
