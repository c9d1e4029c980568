/**
 * Process security end to end, as root: each container prints what the kernel reports
 * (/proc/self/status, /proc/self/limits, /proc/sys, uname) and the test compares it with the
 * config: capabilities (root and a non-root user with an ambient capability), no_new_privs,
 * rlimits, oom_score_adj, additional groups, namespaced sysctls, personality. Bad input must be
 * refused naming its JSON path and leave nothing behind; settings the kernel refuses must fail
 * the same clean way.
 *
 * Capabilities after execve are the kernel's rule (capabilities(7)), not the config's sets
 * copied: root gets permitted = effective = inheritable | bounding (with no_new_privs: only
 * what it had permitted before the exec); a non-root user keeps only its ambient set.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Spec } from "../../runtime/spec/types.ts";
import { CAPABILITIES } from "../../ffi/constants.ts";
import { hostLsms, kernelLastCap } from "../../runtime/spec/process_security.ts";
import { assertNothingLeft, type Container, errorsOf, uniqueId, warningsOf } from "../fixtures/containers.ts";
import { druntime, makeBundle, rootOnly } from "../fixtures/rootfs.ts";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Makes a bundle that runs `sh -c script` (after `mutate`), runs it with `druntime run` in its
 * own state root, checks that nothing is left, removes everything in `finally`.
 */
async function runScript(
  name: string,
  script: string,
  mutate?: (spec: Spec) => void,
): Promise<RunResult> {
  const root = await Deno.makeTempDir({ prefix: "druntime-state-" });
  const bundle = await Deno.realPath(await Deno.makeTempDir({ prefix: "druntime-bundle-" }));
  try {
    await makeBundle({ dir: bundle, args: ["sh", "-c", script], mutate });
    const ctx: Container = { id: uniqueId("sec", name), root, bundle, rootfs: join(bundle, "rootfs") };
    const r = await druntime(["--root", ctx.root, "run", "--bundle", ctx.bundle, ctx.id]);
    await assertNothingLeft(ctx);
    return r;
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.remove(bundle, { recursive: true }).catch(() => {});
  }
}

/** runScript, asserting exit 0 and no errors; returns stdout. */
async function mustRun(name: string, script: string, mutate?: (spec: Spec) => void): Promise<string> {
  const r = await runScript(name, script, mutate);
  assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
  assert.equal(errorsOf(r.stderr), "");
  return r.stdout;
}

/** The `Name:\tvalue` lines of /proc/self/status that a script printed, as a record. */
function statusFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^(\w+):\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** A capability set as /proc/PID/status shows it: 16 hex digits. */
function mask(names: readonly string[] = []): string {
  let bits = 0n;
  for (const name of names) bits |= 1n << BigInt(CAPABILITIES[name]);
  return bits.toString(16).padStart(16, "0");
}

const CAP_LINES = "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status";

/** The five sets the kernel reports, for assert.deepEqual against what a test expects. */
function capSets(stdout: string): Record<string, string> {
  const f = statusFields(stdout);
  return { CapInh: f.CapInh, CapPrm: f.CapPrm, CapEff: f.CapEff, CapBnd: f.CapBnd, CapAmb: f.CapAmb };
}

function expectedSets(
  sets: { inh?: string[]; prm?: string[]; eff?: string[]; bnd?: string[]; amb?: string[] },
): Record<string, string> {
  return {
    CapInh: mask(sets.inh),
    CapPrm: mask(sets.prm),
    CapEff: mask(sets.eff),
    CapBnd: mask(sets.bnd),
    CapAmb: mask(sets.amb),
  };
}

const DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/** Prints "chown: ok" when the process may give a file away (CAP_CHOWN), else "chown: denied". */
const CHOWN_PROBE = "touch /tmp/f && if chown 1234 /tmp/f 2>/dev/null; then echo 'chown: ok'; " +
  "else echo 'chown: denied'; fi";

/**
 * Prints "bind 80: listening" once busybox nc listens on port 80 (it binds ::), or
 * "bind 80: failed: <nc's error>" when nc exits first; then stops nc.
 */
const BIND_80_PROBE = [
  "nc -l -p 80 </dev/null >/dev/null 2>/tmp/nc.err & pid=$!",
  "result=timeout",
  "i=0",
  "while [ $i -lt 250 ]; do",
  "  if grep -qE ':0050 [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then result=listening; break; fi",
  '  if ! kill -0 $pid 2>/dev/null; then result="failed: $(cat /tmp/nc.err)"; break; fi',
  "  usleep 20000; i=$((i+1))",
  "done",
  'echo "bind 80: $result"',
  "kill $pid 2>/dev/null; wait $pid 2>/dev/null; true",
].join("\n");

