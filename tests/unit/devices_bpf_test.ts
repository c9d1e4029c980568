/**
 * The cgroup v2 device filter: the eBPF program built from linux.resources.devices.
 *
 * Without root: the program's shape, and its behaviour on every request of a grid run through
 * a small eBPF interpreter below and compared with the rules read directly (last match wins,
 * default deny). With root: the kernel's verifier accepts the programs, and a filter attached
 * to a fresh cgroup in the cgroup2 hierarchy denies a process in it what the rules deny.
 */
import assert from "node:assert/strict";
import { DEFAULT_ALLOWED_DEVICES } from "../../runtime/cgroups/resources.ts";
import { join } from "node:path";
import {
  attachDeviceFilter,
  attachedDeviceFilters,
  BpfLoadError,
  type DeviceCgroupRule,
  deviceFilterProgram,
  disassemble,
  INSN_SIZE,
  loadDeviceFilter,
  PROG_NAME,
} from "../../runtime/cgroups/devices_bpf.ts";
import { close } from "../../ffi/libc.ts";
import {
  BPF_DEVCG_ACC_MKNOD,
  BPF_DEVCG_ACC_READ,
  BPF_DEVCG_ACC_WRITE,
  BPF_DEVCG_DEV_BLOCK,
  BPF_DEVCG_DEV_CHAR,
} from "../../ffi/constants.ts";
import { parseMountInfo } from "../../runtime/init/mountinfo.ts";
import { DruntimeError } from "../../runtime/errors.ts";
import { isRoot, rootOnly } from "../fixtures/rootfs.ts";

// ---------------------------------------------------------------------------------------------
// Rule sets
// ---------------------------------------------------------------------------------------------

/** What `druntime spec` writes: deny everything. */
const DENY_ALL: DeviceCgroupRule[] = [{ allow: false, access: "rwm" }];

/** runc's default allow list (libcontainer/specconv AllowedDevices) after a deny-all. */
const RUNC_DEFAULT: DeviceCgroupRule[] = [{ allow: false, access: "rwm" }, ...DEFAULT_ALLOWED_DEVICES];

/** Everything allowed, then holes: what a privileged container with a few denials looks like. */
const ALLOW_THEN_DENY: DeviceCgroupRule[] = [
  { allow: true },
  { allow: false, type: "b", major: 8, access: "w" }, // no writes to sd* disks
  { allow: false, type: "c", major: 1, minor: 1, access: "rwm" }, // /dev/mem
];

const MIXED: DeviceCgroupRule[] = [
  { allow: false },
  { allow: true, type: "a", major: 7, minor: -1, access: "r" }, // read any loop device, b or c
  { allow: true, type: "c", major: 1, minor: 3 },
  { allow: false, type: "c", major: 1, minor: 3, access: "w" }, // then no writes to /dev/null
  { allow: true, type: "c", minor: 5, access: "rm" }, // any major, minor 5
  { allow: true, type: "b", major: 0xfffffff0, minor: 0x80000001, access: "rw" }, // u32 numbers
  { allow: true, type: "c", major: 4095, minor: 0xfffff, access: "" }, // "" is "rwm"
];

const RULE_SETS: Record<string, DeviceCgroupRule[]> = {
  "empty (deny everything)": [],
  "deny all (druntime spec)": DENY_ALL,
  "allow all": [{ allow: true, type: "a", access: "rwm" }],
  "runc's default allow list": RUNC_DEFAULT,
  "allow all, then deny some": ALLOW_THEN_DENY,
  "mixed": MIXED,
  "only /dev/null": [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3 }],
};

// ---------------------------------------------------------------------------------------------
// The rules read directly, and an eBPF interpreter for the program
// ---------------------------------------------------------------------------------------------

interface Request {
  type: number;
  major: number;
  minor: number;
  access: number;
}

function accessBits(access: string | undefined): number {
  let bits = 0;
  for (const c of access || "rwm") {
    bits |= c === "r" ? BPF_DEVCG_ACC_READ : c === "w" ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  }
  return bits;
}

