/**
 * Process security settings, without a container: capability names and the kernel's last
 * capability, rlimits, namespaced sysctls, personality, the host's LSMs, and the process steps
 * (order and text) that a config with all of them plans.
 */
import assert from "node:assert/strict";
import { type Doc, expectProblems, minimal, problemsOf } from "../fixtures/configs.ts";
import { join } from "node:path";
import { ConfigError } from "../../runtime/errors.ts";
import { validateSpec } from "../../runtime/spec/validate.ts";
import {
  capabilityNumbers,
  capabilityWarnings,
  hostLsms,
  isRlimitName,
  kernelLastCap,
  PERSONALITY_DOMAINS,
  sysctlProblem,
} from "../../runtime/spec/process_security.ts";
import { defaultSpec } from "../../runtime/spec/default.ts";
import type { Spec } from "../../runtime/spec/types.ts";
import { buildPlan } from "../../runtime/plan/build.ts";
import { describeStep, formatPlan } from "../../runtime/plan/format.ts";
import type { Plan, Step } from "../../runtime/plan/types.ts";
import { prepareBundle } from "../../runtime/container/lifecycle.ts";
import { CAPABILITIES, PER_LINUX, PER_LINUX32, RLIMITS } from "../../ffi/constants.ts";

/** RLIM_INFINITY (2^64 - 1) as a JSON number reads: 2^64. */
const RLIM_INFINITY_JSON = 2 ** 64;

function withNamespaces(...types: string[]): (doc: Doc) => void {
  return (doc) => doc.linux.namespaces.push(...types.map((type) => ({ type })));
}

// ---------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------

Deno.test("capabilities: the kernel's 41 names, numbered as in linux/capability.h", () => {
  assert.equal(Object.keys(CAPABILITIES).length, 41);
  assert.deepEqual(
    Object.values(CAPABILITIES).toSorted((a, b) => a - b),
    Array.from({ length: 41 }, (_, i) => i),
  );
  assert.equal(CAPABILITIES.CAP_CHOWN, 0);
  assert.equal(CAPABILITIES.CAP_KILL, 5);
  assert.equal(CAPABILITIES.CAP_NET_BIND_SERVICE, 10);
  assert.equal(CAPABILITIES.CAP_SYS_ADMIN, 21);
  assert.equal(CAPABILITIES.CAP_AUDIT_WRITE, 29);
  assert.equal(CAPABILITIES.CAP_AUDIT_READ, 37);
  assert.equal(CAPABILITIES.CAP_CHECKPOINT_RESTORE, 40);
});

Deno.test("capabilities: every name in every set is checked; an unknown one is named by its index", () => {
  expectProblems((d) => {
    d.process.capabilities = {
      bounding: ["CAP_KILL", "CAP_NOPE"],
      effective: ["CAP_KILL"],
      inheritable: [],
      permitted: ["cap_kill"],
      ambient: ["KILL", "CAP_CHOWN"],
    };
  }, [
    "process.capabilities.bounding[1]",
    '"CAP_NOPE" is not a capability',
  ], [
    "process.capabilities.permitted[0]",
    '"cap_kill" is not a capability',
  ], [
    "process.capabilities.ambient[0]",
    '"KILL" is not a capability',
  ]);
  expectProblems(
    (d) => d.process.capabilities = { effective: ["CAP_KILL", 5] },
    ["process.capabilities.effective[1]", "must be a string, got 5"],
  );
  expectProblems((d) => d.process.capabilities = { bounding: [...Object.keys(CAPABILITIES)] });
  expectProblems((d) => d.process.capabilities = {});
});

Deno.test("capabilityNumbers: sorted, each once; those above the kernel's last skipped by name", () => {
  const names = ["CAP_NET_BIND_SERVICE", "CAP_BPF", "CAP_KILL", "CAP_AUDIT_READ", "CAP_KILL", "CAP_PERFMON"];
  assert.deepEqual(capabilityNumbers(names, 40), { numbers: [5, 10, 37, 38, 39], skipped: [] });
  assert.deepEqual(capabilityNumbers(names, 37), {
    numbers: [5, 10, 37],
    skipped: ["CAP_BPF", "CAP_PERFMON"],
  });
  assert.deepEqual(capabilityNumbers([], 40), { numbers: [], skipped: [] });
  // Unknown names are validation's to refuse; here they are passed over.
  assert.deepEqual(capabilityNumbers(["CAP_NOPE", "CAP_CHOWN"], 40), { numbers: [0], skipped: [] });
});

