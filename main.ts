/**
 * druntime's entry point. `init` (the container side, re-invoked by the clone child) loads
 * only what the container needs; every other command loads the CLI.
 */
if (Deno.args[0] === "init") {
  const { initMain } = await import("./runtime/init/mod.ts");
  await initMain();
} else {
  const { cliMain } = await import("./runtime/cli/main.ts");
  Deno.exit(await cliMain(Deno.args));
}
