/**
 * Environment and error-text helpers shared by the native backend's library loaders and switches
 * (no tfjs here: helper threads import it too).
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

/**
 * The first line of an error's message (a dlopen error carries the loader's whole text).
 *
 * @example
 * ```ts
 * firstLine(new Error("cannot open\ndetails")); // "cannot open"
 * ```
 */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0];
}
