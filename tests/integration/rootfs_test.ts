/**
 * The container's root filesystem as a user sees it: real containers (busybox bundles from
 * makeBundle) run through the CLI (`deno run -A main.ts --root DIR run --bundle DIR ID`),
 * checked from inside (the container's stdout) and from the host (/proc/self/mountinfo, the
 * files under the bundle, the state root).
 *
 * Every test uses its own container ids, state root and bundles (temp dirs), and removes them
 * in `finally`; every container is followed by the same check that it left nothing behind (no
 * host mount mentions its bundle, the state root is empty). Root only: run as another user,
 * the tests are ignored with a note saying why.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Container } from "../fixtures/containers.ts";
import { DEFAULT_DEVICE_NUMBERS } from "../fixtures/defaults.ts";
import { druntime, hostMounts, makeBundle, rootOnly } from "../fixtures/rootfs.ts";
import type { Spec } from "../../runtime/spec/types.ts";
import { type MountInfo, parseMountInfo } from "../../runtime/init/mountinfo.ts";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const td = new TextDecoder();

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The last mount at `mountPoint` (the one on top), or a failed assertion. */
function mountAt(mounts: MountInfo[], mountPoint: string): MountInfo {
  const hits = mounts.filter((m) => m.mountPoint === mountPoint);
  assert.ok(hits.length > 0, `no mount at ${mountPoint} in:\n${mounts.map((m) => m.mountPoint).join("\n")}`);
  return hits[hits.length - 1];
}

/**
 * Splits a container's stdout into sections: the script prints a line `@@name` before each
 * part, and the lines up to the next such line are that part.
 */
function sections(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split("\n")) {
    const m = /^@@([\w.-]+)$/.exec(line);
    if (m) {
      current = [];
      out.set(m[1], current);
    } else if (current && line !== "") {
      current.push(line);
    }
  }
  return out;
}

function section(s: Map<string, string[]>, name: string): string[] {
  const lines = s.get(name);
  assert.ok(lines !== undefined, `the container printed no section @@${name}`);
  return lines;
}

/** `key=value` lines of a section as a map. */
function keyValues(lines: string[]): Map<string, string> {
  return new Map(
    lines.filter((l) => l.includes("=")).map((l) => {
      const i = l.indexOf("=");
      return [l.slice(0, i), l.slice(i + 1)] as const;
    }),
  );
}

async function sh(cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: exit ${out.code}: ${td.decode(out.stderr)}`);
}

/** Host mount points at or under `dir`, deepest first. */
async function hostMountsUnder(dir: string): Promise<string[]> {
  return parseMountInfo(await hostMounts())
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Temp dirs and mounts of one test, undone in reverse order by cleanup(). */
class Scratch {
  #undo: (() => Promise<void>)[] = [];
  #n = 0;
  constructor(readonly name: string) {}

  /** A temp dir, removed at cleanup (after lazily unmounting anything left on or under it). */
  async dir(what: string): Promise<string> {
    const dir = await Deno.makeTempDir({ prefix: `druntime-rootfs-test-${what}-` });
    this.defer(async () => {
      // A leaked mount under a bundle could be a bind of a host dir: never delete through it.
      for (const mp of await hostMountsUnder(dir)) await sh("umount", "-l", mp);
      await Deno.remove(dir, { recursive: true });
    });
    return dir;
  }

  defer(fn: () => Promise<void>): void {
    this.#undo.push(fn);
  }

  /** A fresh busybox bundle (see makeBundle), state root and unique container id. */
  async container(
    opts: {
      args?: string[];
      /** A busybox sh script (args ["sh", "-c", script]), or one made from the bundle's path. */
      script?: string | ((bundle: string) => string);
      mutate?: (spec: Spec) => void;
    } = {},
  ): Promise<Container> {
    const bundle = await this.dir("bundle");
    const root = await this.dir("state");
    const id = `rootfs-${this.name}-${++this.#n}-${crypto.randomUUID().slice(0, 8)}`;
    const script = typeof opts.script === "function" ? opts.script(bundle) : opts.script;
    const args = script !== undefined ? ["sh", "-c", script] : opts.args;
    await makeBundle({ dir: bundle, args, mutate: opts.mutate });
    return { id, root, bundle, rootfs: join(bundle, "rootfs") };
  }

  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (const fn of this.#undo.reverse()) {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw new AggregateError(errors, `${this.name}: cleanup failed`);
  }
}

