/**
 * The pure parts of druntime's cgroup handling (no root, no cgroup touched): where a container's
 * cgroup goes (cgroupPathFor), which hierarchies a mount table holds (detectHierarchies),
 * linux.resources as the files to write for cgroup v1 and v2 (planResources and its
 * conversions), device rules, the validation of linux.resources, the stats parsers, and the
 * helpers of pause/resume/update/ps/events and of `update`'s flags.
 */
import assert from "node:assert/strict";
import { ConfigError, type ConfigProblem, DruntimeError } from "../../runtime/errors.ts";
import { parseMountInfo } from "../../runtime/init/mountinfo.ts";
import { cgroupPathFor, detectHierarchies, DRUNTIME_PARENT } from "../../runtime/cgroups/hierarchy.ts";
import {
  blkioWeightToIoWeight,
  type CgroupWrite,
  containerDeviceRules,
  DEFAULT_ALLOWED_DEVICES,
  deviceRuleLine,
  planResources,
  sharesToWeight,
} from "../../runtime/cgroups/resources.ts";
import { parseBlkioV1, parseIoStatV2, parseKeyValues } from "../../runtime/cgroups/stats.ts";
import { filterPsOutput, mergeResources, parseDuration } from "../../runtime/container/control.ts";
import { parseBytes, updateResources } from "../../runtime/cli/update.ts";
import type { Parsed } from "../../runtime/cli/args.ts";
import { validateResources } from "../../runtime/spec/validate.ts";
import type { Resources } from "../../runtime/spec/types.ts";

// ---------------------------------------------------------------------------------------------
// cgroupPathFor
// ---------------------------------------------------------------------------------------------

Deno.test("cgroupPathFor: an absolute linux.cgroupsPath is used as it is", () => {
  assert.equal(cgroupPathFor("/machine/web", "c1"), "/machine/web");
  assert.equal(cgroupPathFor("/a", "c1"), "/a");
  assert.equal(cgroupPathFor("/a//b/./c", "c1"), "/a/b/c");
});

Deno.test("cgroupPathFor: a relative linux.cgroupsPath goes under /druntime, never the caller's cgroup", () => {
  assert.equal(DRUNTIME_PARENT, "/druntime");
  assert.equal(cgroupPathFor("web", "c1"), "/druntime/web");
  assert.equal(cgroupPathFor("pod/web", "c1"), "/druntime/pod/web");
  assert.equal(cgroupPathFor("./pod//web", "c1"), "/druntime/pod/web");
});

Deno.test("cgroupPathFor: no linux.cgroupsPath (absent or empty) is /druntime/<id>", () => {
  assert.equal(cgroupPathFor(undefined, "c1"), "/druntime/c1");
  assert.equal(cgroupPathFor("", "my-container"), "/druntime/my-container");
});

Deno.test("cgroupPathFor: trailing slashes are dropped", () => {
  assert.equal(cgroupPathFor("/machine/web/", "c1"), "/machine/web");
  assert.equal(cgroupPathFor("/machine/web///", "c1"), "/machine/web");
  assert.equal(cgroupPathFor("pod/web/", "c1"), "/druntime/pod/web");
});

Deno.test('cgroupPathFor: "/" (the root cgroup) is refused, however it is spelled', () => {
  for (const path of ["/", "//", "///", "/./", "/."]) {
    assert.throws(
      () => cgroupPathFor(path, "c1"),
      (e: unknown) =>
        e instanceof DruntimeError && e.message.includes("linux.cgroupsPath") &&
        e.message.includes("root cgroup"),
      path,
    );
  }
});

// ---------------------------------------------------------------------------------------------
// detectHierarchies
// ---------------------------------------------------------------------------------------------

const ROOT_AND_PROC = [
  "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
  "23 22 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:2 - proc proc rw",
  "24 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:3 - sysfs sysfs rw",
];

/** A systemd-style cgroup v1 host: co-mounted cpu,cpuacct and net_cls,net_prio, named systemd. */
const V1_LINES = [
  "30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755",
  "31 30 0:27 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:5 - cgroup cgroup " +
  "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd",
  "32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup rw,cpu,cpuacct",
  "33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:7 - cgroup cgroup rw,memory",
  "34 30 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,pids",
  "35 30 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup " +
  "rw,net_cls,net_prio",
  "36 30 0:32 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,devices",
  "37 30 0:33 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,freezer",
];

const UNIFIED_LINE =
  "38 30 0:34 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:12 - cgroup2 cgroup2 rw,nsdelegate";

const V2_LINE = "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 " +
  "rw,nsdelegate,memory_recursiveprot";

function mounts(...lines: string[]) {
  return parseMountInfo([...ROOT_AND_PROC, ...lines].join("\n") + "\n");
}

