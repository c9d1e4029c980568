/** runtime/paths.ts against node:path, on the kinds of input druntime gives it. */
import assert from "node:assert/strict";
import * as node from "node:path";
import { isAbsolute, join, normalize, resolve } from "../../runtime/paths.ts";

const SAMPLES = [
  "",
  ".",
  "./",
  "..",
  "../",
  "/",
  "//",
  "///a//b",
  "/a/b/",
  "/a/./b/../c",
  "/../a",
  "/a/../../b",
  "a/b/..",
  "a/../..",
  "a/../../b/",
  "../../a",
  "./a/./b/.",
  "/druntime/x/",
  "rel",
  "rel/../..",
  "/proc/sys/net/ipv4",
  "a//b//",
  "..a/b..",
  "/...",
];

Deno.test("normalize: as node:path's", () => {
  for (const s of SAMPLES) assert.equal(normalize(s), node.normalize(s), JSON.stringify(s));
});

Deno.test("isAbsolute: as node:path's", () => {
  for (const s of SAMPLES) assert.equal(isAbsolute(s), node.isAbsolute(s), JSON.stringify(s));
});

Deno.test("join: as node:path's", () => {
  for (const a of SAMPLES) {
    for (const b of ["", "x", "/x", "../x", "x/", "."]) {
      assert.equal(join(a, b), node.join(a, b), JSON.stringify([a, b]));
    }
  }
  assert.equal(join(), node.join());
  assert.equal(
    join("/sys/fs/cgroup", "memory", "/druntime/x"),
    node.join("/sys/fs/cgroup", "memory", "/druntime/x"),
  );
});

Deno.test("resolve: as node:path's, from the cwd", () => {
  for (const a of SAMPLES) {
    for (const b of ["", "x", "/x", "../x", "x/", "."]) {
      assert.equal(resolve(a, b), node.resolve(a, b), JSON.stringify([a, b]));
    }
  }
  assert.equal(resolve(), node.resolve());
});
