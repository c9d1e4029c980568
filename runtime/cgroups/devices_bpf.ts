/**
 * cgroup v2 device control: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE built from the
 * OCI `linux.resources.devices` rules, loaded with bpf(BPF_PROG_LOAD) and attached to the
 * container's cgroup directory with bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI).
 * cgroup v2 has no devices.allow file: this program is the whole of the device controller.
 *
 * The program follows runc's libcontainer/cgroups/devices (devicefilter) and crun's ebpf.c:
 *
 *   prologue   load type, access, major and minor from struct bpf_cgroup_dev_ctx into r2..r5
 *   per rule   from the LAST rule to the first: if every condition of the rule holds, return
 *              the rule's verdict (1 allow, 0 deny), else fall through to the next block
 *   epilogue   nothing matched: return 0 (deny)
 *
 * so the last rule that matches a request decides it, and a request no rule matches is denied.
 * A rule with no condition (type "a", any major and minor, access "rwm") ends the program: the
 * rules before it can never be reached, and the verifier rejects unreachable instructions.
 *
 * Access matching is cgroup v1's (the kernel's match_exception and match_exception_partial):
 * an allow rule matches a request only when it grants every access asked for (`rw` is allowed
 * by an `rwm` rule but not by an `r` one), and a deny rule matches a request that asks for any
 * access it names (a `w` deny refuses an open for read and write). runc and crun test a deny
 * rule like an allow rule, so there `deny c 1:3 w` after `allow a` still lets `open(O_RDWR)`
 * of /dev/null through; here it does not.
 */
import {
  ARCH,
  BPF_ALU,
  BPF_AND,
  BPF_CGROUP_DEVICE,
  BPF_DEVCG_ACC_MKNOD,
  BPF_DEVCG_ACC_READ,
  BPF_DEVCG_ACC_WRITE,
  BPF_DEVCG_DEV_BLOCK,
  BPF_DEVCG_DEV_CHAR,
  BPF_EXIT,
  BPF_F_ALLOW_MULTI,
  BPF_F_REPLACE,
  BPF_JEQ,
  BPF_JMP,
  BPF_JNE,
  BPF_K,
  BPF_LDX,
  BPF_MEM,
  BPF_MOV,
  BPF_OBJ_GET_INFO_BY_FD,
  BPF_OBJ_NAME_LEN,
  BPF_PROG_ATTACH,
  BPF_PROG_DETACH,
  BPF_PROG_GET_FD_BY_ID,
  BPF_PROG_LOAD,
  BPF_PROG_QUERY,
  BPF_PROG_TYPE_CGROUP_DEVICE,
  BPF_RSH,
  BPF_W,
  BPF_X,
  O_CLOEXEC,
  O_RDONLY,
} from "../../ffi/constants.ts";
import { addressOf, bpf, close, open } from "../../ffi/libc.ts";
import { errnoByName, SyscallError } from "../../ffi/errno.ts";
import { DruntimeError } from "../errors.ts";
import type { DeviceCgroupRule } from "../spec/types.ts";

/**
 * A rule's `type` absent or "a": block and char devices; `major`/`minor` absent or -1: any;
 * `access` a subset of "rwm", absent or empty: "rwm" (Go's OCI types cannot tell "" from absent).
 */
export type { DeviceCgroupRule };

// ---------------------------------------------------------------------------------------------
// Instructions
// ---------------------------------------------------------------------------------------------

/** Bytes per eBPF instruction: struct bpf_insn { u8 code; u8 dst:4, src:4; s16 off; s32 imm }. */
export const INSN_SIZE = 8;

/** An eBPF register number (r0 return value, r1 the context pointer on entry). */
type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
const R0: Reg = 0, R1: Reg = 1, R2: Reg = 2, R3: Reg = 3, R4: Reg = 4, R5: Reg = 5;

interface Insn {
  code: number;
  dst: Reg;
  src: Reg;
  off: number;
  imm: number;
}

/** A jump whose target is "the next rule block": its offset is filled in when the block ends. */
const NEXT_BLOCK = Symbol("next block");
interface PendingJump extends Omit<Insn, "off"> {
  off: typeof NEXT_BLOCK;
}
type BlockInsn = Insn | PendingJump;

