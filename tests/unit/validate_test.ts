import assert from "node:assert/strict";
import { expectProblems, minimal, problemsOf } from "../fixtures/configs.ts";
import { join } from "node:path";
import { ConfigError, DruntimeError } from "../../runtime/errors.ts";
import { defaultSpec } from "../../runtime/spec/default.ts";
import { loadBundle, validateContainerId, validateSpec } from "../../runtime/spec/validate.ts";

const MOUNT_NS = "needs a mount namespace (druntime does not mount into the host's namespace)";

Deno.test("validateSpec: the minimal config is valid, without warnings", () => {
  const { spec, warnings } = validateSpec(minimal());
  assert.equal(spec.ociVersion, "1.2.0");
  assert.deepEqual(spec.process?.args, ["sh"]);
  assert.deepEqual(warnings, []);
});

Deno.test("validateSpec: the default spec is valid, without warnings", () => {
  const { spec, warnings } = validateSpec(defaultSpec());
  assert.deepEqual(spec, defaultSpec());
  // Its capabilities, rlimits and noNewPrivileges are applied: nothing to warn about.
  assert.deepEqual(warnings, []);
});

Deno.test("defaultSpec: follows runc's example spec", () => {
  const spec = defaultSpec();
  assert.equal(spec.ociVersion, "1.2.0");
  assert.equal(spec.process?.terminal, false);
  assert.deepEqual(spec.process?.user, { uid: 0, gid: 0 });
  assert.deepEqual(spec.process?.args, ["sh"]);
  assert.equal(spec.process?.cwd, "/");
  assert.equal(spec.process?.capabilities?.inheritable, undefined);
  assert.equal(spec.process?.capabilities?.ambient, undefined);
  assert.deepEqual(spec.process?.capabilities?.bounding, [
    "CAP_AUDIT_WRITE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
  ]);
  assert.deepEqual(spec.root, { path: "rootfs", readonly: true });
  assert.equal(spec.hostname, "druntime");
  assert.deepEqual(spec.mounts?.map((m) => m.destination), [
    "/proc",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/sys",
    "/sys/fs/cgroup",
  ]);
  assert.deepEqual(spec.linux?.namespaces?.map((n) => n.type), [
    "pid",
    "network",
    "ipc",
    "uts",
    "mount",
    "cgroup",
  ]);
  assert.ok(spec.linux?.maskedPaths?.includes("/proc/kcore"));
  assert.ok(spec.linux?.readonlyPaths?.includes("/proc/sys"));
  // Each call is a fresh object.
  spec.process!.args!.push("-c");
  assert.deepEqual(defaultSpec().process?.args, ["sh"]);
});

Deno.test("validateSpec: not an object", () => {
  assert.deepEqual(problemsOf([]), [{ path: "config.json", reason: "must be a JSON object, got an array" }]);
  assert.deepEqual(problemsOf("x"), [{ path: "config.json", reason: 'must be a JSON object, got "x"' }]);
});

Deno.test("validateSpec: ociVersion", () => {
  expectProblems((d) => delete d.ociVersion, ["ociVersion", "is required"]);
  expectProblems((d) => d.ociVersion = 1, ["ociVersion", "must be a string, got 1"]);
  expectProblems((d) => d.ociVersion = "1.0", [
    "ociVersion",
    'must be a SemVer version such as "1.2.0", got "1.0"',
  ]);
  expectProblems((d) => d.ociVersion = "2.0.0", [
    "ociVersion",
    'version "2.0.0" is not supported (druntime reads 1.x configs)',
  ]);
  expectProblems((d) => d.ociVersion = "0.5.0", [
    "ociVersion",
    'version "0.5.0" is not supported (druntime reads 1.x configs)',
  ]);
  for (const version of ["1.0.0", "1.0.2-dev", "1.1.0-rc.1", "1.2.0", "1.2.1+dev"]) {
    expectProblems((d) => d.ociVersion = version);
  }
});

