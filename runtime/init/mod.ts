/**
 * The container side: `druntime init`, re-invoked by the clone child as PID 1 of the new
 * namespaces. Reads the plan from the init socket, builds the rootfs, prepares the process,
 * reports ready, waits on its start socket and execs. Every failure goes back to the parent as
 * a message naming the stage.
 */
import { INIT_PIPE_ENV, receiveFromParent, sendMessage } from "../sync.ts";
import { buildRootfs } from "./rootfs.ts";
import { execProcess, execWaiter, prepareProcess } from "./process.ts";
import { acceptAsync, fcntl, listenUnix, writeAll } from "../../ffi/libc.ts";
import { F_SETFD, FD_CLOEXEC, SIGNALS } from "../../ffi/constants.ts";
import { StageError } from "../errors.ts";
import { runHooks } from "../hooks.ts";
import type { ContainerState } from "../container/state.ts";

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Signals that end a created container's init (it has no other use for them). */
const ENDING: Deno.Signal[] = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

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
  const config = msg.config;
  let state: ContainerState = config.state;
  let stage = "init";
  try {
    const timings: Record<string, number> = {
      initStart: performance.timeOrigin,
      initMain: started,
      config: now(),
    };
    // Bound before pivot_root, while the state directory is still in reach.
    const listenFd = listenUnix(config.startSocket);
    await buildRootfs(config.plan, (name) => stage = name, async () => {
      if (config.hooksSync) {
        sendMessage(fd, { type: "hooks" });
        const resume = await receiveFromParent(fd);
        if (resume?.type !== "resume") Deno.exit(1);
        state = resume.state;
      }
      stage = "createContainer hooks";
      await runHooks("createContainer", config.hooks, state);
    });
    timings.rootfs = now();
    stage = "process";
    const processStage = config.plan.stages.find((s) => s.name === "process");
    const prepared = prepareProcess(processStage?.steps ?? []);
    timings.ready = now();
    sendMessage(fd, { type: "ready", timings });

    // Created. Without startContainer hooks to run, the init has nothing left for Deno to do:
    // it becomes the few-hundred-byte start waiter rather than wait here with V8's memory.
    const startHooks = config.hooks.startContainer ?? [];
    if (startHooks.length === 0) {
      stage = "exec";
      execWaiter(prepared, config.preserveFds, listenFd, fd);
    }
    // A signal meant for the container ends the init meanwhile (as PID 1 of its namespace it
    // would otherwise ignore every signal but KILL).
    for (const sig of ENDING) Deno.addSignalListener(sig, () => Deno.exit(128 + SIGNALS[sig.slice(3)]));
    const conn = await acceptAsync(listenFd);
    stage = "startContainer hooks";
    try {
      await runHooks("startContainer", config.hooks, { ...state, status: "created" });
    } catch (e) {
      writeAll(conn, new TextEncoder().encode(`E${e instanceof Error ? e.message : String(e)}`));
      throw e;
    }
    writeAll(conn, new Uint8Array([0]));
    stage = "exec";
    execProcess(prepared, config.preserveFds);
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
