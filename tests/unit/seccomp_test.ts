/**
 * linux.seccomp: validation (pure), compilation with libseccomp, and an end-to-end check that
 * the exported BPF is what the kernel enforces: a child Deno process sets no_new_privs, loads
 * the program with seccomp(2) on its main thread and execs a shell, which then finds mkdir,
 * kill and chmod denied exactly as the rules say. No root needed (no_new_privs suffices).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  actionValue,
  BPF_MAXINSNS,
  checkSeccomp,
  compileSeccomp,
  libseccompArchName,
  type LinuxSeccomp,
  type LinuxSyscall,
  SECCOMP_ARCHES,
  seccompFlags,
  validateSeccomp,
} from "../../runtime/spec/seccomp.ts";
import {
  archResolveName,
  haveLibseccomp,
  packArgCmps,
  SCMP_ACT_ALLOW,
  SCMP_ACT_ERRNO,
  SCMP_ACT_KILL_PROCESS,
  SCMP_ACT_LOG,
  SCMP_ACT_TRACE,
  SCMP_CMP_MASKED_EQ,
  SOCK_FILTER_SIZE,
} from "../../ffi/seccomp.ts";
import { ConfigError, type ConfigProblem, DruntimeError } from "../../runtime/errors.ts";

const HAVE = haveLibseccomp();
if (!HAVE) console.error("note: libseccomp.so.2 is not installed: seccomp compile tests are ignored");
const needsLib = { ignore: !HAVE };

// ---------------------------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------------------------

/**
 * The shape of Docker's default profile (moby profiles/seccomp/default.json): deny by default
 * with EPERM, allow a long list, a few rules with argument comparisons (personality values,
 * clone without namespace flags, socket families), and names that exist only on some arches.
 */
const DOCKER_ALLOW: string[] = `
  accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
  clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
  clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create
  epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd
  eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
  fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
  flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
  ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64
  getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername
  getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
  getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
  gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
  io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set
  io_setup io_submit io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule
  landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen
  listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier
  memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2
  mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
  mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
  name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
  pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl
  pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2
  read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
  remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction
  rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
  rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
  sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
  sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64
  sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups
  setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
  setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
  set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd
  signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx
  symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
  timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create
  timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64
  ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4
  waitid waitpid write writev
`.trim().split(/\s+/).concat(
  // Only on some architectures: skipped on x86 filters.
  `arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls arch_prctl modify_ldt sys32_personality`
    .split(" "),
);

function dockerLike(allow: readonly string[] = DOCKER_ALLOW): LinuxSeccomp {
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [
      { names: [...allow], action: "SCMP_ACT_ALLOW" },
      // personality(PER_LINUX), personality(PER_LINUX32), personality(UNAME26|PER_LINUX), and
      // "query": the same argument compared four ways, so four rules (any matches).
      {
        names: ["personality"],
        action: "SCMP_ACT_ALLOW",
        args: [
          { index: 0, value: 0, op: "SCMP_CMP_EQ" },
          { index: 0, value: 8, op: "SCMP_CMP_EQ" },
          { index: 0, value: 131072, op: "SCMP_CMP_EQ" },
          { index: 0, value: 4294967295, op: "SCMP_CMP_EQ" },
        ],
      },
      // clone without any namespace flag.
      {
        names: ["clone"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: 2114060288, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      },
      { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
      // socket, unless AF_VSOCK (40).
      { names: ["socket"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 40, op: "SCMP_CMP_NE" }] },
    ],
  };
}