// ---------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "security: root with the default spec's three capabilities",
  ...rootOnly("security: root with the default spec's three capabilities"),
  async fn() {
    const out = await mustRun("caps-root-default", `${CAP_LINES}; ${CHOWN_PROBE}`);
    // bounding = effective = permitted = the three; no inheritable: after execve root's
    // permitted and effective are inheritable | bounding, that is the three again.
    assert.deepEqual(capSets(out), expectedSets({ prm: DEFAULT_CAPS, eff: DEFAULT_CAPS, bnd: DEFAULT_CAPS }));
    assert.equal(capSets(out).CapEff, "0000000020000420");
    // Enforced: CAP_CHOWN is not among them.
    assert.match(out, /^chown: denied$/m);
  },
});

Deno.test({
  name: "security: root's permitted set after execve is its bounding set, unless no_new_privs",
  ...rootOnly("security: root's permitted set after execve is its bounding set, unless no_new_privs"),
  async fn() {
    const bounding = ["CAP_CHOWN", ...DEFAULT_CAPS];
    const mutate = (nnp: boolean) => (spec: Spec) => {
      spec.process!.capabilities = { bounding, permitted: ["CAP_KILL"], effective: ["CAP_KILL"] };
      spec.process!.noNewPrivileges = nnp;
    };
    // Without no_new_privs the kernel gives uid 0 every capability of its bounding set.
    const free = await mustRun("caps-root-bounding", `${CAP_LINES}; ${CHOWN_PROBE}`, mutate(false));
    assert.deepEqual(capSets(free), expectedSets({ prm: bounding, eff: bounding, bnd: bounding }));
    assert.match(free, /^chown: ok$/m);
    // With it, the exec may not add to what was permitted before: CAP_KILL alone.
    const nnp = await mustRun("caps-root-nnp", `${CAP_LINES}; ${CHOWN_PROBE}`, mutate(true));
    assert.deepEqual(capSets(nnp), expectedSets({ prm: ["CAP_KILL"], eff: ["CAP_KILL"], bnd: bounding }));
    assert.match(nnp, /^chown: denied$/m);
  },
});

Deno.test({
  name: "security: uid 1000 with ambient CAP_NET_BIND_SERVICE binds port 80; without it, cannot",
  ...rootOnly("security: uid 1000 with ambient CAP_NET_BIND_SERVICE binds port 80; without it, cannot"),
  async fn() {
    const cap = ["CAP_NET_BIND_SERVICE"];
    const mutate = (ambient: boolean) => (spec: Spec) => {
      spec.process!.user = { uid: 1000, gid: 1000 };
      spec.process!.capabilities = {
        bounding: DEFAULT_CAPS,
        inheritable: cap,
        permitted: cap,
        effective: cap,
        ...(ambient ? { ambient: cap } : {}),
      };
    };
    const script = `id -u; ${CAP_LINES}; ${BIND_80_PROBE}`;
    const out = await mustRun("caps-ambient", script, mutate(true));
    assert.match(out, /^1000$/m);
    // Bit 10 in every set but the bounding set, which keeps the three.
    assert.deepEqual(
      capSets(out),
      expectedSets({ inh: cap, prm: cap, eff: cap, bnd: DEFAULT_CAPS, amb: cap }),
    );
    assert.equal(capSets(out).CapAmb, "0000000000000400");
    assert.match(out, /^bind 80: listening$/m);

    // Not ambient: a non-root user's exec drops permitted and effective (only inheritable stays).
    const without = await mustRun("caps-no-ambient", script, mutate(false));
    assert.deepEqual(capSets(without), expectedSets({ inh: cap, bnd: DEFAULT_CAPS }));
    assert.match(without, /^bind 80: failed: .*Permission denied/m);
  },
});

Deno.test({
  name: "security: without process.capabilities the process has none, as runc and crun give it",
  ...rootOnly("security: without process.capabilities the process has none, as runc and crun give it"),
  async fn() {
    // Regression: druntime leaves the capabilities alone when the config names
    // none, so root in the container keeps every capability the host's root has.
    const out = await mustRun("caps-absent", `${CAP_LINES}; ${CHOWN_PROBE}`, (spec) => {
      delete spec.process!.capabilities;
    });
    assert.deepEqual(capSets(out), expectedSets({}));
    assert.match(out, /^chown: denied$/m);
  },
});