function insn(code: number, dst: Reg, src: Reg, off: number, imm: number): Insn {
  return { code, dst, src, off, imm };
}

/** `dst = *(u32 *)(src + off)` */
function loadWord(dst: Reg, src: Reg, off: number): Insn {
  return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0);
}

/** `wdst &= imm` (32-bit ALU: the upper half of the register is cleared) */
function and32Imm(dst: Reg, imm: number): Insn {
  return insn(BPF_ALU | BPF_AND | BPF_K, dst, R0, 0, imm | 0);
}

/** `wdst >>= imm` */
function rsh32Imm(dst: Reg, imm: number): Insn {
  return insn(BPF_ALU | BPF_RSH | BPF_K, dst, R0, 0, imm | 0);
}

/** `wdst = wsrc` */
function mov32Reg(dst: Reg, src: Reg): Insn {
  return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}

/** `wdst = imm` (a u32, zero-extended into the 64-bit register) */
function mov32Imm(dst: Reg, imm: number): Insn {
  return insn(BPF_ALU | BPF_MOV | BPF_K, dst, R0, 0, imm | 0);
}

/** `if rdst != imm goto <next block>` (imm is sign-extended to 64 bits: keep it below 2^31) */
function jneImmNext(dst: Reg, imm: number): PendingJump {
  return { code: BPF_JMP | BPF_JNE | BPF_K, dst, src: R0, off: NEXT_BLOCK, imm };
}

/** `if rdst != rsrc goto <next block>` */
function jneRegNext(dst: Reg, src: Reg): PendingJump {
  return { code: BPF_JMP | BPF_JNE | BPF_X, dst, src, off: NEXT_BLOCK, imm: 0 };
}

/** `if rdst == imm goto <next block>` */
function jeqImmNext(dst: Reg, imm: number): PendingJump {
  return { code: BPF_JMP | BPF_JEQ | BPF_K, dst, src: R0, off: NEXT_BLOCK, imm };
}

/** `exit` (return r0) */
function exit(): Insn {
  return insn(BPF_JMP | BPF_EXIT, R0, R0, 0, 0);
}

/** Resolves a block's jumps to "next block" (the instruction after its last). */
function closeBlock(block: readonly BlockInsn[]): Insn[] {
  return block.map((ins, i) => ins.off === NEXT_BLOCK ? { ...ins, off: block.length - 1 - i } : ins);
}

