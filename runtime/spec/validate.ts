/**
 * Validation of a parsed config.json (OCI runtime-spec 1.0 to 1.2) into a typed Spec.
 *
 * Every problem is collected before anything is thrown, so a user fixes a config in one pass;
 * each names its JSON path. Unknown properties are ignored, as the spec requires.
 */

import { isAbsolute, join, resolve } from "../paths.ts";
import { ConfigError, type ConfigProblem, DruntimeError } from "../errors.ts";
import { describeUnknownMountOption, parseMountOptions, parsePropagation } from "./mount_options.ts";
import { type Hooks, NAMESPACE_TYPES, type Resources, type Spec } from "./types.ts";
import {
  CAPABILITY_SETS,
  IOPRIO_CLASSES,
  isRlimitName,
  PERSONALITY_DOMAINS,
  SCHED_FLAGS,
  SCHED_POLICIES,
  sysctlProblem,
} from "./process_security.ts";
import { CAPABILITIES } from "../../ffi/constants.ts";
import { validateSeccomp } from "./seccomp.ts";

type JsonObject = Record<string, unknown>;

const UINT32_MAX = 0xffffffff;
const HOOK_KINDS = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
] as const satisfies readonly (keyof Hooks)[];

interface NotAppliedYet {
  path: string;
  present: (spec: Spec) => boolean;
  /** The whole warning line, when the standard sentence does not fit. */
  message?: string;
}

/**
 * Fields druntime accepts but does not apply yet. Delete a line here when its feature lands:
 * the warning is the user's only sign that the container runs without it.
 */
const NOT_APPLIED_YET: readonly NotAppliedYet[] = [
  { path: "process.execCPUAffinity", present: (s) => s.process?.execCPUAffinity !== undefined },
  {
    path: "process.terminal",
    present: (s) => s.process?.terminal === true,
    message: "process.terminal: terminals are not supported yet; the container uses druntime's stdio",
  },
  { path: "linux.intelRdt", present: (s) => s.linux?.intelRdt !== undefined },
  { path: "linux.mountLabel", present: (s) => !!s.linux?.mountLabel },
  { path: "linux.memoryPolicy", present: (s) => s.linux?.memoryPolicy !== undefined },
];

const DEVICE_TYPES = ["c", "b", "u", "p"];
const MOUNT_NAMESPACE_NEEDED = "needs a mount namespace (druntime does not mount into the host's namespace)";

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function quote(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 64 ? value.slice(0, 61) + "..." : value);
  }
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : String(value);
}

/**
 * A copy of a parsed document without null-valued properties: Go's decoder, which runc and
 * the engines that write configs use, reads `"mounts": null` as an absent field.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner !== null) out[key] = withoutNulls(inner);
  }
  return out;
}

/** Collects problems; each check returns the value when it has the right type. */
class Checker {
  readonly problems: ConfigProblem[] = [];

  add(path: string, reason: string): void {
    this.problems.push({ path, reason });
  }

  object(path: string, value: unknown, required = false): JsonObject | undefined {
    if (value === undefined) {
      if (required) this.add(path, "is required");
      return undefined;
    }
    if (isObject(value)) return value;
    this.add(path, `must be an object, got ${quote(value)}`);
    return undefined;
  }

  array(path: string, value: unknown, required = false): unknown[] | undefined {
    if (value === undefined) {
      if (required) this.add(path, "is required");
      return undefined;
    }
    if (Array.isArray(value)) return value;
    this.add(path, `must be an array, got ${quote(value)}`);
    return undefined;
  }

  string(path: string, value: unknown, required = false): string | undefined {
    if (value === undefined) {
      if (required) this.add(path, "is required");
      return undefined;
    }
    if (typeof value === "string") return value;
    this.add(path, `must be a string, got ${quote(value)}`);
    return undefined;
  }

  absolutePath(path: string, value: unknown, required = false): void {
    const s = this.string(path, value, required);
    if (s !== undefined && !s.startsWith("/")) this.add(path, `must be an absolute path, got ${quote(s)}`);
  }

  boolean(path: string, value: unknown): void {
    if (value !== undefined && typeof value !== "boolean") {
      this.add(path, `must be true or false, got ${quote(value)}`);
    }
  }

