/**
 * druntime as a library: load and validate an OCI bundle, compute the plan that builds its
 * container, run it, and drive its lifecycle (create, start, state, kill, delete, list) and its
 * cgroup (pause, resume, update, ps, events) from a Deno program. The `druntime` CLI is a thin
 * layer over these.
 *
 * ```ts
 * import { run, Logger } from "./mod.ts";
 * const code = await run({ id: "demo", bundle: "/path/to/bundle", root: "/run/druntime", log: new Logger() });
 * ```
 *
 * @module
 */

export type {
  Capabilities,
  Device,
  Hook,
  Hooks,
  IdMapping,
  Linux,
  Mount,
  Namespace,
  NamespaceType,
  Process,
  Resources,
  Rlimit,
  Root,
  Spec,
  State,
  User,
} from "./runtime/spec/types.ts";
export type { CreateAs, Plan, Stage, StageName, Step, StepOp } from "./runtime/plan/types.ts";
export type { ContainerState, Status } from "./runtime/container/state.ts";
export type { PlanOptions } from "./runtime/plan/build.ts";
export type { CreateOptions, PreparedBundle, RunOptions } from "./runtime/container/lifecycle.ts";
export type { LogFormat, LoggerOptions } from "./runtime/log.ts";
export type { ConfigProblem } from "./runtime/errors.ts";
export type { MountOptions } from "./runtime/spec/mount_options.ts";

/** Validates a parsed config.json; throws ConfigError naming each bad field's JSON path. */
export { loadBundle, validateContainerId, validateSpec } from "./runtime/spec/validate.ts";
/** The config `druntime spec` writes. */
export { defaultSpec } from "./runtime/spec/default.ts";
/** OCI mount options to mount(2) flags, propagation and data. */
export { parseMountOptions, parsePropagation } from "./runtime/spec/mount_options.ts";
/** The plan: computed from a config, printed by `run --dry-run`. */
export { buildPlan, DEFAULT_DEVICES } from "./runtime/plan/build.ts";
export { describeStep, formatPlan } from "./runtime/plan/format.ts";
/**
 * The lifecycle, runc's commands: create, start, state, kill, delete, list; run = create + start
 * + wait + delete. prepareBundle loads and plans without touching anything.
 */
export {
  create,
  deleteContainer,
  exitCodeOf,
  kill,
  list,
  parseSignal,
  prepareBundle,
  run,
  start,
  state,
} from "./runtime/container/lifecycle.ts";
export { DEFAULT_STATE_ROOT } from "./runtime/container/state.ts";
/** A running container's cgroup: pause, resume, new limits, its processes, its usage and OOM events. */
export { pause, ps, resume, statsEvent, update, watchEvents } from "./runtime/container/control.ts";
export type { OomEvent, StatsEvent } from "./runtime/container/control.ts";
export type { Stats } from "./runtime/cgroups/stats.ts";
/** Where a container's cgroup goes: linux.cgroupsPath read as runc reads it, under /druntime. */
export { cgroupPathFor, DRUNTIME_PARENT } from "./runtime/cgroups/hierarchy.ts";
/** Where druntime's errors and warnings go. */
export { Logger } from "./runtime/log.ts";
/** The errors druntime throws: user-facing, config problems, init stage failures, syscalls. */
export { ConfigError, DruntimeError, StageError } from "./runtime/errors.ts";
export { SyscallError } from "./ffi/errno.ts";
