import assert from "node:assert/strict";
import { describeStep, formatPlan, mountFlagNames } from "../../runtime/plan/format.ts";
import { buildPlan } from "../../runtime/plan/build.ts";
import type { Plan, Step } from "../../runtime/plan/types.ts";
import { defaultSpec } from "../../runtime/spec/default.ts";
import * as K from "../../ffi/constants.ts";
import { STAGE_ORDER } from "../fixtures/defaults.ts";

const ROOTFS = "/bundle/rootfs";

function defaultPlan(): Plan {
  return buildPlan(defaultSpec(), { rootfs: ROOTFS, bundle: "/bundle", hasKcore: true, lastCap: 40 });
}

Deno.test("formatPlan: the rootfs, every stage name in order, steps numbered 1..n across stages", () => {
  const plan = defaultPlan();
  const lines = formatPlan(plan).split("\n");
  assert.equal(lines[0], `rootfs ${ROOTFS}`);
  const stageLines = lines.filter((l) => /^\S/.test(l)).slice(1);
  assert.deepEqual(stageLines, STAGE_ORDER);
  const steps = plan.stages.flatMap((s) => s.steps);
  const stepLines = lines.filter((l) => l.startsWith(" "));
  assert.equal(stepLines.length, steps.length);
  stepLines.forEach((line, i) => {
    const m = /^ {2}( ?\d+)\. (.*)$/.exec(line);
    assert.ok(m, line);
    assert.equal(Number(m[1]), i + 1);
    assert.equal(m[2], describeStep(steps[i], ROOTFS));
  });
  // Each stage's steps come right after its name.
  let at = 1;
  for (const stage of plan.stages) {
    assert.equal(lines[at], stage.name);
    at += 1 + stage.steps.length;
  }
  assert.equal(at, lines.length);
});

Deno.test("formatPlan: a few lines of the default plan, word for word", () => {
  const text = formatPlan(defaultPlan());
  for (
    const line of [
      "   1. make the mount tree rslave so nothing propagates to the host",
      `   2. make the mount holding ${ROOTFS} private`,
      `   3. bind ${ROOTFS} onto itself`,
      "   5. mounts[1]: mount tmpfs on /dev (nosuid,strictatime,mode=755,size=65536k)",
      "   9. mounts[5]: mount sysfs on /sys (ro,nosuid,nodev,noexec)",
      "  11. mknod /dev/null c 1 3 mode 0666 owner 0:0 (or bind the host's /dev/null)",
      "  17. symlink /dev/ptmx -> pts/ptmx",
      `  23. pivot_root into ${ROOTFS}; detach the old root`,
      "  40. remount / (ro)",
      '  41. set hostname "druntime"',
      "  42. setrlimit RLIMIT_NOFILE soft 1024 hard 1024",
      "  43. drop from the bounding set every capability but [CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE]",
      "  44. keep capabilities across the uid change (PR_SET_KEEPCAPS)",
      "  45. set user 0:0, additional groups []",
      "  46. set capabilities: effective [CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE], permitted " +
      "[CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE], inheritable [], ambient []",
      "  47. set umask 0022",
      "  49. set no_new_privs",
      '  50. reset signals, close inherited fds, exec ["sh"] with 2 environment variables',
    ]
  ) {
    assert.ok(text.split("\n").includes(line), `missing line: ${line}\n${text}`);
  }
});

Deno.test("formatPlan: an empty plan is just the rootfs", () => {
  assert.equal(formatPlan({ rootfs: "/r", stages: [] }), "rootfs /r");
});

Deno.test("mountFlagNames: mount(8)'s words, in table order", () => {
  assert.equal(mountFlagNames(0), "");
  assert.equal(mountFlagNames(K.MS_RDONLY), "ro");
  assert.equal(mountFlagNames(K.MS_NODEV | K.MS_RDONLY | K.MS_NOSUID), "ro,nosuid,nodev");
  assert.equal(mountFlagNames(K.MS_BIND | K.MS_REC), "bind,rec");
  assert.equal(mountFlagNames(K.MS_REMOUNT | K.MS_BIND | K.MS_RDONLY), "ro,remount,bind");
  assert.equal(
    mountFlagNames(K.MS_SHARED | K.MS_SLAVE | K.MS_PRIVATE | K.MS_UNBINDABLE),
    "unbindable,private,slave,shared",
  );
  assert.equal(
    mountFlagNames(K.MS_NOEXEC | K.MS_SYNCHRONOUS | K.MS_MANDLOCK | K.MS_DIRSYNC | K.MS_NOSYMFOLLOW),
    "noexec,sync,mand,dirsync,nosymfollow",
  );
  assert.equal(
    mountFlagNames(
      K.MS_NOATIME | K.MS_NODIRATIME | K.MS_RELATIME | K.MS_STRICTATIME | K.MS_LAZYTIME | K.MS_MOVE,
    ),
    "noatime,nodiratime,move,relatime,strictatime,lazytime",
  );
  // Bits without a name are left out.
  assert.equal(mountFlagNames(K.MS_SILENT | K.MS_RDONLY), "ro");
});

