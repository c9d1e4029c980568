/**
 * OCI hooks end to end, as root: every kind runs once and in the lifecycle's order, each with
 * the state JSON on its stdin, its args and exactly its env; a failing or timed-out
 * prestart/createRuntime/createContainer/startContainer hook fails the operation and leaves
 * nothing behind; a failing poststart/poststop hook is only a warning; `run` runs them all.
 *
 * Host-side hooks are shell scripts in a temp directory of the bundle; startContainer hooks run
 * after pivot_root, so theirs live in the container's rootfs and write into a directory that
 * the config bind-mounts from the host (one log for every kind keeps a strict order).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Hook, Hooks, Spec } from "../../runtime/spec/types.ts";
import { hostMounts, MAIN_TS, makeBundle, rootOnly } from "../fixtures/rootfs.ts";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** One container's world: a unique id, its own state root, bundle and hook output directory. */
interface Ctx {
  id: string;
  /** The state root (--root), an empty temp dir. */
  root: string;
  /** The bundle directory (real path). */
  bundle: string;
  /** bundle/rootfs */
  rootfs: string;
  /** bundle/hooks: the host-side hook scripts and everything hooks write (on the host). */
  out: string;
}

/** Where the config bind-mounts ctx.out inside the container (for startContainer hooks). */
const OUT_IN_CONTAINER = "/hookout";

/** The recording script on the host and in the rootfs (see writeRecorders). */
const RECORD = "record.sh";

const HOST_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const ANNOTATIONS = { "org.example.hooks": "yes", "org.example.other": "a=b c" };

function uniqueId(name: string): string {
  return `hooks-${name.replace(/[^A-Za-z0-9]+/g, "-").slice(0, 40)}-${crypto.randomUUID().slice(0, 8)}`;
}

async function writeScript(path: string, body: string): Promise<void> {
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
}

/**
 * A recorder writing into `dir`: `record.sh LABEL` saves its stdin as LABEL.stdin, its mount
 * and pid namespaces as LABEL.ns, and appends LABEL to `order`.
 */
function recorderBody(dir: string): string {
  return [
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    `cat > "${dir}/$1.stdin"`,
    `echo "$(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/pid)" > "${dir}/$1.ns"`,
    `echo "$1" >> "${dir}/order"`,
  ].join("\n");
}

/** Writes the recorder to ctx.out (host side) and to the rootfs's /record.sh (container side). */
async function writeRecorders(ctx: Ctx): Promise<void> {
  await writeScript(join(ctx.out, RECORD), recorderBody(ctx.out));
  await writeScript(join(ctx.rootfs, RECORD), recorderBody(OUT_IN_CONTAINER));
}

/** A hook that records under `label`: on the host, or (startContainer) in the container. */
function recorder(ctx: Ctx, label: string, where: "host" | "container" = "host"): Hook {
  const path = where === "host" ? join(ctx.out, RECORD) : `/${RECORD}`;
  return { path, args: [path, label], env: [HOST_PATH] };
}

/** Every kind recording under its own name (two prestart hooks: prestart and prestart.1). */
function recordAll(ctx: Ctx): Hooks {
  return {
    prestart: [recorder(ctx, "prestart"), recorder(ctx, "prestart.1")],
    createRuntime: [recorder(ctx, "createRuntime")],
    createContainer: [recorder(ctx, "createContainer")],
    startContainer: [recorder(ctx, "startContainer", "container")],
    poststart: [recorder(ctx, "poststart")],
    poststop: [recorder(ctx, "poststop")],
  };
}

/** Bind-mounts ctx.out at /hookout so that hooks inside the container write to the host. */
function mountOut(ctx: Ctx, spec: Spec): void {
  spec.mounts = [
    ...(spec.mounts ?? []),
    { destination: OUT_IN_CONTAINER, type: "bind", source: ctx.out, options: ["rbind", "rw"] },
  ];
}

/**
 * Makes a bundle whose config `mutate` edits (it gets the ctx, to name hook paths), with the
 * recorders written; calls fn; then `delete --force` and removes everything.
 */