  integer(path: string, value: unknown, opts: { required?: boolean; min?: number; max?: number } = {}): void {
    if (value === undefined) {
      if (opts.required) this.add(path, "is required");
      return;
    }
    if (typeof value !== "number" || !Number.isInteger(value)) {
      this.add(path, `must be an integer, got ${quote(value)}`);
    } else if (opts.min !== undefined && value < opts.min) {
      this.add(path, opts.min === 0 ? `must not be negative, got ${value}` : `must be at least ${opts.min}`);
    } else if (opts.max !== undefined && value > opts.max) {
      this.add(path, `must be at most ${opts.max}, got ${value}`);
    }
  }

  /** An id (uid, gid, ...): a 32-bit unsigned integer. */
  id(path: string, value: unknown, required = false): void {
    this.integer(path, value, { required, min: 0, max: UINT32_MAX });
  }

  stringArray(path: string, value: unknown, required = false): string[] | undefined {
    const items = this.array(path, value, required);
    if (items === undefined) return undefined;
    let ok = true;
    items.forEach((item, i) => {
      if (typeof item !== "string") {
        this.add(`${path}[${i}]`, `must be a string, got ${quote(item)}`);
        ok = false;
      }
    });
    return ok ? items as string[] : undefined;
  }

  absolutePathArray(path: string, value: unknown): void {
    this.stringArray(path, value)?.forEach((item, i) => {
      if (!item.startsWith("/")) this.add(`${path}[${i}]`, `must be an absolute path, got ${quote(item)}`);
    });
  }

  stringMap(path: string, value: unknown): void {
    const map = this.object(path, value);
    if (map === undefined) return;
    for (const [key, inner] of Object.entries(map)) {
      if (typeof inner !== "string") this.add(`${path}.${key}`, `must be a string, got ${quote(inner)}`);
    }
  }
}

function checkVersion(c: Checker, value: unknown): void {
  const version = c.string("ociVersion", value, true);
  if (version === undefined) return;
  const semver = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(version);
  if (semver === null) {
    c.add("ociVersion", `must be a SemVer version such as "1.2.0", got ${quote(version)}`);
  } else if (semver[1] !== "1") {
    c.add("ociVersion", `version ${quote(version)} is not supported (druntime reads 1.x configs)`);
  }
}

function checkRoot(c: Checker, value: unknown): void {
  const root = c.object("root", value, true);
  if (root === undefined) return;
  const path = c.string("root.path", root.path, true);
  if (path === "") c.add("root.path", "must not be empty");
  c.boolean("root.readonly", root.readonly);
}

