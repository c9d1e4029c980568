/**
 * OCI hooks: a hook's path, args (execv's argv, args[0] included) and env, with the
 * container's state JSON on its stdin and an optional timeout in seconds. Each hook runs in a
 * process group of its own, so a timeout ends whatever it started too.
 *
 * prestart, createRuntime, createContainer and startContainer failures fail the operation
 * (runHooks throws at the first); poststart and poststop failures are warnings and the
 * remaining hooks still run (runHooksWarning).
 */
import type { Hook, Hooks } from "./spec/types.ts";
import type { ContainerState } from "./container/state.ts";
import { DruntimeError } from "./errors.ts";
import type { Logger } from "./log.ts";

export type HookKind = keyof Hooks;

/** The state JSON a hook reads: the OCI state's fields. */
export function hookState(s: ContainerState): string {
  const { ociVersion, id, status, pid, bundle, annotations } = s;
  return JSON.stringify({ ociVersion, id, status, pid, bundle, annotations: annotations ?? {} });
}

async function runHook(kind: HookKind, index: number, hook: Hook, stdin: string): Promise<void> {
  const name = `hooks.${kind}[${index}] ${hook.path}`;
  const args = hook.args ?? [hook.path];
  // Loaded on first use: Node's child_process (the one spawn that sets argv[0] and a process
  // group) costs the init start-up time that a container without hooks need not pay.
  const { spawn } = await import("node:child_process");
  return await new Promise((resolve, reject) => {
    const child = spawn(hook.path, args.slice(1), {
      argv0: args[0] ?? hook.path,
      env: Object.fromEntries((hook.env ?? []).map((e) => {
        const eq = e.indexOf("=");
        return [e.slice(0, eq), e.slice(eq + 1)];
      })),
      // Its own process group: the timeout kills the hook and everything it started.
      detached: true,
      stdio: ["pipe", "ignore", "pipe"],
    });
    let stderr = "";
    let timedOut = false;
    let settled = false;
    const timer = hook.timeout && hook.timeout > 0
      ? setTimeout(() => {
        timedOut = true;
        killGroup(child.pid);
      }, hook.timeout * 1000)
      : undefined;
    const finish = (err?: DruntimeError) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    child.stderr?.on("data", (d: Uint8Array) => {
      if (stderr.length < 4096) stderr += new TextDecoder().decode(d);
    });
    child.stdin?.on("error", () => {}); // a hook need not read its stdin
    child.stdin?.end(stdin);
    child.on("error", (e: Error) => finish(new DruntimeError(`${name}: cannot run: ${e.message}`)));
    // "exit", not "close": something the hook left behind may hold its stderr open.
    child.on("exit", (code: number | null, signal: string | null) => {
      if (timedOut) return finish(new DruntimeError(`${name}: timed out after ${hook.timeout}s`));
      if (code === 0) return finish();
      const how = signal ? `killed by ${signal}` : `exit code ${code}`;
      // Let stderr that is already written arrive before the message is made.
      setTimeout(() => {
        const err = stderr.trim().split("\n").slice(-3).join("; ");
        finish(new DruntimeError(`${name} failed (${how})${err ? `: ${err}` : ""}`));
      }, 10);
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch {
    // gone already
  }
}

/** Runs every hook of a kind in order; the first failure throws. */
export async function runHooks(
  kind: HookKind,
  hooks: Hooks | undefined,
  state: ContainerState,
): Promise<void> {
  const list = hooks?.[kind] ?? [];
  const stdin = hookState(state);
  for (let i = 0; i < list.length; i++) await runHook(kind, i, list[i], stdin);
}

/** Runs every hook of a kind in order; a failure is a warning and the rest still run. */
export async function runHooksWarning(
  kind: HookKind,
  hooks: Hooks | undefined,
  state: ContainerState,
  log: Logger,
): Promise<void> {
  const list = hooks?.[kind] ?? [];
  const stdin = hookState(state);
  for (let i = 0; i < list.length; i++) {
    try {
      await runHook(kind, i, list[i], stdin);
    } catch (e) {
      log.warn(e instanceof Error ? e.message : String(e));
    }
  }
}