async function withBundle(
  name: string,
  opts: { args?: string[]; mutate?: (spec: Spec, ctx: Ctx) => void },
  fn: (ctx: Ctx) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "druntime-state-" });
  const bundle = await Deno.realPath(await Deno.makeTempDir({ prefix: "druntime-bundle-" }));
  const ctx: Ctx = {
    id: uniqueId(name),
    root,
    bundle,
    rootfs: join(bundle, "rootfs"),
    out: join(bundle, "hooks"),
  };
  try {
    await Deno.mkdir(ctx.out);
    await makeBundle({
      dir: bundle,
      args: opts.args ?? ["sleep", "100"],
      mutate: (spec) => opts.mutate?.(spec, ctx),
    });
    await writeRecorders(ctx);
    await fn(ctx);
  } finally {
    await dr(ctx, "delete", "--force", ctx.id).catch(() => {});
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.remove(bundle, { recursive: true }).catch(() => {});
  }
}

const DRUNTIME_TIMEOUT_MS = 20_000;

/**
 * `druntime --root <ctx.root> ...args`, its stdout and stderr going to files: a created
 * container's init inherits them, so pipes would not reach EOF until the container is gone.
 */
async function dr(ctx: Ctx, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "druntime-hooks-io-" });
  try {
    const [stdout, stderr] = [join(dir, "stdout"), join(dir, "stderr")];
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        'o=$1 e=$2; shift 2; exec "$@" >"$o" 2>"$e" </dev/null',
        "sh",
        stdout,
        stderr,
        Deno.execPath(),
        "run",
        "-A",
        MAIN_TS,
        "--root",
        ctx.root,
        ...args,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    // A hang fails the test instead of stalling the suite.
    let hung = false;
    const watchdog = setTimeout(() => {
      hung = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }, DRUNTIME_TIMEOUT_MS);
    const out = await child.status.finally(() => clearTimeout(watchdog));
    if (hung) {
      throw new Error(`druntime ${args.join(" ")}: no exit after ${DRUNTIME_TIMEOUT_MS} ms`);
    }
    return {
      code: out.code,
      stdout: await Deno.readTextFile(stdout),
      stderr: await Deno.readTextFile(stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** stderr without druntime's warnings. */
function errorsOf(stderr: string): string {
  return stderr.split("\n").filter((l) => l !== "" && !l.startsWith("druntime: warning: ")).join("\n");
}

/** druntime's warning lines. */
function warningsOf(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("druntime: warning: "));
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(path))).map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** The labels the recorders appended to ctx.out/order, in order. */
async function order(ctx: Ctx): Promise<string[]> {
  return ((await readIfExists(join(ctx.out, "order"))) ?? "").split("\n").filter((l) => l !== "");
}

/** The state JSON a recorder read on its stdin. */
interface HookState {
  ociVersion: string;
  id: string;
  status: string;
  pid: number;
  bundle: string;
  annotations?: Record<string, string>;
}

async function stdinOf(ctx: Ctx, label: string): Promise<HookState> {
  const text = await Deno.readTextFile(join(ctx.out, `${label}.stdin`));
  try {
    return JSON.parse(text) as HookState;
  } catch {
    throw new Error(`${label} hook's stdin is not JSON: ${JSON.stringify(text)}`);
  }
}

/** `druntime state`, parsed. */
async function stateOf(ctx: Ctx): Promise<{ status: string; pid: number; ociVersion: string }> {
  const r = await dr(ctx, "state", ctx.id);
  assert.equal(r.code, 0, `state: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Pids of processes that use the bundle: their root directory is in it (a chroot), or their
 * mount table (in another mount namespace: a container after pivot_root) mentions it.
 */
async function processesUsing(dir: string): Promise<string[]> {
  const found: string[] = [];
  const ownMountNs = await Deno.readLink("/proc/self/ns/mnt");
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const root = await Deno.readLink(`/proc/${e.name}/root`);
      if (root === dir || root.startsWith(`${dir}/`)) {
        found.push(e.name);
      } else if (await Deno.readLink(`/proc/${e.name}/ns/mnt`) !== ownMountNs) {
        const mountinfo = await Deno.readTextFile(`/proc/${e.name}/mountinfo`);
        if (mountinfo.includes(`${dir}/`)) found.push(e.name);
      }
    } catch {
      // gone, or a kernel thread
    }
  }
  return found;
}

/** No state entry under the root, no host mount mentioning the bundle, no process inside it. */
async function assertNothingLeft(ctx: Ctx): Promise<void> {
  assert.deepEqual(await listDir(ctx.root), [], `state entries left under ${ctx.root}`);
  const mounts = (await hostMounts()).split("\n").filter((l) => l.includes(ctx.bundle));
  assert.deepEqual(mounts, [], "host mounts left that mention the bundle");
  assert.deepEqual(await processesUsing(ctx.bundle), [], "processes left that use the bundle");
}

/** A host script that says `message` on stderr and exits with `code`. */
async function failingHook(ctx: Ctx, name: string, code: number, message: string): Promise<string> {
  const path = join(ctx.out, name);
  await writeScript(path, `cat > /dev/null\necho "${message}" >&2\nexit ${code}`);
  return path;
}

/** A failing hook's config entry, for a script failingHook writes later (before create). */
function failing(ctx: Ctx, name: string): Hook {
  return { path: join(ctx.out, name), env: [HOST_PATH] };
}

// ---------------------------------------------------------------------------------------
// Order and stdin
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "hooks: every kind runs once, in the lifecycle's order (create, start, delete)",
  ...rootOnly("hooks: every kind runs once, in the lifecycle's order (create, start, delete)"),
  async fn() {
    await withBundle("order", {
      mutate: (spec, ctx) => {
        spec.hooks = recordAll(ctx);
        mountOut(ctx, spec);
      },
    }, async (ctx) => {
      const created = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(created.code, 0, created.stderr);
      assert.equal(errorsOf(created.stderr), "");
      assert.deepEqual(await order(ctx), ["prestart", "prestart.1", "createRuntime", "createContainer"]);
      assert.equal((await stateOf(ctx)).status, "created");

      const started = await dr(ctx, "start", ctx.id);
      assert.equal(started.code, 0, started.stderr);
      assert.equal(errorsOf(started.stderr), "");
      assert.deepEqual(await order(ctx), [
        "prestart",
        "prestart.1",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
      ]);
      assert.equal((await stateOf(ctx)).status, "running");

      const deleted = await dr(ctx, "delete", "--force", ctx.id);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(errorsOf(deleted.stderr), "");
      assert.deepEqual(await order(ctx), [
        "prestart",
        "prestart.1",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
      ]);
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "hooks: stdin is the state JSON (id, pid, bundle, status, annotations)",
  ...rootOnly("hooks: stdin is the state JSON (id, pid, bundle, status, annotations)"),
  async fn() {
    await withBundle("stdin", {
      mutate: (spec, ctx) => {
        spec.hooks = recordAll(ctx);
        spec.annotations = { ...ANNOTATIONS };
        mountOut(ctx, spec);
      },
    }, async (ctx) => {
      const created = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(created.code, 0, created.stderr);
      const { pid, ociVersion } = await stateOf(ctx);
      assert.ok(pid > 0, `pid ${pid}`);
      const expect = (label: string, status: string, s: HookState) => {
        assert.equal(s.id, ctx.id, `${label}: id`);
        assert.equal(s.pid, pid, `${label}: pid`);
        assert.equal(s.bundle, ctx.bundle, `${label}: bundle`);
        assert.equal(s.ociVersion, ociVersion, `${label}: ociVersion`);
        assert.deepEqual(s.annotations, ANNOTATIONS, `${label}: annotations`);
        assert.equal(s.status, status, `${label}: status`);
      };
      for (const label of ["prestart", "prestart.1", "createRuntime", "createContainer"]) {
        expect(label, "creating", await stdinOf(ctx, label));
      }

      const started = await dr(ctx, "start", ctx.id);
      assert.equal(started.code, 0, started.stderr);
      const startContainer = await stdinOf(ctx, "startContainer");
      // The status is checked in its own test below (OCI: the program has not run yet).
      expect("startContainer", startContainer.status, startContainer);
      expect("poststart", "running", await stdinOf(ctx, "poststart"));

      const deleted = await dr(ctx, "delete", "--force", ctx.id);
      assert.equal(deleted.code, 0, deleted.stderr);
      expect("poststop", "stopped", await stdinOf(ctx, "poststop"));
    });
  },
});

Deno.test({
  name: "hooks: startContainer hooks see status created (the program has not run yet, as runc)",
  ...rootOnly("hooks: startContainer hooks see status created (the program has not run yet, as runc)"),
  async fn() {
    await withBundle("start-status", {
      mutate: (spec, ctx) => {
        spec.hooks = { startContainer: [recorder(ctx, "startContainer", "container")] };
        mountOut(ctx, spec);
      },
    }, async (ctx) => {
      const created = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(created.code, 0, created.stderr);
      const started = await dr(ctx, "start", ctx.id);
      assert.equal(started.code, 0, started.stderr);
      // runtime-spec: "running: the container process has executed the user-specified program";
      // startContainer hooks run before that, and runc passes specs.StateCreated.
      assert.equal((await stdinOf(ctx, "startContainer")).status, "created");
    });
  },
});

Deno.test({
  name: "hooks: runtime-namespace hooks run on the host, container-namespace hooks in the container",
  ...rootOnly("hooks: runtime-namespace hooks run on the host, container-namespace hooks in the container"),
  async fn() {
    await withBundle("namespaces", {
      mutate: (spec, ctx) => {
        spec.hooks = recordAll(ctx);
        mountOut(ctx, spec);
      },
    }, async (ctx) => {
      const created = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(created.code, 0, created.stderr);
      const { pid } = await stateOf(ctx);
      const container = `${await Deno.readLink(`/proc/${pid}/ns/mnt`)} ${await Deno.readLink(
        `/proc/${pid}/ns/pid`,
      )}`;
      const host = `${await Deno.readLink("/proc/self/ns/mnt")} ${await Deno.readLink("/proc/self/ns/pid")}`;
      assert.notEqual(container, host);
      const started = await dr(ctx, "start", ctx.id);
      assert.equal(started.code, 0, started.stderr);
      const deleted = await dr(ctx, "delete", "--force", ctx.id);
      assert.equal(deleted.code, 0, deleted.stderr);
      const nsOf = async (label: string) => (await Deno.readTextFile(join(ctx.out, `${label}.ns`))).trim();
      for (const label of ["prestart", "createRuntime", "poststart", "poststop"]) {
        assert.equal(await nsOf(label), host, `${label} runs in the runtime's namespaces`);
      }
      for (const label of ["createContainer", "startContainer"]) {
        assert.equal(await nsOf(label), container, `${label} runs in the container's namespaces`);
      }
    });
  },
});