/** `druntime --root R run [flags] --bundle B ID`, then the checks that nothing was left behind. */
async function run(c: Container, flags: string[] = []): Promise<RunResult> {
  const r = await druntime(["--root", c.root, "run", ...flags, "--bundle", c.bundle, c.id]);
  await assertNothingLeft(c);
  return r;
}

/** run(), and the container must exit 0. */
async function runOk(c: Container, flags: string[] = []): Promise<RunResult> {
  const r = await run(c, flags);
  assert.equal(r.code, 0, `container ${c.id} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

async function assertNothingLeft(c: Container): Promise<void> {
  const leaked = (await hostMounts()).split("\n").filter((l) => l.includes(c.bundle));
  assert.deepEqual(leaked, [], `host mounts mention the bundle ${c.bundle} after ${c.id} exited`);
  const entries = [];
  for await (const e of Deno.readDir(c.root)) entries.push(e.name);
  assert.deepEqual(entries, [], `the state root ${c.root} is not empty after ${c.id} exited`);
}

/** A Deno.test that runs real containers: root only, with a Scratch cleaned up in finally. */
function containerTest(name: string, fn: (s: Scratch) => Promise<void>): void {
  Deno.test({
    name: `rootfs: ${name}`,
    ...rootOnly(name),
    async fn() {
      const s = new Scratch(name.replace(/[^a-z0-9]+/gi, "-").slice(0, 24));
      try {
        await fn(s);
      } finally {
        await s.cleanup();
      }
    },
  });
}

function addCapability(spec: Spec, cap: string): void {
  const caps = spec.process!.capabilities ??= {};
  for (const set of ["bounding", "effective", "permitted"] as const) {
    caps[set] = [...new Set([...(caps[set] ?? []), cap])];
  }
}

/** busybox stat's %t:%T: major and minor in hex. */
function hexDev(major: number, minor: number): string {
  return `${major.toString(16)}:${minor.toString(16)}`;
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

containerTest("pid 1, hostname, the image's root, a new /proc", async (s) => {
  const marker = await s.dir("host-marker");
  const hostname = `rootfs-${crypto.randomUUID().slice(0, 8)}`;
  const tag = `# rootfs-identity-${crypto.randomUUID()}`;
  // The first line tags the script, so /proc/1/cmdline can be matched against it.
  const c = await s.container({
    script: (bundle) =>
      `${tag}
echo @@pid; echo $$
echo @@hostname; hostname
echo @@ls; ls -A /
echo @@visible; for p in /work ${marker} ${bundle}; do test -e "$p" && echo "$p"; done; true
echo @@procpids; ls /proc | grep -E '^[0-9]+$'
echo @@cmdline; tr '\\0' '\\n' < /proc/1/cmdline | head -n 3
echo @@hostpid; test -e /proc/${Deno.pid}/status && echo visible; true
echo @@mountinfo; cat /proc/self/mountinfo
`,
    mutate: (spec) => {
      spec.hostname = hostname;
    },
  });
  const image = [];
  for await (const e of Deno.readDir(c.rootfs)) image.push(e.name);

  const out = sections((await runOk(c)).stdout);
  assert.deepEqual(section(out, "pid"), ["1"]);
  assert.deepEqual(section(out, "hostname"), [hostname]);
  assert.deepEqual(section(out, "ls").sort(), image.sort(), "`ls -A /` is the image's top level");
  assert.ok(image.includes("bin") && image.includes("etc"));
  assert.deepEqual(section(out, "visible"), [], "host paths are not visible inside");

  // A new procfs of the container's pid namespace: only its own few processes.
  const pids = section(out, "procpids").map(Number);
  assert.ok(pids.includes(1), `no /proc/1: ${pids}`);
  assert.ok(pids.length <= 5, `too many pids in /proc: ${pids}`);
  assert.ok(pids.every((p) => p < 100), `host-like pids in the container's /proc: ${pids}`);
  assert.deepEqual(section(out, "cmdline"), ["sh", "-c", tag]);
  if (Deno.pid > 100) assert.deepEqual(section(out, "hostpid"), [], "the test's own pid is visible");
  const proc = mountAt(parseMountInfo(section(out, "mountinfo").join("\n")), "/proc");
  assert.equal(proc.fstype, "proc");
  const hostProc = mountAt(parseMountInfo(await hostMounts()), "/proc");
  assert.notEqual(proc.majorMinor, hostProc.majorMinor, "/proc is the host's procfs, not a new one");
});