function checkProcess(c: Checker, value: unknown): void {
  // The spec makes process optional for `create` with a later `exec`; druntime's create and
  // run both start it, so it is required here.
  const process = c.object("process", value, true);
  if (process === undefined) return;

  c.boolean("process.terminal", process.terminal);
  const size = c.object("process.consoleSize", process.consoleSize);
  if (size !== undefined) {
    c.integer("process.consoleSize.height", size.height, { required: true, min: 0 });
    c.integer("process.consoleSize.width", size.width, { required: true, min: 0 });
  }

  const user = c.object("process.user", process.user, true);
  if (user !== undefined) {
    c.id("process.user.uid", user.uid, true);
    c.id("process.user.gid", user.gid, true);
    c.integer("process.user.umask", user.umask, { min: 0, max: UINT32_MAX });
    const gids = c.array("process.user.additionalGids", user.additionalGids);
    gids?.forEach((gid, i) => c.id(`process.user.additionalGids[${i}]`, gid));
    c.string("process.user.username", user.username);
  }

  const args = c.stringArray("process.args", process.args);
  if (process.args === undefined || args?.length === 0) {
    c.add("process.args", "must name the program to run (a non-empty array of strings)");
  }
  c.stringArray("process.env", process.env)?.forEach((entry, i) => {
    if (!entry.includes("=")) {
      c.add(`process.env[${i}]`, `must have the form NAME=value, got ${quote(entry)}`);
    }
  });
  c.absolutePath("process.cwd", process.cwd, true);

  const caps = c.object("process.capabilities", process.capabilities);
  if (caps !== undefined) {
    for (const set of CAPABILITY_SETS) {
      c.stringArray(`process.capabilities.${set}`, caps[set])?.forEach((name, i) => {
        if (!Object.hasOwn(CAPABILITIES, name)) {
          c.add(`process.capabilities.${set}[${i}]`, `${quote(name)} is not a capability`);
        }
      });
    }
  }
  const seenRlimits = new Set<string>();
  c.array("process.rlimits", process.rlimits)?.forEach((item, i) => {
    const at = `process.rlimits[${i}]`;
    const rlimit = c.object(at, item);
    if (rlimit === undefined) return;
    const type = c.string(`${at}.type`, rlimit.type, true);
    if (type !== undefined) {
      if (!isRlimitName(type)) c.add(`${at}.type`, `${quote(type)} is not an RLIMIT_* name`);
      else if (seenRlimits.has(type)) c.add(`${at}.type`, `${type} is set twice`);
      seenRlimits.add(type);
    }
    c.integer(`${at}.soft`, rlimit.soft, { required: true, min: 0 });
    c.integer(`${at}.hard`, rlimit.hard, { required: true, min: 0 });
    if (typeof rlimit.soft === "number" && typeof rlimit.hard === "number" && rlimit.soft > rlimit.hard) {
      c.add(`${at}.soft`, `must not be above the hard limit (${rlimit.hard}), got ${rlimit.soft}`);
    }
  });
  c.boolean("process.noNewPrivileges", process.noNewPrivileges);
  c.string("process.apparmorProfile", process.apparmorProfile);
  c.string("process.selinuxLabel", process.selinuxLabel);
  c.integer("process.oomScoreAdj", process.oomScoreAdj, { min: -1000, max: 1000 });
  const sched = c.object("process.scheduler", process.scheduler);
  if (sched !== undefined) {
    const policy = c.string("process.scheduler.policy", sched.policy, true);
    if (policy !== undefined && !Object.hasOwn(SCHED_POLICIES, policy)) {
      c.add(
        "process.scheduler.policy",
        `${quote(policy)} is not a policy Linux has (${Object.keys(SCHED_POLICIES).join(", ")})`,
      );
    }
    c.integer("process.scheduler.nice", sched.nice, { min: -20, max: 19 });
    c.integer("process.scheduler.priority", sched.priority, { min: 0, max: 99 });
    c.stringArray("process.scheduler.flags", sched.flags)?.forEach((flag, i) => {
      if (!Object.hasOwn(SCHED_FLAGS, flag)) {
        c.add(`process.scheduler.flags[${i}]`, `${quote(flag)} is not a SCHED_FLAG_*`);
      }
    });
    for (const f of ["runtime", "deadline", "period"]) {
      c.integer(`process.scheduler.${f}`, sched[f], { min: 0 });
    }
    const rt = policy === "SCHED_FIFO" || policy === "SCHED_RR";
    if (rt && (typeof sched.priority !== "number" || sched.priority < 1)) {
      c.add("process.scheduler.priority", `${policy} needs a priority from 1 to 99`);
    } else if (!rt && typeof sched.priority === "number" && sched.priority !== 0) {
      c.add(
        "process.scheduler.priority",
        `only SCHED_FIFO and SCHED_RR take a priority, got ${sched.priority}`,
      );
    }
  }
  const ioprio = c.object("process.ioPriority", process.ioPriority);
  if (ioprio !== undefined) {
    const cls = c.string("process.ioPriority.class", ioprio.class, true);
    if (cls !== undefined && !Object.hasOwn(IOPRIO_CLASSES, cls)) {
      c.add(
        "process.ioPriority.class",
        `must be IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE, got ${quote(cls)}`,
      );
    }
    c.integer("process.ioPriority.priority", ioprio.priority, { min: 0, max: 7 });
  }
  c.object("process.execCPUAffinity", process.execCPUAffinity);
}

