/**
 * `deno task demo`: build a tiny root filesystem, run one container in it with druntime, and
 * say what the output shows. Needs root and nothing beyond Deno (a static busybox when the
 * host has one, else the host's /bin/sh with its libraries).
 */
import { join } from "node:path";
import { defaultSpec } from "../runtime/spec/default.ts";
import { buildRootfs, druntimeCommand, isRoot } from "./fixtures/rootfs.ts";

if (!isRoot) {
  console.error(
    "demo: druntime needs root to create namespaces, mounts and cgroups; run it as root: sudo deno task demo",
  );
  Deno.exit(1);
}

// Only shell builtins and /proc, so that it works in a busybox and in a bare host-sh rootfs.
const SCRIPT = [
  'echo "hello from inside the container"',
  'echo "pid $$"',
  'read -r h < /proc/sys/kernel/hostname; echo "hostname $h"',
  'echo "mounts (the first 10 of /proc/self/mounts):"',
  'n=0; while read -r src mp fs rest; do n=$((n+1)); [ "$n" -gt 10 ] && break; echo "  $mp ($fs)"; done < /proc/self/mounts',
  'echo "/ holds:" /*',
].join("\n");

const tmp = await Deno.makeTempDir({ prefix: "druntime-demo-" });
let code = 1;
try {
  const bundle = join(tmp, "bundle");
  const kind = await buildRootfs(join(bundle, "rootfs"));
  const spec = defaultSpec();
  spec.root = { path: "rootfs", readonly: spec.root?.readonly ?? true };
  spec.hostname = "druntime-demo";
  spec.process = {
    ...(spec.process ?? { user: { uid: 0, gid: 0 }, cwd: "/" }),
    terminal: false,
    args: ["sh", "-c", SCRIPT],
  };
  const id = `demo-${Deno.pid}`;
  // An absolute cgroup path under /druntime, never one under the caller's own cgroup.
  spec.linux = { ...(spec.linux ?? {}), cgroupsPath: `/druntime/${id}` };
  await Deno.writeTextFile(join(bundle, "config.json"), JSON.stringify(spec, null, 2) + "\n");

  const argv = ["--root", join(tmp, "state"), "run", "--bundle", bundle, id];
  console.log(`demo: a ${kind} root filesystem and config.json in ${bundle}`);
  console.log(`demo: deno run -A main.ts ${argv.join(" ")}`);
  console.log("---------------------------------------------------------------- container output");
  const status = await druntimeCommand(argv, { stdin: "inherit", stdout: "inherit", stderr: "inherit" })
    .spawn().status;
  code = status.code;
  console.log("---------------------------------------------------------------- end");
  console.log(`demo: the container exited with code ${status.code}. What it showed:`);
  console.log("  - pid 1: the shell is the first process of its own pid namespace;");
  console.log(
    '  - hostname "druntime-demo": its own UTS namespace, set from config.json (the host keeps its name);',
  );
  console.log("  - its own mount table: the rootfs at /, with /proc, /dev, /sys... mounted from config.json");
  console.log("    in a private mount namespace; nothing of it appears in the host's mounts;");
  console.log(`  - / holds only the small ${kind} root filesystem, not the host's files (pivot_root).`);
} catch (e) {
  console.error(`demo: ${e instanceof Error ? e.message : e}`);
  code = 1;
} finally {
  await Deno.remove(tmp, { recursive: true }).catch((e) => console.error(`demo: rm -r ${tmp}: ${e}`));
}
Deno.exit(code);