Deno.test("detectHierarchies: a pure cgroup v2 host is v2 mode, with its mount point", () => {
  const h = detectHierarchies(mounts(V2_LINE));
  assert.equal(h.mode, "v2");
  assert.equal(h.v2, "/sys/fs/cgroup");
  assert.equal(h.v1.size, 0);
});

Deno.test("detectHierarchies: a pure v1 host maps each controller, co-mounted ones to the shared mount", () => {
  const h = detectHierarchies(mounts(...V1_LINES));
  assert.equal(h.mode, "v1");
  assert.equal(h.v2, null);
  assert.deepEqual(
    Object.fromEntries(h.v1),
    {
      cpu: "/sys/fs/cgroup/cpu,cpuacct",
      cpuacct: "/sys/fs/cgroup/cpu,cpuacct",
      memory: "/sys/fs/cgroup/memory",
      pids: "/sys/fs/cgroup/pids",
      net_cls: "/sys/fs/cgroup/net_cls,net_prio",
      net_prio: "/sys/fs/cgroup/net_cls,net_prio",
      devices: "/sys/fs/cgroup/devices",
      freezer: "/sys/fs/cgroup/freezer",
    },
    "the named systemd hierarchy (name=, xattr, release_agent=) is no controller",
  );
});

Deno.test("detectHierarchies: a hybrid host (v1 controllers and a cgroup2 mount) is v1 mode with v2 set", () => {
  const h = detectHierarchies(mounts(...V1_LINES, UNIFIED_LINE));
  assert.equal(h.mode, "v1");
  assert.equal(h.v2, "/sys/fs/cgroup/unified");
  assert.equal(h.v1.get("memory"), "/sys/fs/cgroup/memory");
  assert.equal(h.v1.get("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
});

Deno.test("detectHierarchies: this machine's layout (one hierarchy per controller, cgroup2 at unified)", () => {
  const lines = [
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct",
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset",
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
  ];
  const h = detectHierarchies(mounts(...lines));
  assert.equal(h.mode, "v1");
  assert.equal(h.v2, "/sys/fs/cgroup/unified");
  assert.deepEqual([...h.v1.keys()].sort(), ["cpu", "cpuacct", "cpuset", "memory"]);
  assert.equal(h.v1.get("cpuacct"), "/sys/fs/cgroup/cpuacct");
});

Deno.test("detectHierarchies: the first mount of a hierarchy wins (a second, visible mount is ignored)", () => {
  const h = detectHierarchies(mounts(
    V2_LINE,
    "50 22 0:26 / /mnt/cg2 rw,relatime shared:30 - cgroup2 cgroup2 rw",
  ));
  assert.equal(h.v2, "/sys/fs/cgroup");
  const v1 = detectHierarchies(mounts(
    ...V1_LINES,
    "51 22 0:29 / /mnt/memory rw,relatime shared:31 - cgroup cgroup rw,memory",
  ));
  assert.equal(v1.v1.get("memory"), "/sys/fs/cgroup/memory");
});

Deno.test("detectHierarchies: no cgroup mount at all is an error", () => {
  assert.throws(
    () => detectHierarchies(mounts()),
    (e: unknown) => e instanceof DruntimeError && /no cgroup hierarchy/.test(e.message),
  );
  assert.throws(() => detectHierarchies([]), DruntimeError);
});

// A mount namespace in which a cgroup2 was mounted over /sys/fs/cgroup of a hybrid host (what a
// nested runtime, or `unshare -m sh -c 'mount -t cgroup2 none /sys/fs/cgroup'`, sees): the v1
// mounts under the old tmpfs are still listed in mountinfo, but no path reaches them;
// /sys/fs/cgroup/memory now names a directory in the cgroup2 mount. runc decides by
// statfs(/sys/fs/cgroup) and drives v2 here. (druntime counted the hidden mounts, and would have
// made cgroups named "cpu", "memory", "unified"... in the cgroup2 root, until commit 5725cb2.)
Deno.test("detectHierarchies: mounts hidden under a later mount on /sys/fs/cgroup do not count", () => {
  const lines = [
    "56 55 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
    "57 56 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
    "60 56 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
    "82 56 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
    "84 56 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
    "90 56 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 none rw",
  ];
  const h = detectHierarchies(mounts(...lines));
  assert.deepEqual(
    { mode: h.mode, v1: Object.fromEntries(h.v1), v2: h.v2 },
    { mode: "v2", v1: {}, v2: "/sys/fs/cgroup" },
  );
});

Deno.test("detectHierarchies: a later mount below a hierarchy, or beside it, hides nothing", () => {
  const h = detectHierarchies(mounts(
    V2_LINE,
    "60 30 0:40 / /sys/fs/cgroup/sub rw,relatime - tmpfs tmpfs rw",
    "61 22 0:41 / /sys/fs/cgroupfoo rw,relatime - tmpfs tmpfs rw",
  ));
  assert.equal(h.mode, "v2");
  assert.equal(h.v2, "/sys/fs/cgroup");
});

// ---------------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------------

Deno.test("sharesToWeight: runc's 1 + ((shares - 2) * 9999) / 262142, floored", () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(sharesToWeight(0), 0, "0 is unset");
  for (const s of [2, 3, 100, 512, 1024, 2048, 100000, 262143, 262144]) {
    assert.equal(sharesToWeight(s), 1 + Math.floor(((s - 2) * 9999) / 262142), `shares ${s}`);
  }
});

Deno.test("blkioWeightToIoWeight: [10, 1000] onto [1, 10000], as runc", () => {
  assert.equal(blkioWeightToIoWeight(10), 1);
  assert.equal(blkioWeightToIoWeight(1000), 10000);
  assert.equal(blkioWeightToIoWeight(500), 1 + Math.floor((490 * 9999) / 990));
  assert.equal(blkioWeightToIoWeight(500), 4950);
  assert.equal(blkioWeightToIoWeight(0), 0, "0 is unset");
});

// ---------------------------------------------------------------------------------------------
// planResources
// ---------------------------------------------------------------------------------------------

/** The plan's writes as "controller file=value" lines (alternatives after " | "). */
function lines(writes: CgroupWrite[]): string[] {
  return writes.map((w) =>
    `${w.controller} ${w.file}=${w.value}` +
    (w.alternatives ?? []).map((a) => ` | ${a.file}=${a.value}`).join("")
  );
}

const EVERYTHING: Resources = {
  memory: {
    limit: 268435456,
    reservation: 134217728,
    swap: 536870912,
    kernelTCP: 1048576,
    swappiness: 10,
    disableOOMKiller: true,
  },
  cpu: {
    shares: 1024,
    quota: 50000,
    period: 100000,
    burst: 10000,
    realtimeRuntime: 950000,
    realtimePeriod: 1000000,
    idle: 1,
    cpus: "0-1",
    mems: "0",
  },
  pids: { limit: 64 },
  blockIO: {
    weight: 500,
    leafWeight: 300,
    weightDevice: [{ major: 8, minor: 0, weight: 600, leafWeight: 200 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
    throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
    throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 200 }],
  },
  hugepageLimits: [{ pageSize: "2MB", limit: 4194304 }, { pageSize: "1GB", limit: 0 }],
  network: { classID: 1048577, priorities: [{ name: "eth0", priority: 5 }] },
};

Deno.test("planResources v1: every field to its controller's file and value", () => {
  const plan = planResources(EVERYTHING, "v1", null);
  assert.deepEqual(lines(plan.writes), [
    "memory memory.limit_in_bytes=268435456",
    "memory memory.soft_limit_in_bytes=134217728",
    "memory memory.memsw.limit_in_bytes=536870912",
    "memory memory.kmem.tcp.limit_in_bytes=1048576",
    "memory memory.swappiness=10",
    "memory memory.oom_control=1",
    "cpu cpu.shares=1024",
    "cpu cpu.cfs_period_us=100000",
    "cpu cpu.cfs_quota_us=50000",
    "cpu cpu.cfs_burst_us=10000",
    "cpu cpu.rt_period_us=1000000",
    "cpu cpu.rt_runtime_us=950000",
    "cpu cpu.idle=1",
    "cpuset cpuset.cpus=0-1",
    "cpuset cpuset.mems=0",
    "pids pids.max=64",
    "blkio blkio.weight=500 | blkio.bfq.weight=500",
    "blkio blkio.leaf_weight=300",
    "blkio blkio.weight_device=8:0 600 | blkio.bfq.weight_device=8:0 600",
    "blkio blkio.leaf_weight_device=8:0 200",
    "blkio blkio.throttle.read_bps_device=8:0 1048576",
    "blkio blkio.throttle.write_bps_device=8:0 2097152",
    "blkio blkio.throttle.read_iops_device=8:16 100",
    "blkio blkio.throttle.write_iops_device=8:16 200",
    "hugetlb hugetlb.2MB.limit_in_bytes=4194304",
    "hugetlb hugetlb.1GB.limit_in_bytes=0",
    "net_cls net_cls.classid=1048577",
    "net_prio net_prio.ifpriomap=eth0 5",
  ]);
  assert.deepEqual(plan.warnings, []);
  assert.equal(plan.devices, null);
});

Deno.test("planResources v1: the cfs period is written before the quota (a quota is checked against it)", () => {
  const files = planResources({ cpu: { quota: 20000, period: 50000 } }, "v1", null).writes.map((w) => w.file);
  assert.ok(files.indexOf("cpu.cfs_period_us") < files.indexOf("cpu.cfs_quota_us"), files.join(", "));
});

Deno.test("planResources v1: kernel memory and unified are warned about, not written", () => {
  const plan = planResources({ memory: { kernel: 1048576 }, unified: { "memory.high": "1G" } }, "v1", null);
  assert.deepEqual(plan.writes, []);
  assert.equal(plan.warnings.length, 2);
  assert.match(plan.warnings[0], /^linux\.resources\.memory\.kernel: .*5\.16.*ignored$/);
  assert.equal(
    plan.warnings[1],
    "linux.resources.unified: cgroup v2 files, and this host drives cgroup v1; ignored",
  );
  assert.deepEqual(planResources({ unified: {} }, "v1", null).warnings, [], "an empty unified is nothing");
});

Deno.test('planResources v1 and v2: pids -1 and 0 are "max"', () => {
  for (const mode of ["v1", "v2"] as const) {
    for (const limit of [-1, 0]) {
      assert.deepEqual(lines(planResources({ pids: { limit } }, mode, null).writes), ["pids pids.max=max"]);
    }
    assert.deepEqual(lines(planResources({ pids: { limit: 100 } }, mode, null).writes), [
      "pids pids.max=100",
    ]);
  }
});

Deno.test("planResources v2: every field to its file and value, converted as runc converts", () => {
  const r: Resources = {
    ...EVERYTHING,
    memory: { limit: 268435456, reservation: 134217728, swap: 536870912 },
    cpu: { shares: 1024, quota: 50000, period: 100000, burst: 10000, idle: 1, cpus: "0-1", mems: "0" },
    blockIO: { ...EVERYTHING.blockIO, leafWeight: undefined },
    network: undefined,
    unified: { "memory.high": "200000000", "io.latency": "8:0 target=10" },
  };
  const plan = planResources(r, "v2", null);
  assert.deepEqual(lines(plan.writes), [
    "memory memory.max=268435456",
    "memory memory.low=134217728",
    "memory memory.swap.max=268435456",
    "cpu cpu.weight=39",
    "cpu cpu.max=50000 100000",
    "cpu cpu.max.burst=10000",
    "cpu cpu.idle=1",
    "cpuset cpuset.cpus=0-1",
    "cpuset cpuset.mems=0",
    "pids pids.max=64",
    "io io.bfq.weight=500 | io.weight=4950",
    "io io.bfq.weight=8:0 600",
    "io io.max=8:0 rbps=1048576",
    "io io.max=8:0 wbps=2097152",
    "io io.max=8:16 riops=100",
    "io io.max=8:16 wiops=200",
    "hugetlb hugetlb.2MB.max=4194304",
    "hugetlb hugetlb.1GB.max=0",
    "memory memory.high=200000000",
    "io io.latency=8:0 target=10",
  ]);
  assert.deepEqual(plan.warnings, []);
});

Deno.test('planResources v2: memory.swap.max is swap minus limit; -1 is "max"', () => {
  const swap = (memory: Resources["memory"]) =>
    lines(planResources({ memory }, "v2", null).writes).filter((l) => l.includes("swap"));
  assert.deepEqual(swap({ limit: 100 * 2 ** 20, swap: 300 * 2 ** 20 }), [
    `memory memory.swap.max=${200 * 2 ** 20}`,
  ]);
  assert.deepEqual(swap({ limit: 1000, swap: 1000 }), ["memory memory.swap.max=0"], "swap == limit: no swap");
  assert.deepEqual(swap({ limit: 1000, swap: -1 }), ["memory memory.swap.max=max"]);
  assert.deepEqual(swap({ swap: -1 }), ["memory memory.swap.max=max"]);
  // No limit to subtract: a warning, no write.
  const plan = planResources({ memory: { swap: 1000 } }, "v2", null);
  assert.deepEqual(plan.writes, []);
  assert.match(plan.warnings[0], /^linux\.resources\.memory\.swap: needs memory\.limit on cgroup v2/);
  // memory.limit -1 is "max".
  assert.deepEqual(lines(planResources({ memory: { limit: -1 } }, "v2", null).writes), [
    "memory memory.max=max",
  ]);
});

// runc (libcontainer's setMemoryAndSwap, ConvertMemorySwapToCgroupV2Value) reads a memory.swap of
// 0 as "not set" and writes no swap file. Writing memory.memsw.limit_in_bytes=0 on v1 would be
// refused (EINVAL: below memory.limit) where runc runs the container, and memory.swap.max=0 on v2
// would turn swap off.
Deno.test("planResources: memory.swap 0 is unset, as runc reads it (v1 and v2)", () => {
  for (const mode of ["v1", "v2"] as const) {
    const plan = planResources({ memory: { limit: 104857600, swap: 0 } }, mode, null);
    assert.deepEqual(
      lines(plan.writes).filter((l) => l.includes("swap") || l.includes("memsw")),
      [],
      `cgroup ${mode}: ${lines(plan.writes).join(", ")}`,
    );
  }
});

Deno.test('planResources v2: cpu.max is "quota period", "max period" without a quota', () => {
  const cpuMax = (cpu: Resources["cpu"]) =>
    lines(planResources({ cpu }, "v2", null).writes).filter((l) => l.startsWith("cpu cpu.max="));
  assert.deepEqual(cpuMax({ quota: 20000, period: 50000 }), ["cpu cpu.max=20000 50000"]);
  assert.deepEqual(cpuMax({ quota: 20000 }), ["cpu cpu.max=20000 100000"], "the default period");
  assert.deepEqual(cpuMax({ quota: -1, period: 50000 }), ["cpu cpu.max=max 50000"]);
  assert.deepEqual(cpuMax({ period: 50000 }), ["cpu cpu.max=max 50000"]);
  assert.deepEqual(cpuMax({ quota: -1 }), ["cpu cpu.max=max 100000"]);
  assert.deepEqual(cpuMax({ shares: 2 }), [], "neither quota nor period: no cpu.max");
  assert.deepEqual(lines(planResources({ cpu: { shares: 2 } }, "v2", null).writes), ["cpu cpu.weight=1"]);
  assert.deepEqual(lines(planResources({ cpu: { shares: 262144 } }, "v2", null).writes), [
    "cpu cpu.weight=10000",
  ]);
});

Deno.test("planResources v2: settings cgroup v2 lacks are warnings naming the field", () => {
  const plan = planResources(
    {
      memory: { swappiness: 60, kernel: 1, kernelTCP: 1, disableOOMKiller: true },
      cpu: { realtimeRuntime: 1000, realtimePeriod: 10000 },
      blockIO: { leafWeight: 100 },
      network: { classID: 1 },
    },
    "v2",
    null,
  );
  assert.deepEqual(plan.writes, []);
  assert.deepEqual(plan.warnings, [
    "linux.resources.memory.kernel: cgroup v2 has no such setting; ignored",
    "linux.resources.memory.kernelTCP: cgroup v2 has no such setting; ignored",
    "linux.resources.memory.swappiness: cgroup v2 has no such setting; ignored",
    "linux.resources.memory.disableOOMKiller: cgroup v2 has no such setting; ignored",
    "linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no such setting; ignored",
    "linux.resources.blockIO.leafWeight: cgroup v2 has no such setting; ignored",
    "linux.resources.network: cgroup v2 has no such setting; ignored",
  ]);
});

Deno.test("planResources: the device rules given are the plan's, in order", () => {
  const rules = containerDeviceRules({ devices: [{ allow: false, access: "rwm" }] });
  assert.equal(planResources({}, "v2", rules).devices, rules);
  assert.equal(planResources({}, "v1", rules).devices, rules);
  assert.deepEqual(planResources({}, "v1", null), { writes: [], devices: null, warnings: [] });
});

// ---------------------------------------------------------------------------------------------
// Device rules
// ---------------------------------------------------------------------------------------------

Deno.test("deviceRuleLine: v1's devices.allow/deny lines", () => {
  assert.equal(deviceRuleLine({ allow: false, access: "rwm" }), "a");
  assert.equal(deviceRuleLine({ allow: false }), "a", "absent type and access: all of everything");
  assert.equal(deviceRuleLine({ allow: true, type: "a", major: -1, minor: -1, access: "rwm" }), "a");
  assert.equal(deviceRuleLine({ allow: true, type: "c", major: 1, minor: 3, access: "rwm" }), "c 1:3 rwm");
  assert.equal(deviceRuleLine({ allow: true, type: "c", major: -1, minor: -1, access: "m" }), "c *:* m");
  assert.equal(deviceRuleLine({ allow: true, type: "b", major: 8, access: "rw" }), "b 8:* rw");
  assert.equal(deviceRuleLine({ allow: true, type: "a", access: "r" }), "a *:* r");
  assert.equal(deviceRuleLine({ allow: true, type: "c", major: 136, minor: -1, access: "" }), "c 136:* rwm");
});

Deno.test("containerDeviceRules: the container's rules, then runc's defaults, then linux.devices", () => {
  const own = [{ allow: false, access: "rwm" }, {
    allow: true,
    type: "c" as const,
    major: 4,
    minor: 1,
    access: "r",
  }];
  const rules = containerDeviceRules({ devices: own }, [
    { type: "c", major: 10, minor: 229 },
    { type: "b", major: 7, minor: 0 },
    { type: "u", major: 180, minor: 0 },
    { type: "p" },
  ]);
  assert.deepEqual(rules, [
    ...own,
    ...DEFAULT_ALLOWED_DEVICES,
    { allow: true, type: "c", major: 10, minor: 229, access: "rwm" },
    { allow: true, type: "b", major: 7, minor: 0, access: "rwm" },
    { allow: true, type: "c", major: 180, minor: 0, access: "rwm" },
  ], "a fifo has no device number and no rule; an unbuffered char device is a char device");
  assert.deepEqual(containerDeviceRules(undefined), [...DEFAULT_ALLOWED_DEVICES]);
});

Deno.test("DEFAULT_ALLOWED_DEVICES: runc's list (mknod of any, null zero full random urandom tty console ptmx pts tun)", () => {
  assert.deepEqual(DEFAULT_ALLOWED_DEVICES.map(deviceRuleLine), [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:8 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:5 rwm",
    "c 1:9 rwm",
    "c 5:1 rwm",
    "c 136:* rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
  ]);
  assert.ok(DEFAULT_ALLOWED_DEVICES.every((r) => r.allow));
});

// ---------------------------------------------------------------------------------------------
// validateResources
// ---------------------------------------------------------------------------------------------

function resourceProblems(raw: unknown): ConfigProblem[] {
  try {
    validateResources(raw);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e.problems;
  }
  return [];
}

function onlyProblem(raw: unknown, path: string, reason?: RegExp): void {
  const problems = resourceProblems(raw);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  assert.equal(problems[0].path, path);
  if (reason) assert.match(problems[0].reason, reason);
}

Deno.test("validateResources: a good resources object is returned as it is (nulls dropped)", () => {
  const r = { ...EVERYTHING, unified: { "memory.high": "1G" }, devices: [{ allow: false, access: "rwm" }] };
  assert.deepEqual(validateResources(r), r);
  assert.deepEqual(validateResources({ memory: { limit: 100, swap: null } }), { memory: { limit: 100 } });
  assert.deepEqual(validateResources({}), {});
});

Deno.test("validateResources: each bad field is named by its JSON path", () => {
  onlyProblem({ cpu: { cpus: "abc" } }, "linux.resources.cpu.cpus", /"abc"/);
  onlyProblem({ cpu: { mems: "0-" } }, "linux.resources.cpu.mems");
  onlyProblem(
    { memory: { limit: 2000, swap: 1000 } },
    "linux.resources.memory.swap",
    /at least memory\.limit \(2000\)/,
  );
  onlyProblem({ blockIO: { weight: 5 } }, "linux.resources.blockIO.weight", /10 to 1000, got 5/);
  onlyProblem({ blockIO: { weight: 1001 } }, "linux.resources.blockIO.weight");
  onlyProblem(
    { hugepageLimits: [{ pageSize: "2M", limit: 1 }] },
    "linux.resources.hugepageLimits[0].pageSize",
    /"2M"/,
  );
  onlyProblem(
    { unified: { "cgroup.procs": "1" } },
    "linux.resources.unified.cgroup.procs",
    /druntime's to manage/,
  );
  onlyProblem({ unified: { "memory.high": 5 } }, "linux.resources.unified.memory.high", /must be a string/);
  onlyProblem({ unified: { "../x.y": "1" } }, "linux.resources.unified.../x.y");
  onlyProblem({ devices: [{ allow: true, access: "rx" }] }, "linux.resources.devices[0].access", /"rx"/);
  onlyProblem({ devices: [{ access: "r" }] }, "linux.resources.devices[0].allow", /required/);
  onlyProblem({ devices: [{ allow: true, type: "p" }] }, "linux.resources.devices[0].type");
  onlyProblem({ pids: {} }, "linux.resources.pids.limit", /is required/);
  onlyProblem({ pids: { limit: -2 } }, "linux.resources.pids.limit");
  onlyProblem({ cpu: { shares: 262145 } }, "linux.resources.cpu.shares");
  onlyProblem({ memory: { swappiness: 101 } }, "linux.resources.memory.swappiness");
  onlyProblem(
    { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0 }] } },
    "linux.resources.blockIO.throttleReadBpsDevice[0].rate",
  );
  onlyProblem({ rdma: { mlx5_0: { hcaHandles: 1 } } }, "linux.resources.rdma");
});

