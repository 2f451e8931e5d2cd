/**
 * Starts the `native` backend (src/backend/native/, optional): a BLAS-backed tfjs backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";

/** What a loaded native backend reports: BLAS library, threads, and what runs convolutions. */
export interface NativeInfo {
  library: string;
  version: string;
  threads: number;
  /** `oneDNN 2.6.3 (libdnnl.so.2)`, or `im2col + BLAS (why)`. */
  convolutions: string;
}

/** Result of `loadNativeBackend` (src/backend/native/mod.ts). */
export type NativeLoadResult =
  | { ok: true; info: NativeInfo }
  | { ok: false; reason: string; hint: string };

/**
 * Imports src/backend/native/mod.ts (when present), loads the library and activates `native`.
 * Throws `backend_unavailable` with the loader's reason and hint when it cannot.
 *
 * @example
 * ```ts
 * const info = await startNative(2);
 * ```
 */
export async function startNative(
  threads?: number,
): Promise<NativeInfo> {
  const location = "src/backend/native/mod.ts";
  let mod: { loadNativeBackend?: (opts?: { threads?: number }) => Promise<NativeLoadResult> };
  try {
    // A variable specifier: the module is optional and must not be resolved at type-check time.
    const specifier = "./native/mod.ts";
    mod = await import(specifier);
  } catch (cause) {
    throw new BenchError("backend_unavailable", "the native backend is not part of this build", {
      location,
      hint: "use --backend wasm or cpu",
      cause,
    });
  }
  if (typeof mod.loadNativeBackend !== "function") {
    throw new BenchError("backend_unavailable", "native/mod.ts has no loadNativeBackend", {
      location,
      hint: "use --backend wasm or cpu",
    });
  }
  const result = await mod.loadNativeBackend(threads === undefined ? {} : { threads });
  if (!result.ok) {
    throw new BenchError("backend_unavailable", `native backend: ${result.reason}`, {
      location,
      hint: result.hint,
    });
  }
  if (!(await tf.setBackend("native"))) {
    throw new BenchError("backend_unavailable", "the native backend did not start", {
      location,
      hint: "use --backend wasm or cpu",
    });
  }
  return result.info;
}
