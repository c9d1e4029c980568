import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AARCH64_CODE,
  CLONE_INTO_CGROUP,
  cloneChild,
  describeChildFailure,
  SPAWN3_OFFSET,
  supportsCloneIntoCgroup,
  trampolineBytes,
  unshareFlagNames,
  X86_64_CODE,
} from "../../ffi/trampoline.ts";
import { close, errno, libc, open, pipe2, writeAll } from "../../ffi/libc.ts";
import { EINTR, errnoByName, SyscallError } from "../../ffi/errno.ts";
import {
  ARCH,
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWTIME,
  CLONE_NEWUTS,
  O_CLOEXEC,
  O_RDONLY,
} from "../../ffi/constants.ts";
import { exitCodeOf } from "../../runtime/container/lifecycle.ts";
import { assembleTable, hex, type Table, tableRows } from "../fixtures/asm.ts";

const TABLE: Table = {
  source: new URL("../../ffi/trampoline.ts", import.meta.url),
  names: { x86_64: "X86_64_CODE", aarch64: "AARCH64_CODE" },
};
const notRoot = Deno.uid() !== 0;
if (notRoot) {
  console.log("trampoline_test: not root, so cloneChild is not run (clone(CLONE_NEW*) needs root)");
}

Deno.test("x86_64: trampolineBytes is the table, row after row, at the offsets the comments give", () => {
  const bytes = trampolineBytes("x86_64");
  assert.equal(bytes.length, X86_64_CODE.reduce((n, row) => n + row.length, 0));
  assert.deepEqual([...bytes], X86_64_CODE.flat());
  const rows = tableRows(TABLE, "x86_64");
  assert.equal(rows.length, X86_64_CODE.length);
  let offset = 0;
  rows.forEach((row, i) => {
    assert.equal(row.offset, offset, `row ${i} (${row.asm}) is at 0x${offset.toString(16)}`);
    assert.deepEqual(row.bytes, [...X86_64_CODE[i]]);
    offset += row.bytes.length;
  });
  assert.ok(bytes.length < 4096);
});