Deno.test({
  name: "security: a capability the kernel lacks is skipped with a warning",
  ignore: rootOnly("security: a capability the kernel lacks is skipped with a warning").ignore ||
    kernelLastCap() >= Math.max(...Object.values(CAPABILITIES)),
  async fn() {
    const last = kernelLastCap();
    const missing = Object.entries(CAPABILITIES).filter(([, n]) => n > last).map(([name]) => name);
    const bounding = [...DEFAULT_CAPS, ...missing];
    const r = await runScript("caps-missing", CAP_LINES, (spec) => {
      spec.process!.capabilities = { bounding, permitted: DEFAULT_CAPS, effective: DEFAULT_CAPS };
    });
    assert.equal(r.code, 0, r.stderr);
    for (const name of missing) {
      assert.ok(
        warningsOf(r.stderr).some((w) => w.includes(`${name} is not known to this kernel; skipped`)),
        r.stderr,
      );
    }
    assert.equal(capSets(r.stdout).CapBnd, mask(DEFAULT_CAPS));
  },
});
if (kernelLastCap() >= Math.max(...Object.values(CAPABILITIES))) {
  console.error(
    `note: cap_last_cap is ${kernelLastCap()}: this kernel knows every capability druntime names, ` +
      "so a capability it lacks is tested by capabilityWarnings' unit tests only",
  );
}

// ---------------------------------------------------------------------------------------
// no_new_privs, rlimits, oom_score_adj, groups
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "security: noNewPrivileges sets NoNewPrivs; false or absent leaves it 0",
  ...rootOnly("security: noNewPrivileges sets NoNewPrivs; false or absent leaves it 0"),
  async fn() {
    const host = statusFields(await Deno.readTextFile("/proc/self/status")).NoNewPrivs;
    assert.equal(host, "0", "this test process must not have no_new_privs itself");
    const nnp = async (name: string, value: boolean | undefined) =>
      statusFields(
        await mustRun(name, CAP_LINES, (spec) => {
          if (value === undefined) delete spec.process!.noNewPrivileges;
          else spec.process!.noNewPrivileges = value;
        }),
      ).NoNewPrivs;
    assert.equal(await nnp("nnp-true", true), "1");
    assert.equal(await nnp("nnp-false", false), "0");
    assert.equal(await nnp("nnp-absent", undefined), "0");
  },
});

/** The soft and hard limit of a /proc/PID/limits line, e.g. "Max open files  512  1024  files". */
function limitOf(limits: string, what: string): [string, string] | undefined {
  const line = limits.split("\n").find((l) => l.startsWith(what));
  const m = line && /^.{26}(\S+)\s+(\S+)/.exec(line);
  return m ? [m[1], m[2]] : undefined;
}

Deno.test({
  name: "security: rlimits: ulimit and /proc/self/limits show the configured soft and hard limits",
  ...rootOnly("security: rlimits: ulimit and /proc/self/limits show the configured soft and hard limits"),
  async fn() {
    const out = await mustRun(
      "rlimits",
      "echo nofile $(ulimit -Sn) $(ulimit -Hn); echo core $(ulimit -Sc) $(ulimit -Hc); cat /proc/self/limits",
      (spec) => {
        // At or below the host's hard limits (`ulimit -Ha`): root here lacks CAP_SYS_RESOURCE.
        spec.process!.rlimits = [
          { type: "RLIMIT_NOFILE", soft: 512, hard: 1024 },
          // RLIM_INFINITY, as JSON gives it (2^64 - 1 reads as 2^64); the host's is unlimited too.
          { type: "RLIMIT_CORE", soft: 0, hard: 2 ** 64 },
          { type: "RLIMIT_NPROC", soft: 300, hard: 400 },
        ];
      },
    );
    assert.match(out, /^nofile 512 1024$/m);
    assert.match(out, /^core 0 unlimited$/m);
    assert.deepEqual(limitOf(out, "Max open files"), ["512", "1024"]);
    assert.deepEqual(limitOf(out, "Max processes"), ["300", "400"]);
    assert.deepEqual(limitOf(out, "Max core file size"), ["0", "unlimited"]);
  },
});

Deno.test({
  name: "security: oomScoreAdj 500 is the process's oom_score_adj; the caller's is unchanged",
  ...rootOnly("security: oomScoreAdj 500 is the process's oom_score_adj; the caller's is unchanged"),
  async fn() {
    const before = (await Deno.readTextFile("/proc/self/oom_score_adj")).trim();
    const out = await mustRun("oom", "cat /proc/self/oom_score_adj", (spec) => {
      spec.process!.oomScoreAdj = 500;
    });
    assert.equal(out.trim(), "500");
    assert.equal((await Deno.readTextFile("/proc/self/oom_score_adj")).trim(), before);
    // Unset: the container inherits its creator's.
    const inherited = await mustRun("oom-unset", "cat /proc/self/oom_score_adj");
    assert.equal(inherited.trim(), before);
  },
});