// ---------------------------------------------------------------------------------------
// args and env
// ---------------------------------------------------------------------------------------

/**
 * A prestart hook run by the host's /bin/sh with `-c SCRIPT`, saving its own argv and environ
 * (from /proc: exactly what druntime passed to execve) NUL-separated.
 */
function argvEnvHook(ctx: Ctx, argv0: string, env: string[]): Hook {
  return { path: "/bin/sh", args: [argv0, "-c", argvEnvScript(ctx), "arg one", "arg two"], env };
}

function argvEnvScript(ctx: Ctx): string {
  return `cat /proc/$$/cmdline > "${ctx.out}/argv"; cat /proc/$$/environ > "${ctx.out}/environ"`;
}

function nulSplit(text: string): string[] {
  return text.split("\0").slice(0, -1);
}

Deno.test({
  name: "hooks: args after args[0] are the arguments, and env is exactly the configured env",
  ...rootOnly("hooks: args after args[0] are the arguments, and env is exactly the configured env"),
  async fn() {
    const env = ["FOO=bar", "WITH_EQUALS=a=b=c", "EMPTY=", "SPACES=x y  z"];
    await withBundle("args-env", {
      mutate: (spec, ctx) => {
        spec.hooks = { prestart: [argvEnvHook(ctx, "/bin/sh", env)] };
      },
    }, async (ctx) => {
      const created = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(created.code, 0, created.stderr);
      const argv = nulSplit(await Deno.readTextFile(join(ctx.out, "argv")));
      assert.deepEqual(argv.slice(1), ["-c", argvEnvScript(ctx), "arg one", "arg two"]);
      const environ = nulSplit(await Deno.readTextFile(join(ctx.out, "environ")));
      assert.deepEqual([...environ].sort(), [...env].sort(), "the hook's environment is exactly hook.env");
    });
  },
});