/** The rules' verdict: the last matching rule decides, nothing matching denies. */
function expected(rules: readonly DeviceCgroupRule[], req: Request): boolean {
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i];
    const type = r.type === "b" ? BPF_DEVCG_DEV_BLOCK : r.type === "c" ? BPF_DEVCG_DEV_CHAR : null;
    if (type !== null && type !== req.type) continue;
    if (r.major !== undefined && r.major !== -1 && r.major !== req.major) continue;
    if (r.minor !== undefined && r.minor !== -1 && r.minor !== req.minor) continue;
    const acc = accessBits(r.access);
    // allow: it grants all that is asked; deny: it names any of what is asked (cgroup v1's rule)
    const matches = r.allow ? (req.access & ~acc) === 0 : (req.access & acc) !== 0;
    if (matches) return r.allow;
  }
  return false;
}

interface Decoded {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

function decode(program: Uint8Array): Decoded[] {
  assert.equal(program.byteLength % INSN_SIZE, 0);
  const view = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const out: Decoded[] = [];
  for (let at = 0; at < program.byteLength; at += INSN_SIZE) {
    const regs = view.getUint8(at + 1);
    out.push({
      code: view.getUint8(at),
      dst: regs & 0xf,
      src: regs >> 4,
      off: view.getInt16(at + 2, true),
      imm: view.getInt32(at + 4, true),
    });
  }
  return out;
}

const U64 = (1n << 64n) - 1n;
const u32 = (v: bigint) => v & 0xffffffffn;
const sext = (imm: number) => BigInt(imm) & U64; // a jump's imm, sign-extended to 64 bits

/**
 * Runs the program on one request, as the kernel would: r1 points at struct bpf_cgroup_dev_ctx.
 * Knows only the instructions the builder emits; fails on any other, on a read of a register
 * never written, on a backward or out-of-range jump and on a return value other than 0 or 1.
 */
function run(insns: readonly Decoded[], req: Request): number {
  const ctx = [(req.access << 16) | req.type, req.major, req.minor];
  const CTX = -1n; // r1's value: "the context"
  const regs: (bigint | undefined)[] = new Array(11);
  regs[1] = CTX;
  const get = (r: number): bigint => {
    const v = regs[r];
    assert.ok(v !== undefined && v !== CTX, `r${r} read before it is written`);
    return v;
  };
  for (let pc = 0, steps = 0; pc < insns.length; pc++, steps++) {
    assert.ok(steps <= insns.length, "no loops");
    const { code, dst, src, off, imm } = insns[pc];
    const jump = (taken: boolean) => {
      assert.ok(off >= 0 && pc + off + 1 < insns.length, `jump at ${pc} stays inside`);
      if (taken) pc += off;
    };
    switch (code) {
      case 0x61: // r = *(u32 *)(r1 + off)
        assert.equal(regs[src], CTX);
        assert.ok(off % 4 === 0 && off >= 0 && off < 12);
        regs[dst] = BigInt(ctx[off / 4] >>> 0);
        break;
      case 0x54: // w &= imm
        regs[dst] = u32(get(dst)) & BigInt(imm >>> 0);
        break;
      case 0x74: // w >>= imm
        regs[dst] = u32(get(dst)) >> BigInt(imm);
        break;
      case 0xbc: // w = w
        regs[dst] = u32(get(src));
        break;
      case 0xb4: // w = imm
        regs[dst] = BigInt(imm >>> 0);
        break;
      case 0x55: // if r != imm goto
        jump(get(dst) !== sext(imm));
        break;
      case 0x5d: // if r != r goto
        jump(get(dst) !== get(src));
        break;
      case 0x15: // if r == imm goto
        jump(get(dst) === sext(imm));
        break;
      case 0x95: { // exit
        const r0 = get(0);
        assert.ok(r0 === 0n || r0 === 1n, `returns ${r0}`);
        return Number(r0);
      }
      default:
        assert.fail(`instruction ${pc}: unexpected opcode 0x${code.toString(16)}`);
    }
  }
  return assert.fail("ran off the end of the program");
}

/** Every instruction can be reached from the first (the verifier rejects one that cannot). */
function assertAllReachable(program: Uint8Array): void {
  const insns = decode(program);
  const seen = new Set<number>();
  const todo = [0];
  while (todo.length) {
    const pc = todo.pop()!;
    if (seen.has(pc) || pc >= insns.length) continue;
    seen.add(pc);
    const { code, off } = insns[pc];
    if (code === 0x95) continue;
    todo.push(pc + 1);
    if ((code & 0x07) === 0x05) todo.push(pc + 1 + off);
  }
  const unreachable = insns.map((_, i) => i).filter((i) => !seen.has(i));
  assert.deepEqual(unreachable, [], disassemble(program).join("\n"));
}

const TYPES = [BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR];
const MAJORS = [0, 1, 5, 7, 8, 10, 136, 4095, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];
const MINORS = [0, 1, 2, 3, 5, 7, 8, 9, 200, 0xfffff, 0x80000001, 0xffffffff];

function* requests(): Generator<Request> {
  for (const type of TYPES) {
    for (const major of MAJORS) {
      for (const minor of MINORS) {
        for (let access = 1; access <= 7; access++) yield { type, major, minor, access };
      }
    }
  }
}

function assertBehaves(rules: readonly DeviceCgroupRule[]): void {
  const program = deviceFilterProgram(rules);
  assertAllReachable(program);
  const insns = decode(program);
  for (const req of requests()) {
    const got = run(insns, req) === 1;
    if (got !== expected(rules, req)) {
      assert.fail(
        `${JSON.stringify(req)}: program says ${got ? "allow" : "deny"}\nrules: ${JSON.stringify(rules)}\n${
          disassemble(program).join("\n")
        }`,
      );
    }
  }
}

const PROLOGUE = [
  "r2 = *(u32 *)(r1 + 0)",
  "w2 &= 0xffff",
  "r3 = *(u32 *)(r1 + 0)",
  "w3 >>= 16",
  "r4 = *(u32 *)(r1 + 4)",
  "r5 = *(u32 *)(r1 + 8)",
];

// ---------------------------------------------------------------------------------------------
// The program's shape
// ---------------------------------------------------------------------------------------------

Deno.test("device filter: deny all is the prologue and `return 0`", () => {
  const program = deviceFilterProgram(DENY_ALL);
  assert.equal(program.byteLength, 8 * INSN_SIZE);
  assert.deepEqual(disassemble(program), [...PROLOGUE, "w0 = 0", "exit"]);
  // No rules at all: the same program (the default is deny).
  assert.deepEqual(deviceFilterProgram([]), program);
});

Deno.test("device filter: instructions are 8 little-endian bytes", () => {
  const program = deviceFilterProgram([{ allow: true, type: "c", major: 136 }]);
  assert.deepEqual([...program.subarray(0, 8)], [0x61, 0x12, 0, 0, 0, 0, 0, 0]); // r2 = *(u32 *)(r1 + 0)
  assert.deepEqual([...program.subarray(8, 16)], [0x54, 0x02, 0, 0, 0xff, 0xff, 0, 0]); // w2 &= 0xffff
  assert.deepEqual([...program.subarray(32, 40)], [0x61, 0x14, 4, 0, 0, 0, 0, 0]); // r4 = *(u32 *)(r1 + 4)
  // if r2 != 2 goto +3; if r4 != 136 goto +2
  assert.deepEqual([...program.subarray(48, 56)], [0x55, 0x02, 3, 0, 2, 0, 0, 0]);
  assert.deepEqual([...program.subarray(56, 64)], [0x55, 0x04, 2, 0, 136, 0, 0, 0]);
  assert.deepEqual([...program.subarray(80, 88)], [0xb4, 0, 0, 0, 0, 0, 0, 0]); // w0 = 0
  assert.deepEqual([...program.subarray(88, 96)], [0x95, 0, 0, 0, 0, 0, 0, 0]); // exit
});

Deno.test("device filter: one block per rule, last rule first, then the default deny", () => {
  const program = deviceFilterProgram([
    { allow: false, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
    { allow: true, type: "b", major: -1, minor: -1, access: "m" },
    { allow: false, type: "c", major: 5, access: "w" },
  ]);
  assert.deepEqual(disassemble(program), [
    ...PROLOGUE,
    // deny c 5:* w: applies when w is asked for at all
    "if r2 != 2 goto +6",
    "w1 = w3",
    "w1 &= 0x4",
    "if r1 == 0 goto +3",
    "if r4 != 5 goto +2",
    "w0 = 0",
    "exit",
    // allow b *:* m: applies when nothing but m is asked for
    "if r2 != 1 goto +5",
    "w1 = w3",
    "w1 &= 0x1",
    "if r1 != r3 goto +2",
    "w0 = 1",
    "exit",
    // allow c 1:3 rwm: no access test
    "if r2 != 2 goto +4",
    "if r4 != 1 goto +3",
    "if r5 != 3 goto +2",
    "w0 = 1",
    "exit",
    // deny a *:* rwm matches everything: it ends the program, no default after it
    "w0 = 0",
    "exit",
  ]);
});

Deno.test("device filter: runc's default allow list", () => {
  const program = deviceFilterProgram(RUNC_DEFAULT);
  const asm = disassemble(program);
  // prologue 6; 2 mknod rules of 6; 9 devices of 5 (type, major, minor, verdict, exit);
  // /dev/pts of 4 (no minor); the deny-all's 2 ends it.
  assert.equal(asm.length, 6 + 2 * 6 + 9 * 5 + 4 + 2);
  assert.equal(program.byteLength, asm.length * INSN_SIZE);
  assert.deepEqual(asm.slice(6, 11), [
    "if r2 != 2 goto +4", // /dev/net/tun, the last rule, is tested first
    "if r4 != 10 goto +3",
    "if r5 != 200 goto +2",
    "w0 = 1",
    "exit",
  ]);
  assert.equal(asm.filter((l) => l === "exit").length, 13);
  assert.equal(asm.filter((l) => l === "w0 = 1").length, 12);
  assert.deepEqual(asm.slice(-2), ["w0 = 0", "exit"]);
  assertBehaves(RUNC_DEFAULT);
});

Deno.test("device filter: an unconditional rule hides the rules before it", () => {
  const allowAll = deviceFilterProgram([
    { allow: false, type: "c", major: 1, minor: 1 },
    { allow: true, type: "a", major: -1, minor: -1, access: "rwm" },
  ]);
  assert.deepEqual(disassemble(allowAll), [...PROLOGUE, "w0 = 1", "exit"]);
  // A wildcard with a partial access is not unconditional: the rules before it still count.
  const partial = disassemble(deviceFilterProgram([{ allow: true, type: "c", major: 1, minor: 3 }, {
    allow: false,
    access: "w",
  }]));
  assert.equal(partial.length, 6 + 5 + 5 + 2);
  assert.deepEqual(partial.slice(-2), ["w0 = 0", "exit"]);
});

Deno.test("device filter: numbers above 2^31-1 are compared through a zero-extended register", () => {
  const asm = disassemble(
    deviceFilterProgram([{ allow: true, type: "b", major: 0xfffffff0, minor: 0x80000001 }]),
  );
  assert.deepEqual(asm.slice(6), [
    "if r2 != 1 goto +6",
    "w1 = 4294967280",
    "if r4 != r1 goto +4",
    "w1 = 2147483649",
    "if r5 != r1 goto +2",
    "w0 = 1",
    "exit",
    "w0 = 0",
    "exit",
  ]);
});

Deno.test("device filter: every request gets the verdict of the last rule that matches it", () => {
  for (const [name, rules] of Object.entries(RULE_SETS)) {
    try {
      assertBehaves(rules);
    } catch (e) {
      throw new Error(`${name}: ${e instanceof Error ? e.message : e}`);
    }
  }
});

Deno.test("device filter: random rule sets behave as their rules say", () => {
  // A small deterministic PRNG (mulberry32), so that a failure repeats.
  let seed = 0x5eed;
  const rand = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296 * n) | 0;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)];
  const accesses = ["r", "w", "m", "rw", "rm", "wm", "rwm", "mwr", undefined];
  for (let i = 0; i < 150; i++) {
    const rules: DeviceCgroupRule[] = [];
    const n = rand(8);
    for (let j = 0; j < n; j++) {
      rules.push({
        allow: rand(2) === 1,
        type: pick(["a", "b", "c", undefined] as const),
        major: pick([-1, undefined, 1, 5, 136, 0xfffffff0]),
        minor: pick([-1, undefined, 3, 5, 0xffffffff]),
        access: pick(accesses),
      });
    }
    assertBehaves(rules);
  }
});

