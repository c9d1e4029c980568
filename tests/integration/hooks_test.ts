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
import {
  assertNothingLeft,
  type Container,
  druntimeDetached,
  errorsOf,
  uniqueId,
  warningsOf,
} from "../fixtures/containers.ts";
import { makeBundle, rootOnly } from "../fixtures/rootfs.ts";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** One container's world: a unique id, its own state root, bundle and hook output directory. */
interface Ctx extends Container {
  /** bundle/hooks: the host-side hook scripts and everything hooks write (on the host). */
  out: string;
}

/** Where the config bind-mounts ctx.out inside the container (for startContainer hooks). */
const OUT_IN_CONTAINER = "/hookout";

/** The recording script on the host and in the rootfs (see writeRecorders). */
const RECORD = "record.sh";

const HOST_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const ANNOTATIONS = { "org.example.hooks": "yes", "org.example.other": "a=b c" };

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

/** The labels recordAll's hooks record, in the lifecycle's order. */
const RECORD_ALL_ORDER = [
  "prestart",
  "prestart.1",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
];

/** RECORD_ALL_ORDER up to and including `label`: what has run once that kind has. */
function recordedUpTo(label: string): string[] {
  const i = RECORD_ALL_ORDER.indexOf(label);
  if (i < 0) throw new Error(`recordAll records no ${label}`);
  return RECORD_ALL_ORDER.slice(0, i + 1);
}

/** Bind-mounts ctx.out at /hookout so that hooks inside the container write to the host. */
function mountOut(ctx: Ctx, spec: Spec): void {
  spec.mounts = [
    ...(spec.mounts ?? []),
    { destination: OUT_IN_CONTAINER, type: "bind", source: ctx.out, options: ["rbind", "rw"] },
  ];
}

