import assert from "node:assert/strict";
import { join } from "node:path";
import { lstatOrNull, mkdirAllInRoot, resolveInRoot } from "../../runtime/init/securejoin.ts";

/** Runs fn with a fresh temporary directory acting as a container's root, and removes it after. */
function withRoot(fn: (root: string) => void): void {
  const root = Deno.makeTempDirSync({ prefix: "druntime-root-" });
  try {
    fn(root);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
}

/** A path in /tmp that does not exist (yet). */
function elsewhere(): string {
  const dir = Deno.makeTempDirSync({ prefix: "druntime-elsewhere-" });
  Deno.removeSync(dir);
  return dir;
}

Deno.test("resolveInRoot: plain paths join, . and empty components vanish", () => {
  withRoot((root) => {
    assert.equal(resolveInRoot(root, "/"), root);
    assert.equal(resolveInRoot(root, ""), root);
    assert.equal(resolveInRoot(root, "/a/b"), join(root, "a/b"));
    assert.equal(resolveInRoot(root, "a//./b/"), join(root, "a/b"));
  });
});

Deno.test("resolveInRoot: an absolute symlink starts again at the root", () => {
  withRoot((root) => {
    Deno.mkdirSync(join(root, "outside"));
    Deno.symlinkSync("/outside", join(root, "etc"));
    assert.equal(resolveInRoot(root, "/etc"), join(root, "outside"));
    assert.equal(resolveInRoot(root, "/etc/passwd"), join(root, "outside/passwd"));
    // Nested: a link deeper in the tree pointing at an absolute path.
    Deno.mkdirSync(join(root, "usr/lib"), { recursive: true });
    Deno.symlinkSync("/", join(root, "usr/lib/up"));
    assert.equal(resolveInRoot(root, "/usr/lib/up/etc/x"), join(root, "outside/x"));
    // A link to a host path that exists on the host is still read inside the root (where /etc
    // is itself the link above).
    Deno.symlinkSync("/etc/passwd", join(root, "hostpasswd"));
    assert.equal(resolveInRoot(root, "/hostpasswd"), join(root, "outside/passwd"));
  });
});

Deno.test("resolveInRoot: .. stops at the root, in paths and in symlinks", () => {
  withRoot((root) => {
    assert.equal(resolveInRoot(root, "../../.."), root);
    assert.equal(resolveInRoot(root, "/../../../etc/shadow"), join(root, "etc/shadow"));
    assert.equal(resolveInRoot(root, "/a/b/../../../../c"), join(root, "c"));
    Deno.mkdirSync(join(root, "a/b"), { recursive: true });
    Deno.symlinkSync("../../../../../../..", join(root, "a/b/climb"));
    assert.equal(resolveInRoot(root, "/a/b/climb"), root);
    assert.equal(resolveInRoot(root, "/a/b/climb/tmp/x"), join(root, "tmp/x"));
  });
});

Deno.test("resolveInRoot: a chain of relative symlinks", () => {
  withRoot((root) => {
    Deno.mkdirSync(join(root, "real/dir"), { recursive: true });
    Deno.mkdirSync(join(root, "x/y"), { recursive: true });
    // /x/y/one -> ../two, /x/two -> ../real, /real/link -> dir
    Deno.symlinkSync("../two", join(root, "x/y/one"));
    Deno.symlinkSync("../real", join(root, "x/two"));
    Deno.symlinkSync("dir", join(root, "real/link"));
    assert.equal(resolveInRoot(root, "/x/y/one"), join(root, "real"));
    assert.equal(resolveInRoot(root, "/x/y/one/link/file"), join(root, "real/dir/file"));
    assert.equal(resolveInRoot(root, "/x/y/one/link/../.."), root);
    // The path resolved is on the host under the root, and exists where the chain ends.
    assert.ok(Deno.statSync(resolveInRoot(root, "/x/y/one/link")).isDirectory);
  });
});

Deno.test("resolveInRoot: a symlink loop is an error", () => {
  withRoot((root) => {
    Deno.symlinkSync("b", join(root, "a"));
    Deno.symlinkSync("/a", join(root, "b"));
    Deno.symlinkSync("self/x", join(root, "self"));
    for (const path of ["/a", "/b/c", "/self"]) {
      assert.throws(() => resolveInRoot(root, path), /too many levels of symbolic links/, path);
    }
  });
});

Deno.test("mkdirAllInRoot: creates directories and files inside the root", () => {
  withRoot((root) => {
    const dir = mkdirAllInRoot(root, "/a/b/c");
    assert.equal(dir, join(root, "a/b/c"));
    assert.ok(Deno.statSync(dir).isDirectory);
    const file = mkdirAllInRoot(root, "/etc/resolv.conf", { file: true });
    assert.equal(file, join(root, "etc/resolv.conf"));
    assert.ok(Deno.statSync(file).isFile);
    assert.equal(Deno.statSync(file).size, 0);
    // Existing paths are left alone and returned.
    Deno.writeTextFileSync(file, "nameserver 1.1.1.1\n");
    assert.equal(mkdirAllInRoot(root, "/etc/resolv.conf", { file: true }), file);
    assert.equal(Deno.readTextFileSync(file), "nameserver 1.1.1.1\n");
    assert.equal(mkdirAllInRoot(root, "/a/b"), join(root, "a/b"));
  });
});

Deno.test("mkdirAllInRoot: the mode given (less the umask) is the new directory's", () => {
  withRoot((root) => {
    const old = Deno.umask(0o022);
    try {
      const dir = mkdirAllInRoot(root, "/m", { mode: 0o700 });
      assert.equal(Deno.statSync(dir).mode! & 0o777, 0o700);
      const file = mkdirAllInRoot(root, "/f", { file: true, mode: 0o600 });
      assert.equal(Deno.statSync(file).mode! & 0o777, 0o600);
    } finally {
      Deno.umask(old);
    }
  });
});

Deno.test("mkdirAllInRoot: symlinks pointing out of the root create nothing outside it", () => {
  withRoot((root) => {
    const away = elsewhere();
    try {
      // An absolute link to a host path, a relative link climbing out, and a dangling final link.
      Deno.symlinkSync(away, join(root, "abs"));
      Deno.symlinkSync(`../../../../../../../..${away}`, join(root, "rel"));
      Deno.symlinkSync(`${away}/file`, join(root, "final"));
      Deno.mkdirSync(join(root, "d"));
      Deno.symlinkSync(`${away}/deep`, join(root, "d/link"));

      const made = [
        mkdirAllInRoot(root, "/abs/sub/dir"),
        mkdirAllInRoot(root, "/rel/other"),
        mkdirAllInRoot(root, "/final", { file: true }),
        mkdirAllInRoot(root, "/d/link/x", { file: true }),
      ];
      assert.equal(lstatOrNull(away), null, `${away} was created outside the root`);
      for (const path of made) {
        assert.ok(path.startsWith(`${root}/`), `${path} is outside ${root}`);
        assert.ok(lstatOrNull(path) !== null, `${path} was not created`);
      }
      assert.deepEqual(made, [
        join(root, away, "sub/dir"),
        join(root, away, "other"),
        join(root, away, "file"),
        join(root, away, "deep/x"),
      ]);
      assert.ok(Deno.statSync(made[2]).isFile);
      // The links themselves are untouched.
      assert.equal(Deno.readLinkSync(join(root, "final")), `${away}/file`);
    } finally {
      try {
        Deno.removeSync(away, { recursive: true });
      } catch { /* not there, as it should be */ }
    }
  });
});

Deno.test("lstatOrNull: null for missing paths and paths through a file", () => {
  withRoot((root) => {
    assert.equal(lstatOrNull(join(root, "missing")), null);
    Deno.writeTextFileSync(join(root, "file"), "");
    assert.equal(lstatOrNull(join(root, "file/below")), null);
    assert.ok(lstatOrNull(join(root, "file"))?.isFile);
  });
});