containerTest("default devices, /dev symlinks and a linux.devices entry", async (s) => {
  const fuse = {
    path: "/dev/fuse",
    type: "c" as const,
    major: 10,
    minor: 229,
    fileMode: 0o600,
    uid: 1000,
    gid: 1000,
  };
  const defaults = DEFAULT_DEVICE_NUMBERS;
  const c = await s.container({
    script: `
echo @@stat; stat -c '%n|%F|%t:%T|%a|%u:%g' ${defaults.map(([p]) => p).join(" ")} ${fuse.path}
echo @@links; for l in ptmx fd stdin stdout stderr; do echo "/dev/$l=$(readlink /dev/$l)"; done
echo @@fdworks; echo through-dev-stdout > /dev/stdout; head -c 4 /dev/zero | od -An -tx1
`,
    mutate: (spec) => {
      spec.linux!.devices = [fuse];
    },
  });
  const out = sections((await runOk(c)).stdout);
  const stats = new Map(section(out, "stat").map((l) => [l.split("|")[0], l] as const));
  for (const [path, major, minor] of defaults) {
    // OCI "Default Devices": 0666, root-owned (whatever the host's own /dev has).
    assert.equal(stats.get(path), `${path}|character special file|${hexDev(major, minor)}|666|0:0`);
  }
  assert.equal(
    stats.get(fuse.path),
    `${fuse.path}|character special file|${hexDev(fuse.major, fuse.minor)}|${
      fuse.fileMode.toString(8)
    }|${fuse.uid}:${fuse.gid}`,
  );
  assert.deepEqual(
    keyValues(section(out, "links")),
    new Map([
      ["/dev/ptmx", "pts/ptmx"],
      ["/dev/fd", "/proc/self/fd"],
      ["/dev/stdin", "/proc/self/fd/0"],
      ["/dev/stdout", "/proc/self/fd/1"],
      ["/dev/stderr", "/proc/self/fd/2"],
    ]),
  );
  assert.deepEqual(section(out, "fdworks").map((l) => l.trim()), ["through-dev-stdout", "00 00 00 00"]);
});