Deno.test("validateSpec: root", () => {
  expectProblems((d) => delete (d as Record<string, unknown>).root, ["root", "is required"]);
  expectProblems((d) => (d as Record<string, unknown>).root = "rootfs", [
    "root",
    'must be an object, got "rootfs"',
  ]);
  expectProblems((d) => delete d.root.path, ["root.path", "is required"]);
  expectProblems((d) => d.root.path = "", ["root.path", "must not be empty"]);
  expectProblems((d) => d.root.path = 3, ["root.path", "must be a string, got 3"]);
  expectProblems((d) => d.root.readonly = "yes", ["root.readonly", 'must be true or false, got "yes"']);
});

Deno.test("validateSpec: process is required", () => {
  expectProblems((d) => delete (d as Record<string, unknown>).process, ["process", "is required"]);
});

Deno.test("validateSpec: process.args", () => {
  const reason = "must name the program to run (a non-empty array of strings)";
  expectProblems((d) => delete d.process.args, ["process.args", reason]);
  expectProblems((d) => d.process.args = [], ["process.args", reason]);
  expectProblems((d) => d.process.args = "sh", ["process.args", 'must be an array, got "sh"']);
  expectProblems((d) => d.process.args = ["sh", 1], ["process.args[1]", "must be a string, got 1"]);
});

Deno.test("validateSpec: process.cwd", () => {
  expectProblems((d) => delete d.process.cwd, ["process.cwd", "is required"]);
  expectProblems((d) => d.process.cwd = "tmp", ["process.cwd", 'must be an absolute path, got "tmp"']);
});

Deno.test("validateSpec: process.user", () => {
  expectProblems((d) => delete (d.process as Record<string, unknown>).user, ["process.user", "is required"]);
  expectProblems(
    (d) => d.process.user = {},
    ["process.user.uid", "is required"],
    ["process.user.gid", "is required"],
  );
  expectProblems((d) => d.process.user.uid = -1, ["process.user.uid", "must not be negative, got -1"]);
  expectProblems((d) => d.process.user.gid = 1.5, ["process.user.gid", "must be an integer, got 1.5"]);
  expectProblems((d) => d.process.user.uid = "0", ["process.user.uid", 'must be an integer, got "0"']);
  expectProblems((d) => d.process.user.uid = 2 ** 32, [
    "process.user.uid",
    "must be at most 4294967295, got 4294967296",
  ]);
  expectProblems(
    (d) => d.process.user.additionalGids = [1, "2", -3],
    ["process.user.additionalGids[1]", 'must be an integer, got "2"'],
    ["process.user.additionalGids[2]", "must not be negative, got -3"],
  );
  expectProblems((d) => d.process.user.umask = 0.5, ["process.user.umask", "must be an integer, got 0.5"]);
  expectProblems((d) => d.process.user.umask = 0o22);
});

Deno.test("validateSpec: process.env", () => {
  expectProblems(
    (d) => d.process.env = ["A=1", "B", 3, "C="],
    ["process.env[2]", "must be a string, got 3"],
  );
  expectProblems((d) => d.process.env = ["A=1", "B", "C="], [
    "process.env[1]",
    'must have the form NAME=value, got "B"',
  ]);
});

Deno.test("validateSpec: other process fields are type-checked", () => {
  expectProblems((d) => d.process.terminal = 1, ["process.terminal", "must be true or false, got 1"]);
  expectProblems(
    (d) => d.process.capabilities = { bounding: "CAP_KILL" },
    ["process.capabilities.bounding", 'must be an array, got "CAP_KILL"'],
  );
  expectProblems(
    (d) => d.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: -1 }],
    ["process.rlimits[0].soft", "must not be negative, got -1"],
    ["process.rlimits[0].hard", "is required"],
  );
  expectProblems((d) => d.process.oomScoreAdj = 2000, [
    "process.oomScoreAdj",
    "must be at most 1000, got 2000",
  ]);
});