/** A small deny list: allow everything else. */
function denyList(): LinuxSeccomp {
  return {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [
      { names: ["mount", "umount2", "pivot_root"], action: "SCMP_ACT_ERRNO" },
      { names: ["kexec_load", "reboot"], action: "SCMP_ACT_KILL_PROCESS" },
      { names: ["ptrace"], action: "SCMP_ACT_TRAP" },
      { names: ["acct"], action: "SCMP_ACT_LOG" },
      { names: ["bpf"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

function paths(problems: ConfigProblem[]): string[] {
  return problems.map((p) => p.path);
}

Deno.test("validateSeccomp: valid profiles have no problems", () => {
  assert.deepEqual(validateSeccomp(dockerLike()), []);
  assert.deepEqual(validateSeccomp(denyList()), []);
  assert.deepEqual(validateSeccomp({ defaultAction: "SCMP_ACT_ALLOW" }), []);
  assert.deepEqual(
    validateSeccomp({
      defaultAction: "SCMP_ACT_KILL_THREAD",
      architectures: [...SECCOMP_ARCHES],
      flags: ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
      listenerPath: "/run/seccomp.sock",
      listenerMetadata: "x",
      syscalls: [
        {
          names: ["kill"],
          action: "SCMP_ACT_TRACE",
          errnoRet: 7,
          args: [{ index: 5, value: 1n, op: "SCMP_CMP_LT" }],
        },
        { names: ["kill"], action: "SCMP_ACT_ERRNO", errnoRet: 0 },
        { names: ["kill"], action: "SCMP_ACT_ERRNO", errnoRet: 65535 },
        {
          names: ["kill"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 1, value: (1n << 64n) - 1n, op: "SCMP_CMP_EQ" }],
        },
      ],
    }),
    [],
  );
});

Deno.test("validateSeccomp: not an object, missing or bad defaultAction", () => {
  assert.deepEqual(validateSeccomp(null), [{ path: "linux.seccomp", reason: "must be an object" }]);
  assert.deepEqual(validateSeccomp([]), [{ path: "linux.seccomp", reason: "must be an object" }]);
  assert.deepEqual(validateSeccomp({}), [{ path: "linux.seccomp.defaultAction", reason: "is required" }]);
  const bad = validateSeccomp({ defaultAction: "SCMP_ACT_DENY" });
  assert.deepEqual(paths(bad), ["linux.seccomp.defaultAction"]);
  assert.match(bad[0].reason, /"SCMP_ACT_DENY" is not a seccomp action: must be one of SCMP_ACT_KILL, /);
  assert.deepEqual(validateSeccomp({ defaultAction: "SCMP_ACT_NOTIFY" }), [
    { path: "linux.seccomp.defaultAction", reason: "SCMP_ACT_NOTIFY cannot be the default action" },
  ]);
  // Another path prefix, for callers that validate a seccomp profile file on its own.
  assert.deepEqual(paths(validateSeccomp({ defaultAction: 3 }, "profile")), ["profile.defaultAction"]);
});

Deno.test("validateSeccomp: errnoRet range, and only with ERRNO and TRACE", () => {
  const cases: [unknown, string | null][] = [
    [{ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: -1 }, "must be an integer from 0 to 65535"],
    [{ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 65536 }, "must be an integer from 0 to 65535"],
    [{ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1.5 }, "must be an integer from 0 to 65535"],
    [{ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: "1" }, "must be an integer from 0 to 65535"],
    [
      { defaultAction: "SCMP_ACT_KILL", defaultErrnoRet: 1 },
      "is only used with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not SCMP_ACT_KILL",
    ],
    [{ defaultAction: "SCMP_ACT_TRACE", defaultErrnoRet: 1 }, null],
  ];
  for (const [config, reason] of cases) {
    const got = validateSeccomp(config);
    assert.deepEqual(
      got,
      reason === null ? [] : [{ path: "linux.seccomp.defaultErrnoRet", reason }],
      JSON.stringify(config),
    );
  }
  const p = validateSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [
      { names: ["a"], action: "SCMP_ACT_ERRNO", errnoRet: 1 },
      { names: ["b"], action: "SCMP_ACT_LOG", errnoRet: 1 },
      { names: ["c"], action: "SCMP_ACT_ERRNO", errnoRet: 100000 },
    ],
  });
  assert.deepEqual(p, [
    {
      path: "linux.seccomp.syscalls[1].errnoRet",
      reason: "is only used with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not SCMP_ACT_LOG",
    },
    { path: "linux.seccomp.syscalls[2].errnoRet", reason: "must be an integer from 0 to 65535" },
  ]);
});

Deno.test("validateSeccomp: architectures and flags", () => {
  const p = validateSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64", "x86_64", 7],
    flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_NEW_LISTENER"],
  });
  assert.deepEqual(paths(p), [
    "linux.seccomp.architectures[1]",
    "linux.seccomp.architectures[2]",
    "linux.seccomp.flags[1]",
  ]);
  assert.match(p[0].reason, /^"x86_64" is not a seccomp architecture: must be one of SCMP_ARCH_X86, /);
  assert.match(p[2].reason, /^"SECCOMP_FILTER_FLAG_NEW_LISTENER" is not a seccomp filter flag: /);
  assert.deepEqual(
    paths(validateSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: "SCMP_ARCH_X86", flags: 1 })),
    ["linux.seccomp.architectures", "linux.seccomp.flags"],
  );
  assert.deepEqual(
    validateSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: 1, listenerMetadata: {} }),
    [
      { path: "linux.seccomp.listenerPath", reason: "must be a string" },
      { path: "linux.seccomp.listenerMetadata", reason: "must be a string" },
    ],
  );
});