Deno.test("validateResources: every problem at once, and the cgroup.max.* files are allowed", () => {
  const problems = resourceProblems({
    cpu: { cpus: "abc" },
    memory: { limit: 2000, swap: 1000 },
    pids: {},
  });
  assert.deepEqual(problems.map((p) => p.path).sort(), [
    "linux.resources.cpu.cpus",
    "linux.resources.memory.swap",
    "linux.resources.pids.limit",
  ]);
  assert.deepEqual(
    resourceProblems({ unified: { "cgroup.max.depth": "3", "cgroup.max.descendants": "10" } }),
    [],
  );
  // swap -1 (unlimited) with a limit is fine; so is a swap equal to the limit.
  assert.deepEqual(resourceProblems({ memory: { limit: 2000, swap: -1 } }), []);
  assert.deepEqual(resourceProblems({ memory: { limit: 2000, swap: 2000 } }), []);
});

// ---------------------------------------------------------------------------------------------
// Stats parsers
// ---------------------------------------------------------------------------------------------

Deno.test("parseKeyValues: key value lines; blank lines and null are nothing", () => {
  assert.deepEqual(
    parseKeyValues("usage_usec 12345\nuser_usec 10000\n  system_usec   2345 \n\nnr_periods 0\n"),
    { usage_usec: 12345, user_usec: 10000, system_usec: 2345, nr_periods: 0 },
  );
  assert.deepEqual(parseKeyValues("oom_kill_disable 0\nunder_oom 0\noom_kill 3"), {
    oom_kill_disable: 0,
    under_oom: 0,
    oom_kill: 3,
  });
  assert.deepEqual(parseKeyValues(null), {});
  assert.deepEqual(parseKeyValues(""), {});
  assert.deepEqual(parseKeyValues("lonely\n"), {}, "a key without a value is skipped");
});