function checkMounts(c: Checker, value: unknown): void {
  c.array("mounts", value)?.forEach((item, i) => {
    const at = `mounts[${i}]`;
    const mount = c.object(at, item);
    if (mount === undefined) return;
    c.absolutePath(`${at}.destination`, mount.destination, true);
    c.string(`${at}.source`, mount.source);
    c.string(`${at}.type`, mount.type);
    const options = c.stringArray(`${at}.options`, mount.options);
    if (options !== undefined) {
      const unknown = new Set(parseMountOptions(options).unknown);
      options.forEach((option, j) => {
        if (unknown.has(option)) c.add(`${at}.options[${j}]`, describeUnknownMountOption(option));
      });
    }
    for (const field of ["uidMappings", "gidMappings"]) {
      if (mount[field] !== undefined) {
        c.add(`${at}.${field}`, "idmapped mounts need user namespaces, which are not supported yet");
      }
    }
  });
}

function checkHooks(c: Checker, value: unknown): void {
  const hooks = c.object("hooks", value);
  if (hooks === undefined) return;
  for (const kind of HOOK_KINDS) {
    c.array(`hooks.${kind}`, hooks[kind])?.forEach((item, i) => {
      const at = `hooks.${kind}[${i}]`;
      const hook = c.object(at, item);
      if (hook === undefined) return;
      c.absolutePath(`${at}.path`, hook.path, true);
      c.stringArray(`${at}.args`, hook.args);
      c.stringArray(`${at}.env`, hook.env);
      c.integer(`${at}.timeout`, hook.timeout, { min: 1 });
    });
  }
}

/** Checks linux.namespaces and returns the types it asks for. */
function checkNamespaces(c: Checker, value: unknown): Set<string> {
  const types = new Set<string>();
  c.array("linux.namespaces", value)?.forEach((item, i) => {
    const at = `linux.namespaces[${i}]`;
    const ns = c.object(at, item);
    if (ns === undefined) return;
    c.absolutePath(`${at}.path`, ns.path);
    const type = c.string(`${at}.type`, ns.type, true);
    if (type === undefined) return;
    if (!(NAMESPACE_TYPES as readonly string[]).includes(type)) {
      c.add(`${at}.type`, `unknown namespace type ${quote(type)} (known: ${NAMESPACE_TYPES.join(", ")})`);
      return;
    }
    if (types.has(type)) c.add(`${at}.type`, `duplicate namespace type ${quote(type)}`);
    types.add(type);
    if (type === "user") c.add(`${at}.type`, "user namespaces are not supported yet");
  });
  return types;
}

function checkDevices(c: Checker, value: unknown): void {
  c.array("linux.devices", value)?.forEach((item, i) => {
    const at = `linux.devices[${i}]`;
    const device = c.object(at, item);
    if (device === undefined) return;
    const type = c.string(`${at}.type`, device.type, true);
    if (type !== undefined && !DEVICE_TYPES.includes(type)) {
      c.add(`${at}.type`, `must be one of "c", "b", "u" or "p", got ${quote(type)}`);
    }
    c.absolutePath(`${at}.path`, device.path, true);
    // A fifo has no device number; every other type needs both.
    const numbered = type !== "p";
    c.integer(`${at}.major`, device.major, { required: numbered, min: 0 });
    c.integer(`${at}.minor`, device.minor, { required: numbered, min: 0 });
    c.integer(`${at}.fileMode`, device.fileMode, { min: 0, max: UINT32_MAX });
    c.id(`${at}.uid`, device.uid);
    c.id(`${at}.gid`, device.gid);
  });
}

function checkCgroupsPath(c: Checker, value: unknown): void {
  const path = c.string("linux.cgroupsPath", value);
  if (path === undefined) return;
  if (/^[^/]*:[^/]*:[^/]*$/.test(path) && path.includes(":")) {
    c.add(
      "linux.cgroupsPath",
      `${quote(path)} is a systemd slice:prefix:name path; the systemd cgroup driver is not supported yet`,
    );
  } else if (path.split("/").some((part) => part === "..")) {
    c.add("linux.cgroupsPath", `must not contain "..", got ${quote(path)}`);
  }
}

const CPU_LIST = /^$|^\d+(-\d+)?(,\d+(-\d+)?)*$/;
const INT64_MAX = Number.MAX_SAFE_INTEGER;