Deno.test("validateSeccomp: syscalls: names, actions, args", () => {
  const p = validateSeccomp({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      { action: "SCMP_ACT_ALLOW" }, // 0: no names
      { names: [], action: "SCMP_ACT_ALLOW" }, // 1: empty names
      { names: ["read"], action: "SCMP_ACT_PERMIT" }, // 2: bad action
      { names: ["read", ""], action: "SCMP_ACT_ALLOW" }, // 3: empty name
      { names: "read", action: "SCMP_ACT_ALLOW" }, // 4: names not an array
      { names: ["read"] }, // 5: no action
      { names: ["read"], action: "SCMP_ACT_NOTIFY" }, // 6: notify
      "read", // 7: not an object
      {
        names: ["kill"],
        action: "SCMP_ACT_ALLOW",
        args: [
          { index: 6, value: 1, op: "SCMP_CMP_EQ" }, // index out of range
          { index: 0, value: -1, op: "SCMP_CMP_EQ" }, // negative value
          { index: 0, value: 1, op: "SCMP_CMP_EQUAL" }, // bad op
          { index: 0, op: "SCMP_CMP_EQ" }, // no value
          { value: 1 }, // no index, no op
          { index: 0, value: 2 ** 60, op: "SCMP_CMP_EQ" }, // not exact in JSON
          { index: 0, value: 1, valueTwo: "x", op: "SCMP_CMP_MASKED_EQ" }, // bad valueTwo
          { index: 0, value: 1n << 64n, op: "SCMP_CMP_EQ" }, // bigint too large
          7, // not an object
        ],
      }, // 8
      { names: ["kill"], action: "SCMP_ACT_ALLOW", args: {} }, // 9: args not an array
    ],
  });
  const s = "linux.seccomp.syscalls";
  assert.deepEqual(paths(p), [
    `${s}[0].names`,
    `${s}[1].names`,
    `${s}[2].action`,
    `${s}[3].names[1]`,
    `${s}[4].names`,
    `${s}[5].action`,
    `${s}[6].action`,
    `${s}[7]`,
    `${s}[8].args[0].index`,
    `${s}[8].args[1].value`,
    `${s}[8].args[2].op`,
    `${s}[8].args[3].value`,
    `${s}[8].args[4].index`,
    `${s}[8].args[4].op`,
    `${s}[8].args[5].value`,
    `${s}[8].args[6].valueTwo`,
    `${s}[8].args[7].value`,
    `${s}[8].args[8]`,
    `${s}[9].args`,
  ]);
  const reason = (path: string) => p.find((x) => x.path === path)?.reason;
  assert.equal(reason(`${s}[0].names`), "is required");
  assert.equal(reason(`${s}[1].names`), "must name at least one syscall");
  assert.match(reason(`${s}[2].action`)!, /^"SCMP_ACT_PERMIT" is not a seccomp action/);
  assert.equal(reason(`${s}[6].action`), "SCMP_ACT_NOTIFY is not supported yet");
  assert.equal(reason(`${s}[8].args[0].index`), "must be an integer from 0 to 5");
  assert.match(
    reason(`${s}[8].args[2].op`)!,
    /^"SCMP_CMP_EQUAL" is not a comparison: must be one of SCMP_CMP_NE, /,
  );
  assert.match(reason(`${s}[8].args[5].value`)!, /above 2\^53-1/);

  assert.deepEqual(paths(validateSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: {} })), [
    "linux.seccomp.syscalls",
  ]);
});

Deno.test("checkSeccomp: a ConfigError listing every problem", () => {
  assert.throws(
    () => checkSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [], action: "X" }] }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(paths(e.problems), [
        "linux.seccomp.syscalls[0].names",
        "linux.seccomp.syscalls[0].action",
      ]);
      return true;
    },
  );
  const ok = checkSeccomp(denyList());
  assert.equal(ok.defaultAction, "SCMP_ACT_ALLOW");
});