Deno.test("validateSpec: mounts", () => {
  expectProblems((d) => d.mounts = {}, ["mounts", "must be an array, got an object"]);
  expectProblems((d) => d.mounts = [{ type: "tmpfs" }], ["mounts[0].destination", "is required"]);
  expectProblems(
    (d) => d.mounts = [{ destination: "/ok" }, { destination: "/ok" }, { destination: "tmp" }],
    ["mounts[2].destination", 'must be an absolute path, got "tmp"'],
  );
  expectProblems(
    (d) => d.mounts = [{ destination: "/tmp", options: ["nosuid", 7] }],
    ["mounts[0].options[1]", "must be a string, got 7"],
  );
  expectProblems(
    (d) => d.mounts = [{ destination: "/tmp", options: "nosuid" }],
    ["mounts[0].options", 'must be an array, got "nosuid"'],
  );
  expectProblems(
    (d) => d.mounts = [{ destination: "/tmp", source: 1, type: 2 }],
    ["mounts[0].source", "must be a string, got 1"],
    ["mounts[0].type", "must be a string, got 2"],
  );
});

Deno.test("validateSpec: mount options", () => {
  expectProblems(
    (d) => d.mounts = [{ destination: "/tmp", type: "tmpfs", options: ["nosuid", "foo", "mode=755", "bar"] }],
    ["mounts[0].options[1]", 'unknown mount option "foo"'],
    ["mounts[0].options[3]", 'unknown mount option "bar"'],
  );
  expectProblems(
    (d) => d.mounts = [{ destination: "/x", type: "bind", source: "/x", options: ["rbind", "idmap"] }],
    [
      "mounts[0].options[1]",
      'unsupported mount option "idmap" (idmapped mounts need user namespaces, which are not supported yet)',
    ],
  );
  expectProblems(
    (d) => d.mounts = [{ destination: "/x", uidMappings: [], gidMappings: [] }],
    ["mounts[0].uidMappings", "idmapped mounts need user namespaces, which are not supported yet"],
    ["mounts[0].gidMappings", "idmapped mounts need user namespaces, which are not supported yet"],
  );
});

Deno.test("validateSpec: namespaces", () => {
  expectProblems(
    (d) => d.linux.namespaces = [{ type: "mount" }, { type: "bogus" }],
    [
      "linux.namespaces[1].type",
      'unknown namespace type "bogus" (known: pid, network, mount, ipc, uts, user, cgroup, time)',
    ],
  );
  expectProblems(
    (d) => d.linux.namespaces = [{ type: "mount" }, { type: "uts" }, { type: "mount" }],
    ["linux.namespaces[2].type", 'duplicate namespace type "mount"'],
  );
  expectProblems(
    (d) =>
      d.linux.namespaces = [{ type: "mount" }, { type: "uts" }, { type: "network", path: "run/netns/x" }],
    ["linux.namespaces[2].path", 'must be an absolute path, got "run/netns/x"'],
  );
  expectProblems(
    (d) =>
      d.linux.namespaces = [{ type: "mount" }, { type: "uts" }, { type: "network", path: "/run/netns/x" }],
  );
  expectProblems(
    (d) => d.linux.namespaces = [{ type: "mount" }, { type: "uts" }, {}],
    ["linux.namespaces[2].type", "is required"],
  );
  expectProblems(
    (d) => d.linux.namespaces = [{ type: "mount" }, { type: "uts" }, { type: "user" }],
    ["linux.namespaces[2].type", "user namespaces are not supported yet"],
  );
  expectProblems((d) => d.linux.namespaces = [{ type: "mount" }, { type: "uts" }, { type: "time" }]);
});

Deno.test("validateSpec: id mappings need user namespaces; time offsets a new time namespace", () => {
  const mapping = [{ containerID: 0, hostID: 1000, size: 1 }];
  expectProblems(
    (d) => {
      d.linux.uidMappings = mapping;
      d.linux.gidMappings = mapping;
    },
    ["linux.uidMappings", "id mappings need a user namespace, which is not supported yet"],
    ["linux.gidMappings", "id mappings need a user namespace, which is not supported yet"],
  );
  expectProblems((d) => d.linux.timeOffsets = {}, [
    "linux.timeOffsets",
    "needs a new time namespace (a linux.namespaces entry of type time, without a path)",
  ]);
  expectProblems(
    (d) => {
      d.linux.namespaces.push({ type: "time" });
      d.linux.timeOffsets = {
        monotonic: { secs: 5, nanosecs: 1e9 },
        realtime: { secs: 1 },
        boottime: { secs: 1.5 },
      };
    },
    ["linux.timeOffsets.monotonic.nanosecs", "must be at most 999999999, got 1000000000"],
    [
      "linux.timeOffsets.realtime",
      "only the monotonic and boottime clocks have offsets",
    ],
    ["linux.timeOffsets.boottime.secs", "must be an integer, got 1.5"],
  );
  expectProblems((d) => {
    d.linux.namespaces.push({ type: "time" });
    d.linux.timeOffsets = { monotonic: { secs: -3600 }, boottime: { secs: 86400, nanosecs: 5 } };
  });
});