Deno.test("parseBlkioV1: major:minor op value lines; the Total line has no device and is skipped", () => {
  assert.deepEqual(
    parseBlkioV1(
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:16 Async 12288\n8:16 Total 12288\nTotal 24576\n",
    ),
    [
      { major: 8, minor: 0, op: "Read", value: 4096 },
      { major: 8, minor: 0, op: "Write", value: 8192 },
      { major: 8, minor: 0, op: "Sync", value: 0 },
      { major: 8, minor: 16, op: "Async", value: 12288 },
      { major: 8, minor: 16, op: "Total", value: 12288 },
    ],
  );
  assert.deepEqual(parseBlkioV1(null), []);
  assert.deepEqual(parseBlkioV1("garbage\n"), []);
});

Deno.test("parseIoStatV2: io.stat lines into v1's Read and Write entries, bytes and ios", () => {
  const { bytes, ios } = parseIoStatV2(
    "8:0 rbytes=1024 wbytes=2048 rios=3 wios=4 dbytes=0 dios=0\n253:1 rbytes=10 rios=1\n\n",
  );
  assert.deepEqual(bytes, [
    { major: 8, minor: 0, op: "Read", value: 1024 },
    { major: 8, minor: 0, op: "Write", value: 2048 },
    { major: 253, minor: 1, op: "Read", value: 10 },
    { major: 253, minor: 1, op: "Write", value: 0 },
  ]);
  assert.deepEqual(ios, [
    { major: 8, minor: 0, op: "Read", value: 3 },
    { major: 8, minor: 0, op: "Write", value: 4 },
    { major: 253, minor: 1, op: "Read", value: 1 },
    { major: 253, minor: 1, op: "Write", value: 0 },
  ]);
  assert.deepEqual(parseIoStatV2(null), { bytes: [], ios: [] });
  assert.deepEqual(parseIoStatV2("not a device line\n"), { bytes: [], ios: [] });
});