Deno.test({
  name: "security: user, gid and additionalGids as id and /proc/self/status report them",
  ...rootOnly("security: user, gid and additionalGids as id and /proc/self/status report them"),
  async fn() {
    const script = "id -u; id -g; id -G; grep -E '^(Uid|Gid|Groups):' /proc/self/status";
    const root = await mustRun("groups-root", script, (spec) => {
      spec.process!.user = { uid: 0, gid: 0, additionalGids: [10, 20, 1234] };
    });
    assert.deepEqual(root.split("\n").slice(0, 3), ["0", "0", "0 10 20 1234"]);
    assert.equal(statusFields(root).Groups, "10 20 1234");

    const user = await mustRun("groups-user", script, (spec) => {
      spec.process!.user = { uid: 1000, gid: 1000, additionalGids: [5, 100] };
    });
    assert.deepEqual(user.split("\n").slice(0, 3), ["1000", "1000", "1000 5 100"]);
    const f = statusFields(user);
    assert.equal(f.Uid.split(/\s+/).join(" "), "1000 1000 1000 1000");
    assert.equal(f.Gid.split(/\s+/).join(" "), "1000 1000 1000 1000");
    assert.equal(f.Groups, "5 100");

    // None given: none kept (the caller's supplementary groups do not leak in).
    const none = await mustRun("groups-none", script);
    assert.equal(statusFields(none).Groups, "");
  },
});

// ---------------------------------------------------------------------------------------
// sysctl, personality
// ---------------------------------------------------------------------------------------

const HOST_SYSCTLS = ["kernel/shmmax", "net/ipv4/ip_forward", "fs/mqueue/msg_max"];

async function hostSysctls(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of HOST_SYSCTLS) out[key] = (await Deno.readTextFile(`/proc/sys/${key}`)).trim();
  return out;
}

Deno.test({
  name: "security: namespaced sysctls are set inside the container and not on the host",
  ...rootOnly("security: namespaced sysctls are set inside the container and not on the host"),
  async fn() {
    const before = await hostSysctls();
    // Values that differ from the host's, so that the test sees them land.
    const shmmax = before["kernel/shmmax"] === "65536" ? "131072" : "65536";
    const forward = before["net/ipv4/ip_forward"] === "1" ? "0" : "1";
    const msgMax = before["fs/mqueue/msg_max"] === "20" ? "30" : "20";
    const out = await mustRun(
      "sysctl",
      "for k in kernel/shmmax net/ipv4/ip_forward fs/mqueue/msg_max; do echo $k=$(cat /proc/sys/$k); done",
      (spec) => {
        // The default spec has ipc and network namespaces.
        spec.linux!.sysctl = {
          "kernel.shmmax": shmmax,
          "net.ipv4.ip_forward": forward,
          "fs/mqueue/msg_max": msgMax,
        };
      },
    );
    assert.deepEqual(out.trim().split("\n"), [
      `kernel/shmmax=${shmmax}`,
      `net/ipv4/ip_forward=${forward}`,
      `fs/mqueue/msg_max=${msgMax}`,
    ]);
    assert.deepEqual(await hostSysctls(), before);
  },
});

const LINUX32_MACHINE: Record<string, string> = { x86_64: "i686", aarch64: "armv8l" };

Deno.test({
  name: "security: personality LINUX32 makes uname -m report the 32-bit machine",
  ignore: rootOnly("security: personality LINUX32 makes uname -m report the 32-bit machine").ignore ||
    !(Deno.build.arch in LINUX32_MACHINE),
  async fn() {
    const script = "uname -m; cat /proc/self/personality";
    const native = Deno.build.arch;
    const out32 = await mustRun("personality-32", script, (spec) => {
      spec.linux!.personality = { domain: "LINUX32" };
    });
    assert.deepEqual(out32.trim().split("\n"), [LINUX32_MACHINE[native], "00000008"]);
    const out64 = await mustRun("personality-linux", script, (spec) => {
      spec.linux!.personality = { domain: "LINUX" };
    });
    assert.deepEqual(out64.trim().split("\n"), [native, "00000000"]);
    const unset = await mustRun("personality-unset", "uname -m");
    assert.equal(unset.trim(), native);
  },
});

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