Deno.test("describeStep: propagation names, recursive or not", () => {
  const p = (flags: number): Step => ({ op: "propagate", index: 2, target: "/m", flags });
  assert.equal(describeStep(p(K.MS_SHARED | K.MS_REC), "/r"), "mounts[2]: make /m rshared");
  assert.equal(describeStep(p(K.MS_SLAVE), "/r"), "mounts[2]: make /m slave");
  assert.equal(describeStep(p(K.MS_PRIVATE | K.MS_REC), "/r"), "mounts[2]: make /m rprivate");
  assert.equal(describeStep(p(K.MS_UNBINDABLE), "/r"), "mounts[2]: make /m unbindable");
  assert.equal(describeStep({ op: "propagate", target: "/", flags: K.MS_SHARED }, "/r"), "make / shared");
  assert.equal(
    describeStep({ op: "rootPropagation", flags: K.MS_PRIVATE | K.MS_REC }, "/r"),
    "make the mount tree rprivate so nothing propagates to the host",
  );
});

Deno.test("describeStep: bind mounts, copy-up, and the steps without a mount index", () => {
  assert.equal(
    describeStep({
      op: "mount",
      index: 7,
      source: "/srv",
      target: "/data",
      fstype: "bind",
      flags: K.MS_BIND | K.MS_REC,
      data: "",
      create: "likeSource",
    }, "/r"),
    "mounts[7]: bind /srv on /data (bind,rec)",
  );
  assert.equal(
    describeStep({
      op: "mount",
      source: "tmpfs",
      target: "/tmp",
      fstype: "tmpfs",
      flags: 0,
      data: "size=1m",
      create: "dir",
      copyUp: true,
    }, "/r"),
    "mount tmpfs on /tmp (size=1m), copying the image's content into it",
  );
  assert.equal(
    describeStep({
      op: "mount",
      source: "proc",
      target: "/proc",
      fstype: "proc",
      flags: 0,
      data: "",
      create: "dir",
    }, "/r"),
    "mount proc on /proc",
  );
  assert.equal(
    describeStep({ op: "mkdir", path: "/w", mode: 0o755 }, "/r"),
    "create directory /w (mode 755) if missing",
  );
  assert.equal(describeStep({ op: "moveRoot" }, "/r"), "move /r onto / (MS_MOVE) and chroot into it");
  assert.equal(describeStep({ op: "chroot" }, "/r"), "chroot into /r (no mount namespace)");
  assert.equal(describeStep({ op: "setdomainname", name: "a b" }, "/r"), 'set domainname "a b"');
  assert.equal(
    describeStep({ op: "setUser", uid: 1000, gid: 100, additionalGids: [5, 10] }, "/r"),
    "set user 1000:100, additional groups [5, 10]",
  );
  assert.equal(
    describeStep({
      op: "mountCgroups",
      index: 6,
      target: "/sys/fs/cgroup",
      flags: K.MS_NOSUID,
      readonly: true,
      ns: false,
    }, "/r"),
    "mounts[6]: mount the cgroup hierarchies on /sys/fs/cgroup (nosuid,ro): a tmpfs with the container's cgroup bound from each host hierarchy",
  );
});

Deno.test("a plan survives a JSON round trip (what --format json prints)", () => {
  const spec = defaultSpec();
  spec.mounts!.push(
    { destination: "/data", type: "bind", source: "data", options: ["rbind", "ro", "rshared"] },
    { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "ro"] },
  );
  spec.linux!.devices = [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o600 }];
  spec.linux!.rootfsPropagation = "shared";
  spec.process!.cwd = "/work";
  spec.process!.user = { uid: 1, gid: 2, additionalGids: [3], umask: 0o077 };
  const plan = buildPlan(spec, { rootfs: ROOTFS, bundle: "/bundle", hasKcore: false });
  const json = JSON.stringify(plan, null, 2);
  const back = JSON.parse(json) as Plan;
  assert.deepEqual(back, plan);
  assert.equal(formatPlan(back), formatPlan(plan));
  assert.equal(JSON.stringify(back, null, 2), json);
  // Only plain data: no undefined fields that JSON would silently drop.
  const undefinedFields = plan.stages.flatMap((s) =>
    s.steps.flatMap((step) =>
      Object.entries(step).filter(([, v]) => v === undefined).map(([k]) => `${step.op}.${k}`)
    )
  );
  assert.deepEqual(undefinedFields, []);
});