function encode(insns: readonly Insn[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(insns.length * INSN_SIZE);
  const view = new DataView(out.buffer);
  insns.forEach((ins, i) => {
    const at = i * INSN_SIZE;
    view.setUint8(at, ins.code);
    view.setUint8(at + 1, (ins.src << 4) | ins.dst);
    view.setInt16(at + 2, ins.off, true);
    view.setInt32(at + 4, ins.imm, true);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rules to a program
// ---------------------------------------------------------------------------------------------

const ACC_ALL = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
const MAX_U32 = 0xffffffff;

interface CheckedRule {
  allow: boolean;
  /** BPF_DEVCG_DEV_*, or null for any. */
  type: number | null;
  major: number | null;
  minor: number | null;
  /** BPF_DEVCG_ACC_* bits. */
  access: number;
}

function deviceNumber(what: string, at: string, n: number | undefined): number | null {
  if (n === undefined || n === -1) return null;
  if (!Number.isInteger(n) || n < 0 || n > MAX_U32) {
    throw new DruntimeError(`${at}.${what}: ${n} is not -1 (any) or a device number (0 to ${MAX_U32})`);
  }
  return n;
}

function checkRule(rule: DeviceCgroupRule, index: number): CheckedRule {
  const at = `linux.resources.devices[${index}]`;
  let type: number | null;
  switch (rule.type) {
    case undefined:
    case "a":
      type = null;
      break;
    case "b":
      type = BPF_DEVCG_DEV_BLOCK;
      break;
    case "c":
      type = BPF_DEVCG_DEV_CHAR;
      break;
    default:
      throw new DruntimeError(`${at}.type: ${JSON.stringify(rule.type)} is not "a", "b" or "c"`);
  }
  let access = 0;
  for (const c of rule.access || "rwm") {
    if (c === "r") access |= BPF_DEVCG_ACC_READ;
    else if (c === "w") access |= BPF_DEVCG_ACC_WRITE;
    else if (c === "m") access |= BPF_DEVCG_ACC_MKNOD;
    else throw new DruntimeError(`${at}.access: ${JSON.stringify(rule.access)} is not a subset of "rwm"`);
  }
  return {
    allow: rule.allow,
    type,
    major: deviceNumber("major", at, rule.major),
    minor: deviceNumber("minor", at, rule.minor),
    access,
  };
}

/** The program's start: the context's fields into r2..r5 (r1 holds the context pointer). */
function prologue(): Insn[] {
  return [
    loadWord(R2, R1, 0), // r2 = *(u32 *)(r1 + 0)     access_type
    and32Imm(R2, 0xffff), // w2 &= 0xffff              r2 = device type (BPF_DEVCG_DEV_*)
    loadWord(R3, R1, 0), // r3 = *(u32 *)(r1 + 0)     access_type
    rsh32Imm(R3, 16), // w3 >>= 16                     r3 = access asked for (BPF_DEVCG_ACC_*)
    loadWord(R4, R1, 4), // r4 = *(u32 *)(r1 + 4)     major
    loadWord(R5, R1, 8), // r5 = *(u32 *)(r1 + 8)     minor
  ];
}

/** `if rdst != n goto <next block>` for any u32 n: above 2^31-1 through w1 (imm is signed). */
function numberMismatch(reg: Reg, n: number): BlockInsn[] {
  if (n <= 0x7fffffff) return [jneImmNext(reg, n)];
  return [
    mov32Imm(R1, n), // w1 = n                        zero-extended, unlike a jump's imm
    jneRegNext(reg, R1), // if rN != r1 goto next
  ];
}

/** One rule's block, and whether it matches every request (then nothing after it can run). */
function ruleBlock(rule: CheckedRule): { insns: Insn[]; unconditional: boolean } {
  const block: BlockInsn[] = [];
  if (rule.type !== null) {
    block.push(jneImmNext(R2, rule.type)); // if r2 != type goto next
  }
  if (rule.access !== ACC_ALL) {
    block.push(
      mov32Reg(R1, R3), // w1 = w3
      and32Imm(R1, rule.access), // w1 &= access
      rule.allow
        ? jneRegNext(R1, R3) // if r1 != r3 goto next     (asks for more than the rule grants)
        : jeqImmNext(R1, 0), // if r1 == 0 goto next      (asks for none of what it denies)
    );
  }
  if (rule.major !== null) block.push(...numberMismatch(R4, rule.major)); // if r4 != major goto next
  if (rule.minor !== null) block.push(...numberMismatch(R5, rule.minor)); // if r5 != minor goto next
  const unconditional = block.length === 0;
  block.push(
    mov32Imm(R0, rule.allow ? 1 : 0), // w0 = verdict
    exit(), // exit
  );
  return { insns: closeBlock(block), unconditional };
}

/**
 * The eBPF program (8-byte little-endian instructions) for the device rules: the last rule that
 * matches a request decides it, and a request no rule matches is denied. Throws a
 * DruntimeError naming the rule for a type, number or access that is not valid.
 */
export function deviceFilterProgram(rules: readonly DeviceCgroupRule[]): Uint8Array<ArrayBuffer> {
  const checked = rules.map(checkRule); // every rule is checked, even those a later one hides
  const insns = prologue();
  for (let i = checked.length - 1; i >= 0; i--) {
    const block = ruleBlock(checked[i]);
    insns.push(...block.insns);
    if (block.unconditional) return encode(insns);
  }
  insns.push(
    mov32Imm(R0, 0), // w0 = 0                        no rule matched: deny
    exit(), // exit
  );
  return encode(insns);
}

/** The program as text, one instruction a line, in the notation of the comments above. */
export function disassemble(program: Uint8Array): string[] {
  const view = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const lines: string[] = [];
  for (let at = 0; at + INSN_SIZE <= program.byteLength; at += INSN_SIZE) {
    const code = view.getUint8(at), regs = view.getUint8(at + 1);
    const dst = regs & 0xf, src = regs >> 4;
    const off = view.getInt16(at + 2, true), imm = view.getInt32(at + 4, true);
    const target = `goto ${off >= 0 ? "+" : ""}${off}`;
    switch (code) {
      case BPF_LDX | BPF_W | BPF_MEM:
        lines.push(`r${dst} = *(u32 *)(r${src} + ${off})`);
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        lines.push(`w${dst} &= 0x${(imm >>> 0).toString(16)}`);
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        lines.push(`w${dst} >>= ${imm}`);
        break;
      case BPF_ALU | BPF_MOV | BPF_X:
        lines.push(`w${dst} = w${src}`);
        break;
      case BPF_ALU | BPF_MOV | BPF_K:
        lines.push(`w${dst} = ${imm >>> 0}`);
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
        lines.push(`if r${dst} != ${imm} ${target}`);
        break;
      case BPF_JMP | BPF_JNE | BPF_X:
        lines.push(`if r${dst} != r${src} ${target}`);
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        lines.push(`if r${dst} == ${imm} ${target}`);
        break;
      case BPF_JMP | BPF_EXIT:
        lines.push("exit");
        break;
      default:
        lines.push(`.insn 0x${code.toString(16).padStart(2, "0")} r${dst} r${src} ${off} ${imm}`);
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// bpf(2)
// ---------------------------------------------------------------------------------------------

/**
 * The bytes of union bpf_attr handed to every command. The kernel reads what it knows of
 * them and needs any byte it does not know to be zero, so a size larger than an old kernel's
 * union is fine as long as only the fields each command uses are set.
 */
const ATTR_SIZE = 128;

/** The name the loaded programs carry (bpftool prog shows it); [A-Za-z0-9_.], under 16 bytes. */
export const PROG_NAME = "druntime_dev";

/** runc's choice: the cgroup device program type needs no GPL-only helper. */
const LICENSE = "Apache";

/** Verifier log size on the retry that asks for one. */
const LOG_SIZE = 1 << 20;

/** BPF_PROG_LOAD refused the program; `log` is what the verifier said. */
export class BpfLoadError extends SyscallError {
  readonly log: string;
  constructor(args: readonly (string | number)[], errno: number, log: string) {
    super("bpf", ["BPF_PROG_LOAD", ...args], errno);
    this.name = "BpfLoadError";
    this.log = log;
    if (log) this.message += `\nverifier log:\n${log}`;
  }
}

function attr(): { bytes: Uint8Array<ArrayBuffer>; view: DataView } {
  const bytes = new Uint8Array(ATTR_SIZE);
  return { bytes, view: new DataView(bytes.buffer) };
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function progLoad(insns: Uint8Array<ArrayBuffer>, log: Uint8Array<ArrayBuffer> | null): number {
  const license = new TextEncoder().encode(`${LICENSE}\0`);
  const { bytes, view } = attr();
  view.setUint32(0, BPF_PROG_TYPE_CGROUP_DEVICE, true); // prog_type
  view.setUint32(4, insns.byteLength / INSN_SIZE, true); // insn_cnt
  view.setBigUint64(8, addressOf(insns), true); // insns
  view.setBigUint64(16, addressOf(license), true); // license
  if (log) {
    view.setUint32(24, 1, true); // log_level
    view.setUint32(28, log.byteLength, true); // log_size
    view.setBigUint64(32, addressOf(log), true); // log_buf
  }
  bytes.set(new TextEncoder().encode(PROG_NAME).subarray(0, BPF_OBJ_NAME_LEN - 1), 48); // prog_name
  return bpf(BPF_PROG_LOAD, "BPF_PROG_LOAD", bytes, loadArgs(insns));
}

function loadArgs(insns: Uint8Array): string[] {
  return ["BPF_PROG_TYPE_CGROUP_DEVICE", `${insns.byteLength / INSN_SIZE} insns`];
}

/**
 * Loads a device filter program (from deviceFilterProgram) into the kernel and returns its fd
 * (close-on-exec, as every bpf fd). When the kernel refuses it, loads it again with a verifier
 * log (log_level 1) and throws a BpfLoadError whose message ends with that log.
 */
export function loadDeviceFilter(insns: Uint8Array): number {
  if (insns.byteLength === 0 || insns.byteLength % INSN_SIZE !== 0) {
    throw new DruntimeError(`device filter: ${insns.byteLength} bytes is not a whole number of instructions`);
  }
  const program = new Uint8Array(insns); // a copy the FFI can point at, whatever insns views
  try {
    return progLoad(program, null);
  } catch (first) {
    if (!(first instanceof SyscallError)) throw first;
    // Without a log first: with one, a log buffer too small fails a good program (ENOSPC).
    const log = new Uint8Array(LOG_SIZE);
    try {
      return progLoad(program, log); // the first failure was passing (EAGAIN): it loads now
    } catch (second) {
      if (!(second instanceof SyscallError)) throw second;
      const errno = second.errno === errnoByName("ENOSPC") ? first.errno : second.errno;
      throw new BpfLoadError(loadArgs(program), errno, cString(log).trim());
    }
  }
}

/** The ids of the programs attached to the cgroup open on dirFd as BPF_CGROUP_DEVICE. */
function queryDeviceProgIds(dirFd: number): number[] {
  let room = 64; // the kernel's limit on programs attached to one cgroup and hook
  for (let tries = 0; tries < 10; tries++) {
    const ids = new Uint32Array(room);
    const { bytes, view } = attr();
    view.setUint32(0, dirFd, true); // target_fd
    view.setUint32(4, BPF_CGROUP_DEVICE, true); // attach_type
    view.setBigUint64(16, addressOf(ids), true); // prog_ids
    view.setUint32(24, room, true); // prog_cnt (in: room; out: how many)
    try {
      bpf(BPF_PROG_QUERY, "BPF_PROG_QUERY", bytes, ["BPF_CGROUP_DEVICE"]);
    } catch (e) {
      // ENOSPC: more than `room` programs; prog_cnt now says how many.
      if (e instanceof SyscallError && e.errno === errnoByName("ENOSPC")) {
        room = Math.max(view.getUint32(24, true), room * 2);
        continue;
      }
      throw e;
    }
    return [...ids.subarray(0, view.getUint32(24, true))];
  }
  throw new DruntimeError("BPF_PROG_QUERY(BPF_CGROUP_DEVICE): the list of programs kept changing");
}

/** An fd for the program with this id, or null when it is gone or not ours to see. */
function progFdById(id: number): number | null {
  const { bytes, view } = attr();
  view.setUint32(0, id, true); // prog_id
  try {
    return bpf(BPF_PROG_GET_FD_BY_ID, "BPF_PROG_GET_FD_BY_ID", bytes, [id]);
  } catch (e) {
    // ENOENT: detached and freed since the query. EPERM/EACCES: an LSM hides it (runc skips
    // those too: another device program can only deny more, never allow more).
    if (e instanceof SyscallError && ["ENOENT", "EPERM", "EACCES"].includes(e.code)) return null;
    throw e;
  }
}

/** The name a program was loaded with (bpf_prog_info.name). */
function progName(progFd: number): string {
  const info = new Uint8Array(80); // struct bpf_prog_info up to and including name[16]
  const { bytes, view } = attr();
  view.setUint32(0, progFd, true); // bpf_fd
  view.setUint32(4, info.byteLength, true); // info_len
  view.setBigUint64(8, addressOf(info), true); // info
  bpf(BPF_OBJ_GET_INFO_BY_FD, "BPF_OBJ_GET_INFO_BY_FD", bytes, [progFd]);
  return cString(info.subarray(64, 64 + BPF_OBJ_NAME_LEN));
}

function progAttach(dirFd: number, progFd: number, flags: number, replaceFd: number | null): void {
  const { bytes, view } = attr();
  view.setUint32(0, dirFd, true); // target_fd
  view.setUint32(4, progFd, true); // attach_bpf_fd
  view.setUint32(8, BPF_CGROUP_DEVICE, true); // attach_type
  view.setUint32(12, flags, true); // attach_flags
  if (replaceFd !== null) view.setUint32(16, replaceFd, true); // replace_bpf_fd
  const how = replaceFd === null ? "BPF_F_ALLOW_MULTI" : "BPF_F_ALLOW_MULTI|BPF_F_REPLACE";
  bpf(BPF_PROG_ATTACH, "BPF_PROG_ATTACH", bytes, ["BPF_CGROUP_DEVICE", how]);
}

function progDetach(dirFd: number, progFd: number): void {
  const { bytes, view } = attr();
  view.setUint32(0, dirFd, true); // target_fd
  view.setUint32(4, progFd, true); // attach_bpf_fd
  view.setUint32(8, BPF_CGROUP_DEVICE, true); // attach_type
  bpf(BPF_PROG_DETACH, "BPF_PROG_DETACH", bytes, ["BPF_CGROUP_DEVICE"]);
}

function openCgroupDir(cgroupDir: string): number {
  return open(cgroupDir, O_RDONLY | ARCH.O_DIRECTORY | O_CLOEXEC);
}

/** A device program attached directly to a cgroup (not one inherited from an ancestor). */
export interface AttachedDeviceFilter {
  id: number;
  /** The name it was loaded with: PROG_NAME for druntime's; "" when it is not ours to see. */
  name: string;
}

/** The device programs attached to the cgroup directory itself, in the order they run. */
export function attachedDeviceFilters(cgroupDir: string): AttachedDeviceFilter[] {
  const dirFd = openCgroupDir(cgroupDir);
  try {
    return queryDeviceProgIds(dirFd).map((id) => {
      const fd = progFdById(id);
      if (fd === null) return { id, name: "" };
      try {
        return { id, name: progName(fd) };
      } finally {
        close(fd);
      }
    });
  } finally {
    close(dirFd);
  }
}

export interface AttachOptions {
  /**
   * Detach the device programs already attached to this cgroup, so that the new one replaces
   * them (runc's update). Default true: a container's cgroup is its runtime's alone.
   */
  replace?: boolean;
}

/**
 * Builds the device filter for `rules`, loads it and attaches it to the cgroup v2 directory
 * `cgroupDir` with BPF_F_ALLOW_MULTI. Unless `replace` is false, the device programs attached
 * there before are detached: with one, atomically by BPF_F_REPLACE (Linux 5.6); otherwise, or
 * where BPF_F_REPLACE is unknown, after the new one is attached, so that no moment runs
 * without a filter. Every program that is attached must allow an access for it to happen.
 */
export function attachDeviceFilter(
  cgroupDir: string,
  rules: readonly DeviceCgroupRule[],
  options: AttachOptions = {},
): void {
  const program = deviceFilterProgram(rules); // bad rules fail before anything is opened
  const dirFd = openCgroupDir(cgroupDir);
  const fds: number[] = [];
  try {
    const progFd = loadDeviceFilter(program);
    fds.push(progFd);
    const oldFds: number[] = [];
    if (options.replace ?? true) {
      for (const id of queryDeviceProgIds(dirFd)) {
        const fd = progFdById(id);
        if (fd === null) continue;
        oldFds.push(fd);
        fds.push(fd);
      }
    }
    if (oldFds.length === 1) {
      try {
        progAttach(dirFd, progFd, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, oldFds[0]);
        return;
      } catch (e) {
        // EINVAL: a kernel before 5.6, which has no BPF_F_REPLACE. Attach, then detach.
        if (!(e instanceof SyscallError && e.code === "EINVAL")) throw e;
      }
    }
    progAttach(dirFd, progFd, BPF_F_ALLOW_MULTI, null);
    for (const fd of oldFds) {
      try {
        progDetach(dirFd, fd);
      } catch (e) {
        // ENOENT: someone detached it since the query.
        if (!(e instanceof SyscallError && e.code === "ENOENT")) throw e;
      }
    }
  } finally {
    for (const fd of fds) close(fd);
    close(dirFd);
  }
}
