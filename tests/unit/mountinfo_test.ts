import assert from "node:assert/strict";
import {
  type MountInfo,
  mountPointOf,
  parseMountInfo,
  readMountInfo,
  readProcCgroups,
} from "../../runtime/init/mountinfo.ts";

// proc(5)'s example, a bare line, escapes, several optional fields, and a cgroup v1 hierarchy.
const SAMPLE = [
  "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
  "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
  "40 22 8:1 /dir\\040with\\040space /mnt/my\\040disk\\011tab ro,relatime shared:7 master:3 propagate_from:2 - ext4 /dev/sd\\134a rw",
  "31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct",
  "",
].join("\n");

Deno.test("parseMountInfo: fields, optional fields and the part after the separator", () => {
  const mounts = parseMountInfo(SAMPLE);
  assert.equal(mounts.length, 4);
  assert.deepEqual(
    mounts[0],
    {
      id: 36,
      parent: 35,
      majorMinor: "98:0",
      root: "/mnt1",
      mountPoint: "/mnt2",
      options: ["rw", "noatime"],
      optional: ["master:1"],
      fstype: "ext3",
      source: "/dev/root",
      superOptions: ["rw", "errors=continue"],
    } satisfies MountInfo,
  );
  assert.deepEqual(
    mounts[1],
    {
      id: 22,
      parent: 1,
      majorMinor: "0:21",
      root: "/",
      mountPoint: "/proc",
      options: ["rw", "nosuid", "nodev", "noexec", "relatime"],
      optional: [],
      fstype: "proc",
      source: "proc",
      superOptions: ["rw"],
    } satisfies MountInfo,
  );
  assert.deepEqual(mounts[2].optional, ["shared:7", "master:3", "propagate_from:2"]);
  assert.deepEqual(mounts[2].options, ["ro", "relatime"]);
  assert.deepEqual(mounts[3].superOptions, ["rw", "cpu", "cpuacct"]);
  assert.equal(mounts[3].mountPoint, "/sys/fs/cgroup/cpu,cpuacct");
});

Deno.test("parseMountInfo: octal escapes in root, mount point and source", () => {
  const [, , m] = parseMountInfo(SAMPLE);
  assert.equal(m.root, "/dir with space");
  assert.equal(m.mountPoint, "/mnt/my disk\ttab");
  assert.equal(m.source, "/dev/sd\\a");
  assert.equal(m.fstype, "ext4");
});

Deno.test("parseMountInfo: a line without a source or super options does not throw", () => {
  const [m] = parseMountInfo("50 1 0:5 / /x rw - tmpfs");
  assert.equal(m.fstype, "tmpfs");
  assert.equal(m.source, "");
  assert.deepEqual(m.superOptions, []);
  assert.deepEqual(parseMountInfo(""), []);
  assert.deepEqual(parseMountInfo("\n\n"), []);
});

Deno.test("readMountInfo: this process's mounts include /", () => {
  const mounts = readMountInfo();
  assert.ok(mounts.length > 0);
  assert.ok(mounts.some((m) => m.mountPoint === "/"));
  for (const m of mounts) {
    assert.ok(Number.isInteger(m.id) && m.id > 0, JSON.stringify(m));
    assert.ok(m.fstype, JSON.stringify(m));
  }
});

function mountsAt(...points: string[]): MountInfo[] {
  return points.map((mountPoint, i) => ({
    id: i + 1,
    parent: 1,
    root: "/",
    majorMinor: "0:1",
    mountPoint,
    options: ["rw"],
    optional: [],
    fstype: "tmpfs",
    source: "tmpfs",
    superOptions: ["rw"],
  }));
}

Deno.test("mountPointOf: the longest mount point that is a path prefix", () => {
  const mounts = mountsAt("/", "/var", "/var/lib", "/var/lib/containers/storage", "/sys/fs/cgroup", "/home/");
  assert.equal(mountPointOf(mounts, "/"), "/");
  assert.equal(mountPointOf(mounts, "/etc/passwd"), "/");
  assert.equal(mountPointOf(mounts, "/var"), "/var");
  assert.equal(mountPointOf(mounts, "/var/log"), "/var");
  assert.equal(mountPointOf(mounts, "/var/lib/x"), "/var/lib");
  assert.equal(
    mountPointOf(mounts, "/var/lib/containers/storage/overlay/abc/merged"),
    "/var/lib/containers/storage",
  );
  // A string prefix is not a path prefix.
  assert.equal(mountPointOf(mounts, "/variable"), "/");
  assert.equal(mountPointOf(mounts, "/var/library"), "/var");
  assert.equal(mountPointOf(mounts, "/sys/fs/cgroupfoo"), "/");
  // A mount point written with a trailing slash still matches its subtree.
  assert.equal(mountPointOf(mounts, "/home/user"), "/home/");
  // Order does not matter.
  assert.equal(mountPointOf([...mounts].reverse(), "/var/lib/x"), "/var/lib");
  // No mounts at all: the root.
  assert.equal(mountPointOf([], "/x"), "/");
});

Deno.test("readProcCgroups: a cgroup v1 host (hybrid, with the unified hierarchy)", () => {
  const text = [
    "12:pids:/process_api/abc",
    "11:cpu,cpuacct:/process_api/abc",
    "10:memory:/process_api/abc",
    "9:devices:/",
    "2:name=systemd:/user.slice/user-0.slice/session-1.scope",
    "1:hugetlb:/",
    "0::/user.slice",
    "",
  ].join("\n");
  assert.deepEqual(
    readProcCgroups(text),
    new Map([
      ["pids", "/process_api/abc"],
      ["cpu,cpuacct", "/process_api/abc"],
      ["memory", "/process_api/abc"],
      ["devices", "/"],
      ["name=systemd", "/user.slice/user-0.slice/session-1.scope"],
      ["hugetlb", "/"],
      ["", "/user.slice"],
    ]),
  );
});

Deno.test("readProcCgroups: a cgroup v2 host", () => {
  assert.deepEqual(
    readProcCgroups("0::/system.slice/docker-1.scope\n"),
    new Map([["", "/system.slice/docker-1.scope"]]),
  );
  // A path with colons keeps them; lines that are not cgroup lines are skipped.
  assert.deepEqual(readProcCgroups("0::/a:b:c\ngarbage\n\n"), new Map([["", "/a:b:c"]]));
  assert.deepEqual(readProcCgroups(""), new Map());
});

Deno.test("readProcCgroups: this process's /proc/self/cgroup parses, one entry a line", () => {
  const text = Deno.readTextFileSync("/proc/self/cgroup");
  const lines = text.split("\n").filter((l) => l !== "");
  const parsed = readProcCgroups(text);
  assert.equal(parsed.size, lines.length);
  for (const path of parsed.values()) assert.ok(path.startsWith("/"), path);
});