containerTest("tmpcopyup keeps content, owners, modes, links and nodes; the image stays", async (s) => {
  const c = await s.container({
    script: `cd /data
echo @@stat; stat -c '%n|%F|%a|%u:%g|%t:%T' f.txt sub sub/inner link fifo chr
echo @@link; readlink link
echo @@content; cat f.txt sub/inner link
echo @@mountinfo; cat /proc/self/mountinfo
echo @@write; echo changed > f.txt && echo new > newfile && rm sub/inner && rm fifo && echo wrote
`,
    mutate: (spec) => {
      spec.mounts!.push({ destination: "/data", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup"] });
      // Root reads and changes files of other owners only with these (the default spec has neither).
      for (const set of ["bounding", "effective", "permitted"] as const) {
        spec.process!.capabilities![set]!.push("CAP_DAC_OVERRIDE", "CAP_FOWNER");
      }
    },
  });
  const data = join(c.rootfs, "data");
  await Deno.mkdir(join(data, "sub"), { recursive: true });
  await Deno.writeTextFile(join(data, "f.txt"), "hello\n");
  await Deno.chmod(join(data, "f.txt"), 0o640);
  await Deno.chown(join(data, "f.txt"), 1234, 5678);
  await Deno.writeTextFile(join(data, "sub/inner"), "inner\n");
  await Deno.chmod(join(data, "sub"), 0o750);
  await Deno.chown(join(data, "sub"), 2000, 2001);
  await Deno.symlink("f.txt", join(data, "link"));
  await sh("chown", "-h", "3000:3001", join(data, "link"));
  await sh("mkfifo", "-m", "0604", join(data, "fifo"));
  await Deno.chown(join(data, "fifo"), 4000, 4001);
  await sh("mknod", "-m", "0620", join(data, "chr"), "c", "1", "7");
  await Deno.chown(join(data, "chr"), 5000, 5001);

  const snapshot = async () => {
    const rows: string[] = [];
    for (const name of ["f.txt", "sub", "sub/inner", "link", "fifo", "chr"]) {
      const st = await Deno.lstat(join(data, name));
      rows.push(`${name} ${st.mode?.toString(8)} ${st.uid}:${st.gid} ${st.rdev} ${st.mtime?.getTime()}`);
    }
    rows.push(await Deno.readTextFile(join(data, "f.txt")));
    for await (const e of Deno.readDir(data)) rows.push(`entry ${e.name}`);
    return rows.sort();
  };
  const before = await snapshot();

  const out = sections((await runOk(c)).stdout);
  assert.deepEqual(section(out, "stat"), [
    "f.txt|regular file|640|1234:5678|0:0",
    "sub|directory|750|2000:2001|0:0",
    "sub/inner|regular file|644|0:0|0:0",
    "link|symbolic link|777|3000:3001|0:0",
    "fifo|fifo|604|4000:4001|0:0",
    `chr|character special file|620|5000:5001|${hexDev(1, 7)}`,
  ]);
  assert.deepEqual(section(out, "link"), ["f.txt"]);
  assert.deepEqual(section(out, "content"), ["hello", "inner", "hello"]);
  const dataMount = mountAt(parseMountInfo(section(out, "mountinfo").join("\n")), "/data");
  assert.equal(dataMount.fstype, "tmpfs");
  assert.deepEqual(section(out, "write"), ["wrote"]);
  // The writes went to the tmpfs: the image on the host is as it was.
  assert.deepEqual(await snapshot(), before);
});

containerTest("bind mounts: ro refuses writes, rw reaches the host, a file bind", async (s) => {
  const roDir = await s.dir("ro-src");
  const rwDir = await s.dir("rw-src");
  const fileDir = await s.dir("file-src");
  const hostFile = join(fileDir, "host.txt");
  await Deno.writeTextFile(join(roDir, "ro.txt"), "read-only content\n");
  await Deno.writeTextFile(hostFile, "a bound file\n");
  const c = await s.container({
    script: `
echo @@ro; cat /mnt/ro/ro.txt; touch /mnt/ro/new 2>&1; echo "touch-exit=$?"
echo @@rw; echo from-container > /mnt/rw/new.txt; echo "write-exit=$?"
echo @@file; test -f /etc/host.txt && echo is-file; cat /etc/host.txt
echo @@mountinfo; cat /proc/self/mountinfo
`,
    mutate: (spec) => {
      spec.mounts!.push(
        { destination: "/mnt/ro", type: "bind", source: roDir, options: ["bind", "ro"] },
        { destination: "/mnt/rw", type: "bind", source: rwDir, options: ["bind", "rw"] },
        { destination: "/etc/host.txt", type: "bind", source: hostFile, options: ["bind"] },
      );
    },
  });
  const out = sections((await runOk(c)).stdout);
  const ro = section(out, "ro");
  assert.equal(ro[0], "read-only content");
  assert.match(ro[1], /Read-only file system/);
  assert.notEqual(keyValues(ro).get("touch-exit"), "0");
  assert.deepEqual(section(out, "rw"), ["write-exit=0"]);
  assert.deepEqual(section(out, "file"), ["is-file", "a bound file"]);
  const mounts = parseMountInfo(section(out, "mountinfo").join("\n"));
  assert.ok(mountAt(mounts, "/mnt/ro").options.includes("ro"));
  assert.ok(mountAt(mounts, "/mnt/rw").options.includes("rw"));
  mountAt(mounts, "/etc/host.txt");

  assert.equal(await Deno.readTextFile(join(rwDir, "new.txt")), "from-container\n");
  const roEntries = [];
  for await (const e of Deno.readDir(roDir)) roEntries.push(e.name);
  assert.deepEqual(roEntries, ["ro.txt"]);
  // The bind targets were created in the image (runc does the same).
  assert.ok((await Deno.stat(join(c.rootfs, "etc/host.txt"))).isFile);
});

containerTest("root.readonly: / refuses writes, a tmpfs on /tmp takes them", async (s) => {
  const c = await s.container({
    script: `
echo @@root; touch /newfile 2>&1; echo "root-exit=$?"
echo @@tmp; echo ok > /tmp/newfile; echo "tmp-exit=$?"; cat /tmp/newfile
echo @@mountinfo; cat /proc/self/mountinfo
`,
    mutate: (spec) => {
      spec.root!.readonly = true;
      spec.mounts!.push({
        destination: "/tmp",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "nodev"],
      });
    },
  });
  const out = sections((await runOk(c)).stdout);
  const root = section(out, "root");
  assert.match(root[0], /Read-only file system/);
  assert.notEqual(keyValues(root).get("root-exit"), "0");
  assert.deepEqual(section(out, "tmp"), ["tmp-exit=0", "ok"]);
  const mounts = parseMountInfo(section(out, "mountinfo").join("\n"));
  assert.ok(mountAt(mounts, "/").options.includes("ro"));
  assert.ok(mountAt(mounts, "/tmp").options.includes("rw"));
  await assert.rejects(Deno.lstat(join(c.rootfs, "newfile")), Deno.errors.NotFound);
});

containerTest("maskedPaths hide a file and a dir, readonlyPaths refuse writes", async (s) => {
  const c = await s.container({
    script: `
echo @@file; echo "[$(cat /secret.txt)]"
echo @@dir; echo "[$(ls -A /secretdir)]"; touch /secretdir/x 2>/dev/null; echo "touch-masked-exit=$?"
echo @@ro; cat /rodir/file; touch /rodir/new 2>&1; echo "touch-exit=$?"; echo x >> /rodir/file; echo "append-exit=$?"
`,
    mutate: (spec) => {
      spec.linux!.maskedPaths = [...spec.linux!.maskedPaths ?? [], "/secret.txt", "/secretdir"];
      spec.linux!.readonlyPaths = [...spec.linux!.readonlyPaths ?? [], "/rodir"];
    },
  });
  await Deno.writeTextFile(join(c.rootfs, "secret.txt"), "top secret\n");
  await Deno.mkdir(join(c.rootfs, "secretdir"));
  await Deno.writeTextFile(join(c.rootfs, "secretdir/hidden"), "hidden\n");
  await Deno.mkdir(join(c.rootfs, "rodir"));
  await Deno.writeTextFile(join(c.rootfs, "rodir/file"), "readable\n");

  const out = sections((await runOk(c)).stdout);
  assert.deepEqual(section(out, "file"), ["[]"]);
  const dir = section(out, "dir");
  assert.equal(dir[0], "[]");
  assert.notEqual(keyValues(dir).get("touch-masked-exit"), "0");
  const ro = section(out, "ro");
  assert.equal(ro[0], "readable");
  assert.ok(ro.some((l) => /Read-only file system/.test(l)), ro.join("\n"));
  assert.notEqual(keyValues(ro).get("touch-exit"), "0");
  assert.notEqual(keyValues(ro).get("append-exit"), "0");
  // The image itself is untouched.
  assert.equal(await Deno.readTextFile(join(c.rootfs, "secret.txt")), "top secret\n");
  assert.equal(await Deno.readTextFile(join(c.rootfs, "rodir/file")), "readable\n");
});

containerTest("rootfsPropagation shared and private; nothing reaches the host", async (s) => {
  for (const propagation of ["shared", "private"] as const) {
    const leak = `druntime-leak-${crypto.randomUUID().slice(0, 8)}`;
    const c = await s.container({
      // A mount made inside after pivot_root: with either propagation it must stay inside.
      script: `
echo @@root; awk '$5 == "/"' /proc/self/mountinfo
echo @@mount; mkdir -p /mnt/leak && mount -t tmpfs ${leak} /mnt/leak && echo "mounted"
`,
      mutate: (spec) => {
        spec.linux!.rootfsPropagation = propagation;
        addCapability(spec, "CAP_SYS_ADMIN");
      },
    });
    const out = sections((await runOk(c)).stdout);
    const rootLines = parseMountInfo(section(out, "root").join("\n"));
    assert.equal(rootLines.length, 1, `${propagation}: one / mount expected: ${section(out, "root")}`);
    const tags = rootLines[0].optional;
    if (propagation === "shared") {
      assert.ok(tags.some((t) => t.startsWith("shared:")), `${propagation}: / has tags ${tags}`);
    } else {
      assert.ok(
        !tags.some((t) => t.startsWith("shared:") || t.startsWith("master:")),
        `${propagation}: / has tags ${tags}`,
      );
    }
    assert.deepEqual(section(out, "mount"), ["mounted"]);
    assert.ok(!(await hostMounts()).includes(leak), `${propagation}: the container's mount reached the host`);
  }
});

containerTest("--no-pivot runs the container in its rootfs", async (s) => {
  const marker = await s.dir("host-marker");
  const c = await s.container({
    script: `
echo @@pid; echo $$
echo @@ls; ls -A /
echo @@visible; for p in /work ${marker}; do test -e "$p" && echo "$p"; done; true
echo @@procpids; ls /proc | grep -E '^[0-9]+$'
`,
  });
  const image = [];
  for await (const e of Deno.readDir(c.rootfs)) image.push(e.name);
  const out = sections((await runOk(c, ["--no-pivot"])).stdout);
  assert.deepEqual(section(out, "pid"), ["1"]);
  assert.deepEqual(section(out, "ls").sort(), image.sort());
  assert.deepEqual(section(out, "visible"), []);
  assert.ok(section(out, "procpids").length <= 5);
});

containerTest("the process starts with no ignored or blocked signals and only fds 0 1 2", async (s) => {
  // Pid 1 is grep itself: /proc/self/status is the state execve left, nothing a shell changed.
  const sig = await s.container({ args: ["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"] });
  const sigOut = keyValues(
    (await runOk(sig)).stdout.split("\n").map((l) => l.replace(/:\s+/, "=")),
  );
  assert.deepEqual(
    sigOut,
    new Map([["SigBlk", "0000000000000000"], ["SigIgn", "0000000000000000"]]),
    "signal dispositions or mask leaked into the container",
  );

  // What the shell (pid 1) has open, listed by a child: `ls /proc/1/fd` shows pid 1's table,
  // not the ls's own. The shell's own glob, `echo /proc/$$/fd/*`, also shows the fd its
  // opendir holds while it globs (observed: 0 1 2 3), so there one extra fd is the lister's:
  // a leaked fd would take 3 and push the lister's to 4.
  const fds = await s.container({
    script: `
echo @@child; ls /proc/1/fd
echo @@glob; for f in /proc/$$/fd/*; do echo "\${f##*/}"; done
echo @@self; ls /proc/self/fd
true`,
  });
  const out = sections((await runOk(fds)).stdout);
  assert.deepEqual(section(out, "child").sort(), ["0", "1", "2"]);
  assert.deepEqual(section(out, "glob").sort(), ["0", "1", "2", "3"]);
  assert.deepEqual(section(out, "self").sort(), ["0", "1", "2", "3"]);
});

containerTest("every mount type in one config, with nosuid/nodev/noexec/ro", async (s) => {
  const bindSrc = await s.dir("bind-src");
  const rbindSrc = await s.dir("rbind-src");
  await Deno.writeTextFile(join(bindSrc, "file"), "bound\n");
  // A host mount under the rbind source: rbind carries it into the container, bind does not.
  const sub = join(rbindSrc, "sub");
  await Deno.mkdir(sub);
  const subSource = `druntime-rbind-${crypto.randomUUID().slice(0, 8)}`;
  await sh("mount", "-t", "tmpfs", "-o", "size=1m", subSource, sub);
  s.defer(() => sh("umount", "-l", sub));
  await Deno.writeTextFile(join(sub, "file"), "submount\n");

  const hostV1Memory = parseMountInfo(await hostMounts()).some((m) =>
    m.fstype === "cgroup" && m.superOptions.includes("memory")
  );
  const c = await s.container({
    script: `
echo @@mountinfo; cat /proc/self/mountinfo
echo @@rbind; cat /mnt/rbind/sub/file
echo @@bind; ls -A /mnt/bind-norec/sub; cat /mnt/bind/file
echo @@cgroup; test -d /sys/fs/cgroup/memory && echo memory-dir; mkdir /sys/fs/cgroup/memory/x 2>/dev/null; echo "mkdir-exit=$?"
echo @@ro; touch /mnt/tmpfs/x 2>/dev/null; echo "tmpfs-exit=$?"; touch /sys/x 2>/dev/null; echo "sys-exit=$?"
echo @@pts; ls /dev/pts
true`,
    mutate: (spec) => {
      addCapability(spec, "CAP_SYS_ADMIN");
      spec.mounts!.push(
        {
          destination: "/mnt/tmpfs",
          type: "tmpfs",
          source: "tmpfs",
          options: ["nosuid", "nodev", "noexec", "ro", "size=1m"],
        },
        {
          destination: "/mnt/bind",
          type: "bind",
          source: bindSrc,
          options: ["bind", "ro", "nosuid", "nodev", "noexec"],
        },
        { destination: "/mnt/rbind", type: "bind", source: rbindSrc, options: ["rbind", "nosuid", "nodev"] },
        { destination: "/mnt/bind-norec", type: "bind", source: rbindSrc, options: ["bind"] },
      );
    },
  });
  const out = sections((await runOk(c)).stdout);
  const mounts = parseMountInfo(section(out, "mountinfo").join("\n"));
  const host = parseMountInfo(await hostMounts());
  const has = (mp: string, fstype: string, ...opts: string[]) => {
    const m = mountAt(mounts, mp);
    assert.equal(m.fstype, fstype, `${mp}: fstype`);
    for (const o of opts) assert.ok(m.options.includes(o), `${mp}: ${o} missing from ${m.options}`);
    return m;
  };

  const proc = has("/proc", "proc");
  assert.ok(!host.some((m) => m.fstype === "proc" && m.majorMinor === proc.majorMinor), "host's procfs");
  has("/sys", "sysfs", "ro", "nosuid", "nodev", "noexec");
  has("/dev", "tmpfs", "nosuid");
  has("/dev/shm", "tmpfs", "nosuid", "nodev", "noexec");
  has("/dev/mqueue", "mqueue", "nosuid", "nodev", "noexec");
  const pts = has("/dev/pts", "devpts", "nosuid", "noexec");
  assert.ok(pts.superOptions.includes("ptmxmode=666"), `devpts: ${pts.superOptions}`);
  // newinstance: a devpts of its own, not one the host has mounted.
  assert.ok(!host.some((m) => m.fstype === "devpts" && m.majorMinor === pts.majorMinor), "host's devpts");
  has("/mnt/tmpfs", "tmpfs", "ro", "nosuid", "nodev", "noexec");
  // A bind shows the filesystem its source is on.
  const bindFs = host.filter((m) =>
    bindSrc === m.mountPoint || bindSrc.startsWith(`${m.mountPoint.replace(/\/$/, "")}/`)
  )
    .sort((a, b) => a.mountPoint.length - b.mountPoint.length).at(-1)!.fstype;
  const bind = has("/mnt/bind", bindFs, "ro", "nosuid", "nodev", "noexec");
  assert.ok(bind.root.endsWith(bindSrc), `bind root ${bind.root}`);
  has("/mnt/rbind", bind.fstype, "nosuid", "nodev");
  // The submount came along with rbind (and keeps its own flags: an rbind remount covers the top).
  const subMount = has("/mnt/rbind/sub", "tmpfs");
  assert.equal(subMount.source, subSource);
  has("/mnt/bind-norec", bind.fstype, "rw");
  assert.ok(!mounts.some((m) => m.mountPoint === "/mnt/bind-norec/sub"), "bind (not rbind) took a submount");
  assert.deepEqual(section(out, "rbind"), ["submount"]);
  assert.deepEqual(
    section(out, "bind"),
    ["bound"],
    "/mnt/bind-norec/sub is an empty dir, /mnt/bind/file is there",
  );

  // The default config's cgroup mount: read-only, nosuid, nodev, noexec.
  const cgroupMounts = mounts.filter((m) => m.mountPoint.startsWith("/sys/fs/cgroup"));
  assert.ok(cgroupMounts.length > 0, "no /sys/fs/cgroup mounts");
  for (const m of cgroupMounts) {
    for (const o of ["ro", "nosuid", "nodev", "noexec"]) {
      assert.ok(m.options.includes(o), `${m.mountPoint}: ${o} missing from ${m.options}`);
    }
  }
  const cg = section(out, "cgroup");
  if (hostV1Memory) {
    assert.equal(cg[0], "memory-dir");
    assert.equal(mountAt(mounts, "/sys/fs/cgroup/memory").fstype, "cgroup");
  } else {
    assert.ok(cgroupMounts.some((m) => m.fstype === "cgroup2"), "no cgroup2 mount on a v2 host");
  }
  assert.notEqual(keyValues(cg).get("mkdir-exit"), "0", "the cgroup mount is writable");
  const ro = keyValues(section(out, "ro"));
  assert.notEqual(ro.get("tmpfs-exit"), "0");
  assert.notEqual(ro.get("sys-exit"), "0");
  assert.ok(section(out, "pts").includes("ptmx"));
});
