/**
 * `druntime run` end to end, as root: exit codes, signals, stdio, the pid file and the state
 * entry, ids, namespaces given by path, containers without a mount namespace, and bad input
 * (which must fail with a clear message and leave nothing behind).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Spec } from "../../runtime/spec/types.ts";
import {
  assertNothingLeft,
  type Container,
  errorsOf,
  processesUsing,
  uniqueId,
  withoutNamespace,
} from "../fixtures/containers.ts";
import { druntime, druntimeCommand, hostMounts, MAIN_TS, makeBundle, rootOnly } from "../fixtures/rootfs.ts";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** One container's world: a unique id, its own state root (an empty temp dir) and its own bundle. */
type Ctx = Container;

/** Makes a bundle (see makeBundle), calls fn, removes everything in `finally`. */
async function withBundle(
  name: string,
  opts: { args?: string[]; mutate?: (spec: Spec) => void },
  fn: (ctx: Ctx) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "druntime-state-" });
  const bundle = await Deno.realPath(await Deno.makeTempDir({ prefix: "druntime-bundle-" }));
  try {
    await makeBundle({ dir: bundle, args: opts.args, mutate: opts.mutate });
    await fn({ id: uniqueId("run", name), root, bundle, rootfs: join(bundle, "rootfs") });
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.remove(bundle, { recursive: true }).catch(() => {});
  }
}

function runArgs(ctx: Ctx, ...extra: string[]): string[] {
  return ["--root", ctx.root, "run", "--bundle", ctx.bundle, ...extra, ctx.id];
}

/** Reads a child's stdout as text, and can wait for a piece of text to appear. */
class OutputReader {
  text = "";
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Waits until the text read so far includes `needle`; throws after `ms` or at EOF. */
  async waitFor(needle: string, ms = 15_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`timed out waiting for ${JSON.stringify(needle)}; got ${JSON.stringify(this.text)}`),
          ),
        ms,
      );
    });
    try {
      while (!this.text.includes(needle)) {
        if (this.#done) {
          throw new Error(`EOF before ${JSON.stringify(needle)}; got ${JSON.stringify(this.text)}`);
        }
        await Promise.race([this.#readOnce(), timeout]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #readOnce(): Promise<void> {
    const { value, done } = await this.#reader.read();
    if (done) this.#done = true;
    else this.text += this.#decoder.decode(value, { stream: true });
  }

  /** Reads to EOF and returns everything read. */
  async rest(): Promise<string> {
    while (!this.#done) await this.#readOnce();
    this.#reader.releaseLock();
    return this.text;
  }
}

/** A `druntime run` running in the background, stdout read as it comes. */
interface Background {
  child: Deno.ChildProcess;
  out: OutputReader;
  stderr: Promise<string>;
}

function startRun(args: string[]): Background {
  const child = druntimeCommand(args).spawn();
  return { child, out: new OutputReader(child.stdout), stderr: new Response(child.stderr).text() };
}

/** Waits for a background run to end: its exit code, stdout and stderr. */
async function finish(bg: Background): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr, status] = await Promise.all([bg.out.rest(), bg.stderr, bg.child.status]);
  return { code: status.code, stdout, stderr };
}

/**
 * Kills a background run we started (by its pid) if it still runs, then the container it
 * left (druntime's own delete --force, by the pid in its state), and reaps it.
 */
async function stop(bg: Background, ctx?: Ctx): Promise<void> {
  try {
    bg.child.kill("SIGKILL");
  } catch {
    // already exited
  }
  if (ctx) await druntime(["--root", ctx.root, "delete", "--force", ctx.id]);
  await finish(bg).catch(() => {});
}

/** A shell script that says "ready" and then waits for the file /go to appear. */
const WAIT_FOR_GO = "echo ready; while [ ! -e /go ]; do sleep 0.02; done; echo done";

/** A config without a mount namespace and nothing that needs one. */
function noMountNamespace(spec: Spec): void {
  withoutNamespace("mount")(spec);
  spec.mounts = [];
  delete spec.linux!.maskedPaths;
  delete spec.linux!.readonlyPaths;
  delete spec.linux!.devices;
  spec.root!.readonly = false;
}

// ---------------------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "run: the container's exit code is druntime's",
  ...rootOnly("run: the container's exit code is druntime's"),
  async fn(t) {
    for (const code of [7, 0, 255]) {
      await t.step(`exit ${code}`, async () => {
        await withBundle(`exit-${code}`, { args: ["sh", "-c", `exit ${code}`] }, async (ctx) => {
          const r = await druntime(runArgs(ctx));
          assert.equal(r.code, code, r.stderr);
          assert.equal(errorsOf(r.stderr), "");
          await assertNothingLeft(ctx);
        });
      });
    }
  },
});

