/**
 * The parent <-> init channel: length-prefixed JSON frames over the init socket, in the
 * order of runc's procHooks/procReady exchange:
 *
 *   parent -> init   config   the plan to execute
 *   init -> parent   hooks    (when there are hooks) mounts done, about to pivot_root
 *   parent -> init   resume   prestart/createRuntime hooks ran
 *   init -> parent   ready    the pipeline ran; the init waits on its start socket
 *                    error    a stage failed (stage, message)
 *   after start:     error    the exec itself failed; EOF (the socket is close-on-exec) means it ran
 *
 * `start` (this process or another) connects to the init's start socket; the init answers one
 * byte 0 and execs, or "E" and a message when a startContainer hook failed. Once the init has
 * become the start waiter (ffi/waiter.ts), an exec failure comes as EXEC_FAILED_MARKER where
 * a frame's length would be, then errno.
 */
import type { Plan } from "./plan/types.ts";
import type { Hook } from "./spec/types.ts";
import type { ContainerState } from "./container/state.ts";
import { errno, libc, writeAll } from "../ffi/libc.ts";
import { EINTR, SyscallError } from "../ffi/errno.ts";
import { EXEC_FAILED_MARKER, SECCOMP_FAILED_MARKER } from "../ffi/waiter.ts";

/** What the init needs besides the plan. */
export interface InitConfig {
  plan: Plan;
  /** The unix socket the init listens on for `start`. */
  startSocket: string;
  /** Stop before pivot_root so the parent can run prestart/createRuntime hooks. */
  hooksSync: boolean;
  /** Hooks the init runs itself, in the container's namespaces. */
  hooks: { createContainer?: Hook[]; startContainer?: Hook[] };
  /** The state hooks read (the pid is the init's, as the host sees it). */
  state: ContainerState;
  /** --preserve-fds: fds 3 .. 3+N-1 pass to the process. */
  preserveFds: number;
}

export type ToInit =
  | { type: "config"; config: InitConfig }
  | { type: "resume"; state: ContainerState };

export type FromInit =
  | { type: "hooks" }
  | { type: "ready"; timings: Record<string, number> }
  | { type: "error"; stage: string; message: string };

/** The environment variable naming the init socket's fd in the init. */
export const INIT_PIPE_ENV = "_DRUNTIME_INITPIPE";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes one frame. */
export function sendMessage(fd: number, msg: ToInit | FromInit): void {
  const body = encoder.encode(JSON.stringify(msg));
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length, true);
  frame.set(body, 4);
  writeAll(fd, frame);
}

type Reader = (buf: Uint8Array<ArrayBuffer>) => number | Promise<number>;

async function readExact(read: Reader, n: number): Promise<Uint8Array<ArrayBuffer> | null> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await read(out.subarray(off));
    if (got === 0) {
      if (off === 0) return null;
      throw new Error("init socket closed in the middle of a message");
    }
    if (got < 0) throw new Error("reading the init socket failed");
    off += got;
  }
  return out;
}

function parseFrame<T>(body: Uint8Array): T {
  return JSON.parse(decoder.decode(body)) as T;
}

/** The length word of the next frame; null at EOF. */
async function readLength(read: Reader): Promise<number | null> {
  const head = await readExact(read, 4);
  return head === null ? null : new DataView(head.buffer).getUint32(0, true);
}

async function readBody<T>(read: Reader, length: number): Promise<T | null> {
  const body = await readExact(read, length);
  return body === null ? null : parseFrame<T>(body);
}

/** Reads one frame in the parent without blocking its event loop; null at EOF. */
export async function receiveFromInit(fd: number): Promise<FromInit | null> {
  const read: Reader = async (buf) => Number(await libc.readAsync(fd, buf, BigInt(buf.length)));
  const length = await readLength(read);
  if (length === null) return null;
  if (length === EXEC_FAILED_MARKER || length === SECCOMP_FAILED_MARKER) {
    const err = await readExact(read, 4);
    const code = err === null ? 0 : new DataView(err.buffer).getInt32(0, true);
    const call = length === EXEC_FAILED_MARKER ? "execve" : "seccomp";
    return { type: "error", stage: "exec", message: new SyscallError(call, [], code).message };
  }
  return readBody<FromInit>(read, length);
}

/** Reads one frame in the init, blocking: the init has nothing else to do meanwhile. */
export async function receiveFromParent(fd: number): Promise<ToInit | null> {
  const read: Reader = (buf) => {
    for (;;) {
      const n = Number(libc.read(fd, buf, BigInt(buf.length)));
      if (n >= 0 || errno() !== EINTR) return n;
    }
  };
  const length = await readLength(read);
  return length === null ? null : readBody<ToInit>(read, length);
}
