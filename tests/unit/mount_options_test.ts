import assert from "node:assert/strict";
import {
  MS_BIND,
  MS_DIRSYNC,
  MS_LAZYTIME,
  MS_MANDLOCK,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_NOSYMFOLLOW,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_REMOUNT,
  MS_SHARED,
  MS_SILENT,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE,
} from "../../ffi/constants.ts";
import {
  describeUnknownMountOption,
  parseMountOptions,
  parsePropagation,
} from "../../runtime/spec/mount_options.ts";

Deno.test("parseMountOptions: no options asks for nothing", () => {
  assert.deepEqual(parseMountOptions([]), {
    flags: 0,
    clearFlags: 0,
    propagation: [],
    data: [],
    recursiveBind: false,
    bind: false,
    copyUp: false,
    unknown: [],
  });
});

Deno.test("parseMountOptions: each flag that sets", () => {
  const cases: [string, number][] = [
    ["ro", MS_RDONLY],
    ["nosuid", MS_NOSUID],
    ["nodev", MS_NODEV],
    ["noexec", MS_NOEXEC],
    ["sync", MS_SYNCHRONOUS],
    ["dirsync", MS_DIRSYNC],
    ["remount", MS_REMOUNT],
    ["mand", MS_MANDLOCK],
    ["noatime", MS_NOATIME],
    ["nodiratime", MS_NODIRATIME],
    ["relatime", MS_RELATIME],
    ["strictatime", MS_STRICTATIME],
    ["lazytime", MS_LAZYTIME],
    ["nosymfollow", MS_NOSYMFOLLOW],
    ["silent", MS_SILENT],
  ];
  for (const [option, flag] of cases) {
    const parsed = parseMountOptions([option]);
    assert.equal(parsed.flags, flag, option);
    assert.equal(parsed.clearFlags, 0, option);
    assert.deepEqual(parsed.unknown, [], option);
    assert.deepEqual(parsed.data, [], option);
  }
});

Deno.test("parseMountOptions: each flag that clears", () => {
  const cases: [string, number][] = [
    ["rw", MS_RDONLY],
    ["defaults", MS_RDONLY],
    ["suid", MS_NOSUID],
    ["dev", MS_NODEV],
    ["exec", MS_NOEXEC],
    ["async", MS_SYNCHRONOUS],
    ["nomand", MS_MANDLOCK],
    ["atime", MS_NOATIME],
    ["diratime", MS_NODIRATIME],
    ["norelatime", MS_RELATIME],
    ["nostrictatime", MS_STRICTATIME],
    ["nolazytime", MS_LAZYTIME],
    ["symfollow", MS_NOSYMFOLLOW],
    ["loud", MS_SILENT],
  ];
  for (const [option, flag] of cases) {
    const parsed = parseMountOptions([option]);
    assert.equal(parsed.flags, 0, option);
    assert.equal(parsed.clearFlags, flag, option);
    assert.deepEqual(parsed.unknown, [], option);
  }
});

Deno.test("parseMountOptions: the last of two opposite options wins", () => {
  assert.equal(parseMountOptions(["ro", "rw"]).flags, 0);
  assert.equal(parseMountOptions(["ro", "rw"]).clearFlags, MS_RDONLY);
  assert.equal(parseMountOptions(["rw", "ro"]).flags, MS_RDONLY);
  assert.equal(parseMountOptions(["rw", "ro"]).clearFlags, 0);
  assert.equal(parseMountOptions(["defaults", "ro"]).flags, MS_RDONLY);
  assert.equal(parseMountOptions(["exec", "noexec"]).flags, MS_NOEXEC);
});

Deno.test("parseMountOptions: flags combine", () => {
  const parsed = parseMountOptions(["nosuid", "noexec", "nodev", "relatime", "ro"]);
  assert.equal(parsed.flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY);
  assert.equal(parsed.clearFlags, 0);
});

Deno.test("parseMountOptions: bind and rbind", () => {
  const bind = parseMountOptions(["bind"]);
  assert.equal(bind.flags, MS_BIND);
  assert.equal(bind.bind, true);
  assert.equal(bind.recursiveBind, false);

  const rbind = parseMountOptions(["rbind", "ro"]);
  assert.equal(rbind.flags, MS_BIND | MS_REC | MS_RDONLY);
  assert.equal(rbind.bind, true);
  assert.equal(rbind.recursiveBind, true);
});

Deno.test("parseMountOptions: propagation keeps its order and the r- forms add MS_REC", () => {
  const parsed = parseMountOptions([
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "unbindable",
    "runbindable",
  ]);
  assert.deepEqual(parsed.propagation, [
    MS_SHARED,
    MS_SHARED | MS_REC,
    MS_SLAVE,
    MS_SLAVE | MS_REC,
    MS_PRIVATE,
    MS_PRIVATE | MS_REC,
    MS_UNBINDABLE,
    MS_UNBINDABLE | MS_REC,
  ]);
  assert.equal(parsed.flags, 0);
  assert.deepEqual(parsed.unknown, []);
});