// ---------------------------------------------------------------------------------------------
// control.ts
// ---------------------------------------------------------------------------------------------

Deno.test("parseDuration: Go durations in milliseconds", () => {
  assert.equal(parseDuration("5s"), 5000);
  assert.equal(parseDuration("100ms"), 100);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("250000us"), 250);
});

Deno.test("parseDuration: no unit, a sign, junk, empty and zero are refused, naming --interval", () => {
  for (const text of ["", "5", "-1s", "x", "5 s", "s", "0s", "1s x"]) {
    assert.throws(
      () => parseDuration(text),
      (e: unknown) => e instanceof DruntimeError && e.message.startsWith("--interval: "),
      JSON.stringify(text),
    );
  }
});

const PS_EF = [
  "UID          PID    PPID  C STIME TTY          TIME CMD",
  "root           1       0  0 10:00 ?        00:00:01 /sbin/init",
  "root        4242    4000  0 10:01 ?        00:00:00 sh -c sleep 1000",
  "root        4243    4242  0 10:01 ?        00:00:00 sleep 1000",
  "root        4300    4242  0 10:01 ?        00:00:00 other 4242",
  "",
].join("\n");

Deno.test("filterPsOutput: the header and the lines whose PID column is the container's", () => {
  assert.equal(
    filterPsOutput(PS_EF, [4242, 4243]),
    [PS_EF.split("\n")[0], PS_EF.split("\n")[2], PS_EF.split("\n")[3]].join("\n"),
  );
  // A pid that only appears in the PPID column (or in CMD) does not select the line.
  assert.equal(filterPsOutput(PS_EF, [4000]), PS_EF.split("\n")[0]);
  // PID in another column (ps -o user,pid,args).
  const custom = "USER       PID COMMAND\nroot        17 sh\nroot        18 sleep 17\n";
  assert.equal(filterPsOutput(custom, [17]), "USER       PID COMMAND\nroot        17 sh");
  assert.equal(filterPsOutput("", [1]), "");
});

