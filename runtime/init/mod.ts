/**
 * The container side: `druntime init`, re-invoked by the clone child as PID 1 of the new
 * namespaces. Reads the plan from the init socket, builds the rootfs, prepares the process,
 * reports ready, waits for start and execs. Every failure goes back to the parent as a message
 * naming the stage.
 */
import { INIT_PIPE_ENV, receiveFromParent, sendMessage } from "../sync.ts";
import { buildRootfs } from "./rootfs.ts";
import { execProcess, prepareProcess } from "./process.ts";
import { fcntl } from "../../ffi/libc.ts";
import { F_SETFD, FD_CLOEXEC } from "../../ffi/constants.ts";
import { StageError } from "../errors.ts";

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Runs the init; never returns. */
export async function initMain(): Promise<never> {
  const started = now();
  const fd = Number(Deno.env.get(INIT_PIPE_ENV));
  if (!Number.isInteger(fd) || fd < 3) {
    console.error(`druntime init: ${INIT_PIPE_ENV} is not set: init is started by druntime, not by hand`);
    Deno.exit(1);
  }
  // The socket must close when the process execs: that EOF is how the parent learns it ran.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  const msg = await receiveFromParent(fd);
  if (msg?.type !== "config") Deno.exit(1);
  const { plan } = msg.config;
  let stage = "init";
  try {
    const timings: Record<string, number> = {
      initStart: performance.timeOrigin,
      initMain: started,
      config: now(),
    };
    buildRootfs(plan, (name) => stage = name);
    timings.rootfs = now();
    stage = "process";
    const processStage = plan.stages.find((s) => s.name === "process");
    const prepared = prepareProcess(processStage?.steps ?? []);
    timings.ready = now();
    sendMessage(fd, { type: "ready", timings });
    const go = await receiveFromParent(fd);
    if (go?.type !== "start") Deno.exit(1);
    stage = "exec";
    execProcess(prepared);
  } catch (e) {
    const message = e instanceof StageError ? e.detail : e instanceof Error ? e.message : String(e);
    const failed = e instanceof StageError ? e.stage : stage;
    try {
      sendMessage(fd, { type: "error", stage: failed, message });
    } catch {
      console.error(`druntime init: ${failed}: ${message}`);
    }
    Deno.exit(1);
  }
}