Deno.test("aarch64: trampolineBytes is the table as little-endian words", () => {
  const bytes = trampolineBytes("aarch64");
  assert.equal(bytes.length, AARCH64_CODE.length * 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  AARCH64_CODE.forEach((word, i) => assert.equal(view.getUint32(i * 4, true), word, `word ${i}`));
  assert.deepEqual([...bytes.subarray(0, 4)], [0xf3, 0x03, 0x00, 0xaa]); // mov x19, x0
  const rows = tableRows(TABLE, "aarch64");
  assert.equal(rows.length, AARCH64_CODE.length);
  rows.forEach((row, i) => assert.equal(row.offset, i * 4, `row ${i} (${row.asm})`));
});

Deno.test("trampolineBytes refuses other architectures", () => {
  assert.throws(() => trampolineBytes("riscv64"), /no clone trampoline for riscv64/);
});

Deno.test("the syscall numbers in both tables are the architecture's", () => {
  // x86_64: `mov eax,imm32` before each syscall; aarch64: `mov x8, #imm`.
  const x86: Record<string, number> = {};
  for (const row of tableRows(TABLE, "x86_64")) {
    const m = /^mov eax,0x([0-9a-f]+)$/.exec(row.asm);
    if (m) x86[parseInt(m[1], 16)] = row.bytes[1] | (row.bytes[2] << 8);
  }
  assert.deepEqual(Object.keys(x86).map(Number).sort((a, b) => a - b), [1, 2, 3, 59, 231, 272, 308, 435]);
  for (const [n, imm] of Object.entries(x86)) assert.equal(imm, Number(n));
  const arm = tableRows(TABLE, "aarch64").flatMap((r) => {
    const m = /^mov x8, #(\d+)$/.exec(r.asm);
    return m ? [Number(m[1])] : [];
  });
  // close and write twice each: the timens_offsets file's, then the go fd's and the report's.
  assert.deepEqual(arm.sort((a, b) => a - b), [56, 57, 57, 63, 64, 64, 94, 97, 221, 268, 435]);
  // Each syscall's remark names it: SYS_unshare is 272 on x86_64 and 97 on aarch64.
  const remarks = (arch: "x86_64" | "aarch64") =>
    tableRows(TABLE, arch).filter((r) => r.remark.startsWith("SYS_")).map((r) => `${r.asm} ${r.remark}`);
  assert.ok(remarks("x86_64").includes("mov eax,0x110 SYS_unshare"));
  assert.ok(remarks("aarch64").includes("mov x8, #97 SYS_unshare"));
  // timens_offsets: open(2) on x86_64, openat(AT_FDCWD) on aarch64, which has no open.
  assert.ok(remarks("x86_64").includes("mov eax,0x2 SYS_open"));
  assert.ok(remarks("aarch64").includes("mov x8, #56 SYS_openat"));
  assert.ok(tableRows(TABLE, "aarch64").some((r) => r.asm === "mov x0, #-100" && r.remark === "AT_FDCWD"));
  // clone3 is 435 on both (the syscall numbers the architectures share since Linux 5.0).
  assert.ok(remarks("x86_64").includes("mov eax,0x1b3 SYS_clone3"));
  assert.ok(remarks("aarch64").includes("mov x8, #435 SYS_clone3"));
  // setns agrees with ffi/constants.ts for the machine the tests run on.
  assert.equal(ARCH.SYS_setns, Deno.build.arch === "x86_64" ? 308 : 268);
});

for (const arch of ["x86_64", "aarch64"] as const) {
  const bytes = arch === "aarch64" || Deno.build.arch === "x86_64" ? assembleTable(TABLE, arch) : null;
  if (bytes === null) {
    console.log(`trampoline_test: no GNU as for ${arch} here, so its table is not assembled`);
  }
  Deno.test({
    name: `${arch}: the assembly in the comments assembles (GNU as) to exactly the table's bytes`,
    ignore: bytes === null,
    fn() {
      assert.equal(hex(bytes!), hex(trampolineBytes(arch)));
    },
  });
}

Deno.test("spawn3 starts at SPAWN3_OFFSET, right after the trampoline's exit_group, and jumps to 0", () => {
  for (const arch of ["x86_64", "aarch64"] as const) {
    const rows = tableRows(TABLE, arch);
    const at = rows.findIndex((r) => r.offset === SPAWN3_OFFSET[arch]);
    assert.ok(at > 0, `${arch}: no row at 0x${SPAWN3_OFFSET[arch].toString(16)}`);
    assert.match(rows[at].remark, /^spawn3/, arch);
    assert.equal(rows.filter((r) => r.remark.startsWith("spawn3")).length, 1);
    // The trampoline's last instruction, exit_group, comes just before: it never falls through.
    assert.match(`${rows[at - 2].asm} ${rows[at - 2].remark}`, /SYS_exit_group$/);
    assert.match(rows[at - 1].asm, /^(syscall|svc #0)$/);
    const spawn3 = rows.slice(at).map((r) => r.asm);
    // clone3(args, 88); the child (0) moves the args pointer to the first argument and jumps
    // to the trampoline's entry; the parent returns the result.
    assert.ok(spawn3.includes(arch === "x86_64" ? "mov esi,0x58" : "mov x1, #88"));
    assert.ok(spawn3.includes(arch === "x86_64" ? "jmp 0x0" : "b 0x0"));
    assert.equal(spawn3.at(-1), "ret");
    assert.equal(trampolineBytes(arch).length, rows.at(-1)!.offset + rows.at(-1)!.bytes.length);
  }
  assert.equal(CLONE_INTO_CGROUP, 1n << 33n);
});

Deno.test("supportsCloneIntoCgroup: yes on Linux 5.7 and later", () => {
  const [major, minor] = Deno.osRelease().split(".").map((n) => parseInt(n, 10));
  const expected = major > 5 || (major === 5 && minor >= 7);
  assert.equal(supportsCloneIntoCgroup(), expected);
  assert.equal(supportsCloneIntoCgroup(), expected); // asked once, then remembered
});

Deno.test("cloneChild refuses a cgroupFd that is not a file descriptor", () => {
  for (const cgroupFd of [-1, 1.5, NaN]) {
    assert.throws(
      () =>
        cloneChild({
          flags: 0,
          nsFds: [],
          goRead: -1,
          goWrite: -1,
          errWrite: -1,
          path: "/bin/true",
          argv: ["true"],
          env: [],
          cgroupFd,
        }),
      RangeError,
    );
  }
});

// ---- the failure report ----

function report(stage: number, index: number, err: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setInt32(0, stage, true);
  v.setInt32(4, index, true);
  v.setInt32(8, err, true);
  return b;
}

Deno.test("describeChildFailure decodes each stage", () => {
  const names = ["user /proc/1/ns/user", "net /run/netns/x"];
  assert.equal(
    describeChildFailure(report(1, 1, errnoByName("EBADF")), names, "/x"),
    "clone child: setns(net /run/netns/x): EBADF",
  );
  assert.equal(describeChildFailure(report(1, 7, 22), names, "/x"), "clone child: setns(#7): EINVAL");
  assert.equal(
    describeChildFailure(report(2, 2, 0), names, "/x"),
    "clone child: waiting for the parent's go byte: parent went away",
  );
  assert.equal(
    describeChildFailure(report(3, 2, 2), names, "/nope"),
    'clone child: execve("/nope"): ENOENT',
  );
  assert.equal(describeChildFailure(report(3, 0, 4095), [], "/x"), 'clone child: execve("/x"): errno 4095');
  // Stage 4: unshare after the go byte, with the flags when the caller passes them.
  assert.equal(
    describeChildFailure(report(4, 0, errnoByName("EINVAL")), [], "/x", CLONE_NEWCGROUP),
    "clone child: unshare(CLONE_NEWCGROUP): EINVAL",
  );
  assert.equal(
    describeChildFailure(report(4, 2, errnoByName("EPERM")), names, "/x", CLONE_NEWCGROUP | CLONE_NEWNET),
    "clone child: unshare(CLONE_NEWCGROUP|CLONE_NEWNET): EPERM",
  );
  assert.equal(describeChildFailure(report(4, 0, 22), [], "/x", 0x1), "clone child: unshare(0x1): EINVAL");
  assert.equal(describeChildFailure(report(4, 0, 12), [], "/x"), "clone child: unshare: ENOMEM");
  // Stage 5: the open or the write of the time namespace's offsets.
  assert.equal(
    describeChildFailure(report(5, 0, errnoByName("EINVAL")), [], "/x", CLONE_NEWTIME),
    "clone child: write /proc/self/timens_offsets: EINVAL",
  );
  assert.equal(
    describeChildFailure(report(5, 1, errnoByName("EACCES")), names, "/x"),
    "clone child: write /proc/self/timens_offsets: EACCES",
  );
  assert.equal(describeChildFailure(report(9, 0, 22), [], "/x"), "clone child: stage 9: EINVAL");
  // A report inside a larger buffer.
  const big = new Uint8Array(20);
  big.set(report(3, 0, 13), 4);
  assert.equal(describeChildFailure(big.subarray(4, 16), [], "/y"), 'clone child: execve("/y"): EACCES');
});

Deno.test("unshareFlagNames names the namespace bits and gives the rest in hex", () => {
  assert.equal(unshareFlagNames(CLONE_NEWCGROUP), "CLONE_NEWCGROUP");
  assert.equal(unshareFlagNames(CLONE_NEWNET | CLONE_NEWCGROUP), "CLONE_NEWCGROUP|CLONE_NEWNET");
  assert.equal(unshareFlagNames(CLONE_NEWCGROUP | 0x1), "CLONE_NEWCGROUP|0x1");
  assert.equal(unshareFlagNames(0x1), "0x1");
  assert.equal(unshareFlagNames(0), "0x0");
});

// ---- the trampoline, run (root) ----

interface ChildResult {
  /** The 12-byte failure report, or null where the child exec'd (EOF on the error pipe). */
  report: Uint8Array | null;
  exitCode: number;
}

/** Clones a child as runtime/container/lifecycle.ts does, lets it go (or not), and reaps it. */
function runChild(opts: {
  flags: number;
  nsFds?: number[];
  path: string;
  argv: string[];
  unshareAfterGo?: number;
  timeOffsets?: string;
  /** A cgroup v2 directory fd: clone3(CLONE_INTO_CGROUP) through spawn3. */
  cgroupFd?: number;
  /** Runs after clone and before the go byte, as the parent's uid maps and cgroup do. */
  beforeGo?: (pid: number) => void;
  sendGo?: boolean;
}): ChildResult {
  const [goRead, goWrite] = pipe2(O_CLOEXEC);
  const [errRead, errWrite] = pipe2(O_CLOEXEC);
  const open = new Set([goRead, goWrite, errRead, errWrite]);
  const closeOnce = (fd: number) => {
    if (open.delete(fd)) close(fd);
  };
  try {
    const pid = cloneChild({
      flags: opts.flags,
      nsFds: opts.nsFds ?? [],
      goRead,
      goWrite,
      errWrite,
      path: opts.path,
      argv: opts.argv,
      env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
      unshareAfterGo: opts.unshareAfterGo,
      cgroupFd: opts.cgroupFd,
      timeOffsets: opts.timeOffsets,
    });
    closeOnce(goRead);
    closeOnce(errWrite);
    opts.beforeGo?.(pid);
    if (opts.sendGo ?? true) writeAll(goWrite, new Uint8Array([1]));
    closeOnce(goWrite);
    const buf = new Uint8Array(12);
    let got = 0;
    for (;;) {
      const n = Number(libc.read(errRead, buf.subarray(got), BigInt(12 - got)));
      if (n < 0 && errno() === EINTR) continue;
      assert.ok(n >= 0, `read of the error pipe failed: errno ${errno()}`);
      if (n === 0) break;
      got += n;
      if (got === 12) break;
    }
    assert.ok(got === 0 || got === 12, `a short failure report: ${got} bytes`);
    const status = new Int32Array(1);
    for (;;) {
      const r = libc.waitpid(pid, status, 0);
      if (r === pid) break;
      assert.ok(r === -1 && errno() === EINTR, `waitpid(${pid}) failed: errno ${errno()}`);
    }
    return { report: got === 12 ? buf : null, exitCode: exitCodeOf(status[0]) };
  } finally {
    for (const fd of open) close(fd);
  }
}

Deno.test({
  name: "cloneChild (root): new pid, uts and mount namespaces; the child execs as PID 1",
  ignore: notRoot,
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "druntime-clone-" });
    try {
      const file = join(dir, "pid");
      const r = runChild({
        flags: CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWNS,
        path: "/bin/sh",
        argv: ["sh", "-c", `echo $$ > ${file}`],
      });
      assert.equal(r.report, null);
      assert.equal(r.exitCode, 0);
      assert.equal(Deno.readTextFileSync(file), "1\n");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cloneChild (root): exec of a missing path reports execve ENOENT and exits 127",
  ignore: notRoot,
  fn() {
    const r = runChild({ flags: CLONE_NEWPID, path: "/nope", argv: ["nope"] });
    assert.ok(r.report);
    assert.equal(describeChildFailure(r.report, [], "/nope"), 'clone child: execve("/nope"): ENOENT');
    assert.equal(r.exitCode, 127);
  },
});

Deno.test({
  name: "cloneChild (root): a bad namespace fd reports setns EBADF with its index",
  ignore: notRoot,
  fn() {
    const r = runChild({ flags: 0, nsFds: [9999], path: "/bin/true", argv: ["true"] });
    assert.ok(r.report);
    assert.equal(
      describeChildFailure(r.report, ["net 9999"], "/bin/true"),
      "clone child: setns(net 9999): EBADF",
    );
    assert.equal(r.exitCode, 127);

    // A good fd first (our own uts namespace), then the bad one: the report names the second.
    const uts = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
    try {
      const r2 = runChild({ flags: 0, nsFds: [uts, 9999], path: "/bin/true", argv: ["true"] });
      assert.ok(r2.report);
      assert.equal(
        describeChildFailure(r2.report, ["uts self", "ipc 9999"], "/bin/true"),
        "clone child: setns(ipc 9999): EBADF",
      );
      // Both good: the child joins and execs.
      const r3 = runChild({ flags: 0, nsFds: [uts], path: "/bin/true", argv: ["true"] });
      assert.equal(r3.report, null);
      assert.equal(r3.exitCode, 0);
    } finally {
      close(uts);
    }
  },
});

Deno.test({
  name: "cloneChild (root): the parent closing goWrite without a byte reads as 'parent went away'",
  ignore: notRoot,
  fn() {
    const r = runChild({ flags: CLONE_NEWPID, path: "/bin/true", argv: ["true"], sendGo: false });
    assert.ok(r.report);
    assert.equal(
      describeChildFailure(r.report, [], "/bin/true"),
      "clone child: waiting for the parent's go byte: parent went away",
    );
    assert.equal(r.exitCode, 127);
  },
});

/** Runs `sh -c script` in a clone child; returns what it wrote to $OUT (a file). */
function runScript(
  script: string,
  opts: Omit<Parameters<typeof runChild>[0], "path" | "argv"> = { flags: 0 },
) {
  const dir = Deno.makeTempDirSync({ prefix: "druntime-clone-" });
  try {
    const out = join(dir, "out");
    const r = runChild({ ...opts, path: "/bin/sh", argv: ["sh", "-c", `OUT=${out}; ${script}`] });
    assert.equal(
      r.report,
      null,
      r.report ? describeChildFailure(r.report, [], "/bin/sh", opts.unshareAfterGo) : "",
    );
    assert.equal(r.exitCode, 0);
    return Deno.readTextFileSync(out);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test({
  name: "cloneChild (root): unshareAfterGo = CLONE_NEWCGROUP execs the child in a new cgroup namespace",
  ignore: notRoot,
  fn() {
    const own = Deno.readLinkSync("/proc/self/ns/cgroup");
    const nsOf = (unshareAfterGo?: number) =>
      runScript("readlink /proc/self/ns/cgroup > $OUT", { flags: CLONE_NEWPID, unshareAfterGo }).trim();
    assert.equal(nsOf(), own);
    assert.equal(nsOf(0), own);
    const fresh = nsOf(CLONE_NEWCGROUP);
    assert.match(fresh, /^cgroup:\[\d+\]$/);
    assert.notEqual(fresh, own);
  },
});

/** A cgroup hierarchy to move a child in: cgroup v2's, or v1's pids; null where neither is. */
function testHierarchy(): { dir: string; line: RegExp } | null {
  try {
    Deno.statSync("/sys/fs/cgroup/cgroup.controllers");
    return { dir: "/sys/fs/cgroup", line: /^0::(.*)$/m };
  } catch { /* not cgroup v2 at /sys/fs/cgroup */ }
  try {
    Deno.statSync("/sys/fs/cgroup/pids/cgroup.procs");
    return { dir: "/sys/fs/cgroup/pids", line: /^\d+:pids:(.*)$/m };
  } catch {
    return null;
  }
}

const hierarchy = notRoot ? null : testHierarchy();
Deno.test({
  name:
    "cloneChild (root): the cgroup namespace made after go has the cgroup the parent put the child in as root",
  ignore: hierarchy === null,
  fn() {
    const { dir, line } = hierarchy!;
    // Under druntime's own parent at the root of the hierarchy, never under the caller's cgroup.
    const name = `druntime/trampoline-test-${Deno.pid}`;
    const cgroup = join(dir, name);
    Deno.mkdirSync(cgroup, { recursive: true });
    try {
      const cgroupOf = (unshareAfterGo: number) => {
        const text = runScript("cat /proc/self/cgroup > $OUT", {
          flags: CLONE_NEWPID,
          unshareAfterGo,
          beforeGo: (pid) => Deno.writeTextFileSync(join(cgroup, "cgroup.procs"), `${pid}\n`),
        });
        const m = line.exec(text);
        assert.ok(m, `no ${line} in the child's /proc/self/cgroup:\n${text}`);
        return m[1];
      };
      assert.equal(cgroupOf(0), `/${name}`);
      assert.equal(cgroupOf(CLONE_NEWCGROUP), "/");
    } finally {
      Deno.removeSync(cgroup);
    }
  },
});

Deno.test({
  name: "cloneChild (root): an invalid unshareAfterGo reports unshare EINVAL (stage 4) and exits 127",
  ignore: notRoot,
  fn() {
    const r = runChild({ flags: CLONE_NEWPID, path: "/bin/true", argv: ["true"], unshareAfterGo: 0x1 });
    assert.ok(r.report);
    const v = new DataView(r.report.buffer);
    assert.equal(v.getInt32(0, true), 4);
    assert.equal(v.getInt32(8, true), errnoByName("EINVAL"));
    assert.equal(describeChildFailure(r.report, [], "/bin/true", 0x1), "clone child: unshare(0x1): EINVAL");
    assert.equal(r.exitCode, 127);

    // After a setns the index is the number of namespace fds, as for stages 2 and 3.
    const uts = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
    try {
      const r2 = runChild({ flags: 0, nsFds: [uts], path: "/bin/true", argv: ["true"], unshareAfterGo: 0x1 });
      assert.ok(r2.report);
      assert.deepEqual([...new Int32Array(r2.report.buffer)], [4, 1, errnoByName("EINVAL")]);
    } finally {
      close(uts);
    }

    // No go byte: the child never gets to unshare.
    const r3 = runChild({
      flags: CLONE_NEWPID,
      path: "/bin/true",
      argv: ["true"],
      unshareAfterGo: 0x1,
      sendGo: false,
    });
    assert.ok(r3.report);
    assert.equal(
      describeChildFailure(r3.report, [], "/bin/true", 0x1),
      "clone child: waiting for the parent's go byte: parent went away",
    );
  },
});

/** The time namespace test: runs where the kernel has time namespaces (Linux 5.6, CONFIG_TIME_NS). */
const timens = !notRoot && (() => {
  try {
    Deno.statSync("/proc/self/ns/time");
    return true;
  } catch {
    return false;
  }
})();
if (!notRoot && !timens) console.log("trampoline_test: no time namespaces here, so timeOffsets is not run");

/** The first field of a /proc/uptime text: seconds since boot. */
function uptimeOf(text: string): number {
  const m = /^(\d+\.\d+) /.exec(text);
  assert.ok(m, `not an uptime: ${text}`);
  return Number(m[1]);
}

Deno.test({
  name:
    "cloneChild (root): unshareAfterGo CLONE_NEWTIME with timeOffsets execs the child in a shifted time ns",
  ignore: !timens,
  fn() {
    const own = Deno.readLinkSync("/proc/self/ns/time");
    const timeOffsets = "monotonic 86400 0\nboottime 172800 0\n";
    const script =
      "cat /proc/uptime > $OUT; readlink /proc/self/ns/time >> $OUT; cat /proc/self/timens_offsets >> $OUT";
    const before = uptimeOf(Deno.readTextFileSync("/proc/uptime"));
    const text = runScript(script, { flags: CLONE_NEWPID, unshareAfterGo: CLONE_NEWTIME, timeOffsets });
    const after = uptimeOf(Deno.readTextFileSync("/proc/uptime"));
    const [uptime, ns, ...offsets] = text.trim().split("\n");
    // /proc/uptime counts CLOCK_BOOTTIME, which the boottime offset shifts.
    const shifted = uptimeOf(uptime) - 172800;
    assert.ok(shifted >= before - 1 && shifted <= after + 1, `uptime ${uptime}, host ${before} to ${after}`);
    assert.match(ns, /^time:\[\d+\]$/);
    assert.notEqual(ns, own);
    // The child's time namespace (also its children's) has the offsets written.
    assert.match(offsets.join("\n"), /^monotonic\s+86400\s+0\nboottime\s+172800\s+0$/);

    // Through spawn3 (clone3) as well: the same args block.
    if (cgroup2 !== null) {
      withTestCgroup((fd) => {
        const t = runScript(script, {
          flags: CLONE_NEWPID,
          cgroupFd: fd,
          unshareAfterGo: CLONE_NEWTIME,
          timeOffsets,
        });
        assert.ok(uptimeOf(t) - 172800 < uptimeOf(Deno.readTextFileSync("/proc/uptime")) + 1, t);
        assert.ok(uptimeOf(t) > 172800, t);
        assert.notEqual(t.split("\n")[1], own);
      });
    }

    // CLONE_NEWTIME without offsets: a new time namespace, the host's clocks.
    const plain = runScript(script, { flags: CLONE_NEWPID, unshareAfterGo: CLONE_NEWTIME });
    assert.ok(uptimeOf(plain) < uptimeOf(Deno.readTextFileSync("/proc/uptime")) + 1, plain);
    assert.notEqual(plain.split("\n")[1], own);
    // Empty offsets are none.
    const empty = runScript("cat /proc/uptime > $OUT", {
      flags: CLONE_NEWPID,
      unshareAfterGo: CLONE_NEWTIME,
      timeOffsets: "",
    });
    assert.ok(uptimeOf(empty) < uptimeOf(Deno.readTextFileSync("/proc/uptime")) + 1, empty);
    // Without either: the caller's time namespace.
    assert.equal(runScript(script, { flags: CLONE_NEWPID }).split("\n")[1], own);
  },
});

Deno.test({
  name: "cloneChild (root): timeOffsets the kernel refuses report stage 5 and exit 127",
  ignore: !timens,
  fn() {
    const run = (timeOffsets: string, unshareAfterGo = CLONE_NEWTIME) =>
      runChild({ flags: CLONE_NEWPID, path: "/bin/true", argv: ["true"], unshareAfterGo, timeOffsets });
    // Not a clock: the write fails with EINVAL.
    const r = run("nonsense 1 0\n");
    assert.ok(r.report);
    assert.deepEqual([...new Int32Array(r.report.buffer)], [5, 0, errnoByName("EINVAL")]);
    assert.equal(
      describeChildFailure(r.report, [], "/bin/true", CLONE_NEWTIME),
      "clone child: write /proc/self/timens_offsets: EINVAL",
    );
    assert.equal(r.exitCode, 127);
    // Without CLONE_NEWTIME the offsets would be the caller's own time namespace's, which a
    // process is in already: the kernel refuses them (EACCES).
    const r2 = run("monotonic 1 0\n", 0);
    assert.ok(r2.report);
    assert.equal(
      describeChildFailure(r2.report, [], "/bin/true"),
      "clone child: write /proc/self/timens_offsets: EACCES",
    );
    assert.equal(r2.exitCode, 127);
    // A NUL byte would end the text early: cloneChild refuses it before it clones.
    assert.throws(() => run("monotonic 1 0\n\0"), /NUL byte/);
  },
});

Deno.test({
  name: "cloneChild (root): 200 cycles of clone(NEWPID|NEWNS|NEWUTS|NEWIPC|NEWNET) + exec, no failure",
  ignore: notRoot,
  fn() {
    const flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
    const failures: string[] = [];
    const start = performance.now();
    for (let i = 0; i < 200; i++) {
      const r = runChild({ flags, path: "/bin/true", argv: ["true"] });
      if (r.report) failures.push(`#${i}: ${describeChildFailure(r.report, [], "/bin/true")}`);
      else if (r.exitCode !== 0) failures.push(`#${i}: exit code ${r.exitCode}`);
    }
    const ms = performance.now() - start;
    console.log(`  200 cycles in ${ms.toFixed(0)} ms (${(ms / 200).toFixed(2)} ms each)`);
    assert.deepEqual(failures, []);
  },
});

// ---- clone3(CLONE_INTO_CGROUP) through spawn3 (root, cgroup v2) ----

/** Where the cgroup v2 hierarchy is mounted (/proc/self/mountinfo), or null. */
function cgroup2Mount(): string | null {
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const [before, after] = line.split(" - ");
    if (after?.split(" ")[0] === "cgroup2") return before.split(" ")[4];
  }
  return null;
}

const cgroup2 = notRoot ? null : cgroup2Mount();
if (!notRoot && cgroup2 === null) console.log("trampoline_test: no cgroup2 mount, so spawn3 is not run");

/** Runs fn with a fresh cgroup <cgroup2>/druntime/test-<random> and an fd of it; removes both. */
function withTestCgroup(fn: (fd: number, name: string, dir: string) => void): void {
  const name = `/druntime/test-${crypto.randomUUID().slice(0, 8)}`;
  const dir = join(cgroup2!, name);
  Deno.mkdirSync(join(cgroup2!, "druntime"), { recursive: true });
  Deno.mkdirSync(dir);
  try {
    const fd = open(dir, O_RDONLY | ARCH.O_DIRECTORY | O_CLOEXEC);
    try {
      fn(fd, name, dir);
    } finally {
      close(fd);
    }
  } finally {
    Deno.removeSync(dir);
  }
}

/** The "0::" line of a /proc/<pid>/cgroup text. */
function v2Line(text: string): string {
  const m = /^0::(.*)$/m.exec(text);
  assert.ok(m, `no 0:: line in:\n${text}`);
  return m[1];
}

Deno.test({
  name: "cloneChild (root): cgroupFd creates the child in that cgroup (clone3 CLONE_INTO_CGROUP)",
  ignore: cgroup2 === null,
  fn() {
    withTestCgroup((fd, name, dir) => {
      const inCgroup = (pid: number) => {
        // Already in the cgroup before the go byte: nobody wrote cgroup.procs.
        assert.equal(Deno.readTextFileSync(join(dir, "cgroup.procs")), `${pid}\n`);
        assert.equal(v2Line(Deno.readTextFileSync(`/proc/${pid}/cgroup`)), name);
      };
      const text = runScript("echo $$ > $OUT; cat /proc/self/cgroup >> $OUT", {
        flags: CLONE_NEWPID,
        cgroupFd: fd,
        beforeGo: inCgroup,
      });
      assert.equal(text.split("\n")[0], "1"); // CLONE_NEWPID went into clone_args.flags
      assert.equal(v2Line(text), name);

      // A cgroup namespace made after the go byte has that cgroup as its root.
      const ns = runScript("cat /proc/self/cgroup > $OUT", {
        flags: CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS,
        cgroupFd: fd,
        unshareAfterGo: CLONE_NEWCGROUP,
      });
      assert.equal(v2Line(ns), "/");

      // The trampoline's failure reports come through spawn3 as through clone().
      const r = runChild({ flags: CLONE_NEWPID, cgroupFd: fd, path: "/nope", argv: ["nope"] });
      assert.ok(r.report);
      assert.equal(describeChildFailure(r.report, [], "/nope"), 'clone child: execve("/nope"): ENOENT');
      assert.equal(r.exitCode, 127);

      // Without cgroupFd (libc clone) the child stays in its parent's cgroup.
      const own = v2Line(Deno.readTextFileSync("/proc/self/cgroup"));
      assert.equal(v2Line(runScript("cat /proc/self/cgroup > $OUT", { flags: CLONE_NEWPID })), own);
      assert.equal(Deno.readTextFileSync(join(dir, "cgroup.procs")), "");
    });
  },
});

Deno.test({
  name: "cloneChild (root): a bad cgroupFd fails with a SyscallError naming clone3 and EBADF",
  ignore: notRoot, // CLONE_NEWPID; no cgroup is made
  fn() {
    const [goRead, goWrite] = pipe2(O_CLOEXEC);
    const [errRead, errWrite] = pipe2(O_CLOEXEC);
    try {
      const spec = {
        flags: CLONE_NEWPID,
        nsFds: [],
        goRead,
        goWrite,
        errWrite,
        path: "/bin/true",
        argv: ["true"],
        env: [],
      };
      assert.throws(() => cloneChild({ ...spec, cgroupFd: 9999 }), (e: unknown) => {
        assert.ok(e instanceof SyscallError);
        assert.equal(e.call, "clone3");
        assert.equal(e.code, "EBADF");
        assert.equal(
          e.message,
          'clone3("CLONE_NEWPID|CLONE_INTO_CGROUP", "cgroup fd 9999"): EBADF (Bad file descriptor)',
        );
        return true;
      });
      // A directory that is not a cgroup v2 one: the kernel says EBADF as well.
      const tmp = open("/tmp", O_RDONLY | ARCH.O_DIRECTORY | O_CLOEXEC);
      try {
        assert.throws(() => cloneChild({ ...spec, flags: 0, cgroupFd: tmp }), (e: unknown) => {
          assert.ok(e instanceof SyscallError);
          assert.equal(e.call, "clone3");
          assert.equal(
            e.message,
            `clone3("CLONE_INTO_CGROUP", "cgroup fd ${tmp}"): EBADF (Bad file descriptor)`,
          );
          return true;
        });
      } finally {
        close(tmp);
      }
    } finally {
      for (const fd of [goRead, goWrite, errRead, errWrite]) close(fd);
    }
  },
});

Deno.test({
  name: "cloneChild (root): 100 cycles each of clone + cgroup.procs and of clone3 into the cgroup",
  ignore: cgroup2 === null,
  fn() {
    withTestCgroup((fd, _name, dir) => {
      const cycles = (into: boolean) => {
        const failures: string[] = [];
        const start = performance.now();
        for (let i = 0; i < 100; i++) {
          const r = runChild({
            flags: CLONE_NEWPID | CLONE_NEWNS,
            path: "/bin/true",
            argv: ["true"],
            cgroupFd: into ? fd : undefined,
            beforeGo: into
              ? undefined
              : (pid) => Deno.writeTextFileSync(join(dir, "cgroup.procs"), `${pid}\n`),
          });
          if (r.report) failures.push(`#${i}: ${describeChildFailure(r.report, [], "/bin/true")}`);
          else if (r.exitCode !== 0) failures.push(`#${i}: exit code ${r.exitCode}`);
        }
        assert.deepEqual(failures, []);
        return (performance.now() - start) / 100;
      };
      const write = cycles(false), into = cycles(true);
      console.log(
        `  clone + cgroup.procs ${write.toFixed(2)} ms, clone3 CLONE_INTO_CGROUP ${into.toFixed(2)} ms`,
      );
    });
  },
});