Deno.test("filterPsOutput: output without a PID column is an error", () => {
  assert.throws(
    () => filterPsOutput("USER COMMAND\nroot sh\n", [1]),
    (e: unknown) => e instanceof DruntimeError && /no PID column/.test(e.message),
  );
});

Deno.test("mergeResources: sections merged field by field, arrays and new sections replaced or added", () => {
  const a: Resources = {
    memory: { limit: 100, swap: 200 },
    cpu: { shares: 512, cpus: "0" },
    devices: [{ allow: false, access: "rwm" }],
    hugepageLimits: [{ pageSize: "2MB", limit: 1 }],
  };
  const before = structuredClone(a);
  const merged = mergeResources(a, {
    memory: { limit: 150 },
    pids: { limit: 10 },
    hugepageLimits: [{ pageSize: "1GB", limit: 2 }],
  });
  assert.deepEqual(merged, {
    memory: { limit: 150, swap: 200 },
    cpu: { shares: 512, cpus: "0" },
    devices: [{ allow: false, access: "rwm" }],
    hugepageLimits: [{ pageSize: "1GB", limit: 2 }],
    pids: { limit: 10 },
  });
  assert.deepEqual(a, before, "the old resources are not changed");
  assert.deepEqual(mergeResources({}, { cpu: { quota: 1000 } }), { cpu: { quota: 1000 } });
  assert.deepEqual(mergeResources({ cpu: { quota: 1000 } }, {}), { cpu: { quota: 1000 } });
});