Deno.test("parseMountOptions: tmpcopyup and notmpcopyup", () => {
  assert.equal(parseMountOptions(["tmpcopyup"]).copyUp, true);
  assert.equal(parseMountOptions(["tmpcopyup", "notmpcopyup"]).copyUp, false);
  assert.deepEqual(parseMountOptions(["tmpcopyup"]).data, []);
});

Deno.test("parseMountOptions: key=value options go to data in order", () => {
  const parsed = parseMountOptions(["nosuid", "mode=755", "size=65536k", "nr_inodes=1k", "huge=within_size"]);
  assert.equal(parsed.flags, MS_NOSUID);
  assert.deepEqual(parsed.data, ["mode=755", "size=65536k", "nr_inodes=1k", "huge=within_size"]);
  assert.deepEqual(parsed.unknown, []);
});

Deno.test("parseMountOptions: runc's default /dev/pts options", () => {
  const parsed = parseMountOptions([
    "nosuid",
    "noexec",
    "newinstance",
    "ptmxmode=0666",
    "mode=0620",
    "gid=5",
  ]);
  assert.equal(parsed.flags, MS_NOSUID | MS_NOEXEC);
  assert.deepEqual(parsed.data, ["newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]);
  assert.deepEqual(parsed.unknown, []);
});

Deno.test("parseMountOptions: known bare filesystem options go to data", () => {
  const words = [
    "newinstance",
    "acl",
    "noacl",
    "user_xattr",
    "nouser_xattr",
    "inode64",
    "noswap",
    "userxattr",
    "nsdelegate",
    "memory",
    "cpu",
    "cpuacct",
  ];
  const parsed = parseMountOptions(words);
  assert.deepEqual(parsed.data, words);
  assert.deepEqual(parsed.unknown, []);
});

Deno.test("parseMountOptions: overlay options with paths are data", () => {
  const parsed = parseMountOptions(["lowerdir=/a:/b", "upperdir=/u", "workdir=/w"]);
  assert.deepEqual(parsed.data, ["lowerdir=/a:/b", "upperdir=/u", "workdir=/w"]);
});

Deno.test("parseMountOptions: unknown bare words are reported, not passed on", () => {
  const parsed = parseMountOptions(["nosuid", "foo", "rdonly", "", "=x"]);
  assert.deepEqual(parsed.unknown, ["foo", "rdonly", "", "=x"]);
  assert.deepEqual(parsed.data, []);
  assert.equal(parsed.flags, MS_NOSUID);
});

Deno.test("parseMountOptions: idmap, ridmap and recursive attributes are unsupported", () => {
  const parsed = parseMountOptions(["idmap", "ridmap", "idmap=uids=0-1000-10", "rro", "rnosuid"]);
  assert.deepEqual(parsed.unknown, ["idmap", "ridmap", "idmap=uids=0-1000-10", "rro", "rnosuid"]);
  assert.deepEqual(parsed.data, []);
});

Deno.test("describeUnknownMountOption: unknown and unsupported", () => {
  assert.equal(describeUnknownMountOption("foo"), 'unknown mount option "foo"');
  assert.equal(
    describeUnknownMountOption("idmap"),
    'unsupported mount option "idmap" (idmapped mounts need user namespaces, which are not supported yet)',
  );
  assert.equal(
    describeUnknownMountOption("idmap=uids=0-1000-10"),
    'unsupported mount option "idmap=uids=0-1000-10" (idmapped mounts need user namespaces, which are not supported yet)',
  );
  assert.equal(
    describeUnknownMountOption("rro"),
    'unsupported mount option "rro" (recursive mount attributes (mount_setattr) are not supported yet)',
  );
});

Deno.test("parsePropagation: every rootfsPropagation value", () => {
  assert.equal(parsePropagation("shared"), MS_SHARED);
  assert.equal(parsePropagation("slave"), MS_SLAVE);
  assert.equal(parsePropagation("private"), MS_PRIVATE);
  assert.equal(parsePropagation("unbindable"), MS_UNBINDABLE);
  assert.equal(parsePropagation("rshared"), MS_SHARED | MS_REC);
  assert.equal(parsePropagation("rslave"), MS_SLAVE | MS_REC);
  assert.equal(parsePropagation("rprivate"), MS_PRIVATE | MS_REC);
  assert.equal(parsePropagation("runbindable"), MS_UNBINDABLE | MS_REC);
  assert.equal(parsePropagation("bind"), undefined);
  assert.equal(parsePropagation(""), undefined);
});