function checkResources(c: Checker, value: unknown): void {
  const r = c.object("linux.resources", value);
  if (r === undefined) return;
  const at = (field: string) => `linux.resources.${field}`;
  c.array(at("devices"), r.devices)?.forEach((item, i) => {
    const p = `${at("devices")}[${i}]`;
    const rule = c.object(p, item);
    if (rule === undefined) return;
    if (rule.allow === undefined) c.add(`${p}.allow`, "is required");
    c.boolean(`${p}.allow`, rule.allow);
    const type = c.string(`${p}.type`, rule.type);
    if (type !== undefined && !["a", "b", "c"].includes(type)) {
      c.add(`${p}.type`, `must be "a", "b" or "c", got ${quote(type)}`);
    }
    c.integer(`${p}.major`, rule.major, { min: -1, max: UINT32_MAX });
    c.integer(`${p}.minor`, rule.minor, { min: -1, max: UINT32_MAX });
    const access = c.string(`${p}.access`, rule.access);
    if (access !== undefined && !/^[rwm]*$/.test(access)) {
      c.add(`${p}.access`, `must be made of r, w and m, got ${quote(access)}`);
    }
  });
  const memory = c.object(at("memory"), r.memory);
  if (memory !== undefined) {
    for (const f of ["limit", "reservation", "swap", "kernel", "kernelTCP"]) {
      c.integer(at(`memory.${f}`), memory[f], { min: -1, max: INT64_MAX });
    }
    c.integer(at("memory.swappiness"), memory.swappiness, { min: 0, max: 100 });
    for (const f of ["disableOOMKiller", "useHierarchy", "checkBeforeUpdate"]) {
      c.boolean(at(`memory.${f}`), memory[f]);
    }
    const limit = memory.limit, swap = memory.swap;
    if (typeof limit === "number" && typeof swap === "number" && limit > 0 && swap > 0 && swap < limit) {
      c.add(
        at("memory.swap"),
        `is memory plus swap and must be at least memory.limit (${limit}), got ${swap}`,
      );
    }
  }
  const cpu = c.object(at("cpu"), r.cpu);
  if (cpu !== undefined) {
    c.integer(at("cpu.shares"), cpu.shares, { min: 0, max: 262144 });
    c.integer(at("cpu.quota"), cpu.quota, { min: -1, max: INT64_MAX });
    c.integer(at("cpu.burst"), cpu.burst, { min: 0, max: INT64_MAX });
    c.integer(at("cpu.period"), cpu.period, { min: 0, max: 1_000_000 });
    c.integer(at("cpu.realtimeRuntime"), cpu.realtimeRuntime, { min: -1, max: INT64_MAX });
    c.integer(at("cpu.realtimePeriod"), cpu.realtimePeriod, { min: 0, max: INT64_MAX });
    c.integer(at("cpu.idle"), cpu.idle, { min: 0, max: 1 });
    for (const f of ["cpus", "mems"]) {
      const list = c.string(at(`cpu.${f}`), cpu[f]);
      if (list !== undefined && !CPU_LIST.test(list)) {
        c.add(at(`cpu.${f}`), `must be a list such as "0-3,6", got ${quote(list)}`);
      }
    }
  }
  const pids = c.object(at("pids"), r.pids);
  if (pids !== undefined) {
    c.integer(at("pids.limit"), pids.limit, { required: true, min: -1, max: INT64_MAX });
  }
  const blkio = c.object(at("blockIO"), r.blockIO);
  if (blkio !== undefined) {
    for (const f of ["weight", "leafWeight"]) {
      c.integer(at(`blockIO.${f}`), blkio[f], { min: 0, max: 1000 });
      const w = blkio[f];
      if (typeof w === "number" && w > 0 && w < 10) {
        c.add(at(`blockIO.${f}`), `must be 0 or 10 to 1000, got ${w}`);
      }
    }
    c.array(at("blockIO.weightDevice"), blkio.weightDevice)?.forEach((item, i) => {
      const p = at(`blockIO.weightDevice[${i}]`);
      const d = c.object(p, item);
      if (d === undefined) return;
      c.integer(`${p}.major`, d.major, { required: true, min: 0, max: UINT32_MAX });
      c.integer(`${p}.minor`, d.minor, { required: true, min: 0, max: UINT32_MAX });
      c.integer(`${p}.weight`, d.weight, { min: 10, max: 1000 });
      c.integer(`${p}.leafWeight`, d.leafWeight, { min: 10, max: 1000 });
    });
    for (
      const f of [
        "throttleReadBpsDevice",
        "throttleWriteBpsDevice",
        "throttleReadIOPSDevice",
        "throttleWriteIOPSDevice",
      ]
    ) {
      c.array(at(`blockIO.${f}`), blkio[f])?.forEach((item, i) => {
        const p = at(`blockIO.${f}[${i}]`);
        const d = c.object(p, item);
        if (d === undefined) return;
        c.integer(`${p}.major`, d.major, { required: true, min: 0, max: UINT32_MAX });
        c.integer(`${p}.minor`, d.minor, { required: true, min: 0, max: UINT32_MAX });
        c.integer(`${p}.rate`, d.rate, { required: true, min: 0, max: INT64_MAX });
      });
    }
  }
  c.array(at("hugepageLimits"), r.hugepageLimits)?.forEach((item, i) => {
    const p = at(`hugepageLimits[${i}]`);
    const h = c.object(p, item);
    if (h === undefined) return;
    const size = c.string(`${p}.pageSize`, h.pageSize, true);
    if (size !== undefined && !/^\d+[KMG]B$/.test(size)) {
      c.add(`${p}.pageSize`, `must be a size such as "2MB" or "1GB", got ${quote(size)}`);
    }
    c.integer(`${p}.limit`, h.limit, { required: true, min: 0, max: INT64_MAX });
  });
  const network = c.object(at("network"), r.network);
  if (network !== undefined) {
    c.integer(at("network.classID"), network.classID, { min: 0, max: UINT32_MAX });
    c.array(at("network.priorities"), network.priorities)?.forEach((item, i) => {
      const p = at(`network.priorities[${i}]`);
      const prio = c.object(p, item);
      if (prio === undefined) return;
      c.string(`${p}.name`, prio.name, true);
      c.integer(`${p}.priority`, prio.priority, { required: true, min: 0, max: UINT32_MAX });
    });
  }
  if (r.rdma !== undefined && Object.keys(c.object(at("rdma"), r.rdma) ?? {}).length > 0) {
    c.add(at("rdma"), "the rdma controller is not supported yet");
  }
  const unified = c.object(at("unified"), r.unified);
  if (unified !== undefined) {
    for (const [key, v] of Object.entries(unified)) {
      if (typeof v !== "string") c.add(at(`unified.${key}`), `must be a string, got ${quote(v)}`);
      if (key.includes("/") || key.startsWith(".") || !key.includes(".")) {
        c.add(at(`unified.${key}`), `is not a cgroup v2 file name such as "memory.high"`);
      } else if (key.startsWith("cgroup.") && !["cgroup.max.depth", "cgroup.max.descendants"].includes(key)) {
        c.add(at(`unified.${key}`), "cgroup.* files are druntime's to manage");
      }
    }
  }
}