// ---------------------------------------------------------------------------------------------
// Actions, flags, structs (pure)
// ---------------------------------------------------------------------------------------------

Deno.test("actionValue: libseccomp's action values, errnoRet defaulting to EPERM", () => {
  assert.equal(actionValue("SCMP_ACT_KILL"), 0);
  assert.equal(actionValue("SCMP_ACT_KILL_THREAD"), 0);
  assert.equal(actionValue("SCMP_ACT_KILL_PROCESS"), 0x80000000);
  assert.equal(actionValue("SCMP_ACT_TRAP"), 0x00030000);
  assert.equal(actionValue("SCMP_ACT_ERRNO"), 0x00050001);
  assert.equal(actionValue("SCMP_ACT_ERRNO", 38), 0x00050026);
  assert.equal(actionValue("SCMP_ACT_ERRNO", 0), 0x00050000);
  assert.equal(actionValue("SCMP_ACT_TRACE"), 0x7ff00001);
  assert.equal(actionValue("SCMP_ACT_TRACE", 0x1234), 0x7ff01234);
  assert.equal(actionValue("SCMP_ACT_LOG"), 0x7ffc0000);
  assert.equal(actionValue("SCMP_ACT_ALLOW"), 0x7fff0000);
  assert.equal(SCMP_ACT_KILL_PROCESS, 0x80000000);
  assert.equal(SCMP_ACT_ERRNO(0x10001), 0x00050001); // 16 bits of data
  assert.equal(SCMP_ACT_TRACE(5), 0x7ff00005);
  assert.equal(SCMP_ACT_LOG, 0x7ffc0000);
  assert.equal(SCMP_ACT_ALLOW, 0x7fff0000);
  assert.throws(
    () => actionValue("SCMP_ACT_NOTIFY"),
    new DruntimeError("linux.seccomp: SCMP_ACT_NOTIFY is not supported yet"),
  );
});

Deno.test("seccompFlags: the seccomp(2) flag bits", () => {
  const f = (flags: LinuxSeccomp["flags"]) => seccompFlags({ defaultAction: "SCMP_ACT_ALLOW", flags });
  assert.equal(f(undefined), 0);
  assert.equal(f([]), 0);
  assert.equal(f(["SECCOMP_FILTER_FLAG_TSYNC"]), 1);
  assert.equal(f(["SECCOMP_FILTER_FLAG_LOG"]), 2);
  assert.equal(f(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]), 4);
  assert.equal(
    f(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]),
    6,
  );
  // Needs a notify listener, which the kernel refuses without (EINVAL): dropped, as libseccomp does.
  assert.equal(f(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC"]), 1);
});

Deno.test("packArgCmps: struct scmp_arg_cmp is 24 bytes: u32 arg, u32 op, u64 a, u64 b", () => {
  const b = packArgCmps([
    { arg: 2, op: SCMP_CMP_MASKED_EQ, a: 0o4000n, b: 0o4000n },
    { arg: 5, op: 4, a: (1n << 64n) - 1n, b: 0n },
  ]);
  assert.equal(b.length, 48);
  const v = new DataView(b.buffer);
  assert.deepEqual([v.getUint32(0, true), v.getUint32(4, true)], [2, 7]);
  assert.equal(v.getBigUint64(8, true), 0o4000n);
  assert.equal(v.getBigUint64(16, true), 0o4000n);
  assert.deepEqual([v.getUint32(24, true), v.getUint32(28, true)], [5, 4]);
  assert.equal(v.getBigUint64(32, true), 0xffffffffffffffffn);
  assert.equal(packArgCmps([]).length, 24); // never a zero-length buffer for the FFI call
});

// ---------------------------------------------------------------------------------------------
// Compilation (libseccomp)
// ---------------------------------------------------------------------------------------------

/** struct sock_filter instructions: [code, jt, jf, k]. */
function instructions(filter: Uint8Array): [number, number, number, number][] {
  const v = new DataView(filter.buffer, filter.byteOffset, filter.byteLength);
  const out: [number, number, number, number][] = [];
  for (let off = 0; off < filter.length; off += SOCK_FILTER_SIZE) {
    out.push([v.getUint16(off, true), v.getUint8(off + 2), v.getUint8(off + 3), v.getUint32(off + 4, true)]);
  }
  return out;
}