Deno.test("validateSpec: devices", () => {
  expectProblems((d) =>
    d.linux.devices = [{ type: "c", path: "/dev/null", major: 1, minor: 3, fileMode: 0o666 }]
  );
  expectProblems((d) => d.linux.devices = [{ type: "p", path: "/dev/fifo" }]);
  expectProblems(
    (d) => d.linux.devices = [{ type: "x", path: "/dev/x", major: 1, minor: 1 }],
    ["linux.devices[0].type", 'must be one of "c", "b", "u" or "p", got "x"'],
  );
  expectProblems(
    (d) => d.linux.devices = [{ path: "/dev/x", major: 1, minor: 1 }],
    ["linux.devices[0].type", "is required"],
  );
  expectProblems(
    (d) => d.linux.devices = [{ type: "c", path: "dev/null", major: 1, minor: 3 }],
    ["linux.devices[0].path", 'must be an absolute path, got "dev/null"'],
  );
  expectProblems(
    (d) => d.linux.devices = [{ type: "b", path: "/dev/sda" }],
    ["linux.devices[0].major", "is required"],
    ["linux.devices[0].minor", "is required"],
  );
  expectProblems(
    (d) => d.linux.devices = [{ type: "u", path: "/dev/u", major: "1", minor: 1.5 }],
    ["linux.devices[0].major", 'must be an integer, got "1"'],
    ["linux.devices[0].minor", "must be an integer, got 1.5"],
  );
  expectProblems(
    (d) =>
      d.linux.devices = [{
        type: "c",
        path: "/dev/null",
        major: 1,
        minor: 3,
        fileMode: "0666",
        uid: -1,
        gid: 0.5,
      }],
    ["linux.devices[0].fileMode", 'must be an integer, got "0666"'],
    ["linux.devices[0].uid", "must not be negative, got -1"],
    ["linux.devices[0].gid", "must be an integer, got 0.5"],
  );
});

Deno.test("validateSpec: rootfsPropagation", () => {
  for (
    const value of [
      "shared",
      "slave",
      "private",
      "unbindable",
      "rshared",
      "rslave",
      "rprivate",
      "runbindable",
    ]
  ) {
    expectProblems((d) => d.linux.rootfsPropagation = value);
  }
  expectProblems((d) => d.linux.rootfsPropagation = "bogus", [
    "linux.rootfsPropagation",
    'must be one of shared, slave, private, unbindable, rshared, rslave, rprivate or runbindable, got "bogus"',
  ]);
});

Deno.test("validateSpec: maskedPaths and readonlyPaths", () => {
  expectProblems(
    (d) => {
      d.linux.maskedPaths = ["/proc/kcore", "proc/keys"];
      d.linux.readonlyPaths = ["sys"];
    },
    ["linux.maskedPaths[1]", 'must be an absolute path, got "proc/keys"'],
    ["linux.readonlyPaths[0]", 'must be an absolute path, got "sys"'],
  );
});

Deno.test("validateSpec: hostname and domainname need a uts namespace", () => {
  expectProblems(
    (d) => {
      d.linux.namespaces = [{ type: "mount" }];
      d.hostname = "box";
      d.domainname = "example.org";
    },
    ["hostname", "setting the hostname needs a new uts namespace"],
    ["domainname", "setting the domainname needs a new uts namespace"],
  );
  expectProblems((d) => {
    d.linux.namespaces = [{ type: "mount" }];
    d.hostname = "";
  });
  expectProblems((d) => d.hostname = "box");
  expectProblems((d) => d.hostname = 5, ["hostname", "must be a string, got 5"]);
});