function checkLinux(c: Checker, value: unknown, doc: JsonObject): Set<string> {
  const linux = c.object("linux", value);
  if (linux === undefined) return new Set();
  const namespaces = checkNamespaces(c, linux.namespaces);

  for (const field of ["uidMappings", "gidMappings"]) {
    if (linux[field] !== undefined) {
      c.add(`linux.${field}`, "id mappings need a user namespace, which is not supported yet");
    }
  }
  const offsets = c.object("linux.timeOffsets", linux.timeOffsets);
  if (offsets !== undefined) {
    const ns = Array.isArray(linux.namespaces)
      ? linux.namespaces.find((n) => isObject(n) && n.type === "time") as JsonObject | undefined
      : undefined;
    if (ns === undefined || ns.path !== undefined) {
      c.add(
        "linux.timeOffsets",
        "needs a new time namespace (a linux.namespaces entry of type time, without a path)",
      );
    }
    for (const [clock, value] of Object.entries(offsets)) {
      const at = `linux.timeOffsets.${clock}`;
      if (clock !== "monotonic" && clock !== "boottime") {
        c.add(at, "only the monotonic and boottime clocks have offsets");
        continue;
      }
      const o = c.object(at, value);
      if (o === undefined) continue;
      c.integer(`${at}.secs`, o.secs, { min: -(2 ** 53 - 1), max: 2 ** 53 - 1 });
      c.integer(`${at}.nanosecs`, o.nanosecs, { min: 0, max: 999_999_999 });
    }
  }

  checkDevices(c, linux.devices);
  checkCgroupsPath(c, linux.cgroupsPath);
  checkResources(c, linux.resources);
  const propagation = c.string("linux.rootfsPropagation", linux.rootfsPropagation);
  if (propagation !== undefined && parsePropagation(propagation) === undefined) {
    c.add(
      "linux.rootfsPropagation",
      `must be one of shared, slave, private, unbindable, rshared, rslave, rprivate or runbindable, got ${
        quote(propagation)
      }`,
    );
  }
  if (linux.seccomp !== undefined) {
    for (const p of validateSeccomp(linux.seccomp)) {
      c.add(p.path, p.reason);
    }
  }
  c.stringMap("linux.sysctl", linux.sysctl);
  if (isObject(linux.sysctl)) {
    for (const key of Object.keys(linux.sysctl)) {
      const problem = sysctlProblem(key, namespaces);
      if (problem !== null) c.add(`linux.sysctl.${key}`, problem);
      const uts = key.replaceAll("/", ".").replace(/^kernel\./, "");
      if ((uts === "hostname" || uts === "domainname") && typeof doc[uts] === "string" && doc[uts] !== "") {
        c.add(`linux.sysctl.${key}`, `conflicts with ${uts}: set only ${uts}`);
      }
    }
  }
  c.absolutePathArray("linux.maskedPaths", linux.maskedPaths);
  c.absolutePathArray("linux.readonlyPaths", linux.readonlyPaths);
  c.string("linux.mountLabel", linux.mountLabel);
  c.object("linux.intelRdt", linux.intelRdt);
  const personality = c.object("linux.personality", linux.personality);
  if (personality !== undefined) {
    const domain = c.string("linux.personality.domain", personality.domain, true);
    if (domain !== undefined && !Object.hasOwn(PERSONALITY_DOMAINS, domain)) {
      c.add("linux.personality.domain", `must be LINUX or LINUX32, got ${quote(domain)}`);
    }
    const flags = c.stringArray("linux.personality.flags", personality.flags);
    if (flags !== undefined && flags.length > 0) {
      c.add("linux.personality.flags", "personality flags are not supported");
    }
  }
  c.object("linux.memoryPolicy", linux.memoryPolicy);
  return namespaces;
}

