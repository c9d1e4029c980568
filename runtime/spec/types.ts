/**
 * The OCI runtime-spec config.json (v1.0 to v1.2) as TypeScript types. Field names and
 * shapes follow the spec's JSON schema; validate.ts checks a parsed document against them.
 */
import type { LinuxSeccomp } from "./seccomp.ts";

export interface Spec {
  ociVersion: string;
  root?: Root;
  mounts?: Mount[];
  process?: Process;
  hostname?: string;
  domainname?: string;
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

export interface Root {
  path: string;
  readonly?: boolean;
}

export interface Mount {
  destination: string;
  source?: string;
  type?: string;
  options?: string[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
}

export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: User;
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
  scheduler?: Scheduler;
  ioPriority?: { class: string; priority?: number };
  execCPUAffinity?: { initial?: string; final?: string };
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** The namespace types of linux.namespaces, by their spec names. */
export const NAMESPACE_TYPES = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"] as const;
export type NamespaceType = typeof NAMESPACE_TYPES[number];

export interface Namespace {
  type: NamespaceType;
  path?: string;
}

export interface Device {
  type: "c" | "b" | "u" | "p";
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  /** Clock offsets of a new time namespace: monotonic and boottime. */
  timeOffsets?: Record<string, { secs?: number; nanosecs?: number }>;
  devices?: Device[];
  cgroupsPath?: string;
  resources?: Resources;
  rootfsPropagation?: string;
  seccomp?: LinuxSeccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  intelRdt?: Record<string, unknown>;
  personality?: { domain: string; flags?: string[] };
  memoryPolicy?: Record<string, unknown>;
}

/** process.scheduler: sched_setattr(2)'s fields. */
export interface Scheduler {
  policy: string;
  nice?: number;
  priority?: number;
  flags?: string[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

/** linux.resources.devices: the device cgroup's rules; the last that matches wins. */
export interface DeviceCgroupRule {
  allow: boolean;
  /** "a" (all, the default), "b" or "c". */
  type?: "a" | "b" | "c";
  /** -1 or absent: any. */
  major?: number;
  minor?: number;
  /** A subset of "rwm"; absent: "rwm". */
  access?: string;
}

export interface MemoryResources {
  limit?: number;
  reservation?: number;
  /** memory + swap, as cgroup v1's memsw: not swap alone. */
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface CpuResources {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface BlockIODevice {
  major: number;
  minor: number;
}

export interface BlockIOWeightDevice extends BlockIODevice {
  weight?: number;
  leafWeight?: number;
}

export interface BlockIOThrottleDevice extends BlockIODevice {
  rate: number;
}

export interface BlockIOResources {
  weight?: number;
  leafWeight?: number;
  weightDevice?: BlockIOWeightDevice[];
  throttleReadBpsDevice?: BlockIOThrottleDevice[];
  throttleWriteBpsDevice?: BlockIOThrottleDevice[];
  throttleReadIOPSDevice?: BlockIOThrottleDevice[];
  throttleWriteIOPSDevice?: BlockIOThrottleDevice[];
}

export interface HugepageLimit {
  /** "2MB", "1GB", ... as in hugetlb.<size>.* file names. */
  pageSize: string;
  limit: number;
}

export interface NetworkResources {
  classID?: number;
  priorities?: { name: string; priority: number }[];
}

/** linux.resources: what the container's cgroup limits. */
export interface Resources {
  devices?: DeviceCgroupRule[];
  memory?: MemoryResources;
  cpu?: CpuResources;
  pids?: { limit: number };
  blockIO?: BlockIOResources;
  hugepageLimits?: HugepageLimit[];
  network?: NetworkResources;
  rdma?: Record<string, { hcaHandles?: number; hcaObjects?: number }>;
  /** cgroup v2 files by name, written as they are. */
  unified?: Record<string, string>;
}

/** The OCI state of a container, as `state` prints it and hooks read it on stdin. */
export interface State {
  ociVersion: string;
  id: string;
  status: "creating" | "created" | "running" | "stopped" | "paused";
  pid: number;
  bundle: string;
  annotations?: Record<string, string>;
}