// ---------------------------------------------------------------------------------------------
// cli/update.ts
// ---------------------------------------------------------------------------------------------

Deno.test("parseBytes: numbers with k, m, g, t (1024-based) suffixes; -1", () => {
  assert.equal(parseBytes("memory", "512m"), 512 * 1024 * 1024);
  assert.equal(parseBytes("memory", "1g"), 1024 ** 3);
  assert.equal(parseBytes("memory", "100"), 100);
  assert.equal(parseBytes("memory-swap", "-1"), -1);
  assert.equal(parseBytes("memory", "1k"), 1024);
  assert.equal(parseBytes("memory", "2G"), 2 * 1024 ** 3);
  assert.equal(parseBytes("memory", "1t"), 1024 ** 4);
});

Deno.test("parseBytes: anything else is refused, naming the flag", () => {
  for (const [flag, text] of [["memory", "lots"], ["memory-swap", "1.5g"], ["memory-reservation", ""]]) {
    assert.throws(
      () => parseBytes(flag, text),
      (e: unknown) =>
        e instanceof DruntimeError && e.message.includes(`--${flag}`) &&
        e.message.includes(JSON.stringify(text)),
      `${flag} ${text}`,
    );
  }
});

function parsed(flags: Record<string, string>): Parsed {
  return { flags: new Map(Object.entries(flags)), positionals: [] };
}

Deno.test("updateResources: runc update's flags into linux.resources", async () => {
  assert.deepEqual(
    await updateResources(parsed({
      memory: "512m",
      "memory-swap": "-1",
      "cpu-shares": "512",
      "cpu-quota": "-1",
      "cpuset-cpus": "0-1",
      "pids-limit": "100",
      "blkio-weight": "300",
    })),
    {
      memory: { limit: 512 * 2 ** 20, swap: -1 },
      cpu: { shares: 512, quota: -1, cpus: "0-1" },
      pids: { limit: 100 },
      blockIO: { weight: 300 },
    },
  );
  await assert.rejects(() => updateResources(parsed({})), /nothing to update/);
  await assert.rejects(() => updateResources(parsed({ "pids-limit": "many" })), /--pids-limit/);
  await assert.rejects(
    () => updateResources(parsed({ memory: "lots" })),
    /--memory must be a number of bytes/,
  );
});
