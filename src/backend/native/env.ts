/**
 * Helpers shared by the native backend's library loaders and switches: reading the environment
 * and opening the first library of a search list that loads and passes the caller's checks (no
 * tfjs here: helper threads import it too).
 *
 * @module
 */

/**
 * The value of environment variable `name`; undefined when unset, empty, or when Deno has no
 * permission to read it.
 *
 * @example
 * ```ts
 * const path = readEnv("AMDIM_BLAS_LIB");
 * ```
 */
export function readEnv(name: string): string | undefined {
  try {
    const value = Deno.env.get(name);
    return value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}

/**
 * Whether switch `name` is on: every value but `0` (unset included) means on.
 *
 * @example
 * ```ts
 * if (envSwitch("AMDIM_NATIVE_DNNL")) console.log("oneDNN wanted");
 * ```
 */
export function envSwitch(name: string): boolean {
  return readEnv(name) !== "0";
}

/** The first line of an error's message (a dlopen error carries the loader's whole text). */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0];
}

/** What {@linkcode openFirst} gives: the accepted library's value, or why each one failed. */
export type OpenFirstResult<T> =
  | { ok: true; value: T }
  | { ok: false; failures: string[] };

/**
 * Opens `candidates` in order with `symbols` and returns what `accept` makes of the first that
 * opens and that `accept` does not refuse (a string return is the reason; that library is closed
 * again). Each failure is `path: reason`.
 *
 * @example
 * ```ts
 * const r = openFirst(["libm.so.6"], { cos: { parameters: ["f64"], result: "f64" } },
 *   (lib) => lib.symbols.cos(0) === 1 ? lib : "cos(0) is not 1");
 * ```
 */
export function openFirst<S extends Deno.ForeignLibraryInterface, T>(
  candidates: string[],
  symbols: S,
  accept: (lib: Deno.DynamicLibrary<S>, path: string) => T | string,
): OpenFirstResult<T> {
  const failures: string[] = [];
  for (const path of candidates) {
    let lib: Deno.DynamicLibrary<S>;
    try {
      lib = Deno.dlopen(path, symbols);
    } catch (error) {
      failures.push(`${path}: ${firstLine(error)}`);
      continue;
    }
    const value = accept(lib, path);
    if (typeof value !== "string") return { ok: true, value };
    lib.close();
    failures.push(`${path}: ${value}`);
  }
  return { ok: false, failures };
}