Deno.test("capabilityWarnings: one line per capability the kernel lacks, whatever sets name it", () => {
  const spec = defaultSpec();
  spec.process!.capabilities = {
    bounding: ["CAP_KILL", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"],
    effective: ["CAP_BPF"],
    permitted: ["CAP_BPF", "CAP_AUDIT_READ"],
    inheritable: ["CAP_CHECKPOINT_RESTORE", "CAP_PERFMON"],
    ambient: ["CAP_PERFMON"],
  };
  spec.process!.capabilities.permitted!.push("CAP_PERFMON");
  const line = (name: string) => `process.capabilities: ${name} is not known to this kernel; skipped`;
  assert.deepEqual(capabilityWarnings(spec, 37), [
    line("CAP_PERFMON"),
    line("CAP_BPF"),
    line("CAP_CHECKPOINT_RESTORE"),
  ]);
  assert.deepEqual(capabilityWarnings(spec, 38), [line("CAP_BPF"), line("CAP_CHECKPOINT_RESTORE")]);
  assert.deepEqual(capabilityWarnings(spec, 40), []);
  assert.deepEqual(capabilityWarnings(defaultSpec(), 37), []);
  delete spec.process!.capabilities;
  assert.deepEqual(capabilityWarnings(spec, 0), []);
});

Deno.test("capabilityWarnings: an ambient capability not both permitted and inheritable is skipped", () => {
  const spec = defaultSpec();
  spec.process!.capabilities = {
    permitted: ["CAP_KILL"],
    inheritable: ["CAP_CHOWN"],
    ambient: ["CAP_KILL", "CAP_CHOWN"],
  };
  const line = (name: string) =>
    `process.capabilities.ambient: ${name} is not in both permitted and inheritable, so it cannot be ambient; skipped`;
  assert.deepEqual(capabilityWarnings(spec, 40), [line("CAP_KILL"), line("CAP_CHOWN")]);
});

Deno.test("capabilities: a kernel without the newest ones plans without them", () => {
  const spec = defaultSpec();
  spec.process!.capabilities = {
    bounding: ["CAP_KILL", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"],
    effective: ["CAP_BPF", "CAP_KILL"],
    permitted: ["CAP_BPF", "CAP_KILL"],
    inheritable: ["CAP_BPF"],
    ambient: ["CAP_BPF"],
  };
  const steps = processStage(buildPlan(spec, { rootfs: "/r", bundle: "/b", hasKcore: true, lastCap: 37 }));
  assert.deepEqual(steps.find((s) => s.op === "dropBoundingSet"), { op: "dropBoundingSet", keep: [5, 37] });
  assert.deepEqual(steps.find((s) => s.op === "setCapabilities"), {
    op: "setCapabilities",
    effective: [5],
    permitted: [5],
    inheritable: [],
    ambient: [],
  });
});

Deno.test("kernelLastCap: /proc/sys/kernel/cap_last_cap", () => {
  const text = Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim();
  assert.equal(kernelLastCap(), Number(text));
});

// ---------------------------------------------------------------------------------------
// rlimits
// ---------------------------------------------------------------------------------------

Deno.test("rlimits: the sixteen RLIMIT_* names, by exact name", () => {
  assert.equal(Object.keys(RLIMITS).length, 16);
  assert.equal(RLIMITS.RLIMIT_NOFILE, 7);
  assert.equal(RLIMITS.RLIMIT_NPROC, 6);
  assert.ok(isRlimitName("RLIMIT_RTTIME"));
  assert.ok(!isRlimitName("rlimit_nofile"));
  assert.ok(!isRlimitName("NOFILE"));
});

// Regression: the name checks use `in`, which Object.prototype's names pass.
Deno.test("names inherited from Object.prototype are not capabilities, rlimits or domains", () => {
  for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
    assert.ok(!isRlimitName(name), name);
    assert.deepEqual(capabilityNumbers([name], 40), { numbers: [], skipped: [] }, name);
  }
  expectProblems(
    (d) => d.process.capabilities = { effective: ["CAP_KILL", "constructor"] },
    ["process.capabilities.effective[1]", '"constructor" is not a capability'],
  );
  expectProblems(
    (d) => d.process.rlimits = [{ type: "toString", soft: 1, hard: 1 }],
    ["process.rlimits[0].type", '"toString" is not an RLIMIT_* name'],
  );
  expectProblems(
    (d) => d.linux.personality = { domain: "hasOwnProperty" },
    ["linux.personality.domain", 'must be LINUX or LINUX32, got "hasOwnProperty"'],
  );
});

Deno.test("rlimits: unknown type, a type twice, soft above hard", () => {
  expectProblems(
    (d) => d.process.rlimits = [{ type: "RLIMIT_BOGUS", soft: 1, hard: 1 }],
    ["process.rlimits[0].type", '"RLIMIT_BOGUS" is not an RLIMIT_* name'],
  );
  expectProblems(
    (d) => d.process.rlimits = [{ type: "nofile", soft: 1, hard: 1 }],
    ["process.rlimits[0].type", '"nofile" is not an RLIMIT_* name'],
  );
  expectProblems(
    (d) =>
      d.process.rlimits = [
        { type: "RLIMIT_NOFILE", soft: 1024, hard: 1024 },
        { type: "RLIMIT_CORE", soft: 0, hard: 0 },
        { type: "RLIMIT_NOFILE", soft: 512, hard: 512 },
      ],
    ["process.rlimits[2].type", "RLIMIT_NOFILE is set twice"],
  );
  expectProblems(
    (d) => d.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 2048, hard: 1024 }],
    ["process.rlimits[0].soft", "must not be above the hard limit (1024), got 2048"],
  );
  expectProblems((d) => d.process.rlimits = [{ hard: 1, soft: 1 }], [
    "process.rlimits[0].type",
    "is required",
  ]);
  // Equal limits, zero, and RLIM_INFINITY (2^64 - 1, which JSON numbers round to 2^64).
  expectProblems((d) =>
    d.process.rlimits = [
      { type: "RLIMIT_NOFILE", soft: 1024, hard: 1024 },
      { type: "RLIMIT_CORE", soft: 0, hard: 0 },
      { type: "RLIMIT_STACK", soft: 8388608, hard: RLIM_INFINITY_JSON },
      { type: "RLIMIT_CPU", soft: RLIM_INFINITY_JSON, hard: RLIM_INFINITY_JSON },
    ]
  );
});