interface BadCase {
  name: string;
  mutate: (spec: Spec) => void;
  /** Must appear in stderr. */
  expect: string | RegExp;
  /** Why the case cannot run on this host, when it cannot. */
  skip?: string;
}

const lsms = hostLsms();

const REFUSED: BadCase[] = [
  {
    name: "unknown capability",
    mutate: (s) => s.process!.capabilities!.bounding = ["CAP_KILL", "CAP_NOPE"],
    expect: 'invalid config: process.capabilities.bounding[1]: "CAP_NOPE" is not a capability',
  },
  {
    name: "rlimit soft above hard",
    mutate: (s) => s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 2048, hard: 1024 }],
    expect: "invalid config: process.rlimits[0].soft: must not be above the hard limit (1024), got 2048",
  },
  {
    name: "unknown rlimit",
    mutate: (s) => s.process!.rlimits = [{ type: "RLIMIT_BOGUS", soft: 1, hard: 1 }],
    expect: 'invalid config: process.rlimits[0].type: "RLIMIT_BOGUS" is not an RLIMIT_* name',
  },
  {
    name: "rlimit twice",
    mutate: (s) => s.process!.rlimits!.push({ type: "RLIMIT_NOFILE", soft: 10, hard: 10 }),
    expect: "invalid config: process.rlimits[1].type: RLIMIT_NOFILE is set twice",
  },
  {
    name: "sysctl vm.swappiness",
    mutate: (s) => s.linux!.sysctl = { "vm.swappiness": "10" },
    expect: "invalid config: linux.sysctl.vm.swappiness: is not namespaced: it would change the host",
  },
  {
    name: "net sysctl without a network namespace",
    mutate: (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "network");
      s.linux!.sysctl = { "net.ipv4.ip_forward": "1" };
    },
    expect: "invalid config: linux.sysctl.net.ipv4.ip_forward: a net.* sysctl needs a network namespace",
  },
  {
    name: "ipc sysctl without an ipc namespace",
    mutate: (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "ipc");
      s.linux!.sysctl = { "kernel.shmmax": "65536" };
    },
    expect: "invalid config: linux.sysctl.kernel.shmmax: an IPC sysctl needs an ipc namespace",
  },
  {
    name: "sysctl name with ..",
    mutate: (s) => s.linux!.sysctl = { "net/../vm/swappiness": "10" },
    expect: 'invalid config: linux.sysctl.net/../vm/swappiness: "net/../vm/swappiness" is not a sysctl name',
  },
  {
    name: "personality BSD",
    mutate: (s) => s.linux!.personality = { domain: "BSD" },
    expect: 'invalid config: linux.personality.domain: must be LINUX or LINUX32, got "BSD"',
  },
  {
    name: "personality flags",
    mutate: (s) => s.linux!.personality = { domain: "LINUX", flags: ["ADDR_NO_RANDOMIZE"] },
    expect: "invalid config: linux.personality.flags: personality flags are not supported",
  },
  {
    name: "apparmorProfile without AppArmor",
    mutate: (s) => s.process!.apparmorProfile = "druntime-test",
    expect: "invalid config: process.apparmorProfile: this host does not run AppArmor",
    skip: lsms.apparmor ? "this host runs AppArmor" : undefined,
  },
  {
    name: "selinuxLabel without SELinux",
    mutate: (s) => s.process!.selinuxLabel = "system_u:system_r:container_t:s0",
    expect: "invalid config: process.selinuxLabel: this host does not run SELinux",
    skip: lsms.selinux ? "this host runs SELinux" : undefined,
  },
  // Regression: the name checks use `in`, which Object.prototype's names pass.
  {
    name: "capability named constructor",
    mutate: (s) => s.process!.capabilities!.effective = ["CAP_KILL", "constructor"],
    expect: 'invalid config: process.capabilities.effective[1]: "constructor" is not a capability',
  },
  {
    name: "rlimit named toString",
    mutate: (s) => s.process!.rlimits = [{ type: "toString", soft: 1, hard: 1 }],
    expect: 'invalid config: process.rlimits[0].type: "toString" is not an RLIMIT_* name',
  },
  {
    name: "personality domain hasOwnProperty",
    mutate: (s) => s.linux!.personality = { domain: "hasOwnProperty" },
    expect: 'invalid config: linux.personality.domain: must be LINUX or LINUX32, got "hasOwnProperty"',
  },
  // runc and crun refuse this conflict too.
  {
    name: "sysctl kernel.hostname beside hostname",
    mutate: (s) => s.linux!.sysctl = { "kernel.hostname": "other" },
    expect: /invalid config: linux\.sysctl\.kernel\.hostname: .*hostname/,
  },
];

