/**
 * The start waiter (ffi/waiter.ts): its tables match their assembly, the fds and the seccomp
 * filter's length and flags are patched where the comments say, the code finds the filter where
 * the ELF puts it, the ELF is well formed, and, on this machine, it really runs: with a listen
 * fd that is no socket its accept4 fails and it reports errno on the report fd and exits 127;
 * behind a real start socket it loads its filter last (the filter binds the container's process,
 * not the waiter), and reports a filter the kernel refuses with SECCOMP_FAILED_MARKER.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AARCH64_WAITER,
  EXEC_FAILED_MARKER,
  hostWaiterElf,
  MAX_FILTER_INSTRUCTIONS,
  SECCOMP_FAILED_MARKER,
  waiterCode,
  waiterElf,
  type WaiterFilter,
  X86_64_WAITER,
} from "../../ffi/waiter.ts";
import { errnoByName } from "../../ffi/errno.ts";
import {
  type Arch,
  assemble,
  assemblySource,
  hasTool,
  hex,
  type Row,
  type Table,
  tableRows,
} from "../fixtures/asm.ts";

const TABLE: Table = {
  source: new URL("../../ffi/waiter.ts", import.meta.url),
  names: { x86_64: "X86_64_WAITER", aarch64: "AARCH64_WAITER" },
};
const ARCHES = ["x86_64", "aarch64"] as const;
const HEADERS = 120; // ELF header + one program header

/** Where the filter goes, counted from the code's start: the code's length rounded up to 8. */
function filterOffset(arch: Arch): number {
  return (waiterCode(arch, 0, 0).length + 7) & ~7;
}

// ---------------------------------------------------------------------------------------------
// Classic BPF, as much as the tests need (linux/filter.h, linux/seccomp.h).

const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_RET_K = 0x06;
const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
/** offsetof(struct seccomp_data, nr) and (, arch). */
const DATA_NR = 0, DATA_ARCH = 4;
const AUDIT_ARCH: Record<Arch, number> = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };
/** mkdir and mkdirat; aarch64 has only mkdirat. */
const MKDIR_NRS: Record<Arch, number[]> = { x86_64: [83, 258], aarch64: [34] };
const EXECVE_NR: Record<Arch, number> = { x86_64: 59, aarch64: 221 };

type Insn = [code: number, jt: number, jf: number, k: number];