// ---------------------------------------------------------------------------------------
// sysctl
// ---------------------------------------------------------------------------------------

Deno.test("sysctlProblem: each namespaced key needs its namespace", () => {
  const none = new Set<string>();
  const ns = (...types: string[]) => new Set(types);
  for (const key of ["kernel.shmmax", "kernel.msgmnb", "kernel.sem", "kernel.shm_rmid_forced"]) {
    assert.equal(sysctlProblem(key, none), "an IPC sysctl needs an ipc namespace", key);
    assert.equal(sysctlProblem(key, ns("ipc")), null, key);
  }
  assert.equal(sysctlProblem("fs.mqueue.msg_max", ns("network")), "an IPC sysctl needs an ipc namespace");
  assert.equal(sysctlProblem("fs.mqueue.msg_max", ns("ipc")), null);
  assert.equal(sysctlProblem("net.ipv4.ip_forward", ns("ipc")), "a net.* sysctl needs a network namespace");
  assert.equal(sysctlProblem("net.ipv4.ip_forward", ns("network")), null);
  assert.equal(sysctlProblem("net/ipv4/ip_forward", ns("network")), null);
  assert.equal(sysctlProblem("net.core.somaxconn", ns("network")), null);
  assert.equal(sysctlProblem("kernel.hostname", none), "kernel.hostname needs a uts namespace");
  assert.equal(sysctlProblem("kernel.domainname", ns("ipc")), "kernel.domainname needs a uts namespace");
  assert.equal(sysctlProblem("kernel.hostname", ns("uts")), null);
});

Deno.test("sysctlProblem: keys that are not namespaced, or not names, are refused", () => {
  const all = new Set(["ipc", "network", "uts", "mount", "pid"]);
  for (const key of ["vm.swappiness", "kernel.pid_max", "fs.file-max", "kernel.shmmax2", "kernel"]) {
    assert.match(sysctlProblem(key, all) ?? "", /^is not namespaced: it would change the host/, key);
  }
  for (const key of ["a..b", "", ".net.ipv4", "net.ipv4.", "net/../vm/swappiness", "net.ipv4 x", "-x"]) {
    assert.equal(sysctlProblem(key, all), `${JSON.stringify(key)} is not a sysctl name`, key);
  }
});