/** A config edit: every kind records (recordAll), with ctx.out mounted for startContainer. */
function recordAllMounted(spec: Spec, ctx: Ctx): void {
  spec.hooks = recordAll(ctx);
  mountOut(ctx, spec);
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
    id: uniqueId("hooks", name),
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

/** How long one druntime command may run here before the test fails. */
const DRUNTIME_TIMEOUT_MS = 20_000;

/**
 * `druntime --root <ctx.root> ...args`, detached from the test's pipes (a created container's
 * init inherits druntime's stdout and stderr; see druntimeDetached).
 */
async function dr(ctx: Ctx, ...args: string[]) {
  return await druntimeDetached(["--root", ctx.root, ...args], DRUNTIME_TIMEOUT_MS);
}

/** dr, asserting exit 0. */
async function drOk(ctx: Ctx, ...args: string[]) {
  const r = await dr(ctx, ...args);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

/** `create` of ctx's container (detached, see dr). */
async function create(ctx: Ctx) {
  return await dr(ctx, "create", "--bundle", ctx.bundle, ctx.id);
}

/** create, asserting exit 0. */
async function mustCreate(ctx: Ctx) {
  return await drOk(ctx, "create", "--bundle", ctx.bundle, ctx.id);
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
    await withBundle("order", { mutate: recordAllMounted }, async (ctx) => {
      const created = await mustCreate(ctx);
      assert.equal(errorsOf(created.stderr), "");
      assert.deepEqual(await order(ctx), recordedUpTo("createContainer"));
      assert.equal((await stateOf(ctx)).status, "created");

      const started = await drOk(ctx, "start", ctx.id);
      assert.equal(errorsOf(started.stderr), "");
      assert.deepEqual(await order(ctx), recordedUpTo("poststart"));
      assert.equal((await stateOf(ctx)).status, "running");

      const deleted = await drOk(ctx, "delete", "--force", ctx.id);
      assert.equal(errorsOf(deleted.stderr), "");
      assert.deepEqual(await order(ctx), RECORD_ALL_ORDER);
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
        recordAllMounted(spec, ctx);
        spec.annotations = { ...ANNOTATIONS };
      },
    }, async (ctx) => {
      await mustCreate(ctx);
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

      await drOk(ctx, "start", ctx.id);
      const startContainer = await stdinOf(ctx, "startContainer");
      // The status is checked in its own test below (OCI: the program has not run yet).
      expect("startContainer", startContainer.status, startContainer);
      expect("poststart", "running", await stdinOf(ctx, "poststart"));

      await drOk(ctx, "delete", "--force", ctx.id);
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
      await mustCreate(ctx);
      await drOk(ctx, "start", ctx.id);
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
    await withBundle("namespaces", { mutate: recordAllMounted }, async (ctx) => {
      await mustCreate(ctx);
      const { pid } = await stateOf(ctx);
      const container = `${await Deno.readLink(`/proc/${pid}/ns/mnt`)} ${await Deno.readLink(
        `/proc/${pid}/ns/pid`,
      )}`;
      const host = `${await Deno.readLink("/proc/self/ns/mnt")} ${await Deno.readLink("/proc/self/ns/pid")}`;
      assert.notEqual(container, host);
      await drOk(ctx, "start", ctx.id);
      await drOk(ctx, "delete", "--force", ctx.id);
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
      await mustCreate(ctx);
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
      await mustCreate(ctx);
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
      const r = await create(ctx);
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
      const r = await create(ctx);
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
      const r = await create(ctx);
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
      await mustCreate(ctx);
      const r = await dr(ctx, "start", ctx.id);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /hooks\.startContainer\[0\] \/fail-start\.sh/);
      assert.match(r.stderr, /startContainer says no/);
      assert.deepEqual(await order(ctx), [], "poststart did not run");
      assert.equal(await readIfExists(join(ctx.rootfs, "process-ran")), undefined, "the process never ran");
      const st = await dr(ctx, "state", ctx.id);
      if (st.code === 0) {
        assert.equal(JSON.parse(st.stdout).status, "stopped");
        await drOk(ctx, "delete", ctx.id);
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
      const r = await create(ctx);
      assert.equal(r.code, 1, r.stderr);
      await assertNothingLeft(ctx);
      assert.deepEqual(await order(ctx), ["poststop"]);
    });
  },
});

// ---------------------------------------------------------------------------------------
// Failures that are warnings
// ---------------------------------------------------------------------------------------

/** A config edit: poststart and poststop each a failing hook then a recorder (poststart.1, poststop.1). */
function failingPostHooks(spec: Spec, ctx: Ctx): void {
  spec.hooks = {
    poststart: [failing(ctx, "fail-poststart.sh"), recorder(ctx, "poststart.1")],
    poststop: [failing(ctx, "fail-poststop.sh"), recorder(ctx, "poststop.1")],
  };
}

/** Writes failingPostHooks's two failing scripts (exit 6 and 7); returns their paths. */
async function writeFailingPostHooks(ctx: Ctx): Promise<{ poststart: string; poststop: string }> {
  return {
    poststart: await failingHook(ctx, "fail-poststart.sh", 6, "poststart says no"),
    poststop: await failingHook(ctx, "fail-poststop.sh", 7, "poststop says no"),
  };
}

Deno.test({
  name: "hooks: failing poststart and poststop hooks are warnings; start and delete succeed",
  ...rootOnly("hooks: failing poststart and poststop hooks are warnings; start and delete succeed"),
  async fn() {
    await withBundle("post-warn", {
      mutate: failingPostHooks,
    }, async (ctx) => {
      const { poststart, poststop } = await writeFailingPostHooks(ctx);
      await mustCreate(ctx);

      const started = await drOk(ctx, "start", ctx.id);
      assert.equal(errorsOf(started.stderr), "");
      const startWarning = warningsOf(started.stderr).find((l) => l.includes("hooks.poststart[0]"));
      assert.ok(startWarning, `a warning names hooks.poststart[0]: ${started.stderr}`);
      assert.ok(startWarning.includes(poststart), startWarning);
      const { status, pid } = await stateOf(ctx);
      assert.equal(status, "running");
      assert.ok((await Deno.readTextFile(`/proc/${pid}/cmdline`)).startsWith("sleep\0"), "the process runs");

      const deleted = await drOk(ctx, "delete", "--force", ctx.id);
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
      mutate: failingPostHooks,
    }, async (ctx) => {
      await writeFailingPostHooks(ctx);
      await mustCreate(ctx);
      await drOk(ctx, "start", ctx.id);
      await drOk(ctx, "delete", "--force", ctx.id);
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
      mutate: recordAllMounted,
    }, async (ctx) => {
      const r = await drOk(ctx, "run", "--bundle", ctx.bundle, ctx.id);
      assert.equal(errorsOf(r.stderr), "");
      const got = await order(ctx);
      // The process and poststart race (poststart runs once the process has exec'd).
      assert.deepEqual(got.filter((l) => l !== "process"), RECORD_ALL_ORDER);
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
      const r = await drOk(ctx, "run", "--bundle", ctx.bundle, ctx.id);
      assert.deepEqual(await order(ctx), ["prestart", "poststop"]);
      assert.deepEqual(warningsOf(r.stderr).filter((l) => l.includes("hooks.")), [], r.stderr);
    });
  },
});