Deno.test({
  name: "hooks: args[0] is the hook's argv[0] (execv semantics)",
  ...rootOnly("hooks: args[0] is the hook's argv[0] (execv semantics)"),
  async fn() {
    await withBundle("argv0", {
      mutate: (spec, ctx) => {
        spec.hooks = { prestart: [argvEnvHook(ctx, "my-hook-argv0", [HOST_PATH])] };
      },
    }, async (ctx) => {
      const created = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(created.code, 0, created.stderr);
      const argv = nulSplit(await Deno.readTextFile(join(ctx.out, "argv")));
      assert.equal(argv[0], "my-hook-argv0");
    });
  },
});

// ---------------------------------------------------------------------------------------
// Failures that fail the operation
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "hooks: a failing prestart hook fails create and leaves nothing",
  ...rootOnly("hooks: a failing prestart hook fails create and leaves nothing"),
  async fn() {
    await withBundle("prestart-fails", {
      mutate: (spec, ctx) => {
        spec.hooks = {
          prestart: [failing(ctx, "fail.sh"), recorder(ctx, "prestart.1")],
          createRuntime: [recorder(ctx, "createRuntime")],
          createContainer: [recorder(ctx, "createContainer")],
        };
      },
    }, async (ctx) => {
      const path = await failingHook(ctx, "fail.sh", 3, "prestart says no");
      const r = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`hooks\\.prestart\\[0\\] ${path}`));
      assert.match(r.stderr, /exit code 3/);
      assert.match(r.stderr, /prestart says no/);
      assert.deepEqual(await order(ctx), [], "no hook after the failing one ran");
      await assertNothingLeft(ctx);
      assert.notEqual((await dr(ctx, "state", ctx.id)).code, 0);
    });
  },
});