Deno.test("validateSpec: linux.sysctl problems name the key", () => {
  expectProblems(
    (d) => d.linux.sysctl = { "kernel.shmmax": "65536" },
    ["linux.sysctl.kernel.shmmax", "an IPC sysctl needs an ipc namespace"],
  );
  expectProblems((d) => {
    withNamespaces("ipc")(d);
    d.linux.sysctl = { "kernel.shmmax": "65536", "fs.mqueue.msg_max": "20" };
  });
  expectProblems(
    (d) => d.linux.sysctl = { "net.ipv4.ip_forward": "1" },
    ["linux.sysctl.net.ipv4.ip_forward", "a net.* sysctl needs a network namespace"],
  );
  expectProblems((d) => {
    withNamespaces("network")(d);
    d.linux.sysctl = { "net.ipv4.ip_forward": "1" };
  });
  expectProblems((d) => {
    d.linux.namespaces = d.linux.namespaces.filter((n) => n.type !== "uts");
    d.linux.sysctl = { "kernel.hostname": "x" };
  }, ["linux.sysctl.kernel.hostname", "kernel.hostname needs a uts namespace"]);
  expectProblems((d) => d.linux.sysctl = { "kernel.hostname": "x" });
  expectProblems((d) => {
    withNamespaces("ipc", "network")(d);
    d.linux.sysctl = { "vm.swappiness": "10", "a..b": "1" };
  }, [
    "linux.sysctl.vm.swappiness",
    "is not namespaced: it would change the host (only IPC, fs.mqueue.*, net.* and the uts names are allowed)",
  ], ["linux.sysctl.a..b", '"a..b" is not a sysctl name']);
  expectProblems(
    (d) => d.linux.sysctl = { "kernel.hostname": 1 },
    ["linux.sysctl.kernel.hostname", "must be a string, got 1"],
  );
});

// Regression: runc 1.1.5 and crun 1.8.1 both refuse this conflict; druntime
// accepts it and then sets the hostname field over the sysctl.
Deno.test("validateSpec: sysctl kernel.hostname beside a hostname is refused, as runc and crun do", () => {
  const doc = minimal();
  doc.hostname = "druntime";
  doc.linux.sysctl = { "kernel.hostname": "other" };
  assert.deepEqual(problemsOf(doc).map((p) => p.path), ["linux.sysctl.kernel.hostname"]);
  // Alone, either is fine.
  delete doc.hostname;
  assert.deepEqual(problemsOf(doc), []);
});

// ---------------------------------------------------------------------------------------
// personality
// ---------------------------------------------------------------------------------------

Deno.test("personality: LINUX and LINUX32; other domains, and any flags, are refused", () => {
  assert.deepEqual(PERSONALITY_DOMAINS, { LINUX: PER_LINUX, LINUX32: PER_LINUX32 });
  assert.equal(PER_LINUX32, 8);
  expectProblems((d) => d.linux.personality = { domain: "LINUX" });
  expectProblems((d) => d.linux.personality = { domain: "LINUX32", flags: [] });
  expectProblems(
    (d) => d.linux.personality = { domain: "BSD" },
    ["linux.personality.domain", 'must be LINUX or LINUX32, got "BSD"'],
  );
  expectProblems(
    (d) => d.linux.personality = { domain: "linux32" },
    ["linux.personality.domain", 'must be LINUX or LINUX32, got "linux32"'],
  );
  expectProblems(
    (d) => d.linux.personality = { domain: "LINUX", flags: ["ADDR_NO_RANDOMIZE"] },
    ["linux.personality.flags", "personality flags are not supported"],
  );
  expectProblems((d) => d.linux.personality = {}, ["linux.personality.domain", "is required"]);
  expectProblems(
    (d) => d.linux.personality = "LINUX",
    ["linux.personality", 'must be an object, got "LINUX"'],
  );
});

// ---------------------------------------------------------------------------------------
// The other process fields
// ---------------------------------------------------------------------------------------

Deno.test("validateSpec: oomScoreAdj -1000..1000, noNewPrivileges a boolean, labels strings", () => {
  expectProblems((d) => d.process.oomScoreAdj = -1000);
  expectProblems((d) => d.process.oomScoreAdj = 1000);
  expectProblems((d) => d.process.oomScoreAdj = -1001, [
    "process.oomScoreAdj",
    "must be at least -1000",
  ]);
  expectProblems((d) => d.process.oomScoreAdj = 1.5, ["process.oomScoreAdj", "must be an integer, got 1.5"]);
  expectProblems((d) => d.process.noNewPrivileges = "yes", [
    "process.noNewPrivileges",
    'must be true or false, got "yes"',
  ]);
  expectProblems((d) => d.process.apparmorProfile = 1, [
    "process.apparmorProfile",
    "must be a string, got 1",
  ]);
  expectProblems((d) => d.process.selinuxLabel = {}, [
    "process.selinuxLabel",
    "must be a string, got an object",
  ]);
});

