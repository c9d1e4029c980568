/**
 * The start waiter (ffi/waiter.ts): its tables match their assembly, the fds are patched where
 * the comments say, the ELF is well formed, and, on this machine, it really runs: with a listen
 * fd that is no socket its accept4 fails and it reports errno on the report fd and exits 127.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AARCH64_WAITER,
  EXEC_FAILED_MARKER,
  hostWaiterElf,
  waiterCode,
  waiterElf,
  X86_64_WAITER,
} from "../../ffi/waiter.ts";
import { errnoByName } from "../../ffi/errno.ts";
import { assembleTable, hex, type Table, tableRows } from "../fixtures/asm.ts";

const TABLE: Table = {
  source: new URL("../../ffi/waiter.ts", import.meta.url),
  names: { x86_64: "X86_64_WAITER", aarch64: "AARCH64_WAITER" },
};

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

for (const arch of ["x86_64", "aarch64"] as const) {
  const bytes = arch === "aarch64" || Deno.build.arch === "x86_64" ? assembleTable(TABLE, arch) : null;
  if (bytes === null) console.log(`waiter_test: no GNU as for ${arch} here, so its table is not assembled`);
  Deno.test({
    name: `waiter: ${arch}: the assembly in the comments assembles (GNU as) to exactly the table's bytes`,
    ignore: bytes === null,
    fn() {
      assert.equal(hex(bytes!), hex(waiterCode(arch, 0, 0)));
    },
  });
}

Deno.test("waiter: the fds are patched into exactly the rows marked (patched)", () => {
  for (const arch of ["x86_64", "aarch64"] as const) {
    const rows = tableRows(TABLE, arch);
    const marked = rows.filter((r) => r.remark.includes("(patched)"));
    assert.equal(marked.length, 4, `${arch}: four patched rows`);
    const plain = waiterCode(arch, 0, 0);
    const patched = waiterCode(arch, 0x1234, 0x56);
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
  }
  const x86 = new DataView(waiterCode("x86_64", 7, 9).buffer);
  assert.deepEqual([0x53, 0x88, 0x9e, 0xdf].map((at) => x86.getUint32(at + 1, true)), [7, 7, 9, 9]);
  const arm = new DataView(waiterCode("aarch64", 7, 9).buffer);
  assert.deepEqual(
    [0x50, 0x8c, 0xa0, 0xe4].map((at) => (arm.getUint32(at, true) >>> 5) & 0xffff),
    [7, 7, 9, 9],
  );
});

Deno.test("waiter: bad fds and unknown architectures are refused", () => {
  assert.throws(() => waiterCode("riscv64", 3, 4), /no start waiter for riscv64/);
  assert.throws(() => waiterCode("x86_64", -1, 4), /bad fds/);
  assert.throws(() => waiterCode("aarch64", 70000, 4), /above 65535/);
});

Deno.test("waiter: the ELF header and its one PT_LOAD segment", () => {
  for (const [arch, machine] of [["x86_64", 0x3e], ["aarch64", 0xb7]] as const) {
    const elf = waiterElf(arch, 3, 4);
    const v = new DataView(elf.buffer);
    assert.deepEqual([...elf.subarray(0, 7)], [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    assert.equal(v.getUint16(16, true), 2, "ET_EXEC");
    assert.equal(v.getUint16(18, true), machine);
    assert.equal(v.getBigUint64(24, true), 0x400000n + 120n, "entry right after the headers");
    assert.equal(v.getUint16(56, true), 1, "one program header");
    assert.equal(v.getUint32(64, true), 1, "PT_LOAD");
    assert.equal(v.getUint32(68, true), 5, "read + exec, never write");
    assert.equal(v.getBigUint64(64 + 32, true), BigInt(elf.length));
    assert.deepEqual([...elf.subarray(120)], [...waiterCode(arch, 3, 4)]);
    assert.ok(elf.length < 512, `${arch}: ${elf.length} bytes`);
  }
});

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
