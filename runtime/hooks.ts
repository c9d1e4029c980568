/**
 * OCI hooks: a hook's path, args and env, with the container's state JSON on its stdin and an
 * optional timeout in seconds. The caller decides what a failure means: prestart,
 * createRuntime, createContainer and startContainer failures fail the operation; poststart and
 * poststop failures are warnings.
 */
import type { Hook, Hooks } from "./spec/types.ts";
import type { ContainerState } from "./container/state.ts";
import { DruntimeError } from "./errors.ts";

export type HookKind = keyof Hooks;

/** The state JSON a hook reads: the OCI state's fields. */
export function hookState(s: ContainerState): string {
  const { ociVersion, id, status, pid, bundle, annotations } = s;
  return JSON.stringify({ ociVersion, id, status, pid, bundle, annotations: annotations ?? {} });
}

async function runHook(kind: HookKind, index: number, hook: Hook, stdin: string): Promise<void> {
  const name = `hooks.${kind}[${index}] ${hook.path}`;
  const args = hook.args ?? [hook.path];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(hook.path, {
      // Deno.Command sets argv[0] to the path itself; the rest are the configured args.
      args: args.slice(1),
      env: Object.fromEntries((hook.env ?? []).map((e) => {
        const eq = e.indexOf("=");
        return [e.slice(0, eq), e.slice(eq + 1)];
      })),
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new DruntimeError(`${name}: cannot run: ${e instanceof Error ? e.message : String(e)}`);
  }
  let timedOut = false;
  const timer = hook.timeout && hook.timeout > 0
    ? setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // it exited meanwhile
      }
    }, hook.timeout * 1000)
    : undefined;
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin)).catch(() => {});
    await writer.close().catch(() => {});
    const out = await child.output();
    if (timedOut) throw new DruntimeError(`${name}: timed out after ${hook.timeout}s`);
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim();
      const how = out.signal ? `killed by ${out.signal}` : `exit code ${out.code}`;
      throw new DruntimeError(`${name} failed (${how})${err ? `: ${err}` : ""}`);
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer);
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