Deno.test("hostLsms: AppArmor when its module says Y, SELinux when selinuxfs is mounted", () => {
  let apparmor = false, selinux = false;
  try {
    apparmor = Deno.readTextFileSync("/sys/module/apparmor/parameters/enabled").trim() === "Y";
  } catch {
    // no AppArmor module
  }
  try {
    Deno.statSync("/sys/fs/selinux/enforce");
    selinux = true;
  } catch {
    // no selinuxfs
  }
  assert.deepEqual(hostLsms(), { apparmor, selinux });
});

Deno.test("prepareBundle: an LSM label the host cannot apply is a ConfigError naming the field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "druntime-security-" });
  try {
    Deno.mkdirSync(join(dir, "rootfs"));
    const lsms = hostLsms();
    const write = (mutate: (spec: Spec) => void) => {
      const spec = defaultSpec();
      mutate(spec);
      Deno.writeTextFileSync(join(dir, "config.json"), JSON.stringify(spec));
    };
    const expectRefused = (path: string, reason: string) => {
      assert.throws(() => prepareBundle(dir), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.deepEqual(e.problems, [{ path, reason }]);
        return true;
      });
    };
    write((s) => s.process!.apparmorProfile = "druntime-test");
    if (lsms.apparmor) prepareBundle(dir);
    else expectRefused("process.apparmorProfile", "this host does not run AppArmor");
    write((s) => s.process!.selinuxLabel = "system_u:system_r:container_t:s0");
    if (lsms.selinux) prepareBundle(dir);
    else expectRefused("process.selinuxLabel", "this host does not run SELinux");
    // Empty labels ask for nothing.
    write((s) => Object.assign(s.process!, { apparmorProfile: "", selinuxLabel: "" }));
    const prepared = prepareBundle(dir);
    assert.ok(!processStage(prepared.plan).some((s) => s.op === "execLabel"));
    // The default config: no warnings on a kernel that knows every capability it names.
    write(() => {});
    assert.deepEqual(prepareBundle(dir).warnings, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------------------

function processStage(plan: Plan): Step[] {
  return plan.stages.find((s) => s.name === "process")?.steps ?? [];
}

/** The default spec with every process security setting. */
function everything(): Spec {
  const spec = defaultSpec();
  const p = spec.process!;
  p.user = { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o027 };
  p.cwd = "/home";
  p.oomScoreAdj = 500;
  p.rlimits = [
    { type: "RLIMIT_NOFILE", soft: 512, hard: 1024 },
    { type: "RLIMIT_CORE", soft: 0, hard: RLIM_INFINITY_JSON },
  ];
  p.capabilities = {
    bounding: ["CAP_NET_BIND_SERVICE", "CAP_KILL", "CAP_CHOWN"],
    effective: ["CAP_NET_BIND_SERVICE"],
    permitted: ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
    inheritable: ["CAP_NET_BIND_SERVICE"],
    ambient: ["CAP_NET_BIND_SERVICE"],
  };
  p.noNewPrivileges = true;
  p.apparmorProfile = "druntime-test";
  p.selinuxLabel = "system_u:system_r:container_t:s0";
  spec.linux!.sysctl = { "kernel.shmmax": "65536", "net.ipv4.ip_forward": "1" };
  spec.linux!.personality = { domain: "LINUX32" };
  return spec;
}

Deno.test("plan: every process setting, in runc's order", () => {
  const spec = everything();
  assert.deepEqual(validateSpec(spec).warnings, []);
  const plan = buildPlan(spec, { rootfs: "/r", bundle: "/b", hasKcore: true, lastCap: 40 });
  assert.deepEqual(processStage(plan), [
    { op: "oomScoreAdj", value: 500 },
    { op: "setRlimit", type: "RLIMIT_NOFILE", resource: 7, soft: 512, hard: 1024 },
    { op: "setRlimit", type: "RLIMIT_CORE", resource: 4, soft: 0, hard: RLIM_INFINITY_JSON },
    { op: "dropBoundingSet", keep: [0, 5, 10] },
    { op: "keepCaps" },
    { op: "setUser", uid: 1000, gid: 1000, additionalGids: [10, 20] },
    { op: "setCapabilities", effective: [10], permitted: [5, 10], inheritable: [10], ambient: [10] },
    { op: "umask", mask: 0o027 },
    { op: "chdir", path: "/home" },
    { op: "noNewPrivileges" },
    { op: "execLabel", lsm: "apparmor", label: "druntime-test" },
    { op: "execLabel", lsm: "selinux", label: "system_u:system_r:container_t:s0" },
    { op: "personality", domain: "LINUX32", persona: PER_LINUX32 },
    { op: "exec", args: ["sh"], env: spec.process!.env },
  ]);
  // The sysctls come first in finalizeRootfs: before /proc/sys turns read-only.
  const finalize = plan.stages.find((s) => s.name === "finalizeRootfs")!.steps;
  assert.deepEqual(finalize.slice(0, 2), [
    { op: "sysctl", key: "kernel.shmmax", value: "65536" },
    { op: "sysctl", key: "net.ipv4.ip_forward", value: "1" },
  ]);
  assert.ok(finalize.some((s) => s.op === "readonlyPath" && s.path === "/proc/sys"));
  // Survives the JSON round trip that --format json makes.
  assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan);
});

Deno.test("plan: empty capability sets drop everything", () => {
  const spec = everything();
  spec.process!.capabilities = {};
  const steps = processStage(buildPlan(spec, { rootfs: "/r", bundle: "/b", hasKcore: true, lastCap: 40 }));
  assert.deepEqual(steps.find((s) => s.op === "dropBoundingSet"), { op: "dropBoundingSet", keep: [] });
  assert.deepEqual(steps.find((s) => s.op === "setCapabilities"), {
    op: "setCapabilities",
    effective: [],
    permitted: [],
    inheritable: [],
    ambient: [],
  });
});

// Regression: runc and crun read an absent process.capabilities as five empty
// sets (the process gets no capabilities); druntime plans no capability steps, so root in the
// container keeps all of the host root's.
Deno.test("plan: without process.capabilities, every capability is dropped, as runc does", () => {
  const spec = everything();
  delete spec.process!.capabilities;
  const steps = processStage(buildPlan(spec, { rootfs: "/r", bundle: "/b", hasKcore: true, lastCap: 40 }));
  assert.deepEqual(steps.find((s) => s.op === "dropBoundingSet"), { op: "dropBoundingSet", keep: [] });
  assert.deepEqual(steps.find((s) => s.op === "setCapabilities"), {
    op: "setCapabilities",
    effective: [],
    permitted: [],
    inheritable: [],
    ambient: [],
  });
});

Deno.test("formatPlan: the process security lines, word for word", () => {
  const plan = buildPlan(everything(), { rootfs: "/r", bundle: "/b", hasKcore: true, lastCap: 40 });
  const text = formatPlan(plan);
  const process = text.slice(text.indexOf("\nprocess\n") + "\nprocess\n".length).split("\n")
    .map((l) => l.replace(/^ +\d+\. /, ""));
  assert.deepEqual(process, [
    "set oom_score_adj 500",
    "setrlimit RLIMIT_NOFILE soft 512 hard 1024",
    "setrlimit RLIMIT_CORE soft 0 hard unlimited",
    "drop from the bounding set every capability but [CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE]",
    "keep capabilities across the uid change (PR_SET_KEEPCAPS)",
    "set user 1000:1000, additional groups [10, 20]",
    "set capabilities: effective [CAP_NET_BIND_SERVICE], permitted [CAP_KILL, CAP_NET_BIND_SERVICE], " +
    "inheritable [CAP_NET_BIND_SERVICE], ambient [CAP_NET_BIND_SERVICE]",
    "set umask 0027",
    "change directory to /home",
    "set no_new_privs",
    'exec with the apparmor label "druntime-test"',
    'exec with the selinux label "system_u:system_r:container_t:s0"',
    "set personality LINUX32",
    'reset signals, close inherited fds, exec ["sh"] with 2 environment variables',
  ]);
  assert.ok(text.includes('sysctl kernel.shmmax = "65536"'), text);
  assert.ok(text.includes('sysctl net.ipv4.ip_forward = "1"'), text);
  assert.equal(
    describeStep({ op: "dropBoundingSet", keep: [] }, "/r"),
    "drop from the bounding set every capability but []",
  );
});
