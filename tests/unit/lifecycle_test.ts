/**
 * The parts of the lifecycle that need no container: signal names, the `created` timestamp,
 * process start times and the live status that rests on them, the state entry's claim, and
 * wait statuses.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { exitCodeOf, parseSignal } from "../../runtime/container/lifecycle.ts";
import {
  createStateEntry,
  currentState,
  listIds,
  liveStatus,
  processStartTime,
  readState,
  rfc3339Nano,
  startSocketPath,
  type StoredState,
  withLock,
  writeState,
} from "../../runtime/container/state.ts";

Deno.test("parseSignal: names with and without SIG, any case, and numbers", () => {
  assert.equal(parseSignal("KILL"), 9);
  assert.equal(parseSignal("SIGKILL"), 9);
  assert.equal(parseSignal("sigterm"), 15);
  assert.equal(parseSignal("term"), 15);
  assert.equal(parseSignal("HUP"), 1);
  assert.equal(parseSignal("USR2"), 12);
  assert.equal(parseSignal("9"), 9);
  assert.equal(parseSignal("64"), 64);
  assert.equal(parseSignal("RTMIN"), 34);
  assert.equal(parseSignal("SIGRTMIN+3"), 37);
  assert.equal(parseSignal("RTMAX"), 64);
  assert.equal(parseSignal("RTMAX-2"), 62);
});

Deno.test("parseSignal: unknown names and out-of-range numbers are refused by name", () => {
  for (const bad of ["FOO", "0", "65", "-1", "", "SIG", "RTMIN+31", "9x", "KILL "]) {
    assert.throws(
      () => parseSignal(bad),
      (e: Error) => e.message === `unknown signal ${JSON.stringify(bad)}`,
      bad,
    );
  }
});

Deno.test("rfc3339Nano: nine fraction digits and Z, as runc writes `created`", () => {
  const s = rfc3339Nano(Date.UTC(2026, 10, 23, 12, 0, 0, 123) + 0.25);
  assert.match(s, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.equal(s, "2026-11-23T12:00:00.123250000Z");
  assert.equal(rfc3339Nano(Date.UTC(2026, 0, 1)), "2026-01-01T00:00:00.000000000Z");
});

Deno.test("exitCodeOf: the exit code, or 128+N for signal N", () => {
  assert.equal(exitCodeOf(0), 0);
  assert.equal(exitCodeOf(7 << 8), 7);
  assert.equal(exitCodeOf(255 << 8), 255);
  assert.equal(exitCodeOf(9), 137);
  assert.equal(exitCodeOf(15 | 0x80), 143); // core dumped
});

Deno.test("processStartTime: this process has one; a pid that does not exist has none", () => {
  const mine = processStartTime(Deno.pid);
  assert.ok(mine !== null && mine > 0);
  assert.equal(processStartTime(Deno.pid), mine, "stable");
  assert.equal(processStartTime(0x3fffffff), null);
});

function stored(over: Partial<StoredState>): StoredState {
  return {
    ociVersion: "1.2.0",
    id: "t",
    pid: 0,
    status: "creating",
    bundle: "/b",
    rootfs: "/b/rootfs",
    created: rfc3339Nano(Date.now()),
    owner: "",
    initStartTime: 0,
    creatorPid: 0,
    ...over,
  };
}

Deno.test("liveStatus: from the process, never from the file", async () => {
  const root = await Deno.makeTempDir({ prefix: "druntime-state-" });
  try {
    const me = processStartTime(Deno.pid)!;
    createStateEntry(root, "t");
    // A live pid with its start time: running (no start socket) or created (with one).
    assert.equal(
      liveStatus(root, stored({ pid: Deno.pid, initStartTime: me, status: "stopped" })),
      "running",
    );
    await Deno.writeTextFile(startSocketPath(root, "t"), "");
    assert.equal(liveStatus(root, stored({ pid: Deno.pid, initStartTime: me })), "created");
    // The same pid with another start time: the kernel reused it, the container is gone.
    assert.equal(
      liveStatus(root, stored({ pid: Deno.pid, initStartTime: me + 1, status: "running" })),
      "stopped",
    );
    // No init yet: creating while the creator lives, stopped once it is gone.
    assert.equal(liveStatus(root, stored({ pid: 0, creatorPid: Deno.pid })), "creating");
    assert.equal(liveStatus(root, stored({ pid: 0, creatorPid: 0x3fffffff })), "stopped");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("state entries: claimed once, written whole, read back, listed, stopped shows pid 0", async () => {
  const root = await Deno.makeTempDir({ prefix: "druntime-state-" });
  try {
    createStateEntry(root, "a");
    assert.throws(() => createStateEntry(root, "a"), /container "a" already exists/);
    writeState(root, stored({ id: "a", pid: 0x3fffffff, initStartTime: 5, annotations: { k: "v" } }));
    assert.equal(readState(root, "a").pid, 0x3fffffff);
    const { state } = currentState(root, "a");
    assert.equal(state.status, "stopped");
    assert.equal(state.pid, 0);
    assert.deepEqual(state.annotations, { k: "v" });
    assert.deepEqual(Object.keys(state), [
      "ociVersion",
      "id",
      "pid",
      "status",
      "bundle",
      "rootfs",
      "created",
      "owner",
      "annotations",
    ]);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(join(root, "a")))).map((e) => e.name), [
      "state.json",
    ]);
    createStateEntry(root, "b");
    assert.deepEqual(listIds(root), ["a", "b"]);
    assert.throws(() => readState(root, "nope"), /container "nope" does not exist/);
    assert.deepEqual(listIds(join(root, "missing")), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("withLock: commands on one id run one after the other; an unknown id does not exist", async () => {
  const root = await Deno.makeTempDir({ prefix: "druntime-state-" });
  try {
    createStateEntry(root, "l");
    const order: string[] = [];
    const slow = withLock(root, "l", async () => {
      order.push("a+");
      await new Promise((r) => setTimeout(r, 100));
      order.push("a-");
    });
    await new Promise((r) => setTimeout(r, 20));
    // flock is per open file description: a second open in this process still waits for it.
    const second = withLock(root, "l", () => {
      order.push("b");
    });
    await Promise.all([slow, second]);
    assert.deepEqual(order, ["a+", "a-", "b"]);
    await assert.rejects(withLock(root, "nope", () => {}), /container "nope" does not exist/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