const BPF_LD_W_ABS = 0x20;
const BPF_RET_K = 0x06;
const SECCOMP_DATA_ARCH = 4; // offsetof(struct seccomp_data, arch)

function assertWellFormed(filter: Uint8Array): void {
  assert.ok(filter.length > 0, "empty filter");
  assert.equal(filter.length % SOCK_FILTER_SIZE, 0, `${filter.length} bytes is not whole instructions`);
  assert.ok(filter.length / SOCK_FILTER_SIZE <= BPF_MAXINSNS);
  const insns = instructions(filter);
  // libseccomp's programs start by loading seccomp_data.arch, and every path ends in a return.
  assert.deepEqual([insns[0][0], insns[0][3]], [BPF_LD_W_ABS, SECCOMP_DATA_ARCH]);
  assert.equal(insns[insns.length - 1][0], BPF_RET_K);
}

Deno.test({
  name: "compileSeccomp: every OCI architecture name is one libseccomp knows",
  ...needsLib,
  fn() {
    for (const arch of SECCOMP_ARCHES) {
      assert.notEqual(archResolveName(libseccompArchName(arch)), null, arch);
    }
    assert.equal(libseccompArchName("SCMP_ARCH_MIPSEL64N32"), "mipsel64n32");
  },
});

Deno.test({
  name: "compileSeccomp: a Docker-like allow list",
  ...needsLib,
  fn() {
    const out = compileSeccomp({ ...dockerLike(), flags: ["SECCOMP_FILTER_FLAG_LOG"] });
    assertWellFormed(out.filter);
    assert.equal(out.flags, 2);
    // Names only ARM or other arches have are skipped for an x86_64 + x86 + x32 filter;
    // socketcall (x86 only) and arch_prctl (x86_64, x32) are not.
    if (Deno.build.arch !== "x86_64") {
      assert.ok(out.skipped.includes("arm_fadvise64_64"));
    } else {
      assert.deepEqual(out.skipped.sort(), [
        "arm_fadvise64_64",
        "arm_sync_file_range",
        "breakpoint",
        "cacheflush",
        "recv", // parisc, ppc, s390 and friends
        "send",
        "set_tls",
        "sync_file_range2",
        "sys32_personality",
      ]);
    }
    // The program tests seccomp_data.arch against each architecture (x32 rides on x86_64's).
    const ks = new Set(instructions(out.filter).map((i) => i[3]));
    for (const token of [0xc000003e, 0x40000003]) assert.ok(ks.has(token), token.toString(16));
    // Deterministic: the same profile compiles to the same bytes.
    assert.deepEqual(
      compileSeccomp({ ...dockerLike(), flags: ["SECCOMP_FILTER_FLAG_LOG"] }).filter,
      out.filter,
    );
  },
});

Deno.test({
  name: "compileSeccomp: a small deny list",
  ...needsLib,
  fn() {
    const out = compileSeccomp(denyList());
    assertWellFormed(out.filter);
    assert.equal(out.flags, 0);
    assert.deepEqual(out.skipped, []);
    const rets = new Set(instructions(out.filter).filter((i) => i[0] === BPF_RET_K).map((i) => i[3]));
    // Every action of the profile is one of the program's return values.
    for (const action of [0x7fff0000, 0x00050001, 0x80000000, 0x00030000, 0x7ffc0000, 0x00050026]) {
      assert.ok(rets.has(action), `no return of 0x${action.toString(16)} in ${[...rets]}`);
    }
  },
});

Deno.test({
  name: "compileSeccomp: unknown syscall names are skipped and reported",
  ...needsLib,
  fn() {
    const out = compileSeccomp({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["mkdir", "no_such_syscall", "fancy_new_call_2099"], action: "SCMP_ACT_ERRNO" },
        { names: ["no_such_syscall"], action: "SCMP_ACT_KILL" },
      ],
    });
    assertWellFormed(out.filter);
    assert.deepEqual(out.skipped, ["no_such_syscall", "fancy_new_call_2099"]);
    // Only unknown names: the filter is the default action alone, still a valid program.
    const empty = compileSeccomp({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["no_such_syscall"], action: "SCMP_ACT_ERRNO" }],
    });
    assertWellFormed(empty.filter);
    assert.deepEqual(empty.skipped, ["no_such_syscall"]);
  },
});

