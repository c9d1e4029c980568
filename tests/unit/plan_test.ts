import assert from "node:assert/strict";
import { buildPlan, DEFAULT_DEVICES, type PlanOptions } from "../../runtime/plan/build.ts";
import type { Plan, StageName, Step } from "../../runtime/plan/types.ts";
import type { Mount, Spec } from "../../runtime/spec/types.ts";
import { defaultSpec } from "../../runtime/spec/default.ts";
import { DruntimeError } from "../../runtime/errors.ts";
import {
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_SHARED,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_UNBINDABLE,
} from "../../ffi/constants.ts";
import { DEFAULT_DEVICE_NUMBERS, STAGE_ORDER } from "../fixtures/defaults.ts";

const ROOTFS = "/bundle/rootfs";
const BUNDLE = "/bundle";

function plan(spec: Spec, opts: Partial<PlanOptions> = {}): Plan {
  return buildPlan(spec, { rootfs: ROOTFS, bundle: BUNDLE, hasKcore: true, lastCap: 40, ...opts });
}

function stageNames(p: Plan): StageName[] {
  return p.stages.map((s) => s.name);
}

function stage(p: Plan, name: StageName): Step[] {
  return p.stages.find((s) => s.name === name)?.steps ?? [];
}

/** The default spec with its mounts replaced (or extended) by `extra`. */
function withMounts(mounts: Mount[], keepDefault = true): Spec {
  const spec = defaultSpec();
  spec.mounts = keepDefault ? [...spec.mounts!, ...mounts] : mounts;
  return spec;
}

/** The mountToRootfs steps of one config mount. */
function stepsOfMount(p: Plan, index: number): Step[] {
  return stage(p, "mountToRootfs").filter((s) => "index" in s && s.index === index);
}

const DEV_SYMLINKS: Step[] = [
  { op: "symlink", path: "/dev/fd", target: "/proc/self/fd" },
  { op: "symlink", path: "/dev/stdin", target: "/proc/self/fd/0" },
  { op: "symlink", path: "/dev/stdout", target: "/proc/self/fd/1" },
  { op: "symlink", path: "/dev/stderr", target: "/proc/self/fd/2" },
];

Deno.test("default spec: stage order and prepareRoot", () => {
  const p = plan(defaultSpec());
  assert.equal(p.rootfs, ROOTFS);
  assert.deepEqual(stageNames(p), STAGE_ORDER);
  assert.deepEqual(stage(p, "prepareRoot"), [
    { op: "rootPropagation", flags: MS_SLAVE | MS_REC },
    { op: "parentPrivate" },
    { op: "bindRootfs" },
  ]);
});