Deno.test("validateSpec: mounts and friends need a mount namespace", () => {
  expectProblems(
    (d) => {
      d.linux = { namespaces: [{ type: "uts" }] };
      d.mounts = [{ destination: "/proc", type: "proc", source: "proc" }];
      d.linux.devices = [{ type: "c", path: "/dev/null", major: 1, minor: 3 }];
      d.linux.maskedPaths = ["/proc/kcore"];
      d.linux.readonlyPaths = ["/proc/sys"];
      d.root.readonly = true;
    },
    ["mounts", MOUNT_NS],
    ["linux.devices", MOUNT_NS],
    ["linux.maskedPaths", MOUNT_NS],
    ["linux.readonlyPaths", MOUNT_NS],
    ["root.readonly", MOUNT_NS],
  );
  // Empty lists and a writable root need nothing.
  expectProblems((d) => {
    d.linux = { namespaces: [{ type: "pid" }], maskedPaths: [] };
    d.mounts = [];
    d.root.readonly = false;
  });
  // No linux section at all.
  expectProblems((d) => {
    delete (d as Record<string, unknown>).linux;
    d.mounts = [{ destination: "/proc" }];
  }, ["mounts", MOUNT_NS]);
});

Deno.test("validateSpec: every problem is collected into one error", () => {
  const doc = {
    ociVersion: "3",
    root: { path: "" },
    process: { user: { uid: -1, gid: 0 }, cwd: "." },
    linux: { namespaces: [{ type: "mount" }, { type: "user" }] },
  };
  let err: unknown;
  try {
    validateSpec(doc);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  assert.deepEqual(err.problems.map((p) => p.path), [
    "ociVersion",
    "root.path",
    "process.user.uid",
    "process.args",
    "process.cwd",
    "linux.namespaces[1].type",
  ]);
  assert.match(err.message, /^invalid config:\n {2}ociVersion: must be a SemVer version/);
});

Deno.test("validateSpec: assert.throws sees a ConfigError with a one-line message for one problem", () => {
  const doc = minimal();
  doc.process.cwd = "relative";
  assert.throws(() => validateSpec(doc), {
    name: "ConfigError",
    message: 'invalid config: process.cwd: must be an absolute path, got "relative"',
  });
});

Deno.test("validateSpec: unknown properties are ignored", () => {
  const doc = minimal();
  doc.somethingNew = { deep: [1, 2] };
  doc.process.futureField = true;
  doc.linux.netDevices = { eth0: {} };
  doc.vm = { hypervisor: {} };
  const { warnings } = validateSpec(doc);
  assert.deepEqual(warnings, []);
});

Deno.test("validateSpec: null fields count as absent, as Go reads them", () => {
  const doc = minimal();
  doc.mounts = null;
  doc.hostname = null;
  doc.linux.devices = null;
  doc.process.env = null;
  const { spec } = validateSpec(doc);
  assert.equal("mounts" in spec, false);
  assert.equal("hostname" in spec, false);
  assert.equal(spec.process?.env, undefined);
  expectProblems((d) => d.process.cwd = null, ["process.cwd", "is required"]);
});

Deno.test("validateSpec: warnings for fields accepted but not applied yet (hooks run: no warning)", () => {
  const doc = minimal();
  // A net.* sysctl needs a network namespace.
  (doc.linux.namespaces as unknown[]).push({ type: "network" }, { type: "ipc" });
  Object.assign(doc.process, {
    terminal: true,
    capabilities: { bounding: [] },
    rlimits: [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 1024 }],
    noNewPrivileges: true,
    apparmorProfile: "docker-default",
    selinuxLabel: "system_u:system_r:container_t:s0",
    oomScoreAdj: 100,
    scheduler: { policy: "SCHED_OTHER" },
    ioPriority: { class: "IOPRIO_CLASS_IDLE" },
    execCPUAffinity: { initial: "0" },
  });
  Object.assign(doc.linux, {
    seccomp: { defaultAction: "SCMP_ACT_ALLOW" },
    sysctl: { "net.ipv4.ip_forward": "1", "kernel.shmmax": "65536" },
    resources: {},
    cgroupsPath: "/druntime/x",
    intelRdt: {},
    personality: { domain: "LINUX32" },
    mountLabel: "system_u:object_r:container_file_t:s0",
    memoryPolicy: { mode: "MPOL_DEFAULT" },
  });
  doc.hooks = {
    prestart: [{ path: "/bin/true" }],
    createRuntime: [{ path: "/bin/true" }],
    createContainer: [{ path: "/bin/true" }],
    startContainer: [{ path: "/bin/true" }],
    poststart: [{ path: "/bin/true" }],
    poststop: [{ path: "/bin/true" }],
  };
  const later = (field: string) => `${field} is accepted but not applied yet (a later release applies it)`;
  // Applied now, so not warned about: capabilities, rlimits, noNewPrivileges, oomScoreAdj,
  // sysctl, personality, scheduler, ioPriority, seccomp; apparmorProfile and selinuxLabel
  // (checked against the host when a bundle is prepared, not here).
  assert.deepEqual(validateSpec(doc).warnings, [
    later("process.execCPUAffinity"),
    "process.terminal: terminals are not supported yet; the container uses druntime's stdio",
    later("linux.intelRdt"),
    later("linux.mountLabel"),
    later("linux.memoryPolicy"),
  ]);
});