/** struct sock_filter[] (u16 code, u8 jt, u8 jf, u32 k), little-endian like both machines. */
function program(insns: Insn[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(insns.length * 8);
  const v = new DataView(out.buffer);
  insns.forEach(([code, jt, jf, k], i) => {
    v.setUint16(i * 8, code, true);
    v.setUint8(i * 8 + 2, jt);
    v.setUint8(i * 8 + 3, jf);
    v.setUint32(i * 8 + 4, k >>> 0, true);
  });
  return out;
}

/** Kills on a foreign arch, fails the given syscalls with errno, allows the rest. */
function denyFilter(arch: Arch, nrs: number[], errno: number): Uint8Array<ArrayBuffer> {
  return program([
    [BPF_LD_W_ABS, 0, 0, DATA_ARCH],
    [BPF_JMP_JEQ_K, 1, 0, AUDIT_ARCH[arch]],
    [BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS],
    [BPF_LD_W_ABS, 0, 0, DATA_NR],
    // Each match jumps past the rest and the allow, to the errno return.
    ...nrs.map((nr, i): Insn => [BPF_JMP_JEQ_K, nrs.length - i, 0, nr]),
    [BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW],
    [BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno],
  ]);
}

// ---------------------------------------------------------------------------------------------
// The tables

Deno.test("waiter: the x86_64 table's rows sit at the offsets their comments give", () => {
  const rows = tableRows(TABLE, "x86_64");
  assert.equal(rows.length, X86_64_WAITER.length);
  let offset = 0;
  rows.forEach((row, i) => {
    assert.equal(row.offset, offset, `row ${i} (${row.asm})`);
    assert.deepEqual(row.bytes, [...X86_64_WAITER[i]]);
    offset += row.bytes.length;
  });
});

Deno.test("waiter: the aarch64 table is one word a row", () => {
  const rows = tableRows(TABLE, "aarch64");
  assert.equal(rows.length, AARCH64_WAITER.length);
  rows.forEach((row, i) => assert.equal(row.offset, i * 4, `row ${i} (${row.asm})`));
});

/**
 * The table's assembly and a label where the filter starts (the lea/adr target past the code):
 * the code, then zeros up to the filter, as in the image.
 */
function assembleWithFilterLabel(arch: Arch): Uint8Array | null {
  const [as, objcopy, args] = arch === "x86_64"
    ? ["as", "objcopy", ["--64"]]
    : ["aarch64-linux-gnu-as", "aarch64-linux-gnu-objcopy", []];
  if (!hasTool(as) || !hasTool(objcopy)) return null;
  const end = waiterCode(arch, 0, 0).length, at = filterOffset(arch);
  const tail = at === end ? `.L${at}:\n` : `.L${end}: .balign 8, 0\n.L${at}:\n`;
  return assemble(assemblySource(TABLE, arch) + tail, as, args, objcopy);
}

for (const arch of ARCHES) {
  const bytes = arch === "aarch64" || Deno.build.arch === "x86_64" ? assembleWithFilterLabel(arch) : null;
  if (bytes === null) console.log(`waiter_test: no GNU as for ${arch} here, so its table is not assembled`);
  Deno.test({
    name: `waiter: ${arch}: the assembly in the comments assembles (GNU as) to exactly the table's bytes`,
    ignore: bytes === null,
    fn() {
      const expected = new Uint8Array(filterOffset(arch));
      expected.set(waiterCode(arch, 0, 0));
      assert.equal(hex(bytes!), hex(expected));
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Patching

/** The marked rows by what their remark says they hold. */
function patchedRows(arch: Arch): Record<"listen" | "report" | "length" | "flags", Row[]> {
  const marked = tableRows(TABLE, arch).filter((r) => r.remark.includes("(patched)"));
  const which = (what: string) => marked.filter((r) => r.remark.startsWith(what));
  return {
    listen: which("listen fd"),
    report: which("report fd"),
    length: which("filter length"),
    flags: which("seccomp flags"),
  };
}

/** The immediate a patched row holds: imm32 of x86_64's `mov r32,imm32`, imm16 of `movz`. */
function immediate(arch: Arch, code: Uint8Array<ArrayBuffer>, row: Row): number {
  const v = new DataView(code.buffer);
  return arch === "x86_64"
    ? v.getUint32(row.offset + 1, true)
    : (v.getUint32(row.offset, true) >>> 5) & 0xffff;
}

const FILTER: WaiterFilter = { program: new Uint8Array(3 * 8), flags: 0x2a };

Deno.test("waiter: the fds, the filter length and the flags are patched into exactly the rows marked (patched)", () => {
  for (const arch of ARCHES) {
    const rows = tableRows(TABLE, arch);
    const marked = rows.filter((r) => r.remark.includes("(patched)"));
    assert.equal(marked.length, 6, `${arch}: six patched rows`);
    const byWhat = patchedRows(arch);
    assert.deepEqual(
      Object.values(byWhat).map((r) => r.length),
      [2, 2, 1, 1],
      `${arch}: two listen fd rows, two report fd rows, one filter length row, one flags row`,
    );
    const plain = waiterCode(arch, 0, 0);
    const patched = waiterCode(arch, 0x1234, 0x56, FILTER);
    const changed: number[] = [];
    plain.forEach((b, i) => {
      if (b !== patched[i]) changed.push(i);
    });
    // Each changed byte lies in a marked row; each marked row changed.
    for (const i of changed) {
      assert.ok(marked.some((r) => i >= r.offset && i < r.offset + r.bytes.length), `${arch}: byte ${i}`);
    }
    for (const r of marked) {
      assert.ok(
        changed.some((i) => i >= r.offset && i < r.offset + r.bytes.length),
        `${arch}: row ${r.offset}`,
      );
    }
    // And each holds what its remark says.
    const code = waiterCode(arch, 7, 9, FILTER);
    const values = (rs: Row[]) => rs.map((r) => immediate(arch, code, r));
    assert.deepEqual(values(byWhat.listen), [7, 7], `${arch}: listen fd`);
    assert.deepEqual(values(byWhat.report), [9, 9], `${arch}: report fd`);
    assert.deepEqual(values(byWhat.length), [3], `${arch}: filter length in instructions`);
    assert.deepEqual(values(byWhat.flags), [0x2a], `${arch}: flags`);
    // Without a filter: length 0 (the code skips seccomp) and no flags.
    const none = waiterCode(arch, 7, 9);
    assert.deepEqual([...byWhat.length, ...byWhat.flags].map((r) => immediate(arch, none, r)), [0, 0]);
    // The largest filter and flags still fit.
    const big = waiterCode(arch, 7, 9, {
      program: new Uint8Array(MAX_FILTER_INSTRUCTIONS * 8),
      flags: 0xffff,
    });
    assert.deepEqual(
      [...byWhat.length, ...byWhat.flags].map((r) => immediate(arch, big, r)),
      [MAX_FILTER_INSTRUCTIONS, 0xffff],
    );
  }
  // The offsets themselves, as the header of ffi/waiter.ts documents them.
  const x86 = waiterCode("x86_64", 7, 9, FILTER);
  assert.deepEqual(
    [0x58, 0x91, 0xa7, 0x116, 0xbd, 0xd4].map((at) => new DataView(x86.buffer).getUint32(at + 1, true)),
    [7, 7, 9, 9, 3, 0x2a],
  );
  const arm = waiterCode("aarch64", 7, 9, FILTER);
  assert.deepEqual(
    [0x54, 0x90, 0xa4, 0x114, 0xb8, 0xcc].map((at) =>
      (new DataView(arm.buffer).getUint32(at, true) >>> 5) & 0xffff
    ),
    [7, 7, 9, 9, 3, 0x2a],
  );
});

/** Where the code's pc-relative lea (x86_64) or adr (aarch64) of the filter points, from the code's start. */
function filterReference(arch: Arch): number {
  const rows = tableRows(TABLE, arch);
  const code = new DataView(waiterCode(arch, 0, 0).buffer);
  if (arch === "x86_64") {
    const [lea] = rows.filter((r) => r.asm.startsWith("lea rdx,[rip+"));
    assert.deepEqual(lea.bytes.slice(0, 3), [0x48, 0x8d, 0x15], "lea rdx,[rip+disp32]");
    return lea.offset + lea.bytes.length + code.getInt32(lea.offset + 3, true);
  }
  const [adr] = rows.filter((r) => r.asm.startsWith("adr x1,"));
  const word = code.getUint32(adr.offset, true);
  assert.equal(word & 0x9f00001f, 0x10000001, "adr x1");
  const imm = (((word >>> 5) & 0x7ffff) << 2) | ((word >>> 29) & 3);
  return adr.offset + ((imm << 11) >> 11); // sign-extend the 21 bits
}

Deno.test("waiter: the code's pc-relative reference to the filter is where the ELF puts it", () => {
  for (const arch of ARCHES) {
    const at = filterReference(arch);
    assert.equal(at, filterOffset(arch), `${arch}: just after the code, 8-byte aligned`);
    assert.equal(at % 8, 0);
    const filter = { program: denyFilter(arch, MKDIR_NRS[arch], 1), flags: 0 };
    const elf = waiterElf(arch, 3, 4, filter);
    assert.equal(HEADERS + at + filter.program.length, elf.length, `${arch}: the filter ends the image`);
    assert.deepEqual([...elf.subarray(HEADERS + at)], [...filter.program]);
    // Between the code and the filter, zeros.
    const code = waiterCode(arch, 3, 4, filter);
    assert.ok(elf.subarray(HEADERS + code.length, HEADERS + at).every((b) => b === 0));
  }
});

Deno.test("waiter: bad fds, bad filters and unknown architectures are refused", () => {
  assert.throws(() => waiterCode("riscv64", 3, 4), /no start waiter for riscv64/);
  assert.throws(() => waiterCode("x86_64", -1, 4), /bad fds/);
  assert.throws(() => waiterCode("aarch64", 70000, 4), /above 65535/);
  for (const arch of ARCHES) {
    for (const bytes of [0, 12, (MAX_FILTER_INSTRUCTIONS + 1) * 8]) {
      assert.throws(
        () => waiterElf(arch, 3, 4, { program: new Uint8Array(bytes), flags: 0 }),
        /seccomp filter of \d+ bytes/,
        `${arch}: ${bytes} bytes`,
      );
    }
    for (const flags of [-1, 0x10000, 1.5]) {
      assert.throws(
        () => waiterElf(arch, 3, 4, { program: new Uint8Array(8), flags }),
        /bad seccomp flags/,
        `${arch}: flags ${flags}`,
      );
    }
  }
});

Deno.test("waiter: the ELF header and its one PT_LOAD segment, with and without a filter", () => {
  for (const [arch, machine] of [["x86_64", 0x3e], ["aarch64", 0xb7]] as const) {
    const filter = { program: denyFilter(arch, MKDIR_NRS[arch], 1), flags: 0 };
    for (const f of [undefined, filter]) {
      const what = `${arch}, ${f ? "with" : "without"} a filter`;
      const elf = waiterElf(arch, 3, 4, f);
      const v = new DataView(elf.buffer);
      assert.deepEqual([...elf.subarray(0, 7)], [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
      assert.equal(v.getUint16(16, true), 2, "ET_EXEC");
      assert.equal(v.getUint16(18, true), machine);
      assert.equal(v.getBigUint64(24, true), 0x400000n + 120n, "entry right after the headers");
      assert.equal(v.getUint16(56, true), 1, "one program header");
      assert.equal(v.getUint32(64, true), 1, "PT_LOAD");
      assert.equal(v.getUint32(68, true), 5, "read + exec, never write");
      assert.equal(v.getBigUint64(64 + 8, true), 0n, "p_offset: from the file's start");
      assert.equal(v.getBigUint64(64 + 32, true), BigInt(elf.length), `${what}: p_filesz`);
      assert.equal(v.getBigUint64(64 + 40, true), BigInt(elf.length), `${what}: p_memsz`);
      const code = waiterCode(arch, 3, 4, f);
      assert.deepEqual([...elf.subarray(HEADERS, HEADERS + code.length)], [...code]);
      if (f) {
        assert.equal(elf.length, HEADERS + filterOffset(arch) + f.program.length, what);
      } else {
        assert.equal(elf.length, HEADERS + code.length, what);
        assert.ok(elf.length < 512, `${what}: ${elf.length} bytes`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Real runs

Deno.test("waiter: runs here; a listen fd that is no socket reports ENOTSOCK and exits 127", async () => {
  const dir = await Deno.makeTempDir({ prefix: "druntime-waiter-" });
  try {
    const path = join(dir, "waiter");
    // Listen on stdin (/dev/null: no socket), report on stdout.
    await Deno.writeFile(path, hostWaiterElf(0, 1), { mode: 0o755 });
    const out = await new Deno.Command(path, { args: ["/bin/true"], stdin: "null", stdout: "piped" })
      .output();
    assert.equal(out.code, 127);
    const v = new DataView(out.stdout.buffer, out.stdout.byteOffset, out.stdout.byteLength);
    assert.equal(out.stdout.length, 8);
    assert.equal(v.getUint32(0, true), EXEC_FAILED_MARKER);
    assert.equal(v.getInt32(4, true), errnoByName("ENOTSOCK"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Runs in a child Deno (under `setpriv --no-new-privs`, which seccomp needs without
 * CAP_SYS_ADMIN, and which execve keeps): a listening unix socket at args[0] left open across
 * exec, a report fd on the file args[1], the waiter built for those fds with the filter in the
 * file args[2] (if any) and flags args[3], then fexecve into it with argv args[4..]: the path to
 * exec, then the process's argv.
 */
const HARNESS = `
import { fcntl, fexecve, listenUnix, open, sealedMemfd } from ${
  JSON.stringify(import.meta.resolve("../../ffi/libc.ts"))
};
import { hostWaiterElf } from ${JSON.stringify(import.meta.resolve("../../ffi/waiter.ts"))};
const [socket, report, filter, flags, ...argv] = Deno.args;
const listenFd = listenUnix(socket);
fcntl(listenFd, 2 /* F_SETFD */, 0);
const reportFd = open(report, 1 /* O_WRONLY, no O_CLOEXEC */);
const elf = hostWaiterElf(
  listenFd,
  reportFd,
  filter ? { program: Deno.readFileSync(filter), flags: Number(flags) } : undefined,
);
fexecve(sealedMemfd("waiter-test", elf), "start waiter", argv, ["PATH=/usr/bin:/bin", "LC_ALL=C"]);
`;

const SETPRIV = hasTool("setpriv");
const HOST_ARCH = Deno.build.arch as string in AUDIT_ARCH ? Deno.build.arch as Arch : null;

interface Run {
  code: number;
  stdout: string;
  /** What the waiter wrote on the report fd: nothing once it has exec'd the process. */
  report: Uint8Array;
  /** The byte read from the start socket. */
  started: number[];
}

/**
 * The waiter behind a real start socket, `start`ed by connecting; the process is `sh -c script`
 * (or given as [path, argv...]).
 */
async function runWaiter(dir: string, script: string | string[], filter?: WaiterFilter): Promise<Run> {
  const harness = join(dir, "harness.ts"), socket = join(dir, "start.sock");
  const report = join(dir, "report"), filterPath = join(dir, "filter");
  await Deno.writeTextFile(harness, HARNESS);
  await Deno.writeFile(report, new Uint8Array());
  if (filter) await Deno.writeFile(filterPath, filter.program);
  const child = new Deno.Command("setpriv", {
    args: [
      "--no-new-privs",
      Deno.execPath(),
      "run",
      "-A",
      "--no-check",
      harness,
      socket,
      report,
      filter ? filterPath : "",
      String(filter?.flags ?? 0),
      // The waiter's argv: the path to exec, then the process's argv.
      ...(typeof script === "string" ? ["/bin/sh", "sh", "-c", script] : script),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let conn: Deno.UnixConn | undefined;
  for (let tries = 0; !conn; tries++) {
    try {
      conn = await Deno.connect({ transport: "unix", path: socket });
    } catch (e) {
      if (tries > 300) {
        child.kill("SIGKILL");
        const out = await output;
        throw new Error(`no start socket: ${e}\n${new TextDecoder().decode(out.stderr)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const started: number[] = [];
  try {
    const buf = new Uint8Array(8);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      started.push(...buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
  const out = await output;
  const stderr = new TextDecoder().decode(out.stderr);
  if (stderr) console.log(`waiter_test: stderr: ${stderr}`);
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    report: await Deno.readFile(report),
    started,
  };
}

function reported(run: Run): [number, number] {
  assert.equal(run.report.length, 8, `report: ${hex(run.report)}`);
  const v = new DataView(run.report.buffer, run.report.byteOffset, 8);
  return [v.getUint32(0, true), v.getInt32(4, true)];
}

const realRun = { ignore: !SETPRIV || HOST_ARCH === null };

Deno.test({
  name: "waiter: runs here; started without a filter, the process runs unconfined",
  ...realRun,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "druntime-waiter-" });
    try {
      const run = await runWaiter(
        dir,
        `mkdir ${dir}/d 2>&1; echo rc=$?; grep ^NoNewPrivs: /proc/self/status`,
      );
      assert.deepEqual(run.started, [0], "the start byte");
      assert.equal(run.code, 0, run.stdout);
      assert.match(run.stdout, /^rc=0$/m);
      assert.match(run.stdout, /^NoNewPrivs:\s+1$/m, "setpriv's no_new_privs reaches the process");
      assert.equal(run.report.length, 0, "nothing reported");
      assert.ok((await Deno.stat(join(dir, "d"))).isDirectory);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "waiter: runs here; the filter it loads before execve binds the process: mkdir fails with EPERM",
  ...realRun,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "druntime-waiter-" });
    try {
      const filter = {
        program: denyFilter(HOST_ARCH!, MKDIR_NRS[HOST_ARCH!], errnoByName("EPERM")),
        flags: 0,
      };
      const run = await runWaiter(
        dir,
        `mkdir ${dir}/d 2>&1; echo rc=$?; grep ^Seccomp: /proc/self/status`,
        filter,
      );
      assert.deepEqual(run.started, [0], "the start byte");
      assert.equal(run.code, 0, run.stdout);
      assert.match(run.stdout, /^rc=1$/m);
      assert.match(run.stdout, /Operation not permitted/);
      assert.match(run.stdout, /^Seccomp:\s+2$/m, "SECCOMP_MODE_FILTER");
      assert.equal(run.report.length, 0, "nothing reported");
      await assert.rejects(() => Deno.stat(join(dir, "d")), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "waiter: runs here; a filter the kernel refuses reports SECCOMP_FAILED_MARKER, EINVAL and exits 127",
  ...realRun,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "druntime-waiter-" });
    try {
      const cases: [string, WaiterFilter][] = [
        ["an invalid opcode", { program: program([[0xffff, 0, 0, 0]]), flags: 0 }],
        [
          "flags the kernel does not know",
          { program: program([[BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW]]), flags: 0x8000 },
        ],
      ];
      for (const [what, filter] of cases) {
        const run = await runWaiter(dir, `echo ran`, filter);
        assert.deepEqual(run.started, [0], `${what}: the start byte`);
        assert.equal(run.code, 127, what);
        assert.equal(run.stdout, "", `${what}: the process never ran`);
        assert.deepEqual(reported(run), [SECCOMP_FAILED_MARKER, errnoByName("EINVAL")], what);
        await Deno.remove(join(dir, "start.sock"));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "waiter: runs here; an execve the loaded filter denies reports EXEC_FAILED_MARKER, EPERM",
  ...realRun,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "druntime-waiter-" });
    try {
      const filter = {
        program: denyFilter(HOST_ARCH!, [EXECVE_NR[HOST_ARCH!]], errnoByName("EPERM")),
        flags: 0,
      };
      const run = await runWaiter(dir, ["/bin/true", "true"], filter);
      assert.deepEqual(run.started, [0], "the start byte");
      assert.equal(run.code, 127);
      assert.deepEqual(reported(run), [EXEC_FAILED_MARKER, errnoByName("EPERM")]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