Deno.test("default spec: one mount step per config mount, with fstype, flags and data", () => {
  const p = plan(defaultSpec());
  const mount = (
    index: number,
    source: string,
    target: string,
    fstype: string,
    flags: number,
    data = "",
  ) => ({
    op: "mount",
    index,
    source,
    target,
    fstype,
    flags,
    data,
    create: "dir",
  });
  assert.deepEqual(stage(p, "mountToRootfs"), [
    mount(0, "proc", "/proc", "proc", 0),
    mount(1, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"),
    mount(
      2,
      "devpts",
      "/dev/pts",
      "devpts",
      MS_NOSUID | MS_NOEXEC,
      "newinstance,ptmxmode=0666,mode=0620,gid=5",
    ),
    mount(3, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k"),
    mount(4, "mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV),
    mount(5, "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY),
    {
      op: "mountCgroups",
      index: 6,
      target: "/sys/fs/cgroup",
      flags: MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME,
      readonly: true,
      ns: true,
    },
  ]);
});

Deno.test("default spec: the six default devices, ptmx and /dev symlinks", () => {
  const p = plan(defaultSpec());
  assert.deepEqual(
    stage(p, "createDevices"),
    DEFAULT_DEVICE_NUMBERS.map(([path, major, minor]) => ({
      op: "mknod",
      path,
      kind: "c",
      major,
      minor,
      mode: 0o666,
      uid: 0,
      gid: 0,
      hostPath: path,
    })),
  );
  assert.equal(DEFAULT_DEVICES.length, 6);
  assert.deepEqual(stage(p, "setupPtmx"), [
    { op: "symlink", path: "/dev/ptmx", target: "pts/ptmx", replace: true },
  ]);
  assert.deepEqual(stage(p, "setupDevSymlinks"), [
    ...DEV_SYMLINKS,
    { op: "symlink", path: "/dev/core", target: "/proc/kcore" },
  ]);
});

Deno.test("/dev/core only when the host has /proc/kcore", () => {
  assert.deepEqual(stage(plan(defaultSpec(), { hasKcore: false }), "setupDevSymlinks"), DEV_SYMLINKS);
  // Unset: read from the host.
  let hostHas = true;
  try {
    Deno.statSync("/proc/kcore");
  } catch {
    hostHas = false;
  }
  const links = stage(plan(defaultSpec(), { hasKcore: undefined }), "setupDevSymlinks");
  assert.equal(links.some((s) => s.op === "symlink" && s.path === "/dev/core"), hostHas);
});

Deno.test("default spec: pivotRoot, finalizeRootfs and process", () => {
  const spec = defaultSpec();
  const p = plan(spec);
  assert.deepEqual(stage(p, "pivotRoot"), [{ op: "pivotRoot" }]);
  assert.deepEqual(stage(p, "finalizeRootfs"), [
    ...spec.linux!.readonlyPaths!.map((path) => ({ op: "readonlyPath", path })),
    ...spec.linux!.maskedPaths!.map((path) => ({ op: "mask", path })),
    { op: "remount", target: "/", flags: MS_RDONLY },
    { op: "sethostname", name: "druntime" },
  ]);
  assert.equal(stage(p, "finalizeRootfs").filter((s) => s.op === "mask").length, 11);
  assert.equal(stage(p, "finalizeRootfs").filter((s) => s.op === "readonlyPath").length, 5);
  // CAP_KILL 5, CAP_NET_BIND_SERVICE 10, CAP_AUDIT_WRITE 29; no inheritable or ambient set.
  const caps = [5, 10, 29];
  assert.deepEqual(stage(p, "process"), [
    { op: "setRlimit", type: "RLIMIT_NOFILE", resource: 7, soft: 1024, hard: 1024 },
    { op: "dropBoundingSet", keep: caps },
    { op: "keepCaps" },
    { op: "setUser", uid: 0, gid: 0, additionalGids: [] },
    { op: "setCapabilities", effective: caps, permitted: caps, inheritable: [], ambient: [] },
    { op: "umask", mask: 0o022 },
    { op: "chdir", path: "/" },
    { op: "noNewPrivileges" },
    { op: "exec", args: ["sh"], env: spec.process!.env },
  ]);
});

Deno.test("default spec: cwd / makes no mkdir step", () => {
  assert.ok(!stage(plan(defaultSpec()), "mountToRootfs").some((s) => s.op === "mkdir"));
});

Deno.test("bind mount: ro becomes mount(MS_BIND) + remount(MS_RDONLY)", () => {
  const p = plan(withMounts([{ destination: "/data", type: "bind", source: "/srv/data", options: ["ro"] }]));
  assert.deepEqual(stepsOfMount(p, 7), [
    {
      op: "mount",
      index: 7,
      source: "/srv/data",
      target: "/data",
      fstype: "bind",
      flags: MS_BIND,
      data: "",
      create: "likeSource",
    },
    { op: "remount", index: 7, target: "/data", flags: MS_RDONLY },
  ]);
  // More flags go into the one remount.
  const q = plan(
    withMounts([{
      destination: "/data",
      type: "none",
      source: "/srv",
      options: ["bind", "ro", "nosuid", "nodev"],
    }]),
  );
  assert.deepEqual(stepsOfMount(q, 7).map((s) => [s.op, "flags" in s ? s.flags : -1]), [
    ["mount", MS_BIND],
    ["remount", MS_RDONLY | MS_NOSUID | MS_NODEV],
  ]);
});

Deno.test("bind mount without flags: no remount", () => {
  const p = plan(withMounts([{ destination: "/data", type: "bind", source: "/srv/data", options: ["rw"] }]));
  assert.deepEqual(stepsOfMount(p, 7).map((s) => s.op), ["mount"]);
});

Deno.test("rbind: MS_BIND|MS_REC, by option or by type", () => {
  for (
    const m of [
      { destination: "/data", type: "bind", source: "/srv", options: ["rbind"] },
      { destination: "/data", source: "/srv", options: ["rbind"] },
      { destination: "/data", type: "rbind", source: "/srv" },
    ] as Mount[]
  ) {
    const [step] = stepsOfMount(plan(withMounts([m])), 7);
    assert.equal(step.op, "mount");
    assert.equal(step.op === "mount" && step.fstype, "bind", JSON.stringify(m));
    assert.equal(step.op === "mount" && step.flags, MS_BIND | MS_REC, JSON.stringify(m));
  }
});

Deno.test("bind mount: a relative source is resolved against the bundle", () => {
  const p = plan(withMounts([
    { destination: "/a", type: "bind", source: "data", options: ["bind"] },
    { destination: "/b", type: "bind", source: "./x/../y/", options: ["bind"] },
    { destination: "/c/", type: "bind", source: "/abs//path/", options: ["bind"] },
  ]));
  const mounts = stage(p, "mountToRootfs").filter((s) => s.op === "mount" && s.fstype === "bind");
  assert.deepEqual(mounts.map((s) => s.op === "mount" && [s.source, s.target]), [
    ["/bundle/data", "/a"],
    ["/bundle/y", "/b"],
    ["/abs/path", "/c"],
  ]);
});

Deno.test("propagation options become propagate steps, after the mount and its remount", () => {
  const p = plan(withMounts([
    { destination: "/a", type: "bind", source: "/srv/a", options: ["rbind", "ro", "rshared"] },
    { destination: "/b", type: "tmpfs", source: "tmpfs", options: ["private", "unbindable"] },
  ]));
  assert.deepEqual(stepsOfMount(p, 7).map((s) => [s.op, "flags" in s ? s.flags : -1]), [
    ["mount", MS_BIND | MS_REC],
    ["remount", MS_RDONLY],
    ["propagate", MS_SHARED | MS_REC],
  ]);
  assert.deepEqual(stepsOfMount(p, 8), [
    {
      op: "mount",
      index: 8,
      source: "tmpfs",
      target: "/b",
      fstype: "tmpfs",
      flags: 0,
      data: "",
      create: "dir",
    },
    { op: "propagate", index: 8, target: "/b", flags: MS_PRIVATE },
    { op: "propagate", index: 8, target: "/b", flags: MS_UNBINDABLE },
  ]);
});

Deno.test("tmpcopyup on a tmpfs: copyUp; with ro mounted rw, then remounted ro", () => {
  const p = plan(withMounts([
    { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "nosuid", "size=1m"] },
    { destination: "/etc", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "ro", "nosuid"] },
    { destination: "/ro", type: "tmpfs", source: "tmpfs", options: ["ro"] },
    { destination: "/bound", type: "bind", source: "/srv", options: ["tmpcopyup"] },
  ]));
  assert.deepEqual(stepsOfMount(p, 7), [
    {
      op: "mount",
      index: 7,
      source: "tmpfs",
      target: "/tmp",
      fstype: "tmpfs",
      flags: MS_NOSUID,
      data: "size=1m",
      create: "dir",
      copyUp: true,
    },
  ]);
  assert.deepEqual(stepsOfMount(p, 8), [
    {
      op: "mount",
      index: 8,
      source: "tmpfs",
      target: "/etc",
      fstype: "tmpfs",
      flags: MS_NOSUID,
      data: "",
      create: "dir",
      copyUp: true,
    },
    { op: "remount", index: 8, target: "/etc", flags: MS_NOSUID | MS_RDONLY },
  ]);
  // Without copy-up a read-only tmpfs is simply mounted read-only.
  assert.deepEqual(stepsOfMount(p, 9).map((s) => [s.op, "flags" in s ? s.flags : -1]), [[
    "mount",
    MS_RDONLY,
  ]]);
  // tmpcopyup means nothing to a bind mount.
  assert.deepEqual(stepsOfMount(p, 10).map((s) => [s.op, "copyUp" in s]), [["mount", false]]);
});

Deno.test("a read-only /dev tmpfs is mounted rw and remounted ro in finalizeRootfs", () => {
  for (const copyUp of [false, true]) {
    const spec = defaultSpec();
    spec.mounts![1].options = [...spec.mounts![1].options!, "ro", ...(copyUp ? ["tmpcopyup"] : [])];
    const p = plan(spec);
    const [devMount, ...rest] = stepsOfMount(p, 1);
    assert.equal(devMount.op, "mount");
    assert.equal(devMount.op === "mount" && devMount.flags & MS_RDONLY, 0, `copyUp ${copyUp}`);
    // No remount before the device nodes exist...
    assert.deepEqual(rest, [], `copyUp ${copyUp}`);
    assert.ok(stage(p, "createDevices").length > 0);
    // ... one after.
    const remounts = stage(p, "finalizeRootfs").filter((s) => s.op === "remount" && s.target === "/dev");
    assert.deepEqual(
      remounts,
      [{ op: "remount", index: 1, target: "/dev", flags: MS_RDONLY }],
      `copyUp ${copyUp}`,
    );
  }
});

Deno.test("a bind-mounted /dev: no createDevices, setupPtmx or setupDevSymlinks", () => {
  for (
    const dev of [
      { destination: "/dev", type: "bind", source: "/dev", options: ["rbind"] },
      { destination: "/dev/", source: "/dev", options: ["rbind", "nosuid"] },
      { destination: "/dev", type: "rbind", source: "/dev" },
    ] as Mount[]
  ) {
    const spec = defaultSpec();
    spec.mounts = spec.mounts!.filter((m) => m.destination !== "/dev");
    spec.mounts.splice(1, 0, dev);
    const p = plan(spec);
    assert.deepEqual(
      stageNames(p),
      ["prepareRoot", "mountToRootfs", "pivotRoot", "finalizeRootfs", "process"],
      JSON.stringify(dev),
    );
  }
});

Deno.test("linux.devices: overriding a default device and adding new ones", () => {
  const spec = defaultSpec();
  spec.linux!.devices = [
    { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o600, uid: 5, gid: 6 },
    { path: "/dev/fuse", type: "c", major: 10, minor: 229 },
    { path: "/dev/./sda/", type: "b", major: 8, minor: 0, fileMode: 0o060640, uid: 0, gid: 6 },
    { path: "/dev/fifo", type: "p" },
  ];
  const devices = stage(plan(spec), "createDevices");
  assert.deepEqual(devices.map((d) => d.op === "mknod" && d.path), [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/fuse",
    "/dev/sda",
    "/dev/fifo",
  ]);
  assert.deepEqual(devices[0], {
    op: "mknod",
    path: "/dev/null",
    kind: "c",
    major: 1,
    minor: 3,
    mode: 0o600,
    uid: 5,
    gid: 6,
    hostPath: "/dev/null",
  });
  assert.deepEqual(devices[6], {
    op: "mknod",
    path: "/dev/fuse",
    kind: "c",
    major: 10,
    minor: 229,
    mode: 0o666,
    uid: 0,
    gid: 0,
    hostPath: "/dev/fuse",
  });
  // The file type bits of fileMode are mknod's business, not the mode's.
  assert.deepEqual(devices[7], {
    op: "mknod",
    path: "/dev/sda",
    kind: "b",
    major: 8,
    minor: 0,
    mode: 0o640,
    uid: 0,
    gid: 6,
    hostPath: "/dev/sda",
  });
  assert.deepEqual(devices[8], {
    op: "mknod",
    path: "/dev/fifo",
    kind: "p",
    major: 0,
    minor: 0,
    mode: 0o666,
    uid: 0,
    gid: 0,
    hostPath: "/dev/fifo",
  });
});

Deno.test("rootfsPropagation: shared keeps / a slave until after pivot_root", () => {
  for (const [name, flags] of [["shared", MS_SHARED], ["rshared", MS_SHARED | MS_REC]] as const) {
    const spec = defaultSpec();
    spec.linux!.rootfsPropagation = name;
    const p = plan(spec);
    assert.deepEqual(stage(p, "prepareRoot")[0], { op: "rootPropagation", flags: MS_SLAVE | MS_REC }, name);
    assert.deepEqual(
      stage(p, "pivotRoot"),
      [{ op: "pivotRoot" }, { op: "propagate", target: "/", flags }],
      name,
    );
  }
});

Deno.test("rootfsPropagation: private makes the tree rprivate in prepareRoot", () => {
  for (const [name, flags] of [["private", MS_PRIVATE], ["rprivate", MS_PRIVATE | MS_REC]] as const) {
    const spec = defaultSpec();
    spec.linux!.rootfsPropagation = name;
    const p = plan(spec);
    assert.deepEqual(stage(p, "prepareRoot")[0], { op: "rootPropagation", flags: MS_PRIVATE | MS_REC }, name);
    assert.deepEqual(
      stage(p, "pivotRoot"),
      [{ op: "pivotRoot" }, { op: "propagate", target: "/", flags }],
      name,
    );
  }
  const spec = defaultSpec();
  spec.linux!.rootfsPropagation = "rslave";
  const p = plan(spec);
  assert.deepEqual(stage(p, "prepareRoot")[0], { op: "rootPropagation", flags: MS_SLAVE | MS_REC });
  assert.deepEqual(stage(p, "pivotRoot")[1], { op: "propagate", target: "/", flags: MS_SLAVE | MS_REC });
});

Deno.test("noPivot: moveRoot instead of pivotRoot", () => {
  const p = plan(defaultSpec(), { noPivot: true });
  assert.deepEqual(stage(p, "pivotRoot"), [{ op: "moveRoot" }]);
  assert.deepEqual(stageNames(p), STAGE_ORDER);
});

Deno.test("no mount namespace: chroot only, no prepareRoot or mounts", () => {
  const spec = defaultSpec();
  spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== "mount");
  delete spec.linux!.maskedPaths;
  delete spec.linux!.readonlyPaths;
  spec.mounts = [];
  spec.root!.readonly = false;
  spec.process!.cwd = "/work";
  for (const noPivot of [false, true]) {
    const p = plan(spec, { noPivot });
    assert.deepEqual(stageNames(p), ["pivotRoot", "finalizeRootfs", "process"]);
    assert.deepEqual(stage(p, "pivotRoot"), [{ op: "chroot" }]);
    assert.deepEqual(stage(p, "finalizeRootfs"), [{ op: "sethostname", name: "druntime" }]);
    assert.deepEqual(stage(p, "process").filter((s) => s.op === "chdir"), [{ op: "chdir", path: "/work" }]);
  }
  delete spec.hostname;
  assert.deepEqual(stageNames(plan(spec)), ["pivotRoot", "process"]);
});

Deno.test("root.readonly: remount / read-only in finalizeRootfs; otherwise not", () => {
  const spec = defaultSpec();
  const ro = stage(plan(spec), "finalizeRootfs").filter((s) => s.op === "remount");
  assert.deepEqual(ro, [{ op: "remount", target: "/", flags: MS_RDONLY }]);
  spec.root!.readonly = false;
  assert.ok(!stage(plan(spec), "finalizeRootfs").some((s) => s.op === "remount"));
  delete spec.root;
  assert.ok(!stage(plan(spec), "finalizeRootfs").some((s) => s.op === "remount"));
});

Deno.test("a cwd other than /: mkdir after the mounts, chdir in process", () => {
  const spec = defaultSpec();
  spec.process!.cwd = "/work/dir/";
  const p = plan(spec);
  const mounts = stage(p, "mountToRootfs");
  assert.deepEqual(mounts.at(-1), { op: "mkdir", path: "/work/dir", mode: 0o755 });
  assert.equal(mounts.filter((s) => s.op === "mkdir").length, 1);
  assert.deepEqual(stage(p, "process").filter((s) => s.op === "chdir"), [{
    op: "chdir",
    path: "/work/dir/",
  }]);
});

Deno.test("a non-proc mount inside /proc throws naming mounts[i]; the runc allow-list passes", () => {
  const spec = withMounts(
    [{ destination: "/proc/foo", type: "bind", source: "/srv/foo", options: ["bind"] }],
    false,
  );
  assert.throws(() => plan(spec), (e: unknown) => {
    assert.ok(e instanceof DruntimeError);
    assert.match(e.message, /^mounts\[0\]: \/proc\/foo is inside \/proc/);
    return true;
  });
  for (const destination of ["/proc/sys/kernel", "/proc/./foo", "/proc/foo/"]) {
    const bad = withMounts([{ destination, type: "tmpfs", source: "tmpfs" }]);
    assert.throws(() => plan(bad), /^DruntimeError: mounts\[7\]: /, destination);
  }
  for (
    const destination of ["/proc/cpuinfo", "/proc/meminfo", "/proc/uptime", "/proc/sys/kernel/ns_last_pid"]
  ) {
    const ok = withMounts([{ destination, type: "bind", source: `/srv${destination}`, options: ["bind"] }]);
    assert.equal(stepsOfMount(plan(ok), 7).length, 1, destination);
  }
  // A proc mount may go anywhere; so may anything next to /proc.
  plan(withMounts([{ destination: "/proc/foo", type: "proc", source: "proc" }]));
  plan(withMounts([{ destination: "/procfoo", type: "bind", source: "/srv", options: ["bind"] }]));
});

Deno.test("user.umask is honoured, 0 included", () => {
  for (const umask of [0o077, 0o002, 0]) {
    const spec = defaultSpec();
    spec.process!.user.umask = umask;
    assert.deepEqual(stage(plan(spec), "process").filter((s) => s.op === "umask"), [{
      op: "umask",
      mask: umask,
    }]);
  }
});

Deno.test("user, additionalGids, args and env reach the process stage", () => {
  const spec = defaultSpec();
  spec.process!.user = { uid: 1000, gid: 100, additionalGids: [5, 10, 100] };
  spec.process!.args = ["/bin/echo", "hello world"];
  spec.process!.env = ["A=1"];
  const ops = stage(plan(spec), "process");
  assert.deepEqual(ops.filter((s) => ["setUser", "umask", "chdir", "exec"].includes(s.op)), [
    { op: "setUser", uid: 1000, gid: 100, additionalGids: [5, 10, 100] },
    { op: "umask", mask: 0o022 },
    { op: "chdir", path: "/" },
    { op: "exec", args: ["/bin/echo", "hello world"], env: ["A=1"] },
  ]);
  assert.deepEqual(ops.at(-1)?.op, "exec");
  // Without rlimits or noNewPrivileges: no setRlimit or noNewPrivileges step.
  delete spec.process!.rlimits;
  delete spec.process!.noNewPrivileges;
  const ops2 = stage(plan(spec), "process").map((s) => s.op);
  assert.ok(!ops2.includes("setRlimit") && !ops2.includes("noNewPrivileges"), ops2.join(" "));
});

Deno.test("cgroup mounts: without a cgroup namespace, read-write", () => {
  const spec = defaultSpec();
  spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== "cgroup");
  spec.mounts![6].options = ["nosuid", "noexec", "nodev"];
  assert.deepEqual(stepsOfMount(plan(spec), 6), [
    {
      op: "mountCgroups",
      index: 6,
      target: "/sys/fs/cgroup",
      flags: MS_NOSUID | MS_NOEXEC | MS_NODEV,
      readonly: false,
      ns: false,
    },
  ]);
});

Deno.test("domainname, and a config without a process", () => {
  const spec = defaultSpec();
  spec.domainname = "example.org";
  assert.deepEqual(stage(plan(spec), "finalizeRootfs").slice(-2), [
    { op: "sethostname", name: "druntime" },
    { op: "setdomainname", name: "example.org" },
  ]);
  delete spec.process;
  assert.throws(() => plan(spec), /no process/);
});