Deno.test({
  name: "compileSeccomp: rules with the default action are skipped; one arg compared twice is OR",
  ...needsLib,
  fn() {
    const base: LinuxSeccomp = { defaultAction: "SCMP_ACT_ERRNO" };
    const plain = compileSeccomp(base).filter;
    // libseccomp refuses (EACCES) a rule whose action is the default: it is not added.
    const same = (s: LinuxSyscall) => compileSeccomp({ ...base, syscalls: [s] }).filter;
    assert.deepEqual(same({ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }), plain);
    assert.deepEqual(same({ names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }), plain);
    // Another errno is another action.
    assert.ok(same({ names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 2 }).length > plain.length);
    assert.deepEqual(
      compileSeccomp({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ALLOW" }],
      })
        .skipped,
      [],
    );
    // libseccomp refuses two comparisons of one argument in one rule (EINVAL): they become rules.
    const or = compileSeccomp({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{
        names: ["kill"],
        action: "SCMP_ACT_ERRNO",
        args: [{ index: 1, value: 10, op: "SCMP_CMP_EQ" }, { index: 1, value: 12, op: "SCMP_CMP_EQ" }],
      }],
    });
    assertWellFormed(or.filter);
  },
});

Deno.test({
  name: "compileSeccomp: SCMP_ACT_NOTIFY and invalid configs are refused",
  ...needsLib,
  fn() {
    const notify = new DruntimeError("linux.seccomp: SCMP_ACT_NOTIFY is not supported yet");
    assert.throws(
      () =>
        compileSeccomp({
          defaultAction: "SCMP_ACT_ALLOW",
          listenerPath: "/run/l.sock",
          syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }],
        }),
      notify,
    );
    assert.throws(() => compileSeccomp({ defaultAction: "SCMP_ACT_NOTIFY" }), notify);
    assert.throws(
      () => compileSeccomp({ defaultAction: "SCMP_ACT_BOGUS" } as unknown as LinuxSeccomp),
      ConfigError,
    );
  },
});

// ---------------------------------------------------------------------------------------------
// End to end: the kernel enforces the exported program
// ---------------------------------------------------------------------------------------------

/**
 * Run in a child Deno: set no_new_privs, load the filter with seccomp(2) on the main thread
 * (both are per-thread), then execve a command from that thread. execve ends the other threads
 * and the command inherits the filter. Arguments: filter file, flags, seccomp syscall number,
 * then the command.
 */
const LOADER = `
const [filterPath, flags, sysSeccomp, ...cmd] = Deno.args;
const filter = Deno.readFileSync(filterPath);
const lib = Deno.dlopen("libc.so.6", {
  __errno_location: { parameters: [], result: "pointer" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "i64", "buffer"], result: "i64" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
});
const errno = () => new Deno.UnsafePointerView(lib.symbols.__errno_location()).getInt32();
const enc = new TextEncoder();
const keep = [];
function cstrs(list) {
  const arr = new BigUint64Array(list.length + 1);
  list.forEach((s, i) => {
    const b = enc.encode(s + "\\0");
    keep.push(b);
    arr[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  });
  return arr;
}
const path = enc.encode(cmd[0] + "\\0");
const argv = cstrs(cmd);
const envp = cstrs(["PATH=/usr/bin:/bin", "LC_ALL=C"]);
// struct sock_fprog: unsigned short len; (padding); struct sock_filter *filter
const prog = new BigUint64Array(2);
new DataView(prog.buffer).setUint16(0, filter.length / 8, true);
prog[1] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(filter)));
if (lib.symbols.prctl(38 /* PR_SET_NO_NEW_PRIVS */, 1n, 0n, 0n, 0n) !== 0) {
  console.error("prctl(PR_SET_NO_NEW_PRIVS): errno " + errno());
  Deno.exit(90);
}
// seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)
if (lib.symbols.syscall(BigInt(sysSeccomp), 1n, BigInt(flags), prog) !== 0n) {
  console.error("seccomp(SECCOMP_SET_MODE_FILTER): errno " + errno());
  Deno.exit(91);
}
lib.symbols.execve(path, argv, envp);
console.error("execve: errno " + errno());
Deno.exit(92);
`;

const SYS_SECCOMP: Record<string, number> = { x86_64: 317, aarch64: 277 };