Deno.test({
  name: "security: an ambient capability that is not inheritable is skipped with a warning, as runc does",
  ...rootOnly(
    "security: an ambient capability that is not inheritable is skipped with a warning, as runc does",
  ),
  async fn() {
    const r = await runScript("ambient-not-inheritable", CAP_LINES, (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.capabilities = {
        bounding: ["CAP_NET_BIND_SERVICE"],
        permitted: ["CAP_NET_BIND_SERVICE"],
        effective: ["CAP_NET_BIND_SERVICE"],
        ambient: ["CAP_NET_BIND_SERVICE"],
      };
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: process\.capabilities\.ambient: CAP_NET_BIND_SERVICE is not in both/);
    // A non-root user keeps nothing across execve without an ambient set.
    assert.deepEqual(capSets(r.stdout), expectedSets({ bnd: ["CAP_NET_BIND_SERVICE"] }));
  },
});

/** Runs each case: exit 1, the expected message, no stack trace, nothing left behind. */
async function expectFailures(t: Deno.TestContext, cases: BadCase[], prefix: string): Promise<void> {
  for (const c of cases) {
    await t.step({
      name: c.skip ? `${c.name} (skipped: ${c.skip})` : c.name,
      ignore: c.skip !== undefined,
      fn: async () => {
        const r = await runScript(`${prefix}-${c.name}`, "echo should-not-run", c.mutate);
        assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
        assert.equal(r.stdout, "");
        if (typeof c.expect === "string") {
          assert.ok(r.stderr.includes(c.expect), `want ${JSON.stringify(c.expect)} in ${r.stderr}`);
        } else assert.match(r.stderr, c.expect);
        assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`);
      },
    });
  }
}

for (const c of REFUSED) {
  if (c.skip) console.error(`note: security bad input "${c.name}" skipped: ${c.skip}`);
}

Deno.test({
  name: "security: bad input is refused naming its JSON path, and leaves nothing behind",
  ...rootOnly("security: bad input is refused naming its JSON path, and leaves nothing behind"),
  async fn(t) {
    await expectFailures(t, REFUSED, "bad");
  },
});

/** Valid configs that the kernel refuses when the init applies them. */
const KERNEL_REFUSES: BadCase[] = [
  {
    name: "hard rlimit above the host's",
    // Raising a hard limit takes CAP_SYS_RESOURCE (which root here lacks); and 2^30 is above
    // fs.nr_open everywhere.
    mutate: (s) => s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 2 ** 30 }],
    expect: /druntime: process: setrlimit\("RLIMIT_NOFILE"\): EPERM/,
  },
  {
    name: "oom_score_adj below the caller's",
    // Lowering it takes CAP_SYS_RESOURCE.
    mutate: (s) => s.process!.oomScoreAdj = -500,
    expect: /druntime: process: .*oom_score_adj/,
  },
];

/** Whether this process's bounding set holds capability `n` (root here lacks CAP_SYS_RESOURCE). */
function hostHasCap(n: number): boolean {
  const bnd = statusFields(Deno.readTextFileSync("/proc/self/status")).CapBnd;
  return ((BigInt(`0x${bnd}`) >> BigInt(n)) & 1n) === 1n;
}

KERNEL_REFUSES.push({
  name: "a permitted capability that druntime itself lacks",
  // capset may not add to the permitted set; runc fails the same way.
  mutate: (s) => s.process!.capabilities!.permitted!.push("CAP_SYS_RESOURCE"),
  expect: /druntime: process: capset\(\): EPERM/,
  skip: hostHasCap(CAPABILITIES.CAP_SYS_RESOURCE) ? "root here has CAP_SYS_RESOURCE" : undefined,
});

for (const c of KERNEL_REFUSES) {
  if (c.skip) console.error(`note: security kernel-refused case "${c.name}" skipped: ${c.skip}`);
}

Deno.test({
  name: "security: settings the kernel refuses fail naming the call, and leave nothing behind",
  ...rootOnly("security: settings the kernel refuses fail naming the call, and leave nothing behind"),
  async fn(t) {
    await expectFailures(t, KERNEL_REFUSES, "kernel");
  },
});

// ---------------------------------------------------------------------------------------
// seccomp, through real containers
// ---------------------------------------------------------------------------------------

/** Denies mkdir/mkdirat with EACCES (not the default EPERM: the chosen errno must show) and kill(_, SIGUSR1). */
function denyProfile(noNewPrivileges: boolean): (s: Spec) => void {
  return (s) => {
    s.process!.noNewPrivileges = noNewPrivileges;
    s.linux!.seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
        { names: ["kill"], action: "SCMP_ACT_ERRNO", args: [{ index: 1, value: 10, op: "SCMP_CMP_EQ" }] },
      ],
    };
  };
}

const SECCOMP_SCRIPT = [
  "mkdir /tmp/d 2>&1; echo mkdir=$?",
  "kill -USR1 $$ 2>&1; echo usr1=$?",
  "kill -0 $$; echo zero=$?",
  "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status",
].join("; ");

Deno.test({
  name:
    "security: seccomp denies the chosen syscalls with the chosen errno and honours an argument comparison",
  ...rootOnly(
    "security: seccomp denies the chosen syscalls with the chosen errno and honours an argument comparison",
  ),
  async fn(t) {
    // With no_new_privs the start waiter loads the filter last; without it the init loads it
    // before dropping capabilities (it then needs CAP_SYS_ADMIN), as runc does.
    for (const nnp of [true, false]) {
      await t.step(`noNewPrivileges ${nnp}`, async () => {
        const out = await mustRun(`seccomp-${nnp}`, SECCOMP_SCRIPT, denyProfile(nnp));
        assert.match(out, /Permission denied/, "mkdir fails with the chosen errno, EACCES");
        assert.match(out, /^mkdir=1$/m);
        assert.match(out, /^usr1=1$/m, "kill(pid, SIGUSR1) is denied");
        assert.match(out, /^zero=0$/m, "kill(pid, 0) is not: the comparison holds");
        const f = statusFields(out);
        assert.equal(f.Seccomp, "2", "filter mode");
        assert.equal(f.NoNewPrivs, nnp ? "1" : "0");
      });
    }
  },
});

Deno.test({
  name: "security: a seccomp default action applies to every syscall the profile does not name",
  ...rootOnly("security: a seccomp default action applies to every syscall the profile does not name"),
  async fn() {
    // An allow list without mkdir: mkdir gets the default, ENOSYS.
    const allowed = [
      "execve",
      "execveat",
      "brk",
      "mmap",
      "munmap",
      "mprotect",
      "arch_prctl",
      "set_tid_address",
      "set_robust_list",
      "rseq",
      "prlimit64",
      "getrandom",
      "read",
      "write",
      "writev",
      "close",
      "exit",
      "exit_group",
      "openat",
      "open",
      "fstat",
      "newfstatat",
      "stat",
      "lstat",
      "ioctl",
      "getpid",
      "getppid",
      "getuid",
      "geteuid",
      "getgid",
      "getegid",
      "rt_sigaction",
      "rt_sigprocmask",
      "rt_sigreturn",
      "fcntl",
      "dup2",
      "dup3",
      "wait4",
      "clone",
      "clone3",
      "vfork",
      "fork",
      "uname",
      "getcwd",
      "chdir",
      "access",
      "faccessat",
      "faccessat2",
      "futex",
      "sched_yield",
      "accept4",
      "madvise",
      "lseek",
      "pipe",
      "pipe2",
      "readlink",
      "readlinkat",
      "getdents64",
      "statx",
      "gettid",
      "tgkill",
      "kill",
    ];
    const out = await mustRun("seccomp-default", "mkdir /tmp/x 2>&1; echo mkdir=$?; echo alive", (s) => {
      s.process!.noNewPrivileges = true;
      s.linux!.seccomp = {
        defaultAction: "SCMP_ACT_ERRNO",
        defaultErrnoRet: 38,
        syscalls: [{ names: allowed, action: "SCMP_ACT_ALLOW" }],
      };
    });
    assert.match(out, /Function not implemented/);
    assert.match(out, /^mkdir=1$/m);
    assert.match(out, /^alive$/m);
  },
});

Deno.test({
  name: "security: bad seccomp profiles are refused naming the field, and leave nothing behind",
  ...rootOnly("security: bad seccomp profiles are refused naming the field, and leave nothing behind"),
  async fn(t) {
    const cases: [string, (s: Spec) => void, RegExp][] = [
      [
        "SCMP_ACT_NOTIFY",
        (s) =>
          s.linux!.seccomp = JSON.parse(
            '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",' +
              ' "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}',
          ),
        /linux\.seccomp\.syscalls\[0\]\.args\[0\]\.op/,
      ],
    ];
    for (const [name, mutate, expect] of cases) {
      await t.step(name, async () => {
        const r = await runScript(`seccomp-bad-${name}`, "echo should-not-run", mutate);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, expect);
      });
    }
  },
});

// ---------------------------------------------------------------------------------------
// Time namespaces
// ---------------------------------------------------------------------------------------

const hasTimeNs = (() => {
  try {
    Deno.statSync("/proc/self/ns/time");
    return true;
  } catch {
    return false;
  }
})();
if (!hasTimeNs) {
  console.error("note: security time namespace tests skipped: this kernel has no time namespaces");
}

Deno.test({
  name:
    "security: linux.timeOffsets shift the container's boottime and monotonic clocks in a new time namespace",
  ignore: !hasTimeNs || rootOnly("time").ignore,
  async fn() {
    const hostUptime = () => Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
    const before = hostUptime();
    const out = await mustRun(
      "timens",
      "cut -d' ' -f1 /proc/uptime; readlink /proc/self/ns/time; cat /proc/self/timens_offsets",
      (s) => {
        s.linux!.namespaces!.push({ type: "time" });
        s.linux!.timeOffsets = { boottime: { secs: 86400 }, monotonic: { secs: 3600, nanosecs: 5 } };
      },
    );
    const after = hostUptime();
    const [uptime, ns, ...offsets] = out.trim().split("\n");
    const shifted = Number(uptime) - 86400;
    assert.ok(
      shifted >= before - 1 && shifted <= after + 1,
      `uptime ${uptime} is the host's (${before}..${after}) + 1 day`,
    );
    assert.notEqual(ns, Deno.readLinkSync("/proc/self/ns/time"), "a time namespace of its own");
    assert.deepEqual(offsets.map((l) => l.trim().split(/\s+/)), [["monotonic", "3600", "5"], [
      "boottime",
      "86400",
      "0",
    ]]);
  },
});

Deno.test({
  name: "security: linux.timeOffsets without a new time namespace are refused, and leave nothing behind",
  ...rootOnly(
    "security: linux.timeOffsets without a new time namespace are refused, and leave nothing behind",
  ),
  async fn() {
    const r = await runScript("timens-bad", "echo should-not-run", (s) => {
      s.linux!.timeOffsets = { boottime: { secs: 1 } };
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /linux\.timeOffsets: needs a new time namespace/);
  },
});

// ---------------------------------------------------------------------------------------
// Scheduler and I/O priority
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "security: process.scheduler and process.ioPriority are what the kernel reports inside",
  ...rootOnly("security: process.scheduler and process.ioPriority are what the kernel reports inside"),
  async fn() {
    // /proc/self/stat field 19 is the nice value, 41 the policy (3: SCHED_BATCH).
    const script = "cut -d' ' -f19,41 /proc/self/stat; ionice -p $$";
    const out = await mustRun("sched", script, (s) => {
      s.process!.scheduler = { policy: "SCHED_BATCH", nice: 5 };
      s.process!.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 6 };
    });
    const [stat, io] = out.trim().split("\n");
    assert.equal(stat, "5 3");
    assert.match(io, /best-effort.*6/);
    const plain = (await mustRun("sched-none", "cut -d' ' -f41 /proc/self/stat")).trim();
    assert.equal(plain, "0", "SCHED_OTHER without a process.scheduler");
  },
});