Deno.test({
  name: "run: a container killed by signal N makes druntime exit 128+N",
  ...rootOnly("run: a container killed by signal N makes druntime exit 128+N"),
  async fn(t) {
    // Without a pid namespace the shell is not a namespace's init, so a signal it sends
    // itself with the default disposition kills it (as PID 1 it would be ignored).
    for (const [sig, num] of [["TERM", 15], ["KILL", 9], ["USR1", 10]] as const) {
      await t.step(`kill -${sig} $$ -> ${128 + num}`, async () => {
        await withBundle(
          `sig-${sig}`,
          { args: ["sh", "-c", `kill -${sig} $$; echo survived`], mutate: withoutNamespace("pid") },
          async (ctx) => {
            const r = await druntime(runArgs(ctx));
            assert.equal(r.code, 128 + num, r.stderr);
            assert.equal(r.stdout, "");
            assert.equal(errorsOf(r.stderr), "");
            await assertNothingLeft(ctx);
          },
        );
      });
    }
  },
});

// ---------------------------------------------------------------------------------------
// Signals sent to druntime reach the container
// ---------------------------------------------------------------------------------------

const TRAPPED: [Deno.Signal, string, number][] = [
  ["SIGTERM", "TERM", 42],
  ["SIGINT", "INT", 43],
  ["SIGHUP", "HUP", 44],
  ["SIGUSR1", "USR1", 45],
  ["SIGUSR2", "USR2", 46],
  ["SIGQUIT", "QUIT", 47],
];

const TRAP_SCRIPT = [
  ...TRAPPED.map(([, name, code]) => `trap 'echo got-${name}; exit ${code}' ${name}`),
  "echo ready",
  "while :; do sleep 0.02; done",
].join("\n");

Deno.test({
  name: "run: signals sent to druntime are forwarded to the container",
  ...rootOnly("run: signals sent to druntime are forwarded to the container"),
  async fn(t) {
    for (const [signal, name, code] of TRAPPED) {
      await t.step(signal, async () => {
        await withBundle(`fwd-${name}`, { args: ["sh", "-c", TRAP_SCRIPT] }, async (ctx) => {
          const bg = startRun(runArgs(ctx));
          try {
            await bg.out.waitFor("ready\n");
            Deno.kill(bg.child.pid, signal);
            const r = await finish(bg);
            assert.equal(r.stdout, `ready\ngot-${name}\n`);
            assert.equal(r.code, code, r.stderr);
            assert.equal(errorsOf(r.stderr), "");
          } finally {
            await stop(bg, ctx);
          }
          await assertNothingLeft(ctx);
        });
      });
    }
  },
});

Deno.test({
  name: "run: a forwarded signal the container does not handle kills it (128+N)",
  ...rootOnly("run: a forwarded signal the container does not handle kills it (128+N)"),
  async fn() {
    // Not PID 1 of a pid namespace, so the default disposition applies.
    await withBundle(
      "fwd-default",
      { args: ["sh", "-c", "echo ready; exec sleep 30"], mutate: withoutNamespace("pid") },
      async (ctx) => {
        const bg = startRun(runArgs(ctx));
        try {
          await bg.out.waitFor("ready\n");
          Deno.kill(bg.child.pid, "SIGUSR2");
          const r = await finish(bg);
          assert.equal(r.code, 128 + 12, r.stderr);
          assert.equal(errorsOf(r.stderr), "");
        } finally {
          await stop(bg, ctx);
        }
        await assertNothingLeft(ctx);
      },
    );
  },
});