Deno.test("validateSpec: settings that change nothing do not warn", () => {
  const doc = minimal();
  Object.assign(doc.process, { terminal: false, noNewPrivileges: false, rlimits: [], apparmorProfile: "" });
  Object.assign(doc.linux, { sysctl: {} });
  doc.hooks = { prestart: [], poststop: [] };
  assert.deepEqual(validateSpec(doc).warnings, []);
});

Deno.test("validateSpec: hooks are type-checked", () => {
  expectProblems(
    (d) => d.hooks = { prestart: [{ path: "true", args: "x", timeout: 0 }], poststop: {} },
    ["hooks.prestart[0].path", 'must be an absolute path, got "true"'],
    ["hooks.prestart[0].args", 'must be an array, got "x"'],
    ["hooks.prestart[0].timeout", "must be at least 1"],
    ["hooks.poststop", "must be an array, got an object"],
  );
});

Deno.test("validateSpec: annotations are strings", () => {
  expectProblems((d) => d.annotations = { a: "b" });
  expectProblems((d) => d.annotations = { a: 1 }, ["annotations.a", "must be a string, got 1"]);
});

Deno.test("validateContainerId: accepts the allowed characters", () => {
  for (const id of ["a", "abc-123", "A_b.c+d-e", "x".repeat(1024), "..a", "a.."]) validateContainerId(id);
});

Deno.test("validateContainerId: rejects bad ids with a clear message", () => {
  const cases: [string, string][] = [
    ["", 'invalid container id "": it must not be empty'],
    [".", 'invalid container id ".": "." and ".." are not allowed'],
    ["..", 'invalid container id "..": "." and ".." are not allowed'],
    ["a/b", 'invalid container id "a/b": only letters, digits, "_", ".", "+" and "-" are allowed'],
    ["a b", 'invalid container id "a b": only letters, digits, "_", ".", "+" and "-" are allowed'],
    ["é", 'invalid container id "é": only letters, digits, "_", ".", "+" and "-" are allowed'],
    ["a\n", 'invalid container id "a\\n": only letters, digits, "_", ".", "+" and "-" are allowed'],
    ["x".repeat(1025), `invalid container id "${"x".repeat(61)}...": longer than 1024 characters`],
  ];
  for (const [id, message] of cases) {
    assert.throws(() => validateContainerId(id), (e: unknown) => {
      assert.ok(e instanceof DruntimeError);
      assert.equal(e.message, message);
      return true;
    });
  }
});