Deno.test({
  name: "hooks: a createRuntime hook that outlives its timeout fails create quickly and leaves nothing",
  ...rootOnly(
    "hooks: a createRuntime hook that outlives its timeout fails create quickly and leaves nothing",
  ),
  async fn() {
    await withBundle("createRuntime-timeout", {
      mutate: (spec, ctx) => {
        spec.hooks = {
          createRuntime: [{ path: join(ctx.out, "slow.sh"), env: [HOST_PATH], timeout: 1 }],
          createContainer: [recorder(ctx, "createContainer")],
        };
      },
    }, async (ctx) => {
      const path = join(ctx.out, "slow.sh");
      await writeScript(path, `sleep 8\necho late >> "${ctx.out}/late"`);
      const t0 = performance.now();
      const r = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      const took = (performance.now() - t0) / 1000;
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`hooks\\.createRuntime\\[0\\] ${path}`));
      assert.match(r.stderr, /timed out/);
      assert.deepEqual(await order(ctx), [], "createContainer did not run");
      await assertNothingLeft(ctx);
      assert.ok(took < 5, `create took ${took.toFixed(1)} s with a 1 s timeout on an 8 s hook`);
    });
  },
});

Deno.test({
  name: "hooks: a failing createContainer hook fails create and leaves nothing",
  ...rootOnly("hooks: a failing createContainer hook fails create and leaves nothing"),
  async fn() {
    await withBundle("createContainer-fails", {
      mutate: (spec, ctx) => {
        spec.hooks = {
          prestart: [recorder(ctx, "prestart")],
          createContainer: [failing(ctx, "fail.sh")],
        };
      },
    }, async (ctx) => {
      const path = await failingHook(ctx, "fail.sh", 5, "createContainer says no");
      const r = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`hooks\\.createContainer\\[0\\] ${path}`));
      assert.match(r.stderr, /exit code 5/);
      assert.match(r.stderr, /createContainer says no/);
      assert.deepEqual(await order(ctx), ["prestart"]);
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "hooks: a failing startContainer hook fails start; the process never runs; nothing left after delete",
  ...rootOnly(
    "hooks: a failing startContainer hook fails start; the process never runs; nothing left after delete",
  ),
  async fn() {
    await withBundle("startContainer-fails", {
      args: ["sh", "-c", "touch /process-ran; sleep 100"],
      mutate: (spec, ctx) => {
        spec.hooks = {
          startContainer: [{ path: "/fail-start.sh" }],
          poststart: [recorder(ctx, "poststart")],
        };
      },
    }, async (ctx) => {
      await writeScript(join(ctx.rootfs, "fail-start.sh"), 'echo "startContainer says no" >&2\nexit 4');
      const created = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(created.code, 0, created.stderr);
      const r = await dr(ctx, "start", ctx.id);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /hooks\.startContainer\[0\] \/fail-start\.sh/);
      assert.match(r.stderr, /startContainer says no/);
      assert.deepEqual(await order(ctx), [], "poststart did not run");
      assert.equal(await readIfExists(join(ctx.rootfs, "process-ran")), undefined, "the process never ran");
      const st = await dr(ctx, "state", ctx.id);
      if (st.code === 0) {
        assert.equal(JSON.parse(st.stdout).status, "stopped");
        const deleted = await dr(ctx, "delete", ctx.id);
        assert.equal(deleted.code, 0, deleted.stderr);
      }
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "hooks: a failing create-time hook still runs the poststop hooks (OCI lifecycle steps 12-13)",
  ...rootOnly("hooks: a failing create-time hook still runs the poststop hooks (OCI lifecycle steps 12-13)"),
  async fn() {
    await withBundle("prestart-fails-poststop", {
      mutate: (spec, ctx) => {
        spec.hooks = { prestart: [failing(ctx, "fail.sh")], poststop: [recorder(ctx, "poststop")] };
      },
    }, async (ctx) => {
      await failingHook(ctx, "fail.sh", 3, "prestart says no");
      const r = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(r.code, 1, r.stderr);
      await assertNothingLeft(ctx);
      assert.deepEqual(await order(ctx), ["poststop"]);
    });
  },
});

// ---------------------------------------------------------------------------------------
// Failures that are warnings
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "hooks: failing poststart and poststop hooks are warnings; start and delete succeed",
  ...rootOnly("hooks: failing poststart and poststop hooks are warnings; start and delete succeed"),
  async fn() {
    await withBundle("post-warn", {
      mutate: (spec, ctx) => {
        spec.hooks = {
          poststart: [failing(ctx, "fail-poststart.sh"), recorder(ctx, "poststart.1")],
          poststop: [failing(ctx, "fail-poststop.sh"), recorder(ctx, "poststop.1")],
        };
      },
    }, async (ctx) => {
      const poststart = await failingHook(ctx, "fail-poststart.sh", 6, "poststart says no");
      const poststop = await failingHook(ctx, "fail-poststop.sh", 7, "poststop says no");
      const created = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(created.code, 0, created.stderr);

      const started = await dr(ctx, "start", ctx.id);
      assert.equal(started.code, 0, started.stderr);
      assert.equal(errorsOf(started.stderr), "");
      const startWarning = warningsOf(started.stderr).find((l) => l.includes("hooks.poststart[0]"));
      assert.ok(startWarning, `a warning names hooks.poststart[0]: ${started.stderr}`);
      assert.ok(startWarning.includes(poststart), startWarning);
      const { status, pid } = await stateOf(ctx);
      assert.equal(status, "running");
      assert.ok((await Deno.readTextFile(`/proc/${pid}/cmdline`)).startsWith("sleep\0"), "the process runs");

      const deleted = await dr(ctx, "delete", "--force", ctx.id);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(errorsOf(deleted.stderr), "");
      const stopWarning = warningsOf(deleted.stderr).find((l) => l.includes("hooks.poststop[0]"));
      assert.ok(stopWarning, `a warning names hooks.poststop[0]: ${deleted.stderr}`);
      assert.ok(stopWarning.includes(poststop), stopWarning);
      assert.notEqual((await dr(ctx, "state", ctx.id)).code, 0, "the entry is gone");
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "hooks: after a failing poststart or poststop hook the remaining hooks of its kind still run",
  ...rootOnly("hooks: after a failing poststart or poststop hook the remaining hooks of its kind still run"),
  async fn() {
    await withBundle("post-remaining", {
      mutate: (spec, ctx) => {
        spec.hooks = {
          poststart: [failing(ctx, "fail-poststart.sh"), recorder(ctx, "poststart.1")],
          poststop: [failing(ctx, "fail-poststop.sh"), recorder(ctx, "poststop.1")],
        };
      },
    }, async (ctx) => {
      await failingHook(ctx, "fail-poststart.sh", 6, "poststart says no");
      await failingHook(ctx, "fail-poststop.sh", 7, "poststop says no");
      const created = await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
      assert.equal(created.code, 0, created.stderr);
      const started = await dr(ctx, "start", ctx.id);
      assert.equal(started.code, 0, started.stderr);
      const deleted = await dr(ctx, "delete", "--force", ctx.id);
      assert.equal(deleted.code, 0, deleted.stderr);
      // runtime-spec lifecycle steps 9 and 13: "the runtime MUST log a warning, but the
      // remaining hooks and lifecycle continue as if the hook had succeeded".
      assert.deepEqual(await order(ctx), ["poststart.1", "poststop.1"]);
    });
  },
});

// ---------------------------------------------------------------------------------------
// run, and the config check
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "hooks: run runs every kind in order, poststop included",
  ...rootOnly("hooks: run runs every kind in order, poststop included"),
  async fn() {
    await withBundle("run", {
      args: ["sh", "-c", `echo process >> ${OUT_IN_CONTAINER}/order`],
      mutate: (spec, ctx) => {
        spec.hooks = recordAll(ctx);
        mountOut(ctx, spec);
      },
    }, async (ctx) => {
      const r = await dr(ctx, "run", "--bundle", ctx.bundle, ctx.id);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(errorsOf(r.stderr), "");
      const got = await order(ctx);
      // The process and poststart race (poststart runs once the process has exec'd).
      assert.deepEqual(got.filter((l) => l !== "process"), [
        "prestart",
        "prestart.1",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
      ]);
      assert.ok(got.indexOf("process") > got.indexOf("startContainer"), got.join(" "));
      assert.ok(got.indexOf("process") < got.indexOf("poststop"), got.join(" "));
      assert.equal((await stdinOf(ctx, "poststop")).status, "stopped");
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "hooks: a config with hooks gets no warning that hooks are not run",
  ...rootOnly("hooks: a config with hooks gets no warning that hooks are not run"),
  async fn() {
    await withBundle("no-warning", {
      args: ["true"],
      mutate: (spec, ctx) => {
        spec.hooks = { prestart: [recorder(ctx, "prestart")], poststop: [recorder(ctx, "poststop")] };
      },
    }, async (ctx) => {
      const r = await dr(ctx, "run", "--bundle", ctx.bundle, ctx.id);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await order(ctx), ["prestart", "poststop"]);
      assert.deepEqual(warningsOf(r.stderr).filter((l) => l.includes("hooks.")), [], r.stderr);
    });
  },
});