// ---------------------------------------------------------------------------------------
// stdio
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "run: the container reads druntime's stdin",
  ...rootOnly("run: the container reads druntime's stdin"),
  async fn() {
    await withBundle("stdin", { args: ["cat"] }, async (ctx) => {
      const input = "line one\nline two\n";
      const r = await druntime(runArgs(ctx), { stdin: input });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, input);
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "run: the container writes to druntime's stdout and stderr",
  ...rootOnly("run: the container writes to druntime's stdout and stderr"),
  async fn() {
    await withBundle(
      "stdio",
      { args: ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"] },
      async (ctx) => {
        const r = await druntime(runArgs(ctx));
        assert.equal(r.code, 3);
        assert.equal(r.stdout, "to-stdout\n");
        assert.equal(errorsOf(r.stderr), "to-stderr");
        await assertNothingLeft(ctx);
      },
    );
  },
});

Deno.test({
  name: "run: the container starts with default signal dispositions, no blocked signals, fds 0-2 only",
  ...rootOnly("run: the container starts with default signal dispositions, no blocked signals, fds 0-2 only"),
  async fn(t) {
    await t.step("signals", async () => {
      // Deno ignores SIGPIPE; ignored signals survive execve, so the init must reset them.
      await withBundle(
        "sigreset",
        { args: ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"] },
        async (ctx) => {
          const r = await druntime(runArgs(ctx));
          assert.equal(r.code, 0, r.stderr);
          const field = (name: string) =>
            BigInt(`0x${r.stdout.match(new RegExp(`^${name}:\\s*(\\w+)$`, "m"))![1]}`);
          assert.equal(field("SigBlk"), 0n, r.stdout);
          // All of them, 32 and 33 too: glibc's signal() refuses those two, and druntime here is
          // a Deno.Command child, which starts with both ignored.
          assert.equal(field("SigIgn"), 0n, r.stdout);
          await assertNothingLeft(ctx);
        },
      );
    });
    await t.step("fds", async () => {
      // `; exit 0` makes sh fork ls rather than exec it, so $$ is still the container's
      // process and not ls with its own directory fd.
      await withBundle("fds", { args: ["sh", "-c", "ls /proc/$$/fd; exit 0"] }, async (ctx) => {
        const r = await druntime(runArgs(ctx));
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.stdout.trim().split(/\s+/), ["0", "1", "2"], r.stderr);
        await assertNothingLeft(ctx);
      });
    });
  },
});

// ---------------------------------------------------------------------------------------
// The pid file and the state entry
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "run: --pid-file holds the container's host pid; the state entry goes when it exits",
  ...rootOnly("run: --pid-file holds the container's host pid; the state entry goes when it exits"),
  async fn() {
    await withBundle("pidfile", { args: ["sh", "-c", WAIT_FOR_GO] }, async (ctx) => {
      const pidFile = join(ctx.bundle, "container.pid");
      const bg = startRun(runArgs(ctx, "--pid-file", pidFile));
      try {
        await bg.out.waitFor("ready\n");
        const pid = Number(await Deno.readTextFile(pidFile));
        assert.ok(Number.isInteger(pid) && pid > 1, `pid file holds ${pid}`);
        assert.notEqual(pid, bg.child.pid, "the pid file names the container, not druntime");
        await Deno.stat(`/proc/${pid}`);
        assert.notEqual(
          await Deno.readLink(`/proc/${pid}/ns/pid`),
          await Deno.readLink("/proc/self/ns/pid"),
          "the container has its own pid namespace",
        );
        // Host pid first, then its pid in the container's namespace: 1.
        const nspid = (await Deno.readTextFile(`/proc/${pid}/status`)).match(/^NSpid:\s+(.*)$/m)?.[1];
        assert.deepEqual(nspid?.split(/\s+/), [String(pid), "1"]);

        const state = JSON.parse(await Deno.readTextFile(join(ctx.root, ctx.id, "state.json")));
        assert.equal(state.id, ctx.id);
        assert.equal(state.status, "running");
        assert.equal(state.pid, pid);
        assert.equal(state.bundle, ctx.bundle);

        // The leftover-process check of assertNothingLeft sees a running container.
        assert.ok((await processesUsing(ctx.bundle)).includes(String(pid)));

        await Deno.writeTextFile(join(ctx.rootfs, "go"), "");
        const r = await finish(bg);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "ready\ndone\n");
      } finally {
        await stop(bg, ctx);
      }
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "run: --keep leaves the state entry with status stopped",
  ...rootOnly("run: --keep leaves the state entry with status stopped"),
  async fn() {
    await withBundle("keep", { args: ["true"] }, async (ctx) => {
      const r = await druntime(runArgs(ctx, "--keep"));
      assert.equal(r.code, 0, r.stderr);
      try {
        const st = await druntime(["--root", ctx.root, "state", ctx.id]);
        assert.equal(st.code, 0, st.stderr);
        const state = JSON.parse(st.stdout);
        assert.equal(state.id, ctx.id);
        assert.equal(state.status, "stopped");
        assert.equal(state.bundle, ctx.bundle);
        assert.equal(state.pid, 0, "a stopped container's pid is 0, as runc reports it");
        // The kept entry still holds the id.
        const again = await druntime(runArgs(ctx));
        assert.equal(again.code, 1);
        assert.match(again.stderr, /already exists/);
      } finally {
        const del = await druntime(["--root", ctx.root, "delete", ctx.id]);
        assert.equal(del.code, 0, del.stderr);
      }
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "run: a second run with an id in use fails with `already exists`; the first is unaffected",
  ...rootOnly("run: a second run with an id in use fails with `already exists`; the first is unaffected"),
  async fn() {
    await withBundle("same-id", { args: ["sh", "-c", WAIT_FOR_GO] }, async (ctx) => {
      const first = startRun(runArgs(ctx));
      try {
        await first.out.waitFor("ready\n");
        const second = await druntime(runArgs(ctx));
        assert.equal(second.code, 1);
        assert.equal(errorsOf(second.stderr), `druntime: container "${ctx.id}" already exists`);
        assert.equal(second.stdout, "");

        const state = JSON.parse(await Deno.readTextFile(join(ctx.root, ctx.id, "state.json")));
        assert.equal(state.status, "running");
        await Deno.writeTextFile(join(ctx.rootfs, "go"), "");
        const r = await finish(first);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "ready\ndone\n");
      } finally {
        await stop(first, ctx);
      }
      await assertNothingLeft(ctx);
    });
  },
});

// ---------------------------------------------------------------------------------------
// Namespaces given by path
// ---------------------------------------------------------------------------------------

/** Runs `unshare <flag> sh -c '<setup>; echo ok; exec sleep 60'` and waits for its "ok". */
async function namespaceHolder(flag: string, setup = "true"): Promise<Background> {
  const child = new Deno.Command("unshare", {
    args: [flag, "sh", "-c", `${setup} && echo ok && exec sleep 60`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const bg = { child, out: new OutputReader(child.stdout), stderr: new Response(child.stderr).text() };
  try {
    await bg.out.waitFor("ok\n");
  } catch (e) {
    await stop(bg);
    throw e;
  }
  return bg;
}

function joinNamespace(type: string, path: string): (spec: Spec) => void {
  return (spec) => {
    spec.linux!.namespaces = spec.linux!.namespaces!.map((n) => n.type === type ? { type, path } : n);
  };
}

Deno.test({
  name: "run: joins a network namespace given by path",
  ...rootOnly("run: joins a network namespace given by path"),
  async fn() {
    const holder = await namespaceHolder("--net");
    try {
      const path = `/proc/${holder.child.pid}/ns/net`;
      const want = await Deno.readLink(path);
      assert.notEqual(want, await Deno.readLink("/proc/self/ns/net"), "the holder has its own netns");
      await withBundle(
        "netns-path",
        { args: ["readlink", "/proc/self/ns/net"], mutate: joinNamespace("network", path) },
        async (ctx) => {
          const r = await druntime(runArgs(ctx));
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout.trim(), want);
          await assertNothingLeft(ctx);
        },
      );
    } finally {
      await stop(holder);
    }
  },
});

Deno.test({
  name: "run: joins a uts namespace given by path and sees its hostname",
  ...rootOnly("run: joins a uts namespace given by path and sees its hostname"),
  async fn() {
    const hostname = `holder-${crypto.randomUUID().slice(0, 8)}`;
    const hostBefore = Deno.hostname();
    const holder = await namespaceHolder("--uts", `hostname ${hostname}`);
    try {
      const path = `/proc/${holder.child.pid}/ns/uts`;
      const want = await Deno.readLink(path);
      await withBundle(
        "utsns-path",
        {
          args: ["sh", "-c", "hostname; readlink /proc/self/ns/uts"],
          mutate: (spec) => {
            joinNamespace("uts", path)(spec);
            delete spec.hostname; // a hostname would be set in the holder's namespace
          },
        },
        async (ctx) => {
          const r = await druntime(runArgs(ctx));
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, `${hostname}\n${want}\n`);
          await assertNothingLeft(ctx);
        },
      );
      assert.equal(Deno.hostname(), hostBefore, "the host's hostname is unchanged");
    } finally {
      await stop(holder);
    }
  },
});

// ---------------------------------------------------------------------------------------
// No mount namespace
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "run: without a mount namespace the container runs chrooted in its rootfs",
  ...rootOnly("run: without a mount namespace the container runs chrooted in its rootfs"),
  async fn() {
    await withBundle(
      "no-mountns",
      { args: ["sh", "-c", "ls /; cat /marker"], mutate: noMountNamespace },
      async (ctx) => {
        await Deno.writeTextFile(join(ctx.rootfs, "marker"), "in-the-rootfs\n");
        const mountsBefore = await hostMounts();
        const r = await druntime(runArgs(ctx));
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.split("\n");
        assert.ok(lines.includes("bin") && lines.includes("marker"), r.stdout);
        assert.ok(r.stdout.endsWith("in-the-rootfs\n"), r.stdout);
        assert.equal(errorsOf(r.stderr), "");
        assert.equal(await hostMounts(), mountsBefore, "no mount in the host's namespace");
        await assertNothingLeft(ctx);
      },
    );
  },
});

Deno.test({
  name: "run: without a mount namespace, mounts and friends are refused",
  ...rootOnly("run: without a mount namespace, mounts and friends are refused"),
  async fn() {
    await withBundle("no-mountns-refused", {
      args: ["true"],
      mutate: (spec) => {
        withoutNamespace("mount")(spec);
        spec.root!.readonly = true;
      },
    }, async (ctx) => {
      const r = await druntime(runArgs(ctx));
      assert.equal(r.code, 1);
      for (const field of ["mounts", "linux.maskedPaths", "linux.readonlyPaths", "root.readonly"]) {
        assert.match(r.stderr, new RegExp(`\\n  ${field.replace(".", "\\.")}: needs a mount namespace`));
      }
      await assertNothingLeft(ctx);
    });
  },
});

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

interface BadCase {
  name: string;
  args?: string[];
  mutate?: (spec: Spec) => void;
  /** Changes the bundle after makeBundle. */
  setup?: (ctx: Ctx) => Promise<void>;
  /** The container id to use instead of a fresh one. */
  id?: string;
  /** More `run` flags. */
  flags?: (ctx: Ctx) => string[];
  /** Every one must appear in stderr. */
  expect: (string | RegExp)[];
}

const BAD: BadCase[] = [
  {
    name: "missing ociVersion",
    mutate: (s) => delete (s as Partial<Spec>).ociVersion,
    expect: ["invalid config: ociVersion: is required"],
  },
  {
    name: "empty process.args",
    mutate: (s) => s.process!.args = [],
    expect: ["invalid config: process.args: must name the program to run"],
  },
  {
    name: "relative process.cwd",
    mutate: (s) => s.process!.cwd = "tmp",
    expect: ['invalid config: process.cwd: must be an absolute path, got "tmp"'],
  },
  {
    name: "relative mount destination",
    mutate: (s) => s.mounts![0].destination = "proc",
    expect: ['invalid config: mounts[0].destination: must be an absolute path, got "proc"'],
  },
  {
    name: "unknown namespace type",
    mutate: (s) => s.linux!.namespaces!.push({ type: "bogus" as "pid" }),
    expect: [/invalid config: linux\.namespaces\[\d+\]\.type: unknown namespace type "bogus"/],
  },
  {
    name: "duplicate namespace type",
    mutate: (s) => s.linux!.namespaces!.push({ type: "pid" }),
    expect: [/invalid config: linux\.namespaces\[\d+\]\.type: duplicate namespace type "pid"/],
  },
  {
    name: "root.path missing from the config",
    mutate: (s) => delete (s.root as Partial<NonNullable<Spec["root"]>>).path,
    expect: ["invalid config: root.path: is required"],
  },
  {
    name: "root.path names no directory",
    mutate: (s) => s.root!.path = "no-such-rootfs",
    expect: [/invalid config: root\.path: ".*\/no-such-rootfs" does not exist/],
  },
  {
    name: "root.path is a file",
    mutate: (s) => s.root!.path = "config.json",
    expect: [/invalid config: root\.path: ".*\/config\.json" is not a directory/],
  },
  ...["a/b", "..", ".", "", "bad id"].map((id): BadCase => ({
    name: `container id ${JSON.stringify(id)}`,
    id,
    expect: [`invalid container id ${JSON.stringify(id)}`],
  })),
  {
    name: "bind mount of a missing source",
    mutate: (s) =>
      s.mounts!.push({
        destination: "/mnt",
        type: "bind",
        source: "/nonexistent-druntime-src",
        options: ["rbind"],
      }),
    expect: [/druntime: mountToRootfs: mounts\[7\]: .*"\/nonexistent-druntime-src" does not exist/],
  },
  {
    name: "exec of a missing program",
    args: ["nope"],
    expect: [`exec "nope": not found in the container's PATH`],
  },
  {
    name: "missing config.json",
    setup: (ctx) => Deno.remove(join(ctx.bundle, "config.json")),
    expect: ["no config.json"],
  },
  {
    name: "invalid JSON",
    setup: (ctx) => Deno.writeTextFile(join(ctx.bundle, "config.json"), '{"ociVersion": "1.2.0",'),
    expect: ["config.json: invalid JSON"],
  },
  {
    name: "a namespace path that does not exist",
    mutate: joinNamespace("network", "/nonexistent/ns/net"),
    expect: [/linux\.namespaces: network namespace \/nonexistent\/ns\/net: .*ENOENT/],
  },
  {
    name: "a pid file in a missing directory",
    flags: (ctx) => ["--pid-file", join(ctx.bundle, "no-such-dir", "pid")],
    expect: [/druntime: --pid-file .*\/no-such-dir\/pid: /],
  },
];

Deno.test({
  name: "run: bad input fails with a clear message, exit 1, and leaves nothing behind",
  ...rootOnly("run: bad input fails with a clear message, exit 1, and leaves nothing behind"),
  async fn(t) {
    for (const c of BAD) {
      await t.step(c.name, async () => {
        await withBundle(`bad-${c.name}`, { args: c.args ?? ["true"], mutate: c.mutate }, async (ctx) => {
          await c.setup?.(ctx);
          const id = c.id ?? ctx.id;
          const r = await druntime([
            "--root",
            ctx.root,
            "run",
            "--bundle",
            ctx.bundle,
            ...c.flags?.(ctx) ?? [],
            id,
          ]);
          assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
          assert.equal(r.stdout, "");
          for (const e of c.expect) {
            if (typeof e === "string") {
              assert.ok(r.stderr.includes(e), `want ${JSON.stringify(e)} in ${r.stderr}`);
            } else assert.match(r.stderr, e);
          }
          assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`);
          await assertNothingLeft(ctx);
        });
      });
    }
  },
});

Deno.test({
  name: "run: process user, additional groups, umask, cwd and env as configured",
  ...rootOnly("run: process user, additional groups, umask, cwd and env as configured"),
  async fn() {
    const script = 'id -u; id -g; id -G; umask; pwd; echo "$GREETING"; echo "$HOME"; ' +
      "touch /work/f && stat -c %a:%u:%g /work/f; grep -E '^(Uid|Gid|Groups):' /proc/self/status";
    await withBundle(
      "process-user",
      {
        args: ["sh", "-c", script],
        mutate: (spec) => {
          spec.process!.user = { uid: 1000, gid: 1001, additionalGids: [20, 30], umask: 0o027 };
          spec.process!.cwd = "/work/dir";
          spec.process!.env = ["PATH=/bin", "GREETING=hello there"];
          spec.mounts = [...(spec.mounts ?? []), {
            destination: "/work",
            type: "tmpfs",
            source: "tmpfs",
            options: ["mode=1777"],
          }];
        },
      },
      async (ctx) => {
        const r = await druntime(runArgs(ctx));
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.trim().split("\n");
        assert.deepEqual(lines.slice(0, 7), [
          "1000",
          "1001",
          "1001 20 30",
          "0027",
          "/work/dir",
          "hello there",
          "/",
        ]);
        // the file the user created: mode 0666 &^ 027 = 640, owned by the configured ids
        assert.equal(lines[7], "640:1000:1001");
        assert.match(r.stdout, /^Uid:\t1000\t1000\t1000\t1000$/m);
        assert.match(r.stdout, /^Gid:\t1001\t1001\t1001\t1001$/m);
        assert.match(r.stdout, /^Groups:\t20 30 ?$/m);
        await assertNothingLeft(ctx);
      },
    );
  },
});

Deno.test({
  name: "run: HOME comes from the container's /etc/passwd when the config has none",
  ...rootOnly("run: HOME comes from the container's /etc/passwd when the config has none"),
  async fn() {
    await withBundle(
      "home-from-passwd",
      {
        args: ["sh", "-c", "echo $HOME"],
        mutate: (spec) => {
          spec.process!.env = ["PATH=/bin"];
        },
      },
      async (ctx) => {
        const r = await druntime(runArgs(ctx));
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "/root");
      },
    );
  },
});

// ---------------------------------------------------------------------------------------
// --preserve-fds
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "run: --preserve-fds N passes fds 3 .. 3+N-1 on to the process, and no other",
  ...rootOnly("run: --preserve-fds N passes fds 3 .. 3+N-1 on to the process, and no other"),
  async fn() {
    await withBundle("preserve-fds", {
      args: ["sh", "-c", "cat <&3; cat <&4; ls /proc/self/fd | tr '\\n' ' '"],
    }, async (ctx) => {
      const dir = await Deno.makeTempDir({ prefix: "druntime-fds-" });
      try {
        await Deno.writeTextFile(join(dir, "a"), "from fd 3\n");
        await Deno.writeTextFile(join(dir, "b"), "from fd 4\n");
        // A shell opens 3 and 4 (and 5, which must not get through) for druntime.
        const out = await new Deno.Command("sh", {
          args: [
            "-c",
            'exec "$0" run -A "$1" --root "$2" run --bundle "$3" --preserve-fds 2 "$4" 3<"$5" 4<"$6" 5<"$5"',
            Deno.execPath(),
            MAIN_TS,
            ctx.root,
            ctx.bundle,
            ctx.id,
            join(dir, "a"),
            join(dir, "b"),
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stdout = new TextDecoder().decode(out.stdout);
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        assert.match(stdout, /^from fd 3\nfrom fd 4\n/);
        // 0-4, and 5 is ls's own directory fd: had the shell's fd 5 come through, ls's would be 6.
        assert.deepEqual(stdout.split("\n")[2].trim().split(" "), ["0", "1", "2", "3", "4", "5"]);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "run: --preserve-fds must be a whole number",
  ...rootOnly("run: --preserve-fds must be a whole number"),
  async fn() {
    await withBundle("preserve-fds-bad", { args: ["true"] }, async (ctx) => {
      const r = await druntime(runArgs(ctx, "--preserve-fds", "two"));
      assert.equal(r.code, 1);
      assert.equal(errorsOf(r.stderr), 'druntime: --preserve-fds must be a whole number, not "two"');
      await assertNothingLeft(ctx);
    });
  },
});

Deno.test({
  name: "run: an exec that fails after start leaves nothing, its cgroup included",
  ...rootOnly("run: an exec that fails after start leaves nothing, its cgroup included"),
  async fn() {
    await withBundle("exec-fails", { args: ["/not-elf"] }, async (ctx) => {
      await Deno.writeTextFile(join(ctx.rootfs, "not-elf"), "neither ELF nor #!\n", { mode: 0o755 });
      const r = await druntime(runArgs(ctx));
      assert.equal(r.code, 1);
      assert.equal(errorsOf(r.stderr), 'druntime: exec: execve("/not-elf"): ENOEXEC (Exec format error)');
      await assertNothingLeft(ctx);
    });
  },
});