Deno.test("device filter: invalid rules are refused, naming the rule", () => {
  const bad: [DeviceCgroupRule, RegExp][] = [
    [{ allow: true, type: "u" as "c" }, /devices\[1\]\.type: "u"/],
    [{ allow: true, type: "c", major: -2 }, /devices\[1\]\.major: -2/],
    [{ allow: true, type: "c", minor: 2 ** 32 }, /devices\[1\]\.minor: 4294967296/],
    [{ allow: true, type: "c", major: 1.5 }, /devices\[1\]\.major: 1\.5/],
    [{ allow: true, access: "rwx" }, /devices\[1\]\.access: "rwx" is not a subset of "rwm"/],
  ];
  for (const [rule, message] of bad) {
    // Checked even where an unconditional rule after it hides it.
    assert.throws(() => deviceFilterProgram([DENY_ALL[0], rule, { allow: true }]), (e: unknown) => {
      assert.ok(e instanceof DruntimeError);
      assert.match(e.message, message);
      return true;
    });
  }
});

// ---------------------------------------------------------------------------------------------
// The kernel (root)
// ---------------------------------------------------------------------------------------------

Deno.test({
  name: "device filter: the kernel's verifier accepts every rule set",
  ...rootOnly("device filter: the kernel's verifier accepts every rule set"),
  fn() {
    for (const [name, rules] of Object.entries(RULE_SETS)) {
      let fd = -1;
      try {
        fd = loadDeviceFilter(deviceFilterProgram(rules));
      } catch (e) {
        throw new Error(`${name}: ${e instanceof Error ? e.message : e}`);
      }
      assert.ok(fd >= 0, name);
      close(fd);
    }
  },
});