Deno.test({
  name: "security: a bad scheduler or I/O priority is refused naming the field, and leaves nothing behind",
  ...rootOnly(
    "security: a bad scheduler or I/O priority is refused naming the field, and leaves nothing behind",
  ),
  async fn(t) {
    const cases: [string, (s: Spec) => void, RegExp][] = [
      [
        "SCHED_ISO",
        (s) => s.process!.scheduler = { policy: "SCHED_ISO" },
        /process\.scheduler\.policy: "SCHED_ISO"/,
      ],
      [
        "SCHED_FIFO without a priority",
        (s) => s.process!.scheduler = { policy: "SCHED_FIFO" },
        /process\.scheduler\.priority: SCHED_FIFO needs a priority/,
      ],
      [
        "nice 40",
        (s) => s.process!.scheduler = { policy: "SCHED_OTHER", nice: 40 },
        /process\.scheduler\.nice/,
      ],
      [
        "an unknown I/O class",
        (s) => s.process!.ioPriority = { class: "IOPRIO_CLASS_FAST", priority: 1 },
        /process\.ioPriority\.class/,
      ],
      [
        "priority 9",
        (s) => s.process!.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 9 },
        /process\.ioPriority\.priority/,
      ],
    ];
    for (const [name, mutate, expect] of cases) {
      await t.step(name, async () => {
        const r = await runScript(`sched-bad-${name}`, "echo should-not-run", mutate);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, expect);
      });
    }
  },
});