async function runFiltered(
  compiled: { filter: Uint8Array; flags: number },
  script: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "druntime-seccomp-" });
  try {
    const loader = join(dir, "loader.js");
    const filterPath = join(dir, "filter.bpf");
    await Deno.writeTextFile(loader, LOADER);
    await Deno.writeFile(filterPath, compiled.filter);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-read",
        "--allow-ffi",
        loader,
        filterPath,
        String(compiled.flags),
        String(SYS_SECCOMP[Deno.build.arch]),
        "/bin/sh",
        "-c",
        script,
        "sh",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const canLoad = { ignore: !HAVE || SYS_SECCOMP[Deno.build.arch] === undefined };

Deno.test({
  name: "seccomp end to end: a deny list with argument comparisons, enforced by the kernel",
  ...canLoad,
  async fn() {
    const compiled = compileSeccomp({
      defaultAction: "SCMP_ACT_ALLOW",
      flags: ["SECCOMP_FILTER_FLAG_LOG"],
      syscalls: [
        // mkdir fails with EPERM (errnoRet's default).
        { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" },
        // kill(pid > 0, SIGUSR1) fails with EACCES: both comparisons must hold (AND), so
        // kill(pid, 0) still works.
        {
          names: ["kill"],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 13,
          args: [{ index: 0, value: 0, op: "SCMP_CMP_GT" }, { index: 1, value: 10, op: "SCMP_CMP_EQ" }],
        },
        // chmod with the setuid or the setgid bit fails: one argument tested twice (OR).
        {
          names: ["fchmodat"],
          action: "SCMP_ACT_ERRNO",
          args: [
            { index: 2, value: 0o4000, valueTwo: 0o4000, op: "SCMP_CMP_MASKED_EQ" },
            { index: 2, value: 0o2000, valueTwo: 0o2000, op: "SCMP_CMP_MASKED_EQ" },
          ],
        },
        {
          names: ["chmod", "fchmod"],
          action: "SCMP_ACT_ERRNO",
          args: [
            { index: 1, value: 0o4000, valueTwo: 0o4000, op: "SCMP_CMP_MASKED_EQ" },
            { index: 1, value: 0o2000, valueTwo: 0o2000, op: "SCMP_CMP_MASKED_EQ" },
          ],
        },
      ],
    });
    assert.equal(compiled.flags, 2);
    const script = [
      `d="$1/made"; mkdir "$d"; echo "mkdir=$?"; [ -e "$d" ] && echo "created"`,
      `trap 'echo got-usr1' USR1`,
      `kill -0 $$; echo "kill0=$?"`,
      `kill -USR1 $$; echo "usr1=$?"`,
      `f="$1/file"; : > "$f"`,
      `chmod 4755 "$f"; echo "suid=$?"`,
      `chmod 2755 "$f"; echo "sgid=$?"`,
      `chmod 0755 "$f"; echo "plain=$?"`,
      `stat -c %a "$f"`,
    ].join("\n");
    const r = await runFiltered(compiled, script);
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.equal(r.stdout, "mkdir=1\nkill0=0\nusr1=1\nsuid=1\nsgid=1\nplain=0\n755\n", r.stderr);
    assert.match(r.stderr, /mkdir: cannot create directory .*made.*: Operation not permitted/);
    assert.match(r.stderr, /kill.*Permission denied/);
    assert.match(r.stderr, /chmod: changing permissions of .*file.*: Operation not permitted/);
  },
});

Deno.test({
  name:
    "seccomp end to end: a Docker-like allow list runs a shell; what it leaves out gets the default errno",
  ...canLoad,
  async fn() {
    const allow = DOCKER_ALLOW.filter((n) => n !== "mkdir" && n !== "mkdirat");
    const profile = dockerLike(allow);
    profile.defaultErrnoRet = 38; // ENOSYS, as newer profiles do for unknown syscalls
    const compiled = compileSeccomp(profile);
    const r = await runFiltered(
      compiled,
      `mkdir "$1/x"; echo "mkdir=$?"; echo hello > "$1/y" && cat "$1/y"; uname -s`,
    );
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.equal(r.stdout, "mkdir=1\nhello\nLinux\n", r.stderr);
    assert.match(r.stderr, /mkdir: cannot create directory .*: Function not implemented/);
  },
});