function nonEmptyArray(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

/** Settings that only make sense in namespaces the config does not ask for. */
function checkNamespaceNeeds(c: Checker, doc: JsonObject, namespaces: Set<string>): void {
  if (!namespaces.has("uts")) {
    for (const field of ["hostname", "domainname"]) {
      const name = doc[field];
      if (typeof name === "string" && name !== "") {
        c.add(field, `setting the ${field} needs a new uts namespace`);
      }
    }
  }
  if (!namespaces.has("mount")) {
    const linux = isObject(doc.linux) ? doc.linux : {};
    if (nonEmptyArray(doc.mounts)) c.add("mounts", MOUNT_NAMESPACE_NEEDED);
    for (const field of ["devices", "maskedPaths", "readonlyPaths"]) {
      if (nonEmptyArray(linux[field])) c.add(`linux.${field}`, MOUNT_NAMESPACE_NEEDED);
    }
    if (isObject(doc.root) && doc.root.readonly === true) c.add("root.readonly", MOUNT_NAMESPACE_NEEDED);
  }
}

/** The problems in a parsed config.json; empty when it is a valid Spec. */
function specProblems(doc: unknown): ConfigProblem[] {
  const c = new Checker();
  if (!isObject(doc)) {
    c.add("config.json", `must be a JSON object, got ${quote(doc)}`);
    return c.problems;
  }
  checkVersion(c, doc.ociVersion);
  checkRoot(c, doc.root);
  checkProcess(c, doc.process);
  c.string("hostname", doc.hostname);
  c.string("domainname", doc.domainname);
  checkMounts(c, doc.mounts);
  checkHooks(c, doc.hooks);
  c.stringMap("annotations", doc.annotations);
  const namespaces = checkLinux(c, doc.linux, doc);
  checkNamespaceNeeds(c, doc, namespaces);
  return c.problems;
}

function specWarnings(spec: Spec): string[] {
  return NOT_APPLIED_YET.filter((field) => field.present(spec)).map((field) =>
    field.message ?? `${field.path} is accepted but not applied yet (a later release applies it)`
  );
}

/**
 * Validates a parsed config.json. Throws one ConfigError listing every problem; returns the
 * typed spec (a copy, with null fields dropped) and one warning line per field that is
 * accepted but not applied yet.
 */
export function validateSpec(raw: unknown): { spec: Spec; warnings: string[] } {
  const doc = withoutNulls(raw);
  const problems = specProblems(doc);
  if (problems.length > 0) throw new ConfigError(problems);
  const spec = doc as Spec;
  return { spec, warnings: specWarnings(spec) };
}

/**
 * Validates a linux.resources object alone (what `update --resources` reads); the problems
 * name the same JSON paths as in a config.
 */
export function validateResources(raw: unknown): Resources {
  const c = new Checker();
  const doc = withoutNulls(raw);
  checkResources(c, doc);
  if (c.problems.length > 0) throw new ConfigError(c.problems);
  return doc as Resources;
}

/** Throws a DruntimeError unless `id` is usable as a container id (and so as a file name). */
export function validateContainerId(id: string): void {
  const shown = JSON.stringify(id.length > 64 ? id.slice(0, 61) + "..." : id);
  if (id === "") throw new DruntimeError('invalid container id "": it must not be empty');
  if (id === "." || id === "..") {
    throw new DruntimeError(`invalid container id ${shown}: "." and ".." are not allowed`);
  }
  if (id.length > 1024) {
    throw new DruntimeError(`invalid container id ${shown}: longer than 1024 characters`);
  }
  if (!/^[A-Za-z0-9_.+-]+$/.test(id)) {
    throw new DruntimeError(
      `invalid container id ${shown}: only letters, digits, "_", ".", "+" and "-" are allowed`,
    );
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Reads and validates `<bundleDir>/config.json` and finds the root filesystem. `bundle` is the
 * bundle's real absolute path; `rootfs` is root.path resolved against it, symlinks resolved.
 * Rootfs problems are reported with the config's other problems in one ConfigError.
 */
export function loadBundle(
  bundleDir: string,
): { spec: Spec; warnings: string[]; bundle: string; rootfs: string } {
  const given = resolve(bundleDir);
  let bundle: string;
  try {
    bundle = Deno.realPathSync(given);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DruntimeError(`bundle "${given}": does not exist`);
    throw new DruntimeError(`bundle "${given}": ${errorText(e)}`);
  }
  if (!Deno.statSync(bundle).isDirectory) throw new DruntimeError(`bundle "${given}": is not a directory`);

  let text: string;
  try {
    text = Deno.readTextFileSync(join(bundle, "config.json"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DruntimeError(`bundle "${bundle}": no config.json (create one with "druntime spec")`);
    }
    throw new DruntimeError(`bundle "${bundle}": cannot read config.json: ${errorText(e)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DruntimeError(`config.json: invalid JSON: ${errorText(e)}`);
  }

  const doc = withoutNulls(raw);
  const problems = specProblems(doc);
  let rootfs = "";
  const rootPath = isObject(doc) && isObject(doc.root) ? doc.root.path : undefined;
  if (typeof rootPath === "string" && rootPath !== "") {
    const absolute = isAbsolute(rootPath) ? resolve(rootPath) : join(bundle, rootPath);
    try {
      if (Deno.statSync(absolute).isDirectory) rootfs = Deno.realPathSync(absolute);
      else problems.push({ path: "root.path", reason: `"${absolute}" is not a directory` });
    } catch (e) {
      problems.push({
        path: "root.path",
        reason: e instanceof Deno.errors.NotFound
          ? `"${absolute}" does not exist`
          : `"${absolute}" cannot be used: ${errorText(e)}`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const spec = doc as Spec;
  return { spec, warnings: specWarnings(spec), bundle, rootfs };
}