Deno.test({
  name: "device filter: a program the verifier refuses fails with its log",
  ...rootOnly("device filter: a program the verifier refuses fails with its log"),
  fn() {
    // w0 = w6 (never written); exit
    const bad = new Uint8Array([0xbc, 0x60, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    assert.throws(() => loadDeviceFilter(bad), (e: unknown) => {
      assert.ok(e instanceof BpfLoadError);
      assert.equal(e.call, "bpf");
      assert.equal(e.code, "EACCES");
      assert.match(e.message, /^bpf\("BPF_PROG_LOAD", "BPF_PROG_TYPE_CGROUP_DEVICE", "2 insns"\): EACCES/);
      assert.match(e.message, /verifier log:\n[^]*R6 !read_ok/);
      assert.match(e.log, /R6 !read_ok/);
      return true;
    });
    // An exit without r0 set is refused as well; a partial instruction never reaches the kernel.
    assert.throws(() => loadDeviceFilter(new Uint8Array([0x95, 0, 0, 0, 0, 0, 0, 0])), BpfLoadError);
    assert.throws(() => loadDeviceFilter(new Uint8Array(12)), DruntimeError);
  },
});

/** The cgroup2 mount point from /proc/self/mountinfo, or null. */
function cgroup2Mount(): string | null {
  try {
    return parseMountInfo(Deno.readTextFileSync("/proc/self/mountinfo"))
      .find((m) => m.fstype === "cgroup2")?.mountPoint ?? null;
  } catch {
    return null;
  }
}

const CGROUP2 = cgroup2Mount();

/** rootOnly, and a cgroup2 hierarchy to attach to; says why not once. */
function needsCgroup2(name: string): { ignore: boolean } {
  if (isRoot && CGROUP2 === null) {
    console.error(`note: no cgroup2 hierarchy is mounted: "${name}" is ignored`);
    return { ignore: true };
  }
  return rootOnly(name);
}

/** rmdir of a test cgroup whose processes have exited: it may take a moment to read as empty. */
async function removeCgroup(cg: string): Promise<void> {
  for (let tries = 0;; tries++) {
    try {
      return await Deno.remove(cg);
    } catch (e) {
      if (tries >= 50) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** A fresh cgroup at <cgroup2>/druntime/test-<random>; removed in finally. */
async function withTestCgroup(fn: (cg: string) => Promise<void>): Promise<void> {
  const parent = join(CGROUP2!, "druntime");
  try {
    await Deno.mkdir(parent);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  const cg = join(parent, `test-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.mkdir(cg);
  try {
    await fn(cg);
  } finally {
    await removeCgroup(cg);
  }
}

/** Runs `script` in a shell that first moves itself into the cgroup cg. */
async function inCgroup(
  cg: string,
  script: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `echo $$ > '${cg}/cgroup.procs' && ${script}`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

const ONLY_DEV_NULL: DeviceCgroupRule[] = [
  { allow: false, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
];

Deno.test({
  name: "device filter: attached to a cgroup, it denies the processes in it what the rules deny",
  ...needsCgroup2("device filter: attached to a cgroup, it denies the processes in it what the rules deny"),
  async fn() {
    await withTestCgroup(async (cg) => {
      // Before any filter: /dev/zero opens.
      let r = await inCgroup(cg, "exec head -c 1 /dev/zero | od -An -tx1");
      assert.equal(r.code, 0, r.stderr);

      attachDeviceFilter(cg, ONLY_DEV_NULL);
      assert.deepEqual(attachedDeviceFilters(cg).map((p) => p.name), [PROG_NAME]);

      r = await inCgroup(cg, "exec head -c 1 /dev/zero");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Operation not permitted/);
      r = await inCgroup(cg, "exec cat /dev/null");
      assert.equal(r.code, 0, r.stderr);
      r = await inCgroup(cg, "echo written > /dev/null && echo ok");
      assert.deepEqual([r.code, r.stdout], [0, "ok\n"], r.stderr);
      // The test process itself is not in the cgroup: the filter is not its business.
      (await Deno.open("/dev/zero")).close();

      // An update replaces the filter: /dev/zero, read only, now opens; writing it does not.
      attachDeviceFilter(cg, [...ONLY_DEV_NULL, { allow: true, type: "c", major: 1, minor: 5, access: "r" }]);
      assert.equal(attachedDeviceFilters(cg).length, 1);
      r = await inCgroup(cg, "exec head -c 1 /dev/zero | od -An -tx1");
      assert.deepEqual([r.code, r.stdout.trim()], [0, "00"], r.stderr);
      r = await inCgroup(cg, "echo x > /dev/zero");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Operation not permitted|Permission denied/);
    });
  },
});

Deno.test({
  name: "device filter: replace detaches every device program attached before, keep adds one",
  ...needsCgroup2("device filter: replace detaches every device program attached before, keep adds one"),
  async fn() {
    await withTestCgroup(async (cg) => {
      assert.deepEqual(attachedDeviceFilters(cg), []);
      attachDeviceFilter(cg, [{ allow: true }], { replace: false });
      attachDeviceFilter(cg, ONLY_DEV_NULL, { replace: false });
      const two = attachedDeviceFilters(cg);
      assert.equal(two.length, 2);
      // Both run, and both must allow: the deny of the second one wins.
      let r = await inCgroup(cg, "exec head -c 1 /dev/zero");
      assert.match(r.stderr, /Operation not permitted/);

      // Two old programs: attach then detach both (no BPF_F_REPLACE, which takes one).
      attachDeviceFilter(cg, [{ allow: true }]);
      const one = attachedDeviceFilters(cg);
      assert.equal(one.length, 1);
      assert.ok(!two.some((p) => p.id === one[0].id), "a new program");
      r = await inCgroup(cg, "exec head -c 1 /dev/zero | od -An -tx1");
      assert.deepEqual([r.code, r.stdout.trim()], [0, "00"], r.stderr);

      // One old program: replaced atomically.
      attachDeviceFilter(cg, DENY_ALL);
      const replaced = attachedDeviceFilters(cg);
      assert.equal(replaced.length, 1);
      assert.notEqual(replaced[0].id, one[0].id);
      r = await inCgroup(cg, "exec cat /dev/null");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Operation not permitted/);
    });
  },
});

Deno.test({
  name: "device filter: bad rules leave the cgroup's filter as it was",
  ...needsCgroup2("device filter: bad rules leave the cgroup's filter as it was"),
  async fn() {
    await withTestCgroup((cg) => {
      attachDeviceFilter(cg, ONLY_DEV_NULL);
      const before = attachedDeviceFilters(cg);
      assert.throws(() => attachDeviceFilter(cg, [{ allow: true, access: "x" }]), DruntimeError);
      assert.deepEqual(attachedDeviceFilters(cg), before);
      assert.throws(() => attachDeviceFilter(join(cg, "missing"), ONLY_DEV_NULL), /open\(.*ENOENT/);
      return Promise.resolve();
    });
  },
});
