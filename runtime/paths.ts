/**
 * POSIX path helpers with node:path's semantics for the few calls druntime makes. Importing
 * node:path starts Deno's Node compatibility layer, about 9 ms at every start of the parent and
 * of the init; these few lines cost nothing. tests/unit/paths_test.ts checks them against node:path.
 */

/** Resolves ".", ".." and repeated slashes; keeps a trailing slash; "" and "." become ".". */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const trailing = path.endsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else {
      out.push(part);
    }
  }
  let result = out.join("/");
  if (absolute) result = `/${result}`;
  if (result === "") return absolute ? "/" : trailing ? "./" : ".";
  return trailing && result !== "/" ? `${result}/` : result;
}

export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** The non-empty parts joined with "/" and normalized; "." when there are none. */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/** An absolute path: the parts from the right up to the first absolute one, on the cwd; no trailing slash. */
export function resolve(...parts: string[]): string {
  let path = "";
  for (let i = parts.length - 1; i >= 0 && !path.startsWith("/"); i--) {
    if (parts[i] !== "") path = path === "" ? parts[i] : `${parts[i]}/${path}`;
  }
  if (!path.startsWith("/")) path = path === "" ? Deno.cwd() : `${Deno.cwd()}/${path}`;
  const result = normalize(path);
  return result.length > 1 && result.endsWith("/") ? result.slice(0, -1) : result;
}