async function withTempDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "druntime-validate-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function writeConfig(bundle: string, doc: unknown): void {
  Deno.writeTextFileSync(join(bundle, "config.json"), JSON.stringify(doc));
}

Deno.test("loadBundle: loads a valid bundle", async () => {
  await withTempDir((dir) => {
    Deno.mkdirSync(join(dir, "rootfs"));
    writeConfig(dir, defaultSpec());
    const real = Deno.realPathSync(dir);
    const loaded = loadBundle(dir);
    assert.equal(loaded.bundle, real);
    assert.equal(loaded.rootfs, join(real, "rootfs"));
    assert.equal(loaded.spec.hostname, "druntime");
    assert.deepEqual(loaded.warnings, []);
  });
});

Deno.test("loadBundle: a relative bundle path and a symlinked rootfs resolve to real paths", async () => {
  await withTempDir((dir) => {
    const real = Deno.realPathSync(dir);
    Deno.mkdirSync(join(dir, "bundle"));
    Deno.mkdirSync(join(dir, "actual-root"));
    Deno.symlinkSync(join(real, "actual-root"), join(dir, "bundle", "rootfs"));
    Deno.symlinkSync(join(real, "bundle"), join(dir, "link"));
    writeConfig(join(dir, "bundle"), minimal());
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      const loaded = loadBundle("link");
      assert.equal(loaded.bundle, join(real, "bundle"));
      assert.equal(loaded.rootfs, join(real, "actual-root"));
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("loadBundle: an absolute root.path is used as is", async () => {
  await withTempDir((dir) => {
    const real = Deno.realPathSync(dir);
    Deno.mkdirSync(join(dir, "elsewhere"));
    const doc = minimal();
    doc.root.path = join(real, "elsewhere");
    writeConfig(dir, doc);
    assert.equal(loadBundle(dir).rootfs, join(real, "elsewhere"));
  });
});

Deno.test("loadBundle: a missing bundle", async () => {
  await withTempDir((dir) => {
    const missing = join(dir, "nope");
    assert.throws(() => loadBundle(missing), {
      name: "DruntimeError",
      message: `bundle "${missing}": does not exist`,
    });
  });
});

Deno.test("loadBundle: a bundle that is a file", async () => {
  await withTempDir((dir) => {
    const file = join(dir, "file");
    Deno.writeTextFileSync(file, "");
    assert.throws(() => loadBundle(file), { message: `bundle "${file}": is not a directory` });
  });
});

Deno.test("loadBundle: no config.json", async () => {
  await withTempDir((dir) => {
    const real = Deno.realPathSync(dir);
    assert.throws(() => loadBundle(dir), {
      name: "DruntimeError",
      message: `bundle "${real}": no config.json (create one with "druntime spec")`,
    });
  });
});

Deno.test("loadBundle: invalid JSON", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(join(dir, "config.json"), '{"ociVersion": ');
    assert.throws(() => loadBundle(dir), (e: unknown) => {
      assert.ok(e instanceof DruntimeError);
      assert.ok(!(e instanceof ConfigError));
      assert.match(e.message, /^config\.json: invalid JSON: /);
      return true;
    });
  });
});

Deno.test("loadBundle: a missing rootfs is reported with the other problems", async () => {
  await withTempDir((dir) => {
    const real = Deno.realPathSync(dir);
    const doc = minimal();
    doc.process.cwd = "x";
    writeConfig(dir, doc);
    assert.throws(() => loadBundle(dir), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems, [
        { path: "process.cwd", reason: 'must be an absolute path, got "x"' },
        { path: "root.path", reason: `"${join(real, "rootfs")}" does not exist` },
      ]);
      return true;
    });
  });
});

Deno.test("loadBundle: a rootfs that is not a directory", async () => {
  await withTempDir((dir) => {
    const real = Deno.realPathSync(dir);
    Deno.writeTextFileSync(join(dir, "rootfs"), "");
    writeConfig(dir, minimal());
    assert.throws(() => loadBundle(dir), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems, [
        { path: "root.path", reason: `"${join(real, "rootfs")}" is not a directory` },
      ]);
      return true;
    });
  });
});
