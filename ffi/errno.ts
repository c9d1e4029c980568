/** errno numbers by their kernel names (asm-generic; x86_64 and aarch64 share them). */
const ERRNO_NAMES: Record<number, [string, string]> = {
  1: ["EPERM", "Operation not permitted"],
  2: ["ENOENT", "No such file or directory"],
  3: ["ESRCH", "No such process"],
  4: ["EINTR", "Interrupted system call"],
  5: ["EIO", "Input/output error"],
  6: ["ENXIO", "No such device or address"],
  7: ["E2BIG", "Argument list too long"],
  8: ["ENOEXEC", "Exec format error"],
  9: ["EBADF", "Bad file descriptor"],
  10: ["ECHILD", "No child processes"],
  11: ["EAGAIN", "Resource temporarily unavailable"],
  12: ["ENOMEM", "Cannot allocate memory"],
  13: ["EACCES", "Permission denied"],
  14: ["EFAULT", "Bad address"],
  15: ["ENOTBLK", "Block device required"],
  16: ["EBUSY", "Device or resource busy"],
  17: ["EEXIST", "File exists"],
  18: ["EXDEV", "Invalid cross-device link"],
  19: ["ENODEV", "No such device"],
  20: ["ENOTDIR", "Not a directory"],
  21: ["EISDIR", "Is a directory"],
  22: ["EINVAL", "Invalid argument"],
  23: ["ENFILE", "Too many open files in system"],
  24: ["EMFILE", "Too many open files"],
  25: ["ENOTTY", "Inappropriate ioctl for device"],
  26: ["ETXTBSY", "Text file busy"],
  27: ["EFBIG", "File too large"],
  28: ["ENOSPC", "No space left on device"],
  29: ["ESPIPE", "Illegal seek"],
  30: ["EROFS", "Read-only file system"],
  31: ["EMLINK", "Too many links"],
  32: ["EPIPE", "Broken pipe"],
  34: ["ERANGE", "Numerical result out of range"],
  36: ["ENAMETOOLONG", "File name too long"],
  38: ["ENOSYS", "Function not implemented"],
  39: ["ENOTEMPTY", "Directory not empty"],
  40: ["ELOOP", "Too many levels of symbolic links"],
  61: ["ENODATA", "No data available"],
  88: ["ENOTSOCK", "Socket operation on non-socket"],
  95: ["EOPNOTSUPP", "Operation not supported"],
  110: ["ETIMEDOUT", "Connection timed out"],
  111: ["ECONNREFUSED", "Connection refused"],
};

/** The kernel name of an errno value (`EPERM`), or `errno N` for one not in the table. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno]?.[0] ?? `errno ${errno}`;
}

/** The number of an errno name, for tests and comparisons. */
export function errnoByName(name: string): number {
  for (const [num, [n]] of Object.entries(ERRNO_NAMES)) if (n === name) return Number(num);
  throw new Error(`unknown errno name ${name}`);
}

/** A failed system call: the call, the arguments that matter, and errno by name. */
export class SyscallError extends Error {
  readonly call: string;
  readonly errno: number;
  readonly code: string;
  constructor(call: string, args: readonly (string | number)[], errno: number) {
    const shown = args.map((a) => typeof a === "string" ? JSON.stringify(a) : String(a)).join(", ");
    const [code, text] = ERRNO_NAMES[errno] ?? [`errno ${errno}`, "Unknown error"];
    super(`${call}(${shown}): ${code} (${text})`);
    this.name = "SyscallError";
    this.call = call;
    this.errno = errno;
    this.code = code;
  }
}

// The errno values druntime tests for by name.
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EACCES = 13;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENAMETOOLONG = 36;
export const ENOSYS = 38;
