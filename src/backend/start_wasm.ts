/**
 * Starts the `wasm` backend from the installed npm package (no network), SIMD on, with
 * `threads` pthreads when more than one is asked for.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  getThreadsCount,
  setThreadsCount,
  setWasmPaths,
  version_wasm,
} from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import { BenchError } from "../util/errors.ts";
import { preparePthreadWorkers } from "./wasm_threads.ts";

/** The folder holding the installed tfjs-backend-wasm `.wasm` files. */
export function wasmDistDir(): URL {
  const require = createRequire(import.meta.url);
  try {
    const pkg = require.resolve("@tensorflow/tfjs-backend-wasm/package.json");
    return new URL("dist/", `file://${pkg.replace(/package\.json$/, "")}`);
  } catch {
    return new URL("node_modules/@tensorflow/tfjs-backend-wasm/dist/", `file://${Deno.cwd()}/`);
  }
}

let started: { threads: number } | undefined;

/**
 * Starts `wasm`; returns the facts for its {@linkcode BackendInfo}. The thread count is fixed at
 * the first start in a process.
 *
 * @example
 * ```ts
 * const { threads } = await startWasm(2);
 * ```
 */
export async function startWasm(
  requestedThreads: number,
): Promise<{ threads: number; details: Record<string, string> }> {
  const dist = wasmDistDir();
  const binary = requestedThreads > 1
    ? "tfjs-backend-wasm-threaded-simd.wasm"
    : "tfjs-backend-wasm-simd.wasm";
  try {
    Deno.statSync(new URL(binary, dist));
  } catch (cause) {
    throw new BenchError("backend_unavailable", `wasm binary ${binary} not found`, {
      location: decodeURIComponent(new URL(binary, dist).pathname),
      hint: "run `deno install` so that node_modules/@tensorflow/tfjs-backend-wasm is present",
      cause,
    });
  }
  const details: Record<string, string> = {
    backendPackage: `@tensorflow/tfjs-backend-wasm@${version_wasm}`,
    simd: "true",
  };
  if (started === undefined) {
    setWasmPaths(dist.href);
    tf.env().set("WASM_HAS_SIMD_SUPPORT", true);
    const threaded = requestedThreads > 1;
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", threaded);
    setThreadsCount(threaded ? requestedThreads : 1);
    const run = threaded
      ? preparePthreadWorkers(dist)
      : async <T>(_: number, f: () => Promise<T>) => await f();
    const ok = await run(requestedThreads, () => tf.setBackend("wasm"));
    if (!ok) {
      throw new BenchError("backend_unavailable", "the wasm backend failed to start", {
        location: decodeURIComponent(dist.pathname),
        hint: threaded
          ? "try --threads 1 (single-threaded wasm)"
          : "check the tfjs-backend-wasm install",
      });
    }
    started = { threads: getThreadsCount() };
  } else if (!(await tf.setBackend("wasm"))) {
    throw new BenchError("backend_unavailable", "the wasm backend failed to restart", {});
  }
  if (started.threads !== Math.max(1, requestedThreads)) {
    details.threadsNote = `asked for ${requestedThreads}; the wasm module keeps the thread count ` +
      `of its first start in a process (${started.threads})`;
  }
  details.binary = started.threads > 1 ? "threaded-simd" : "simd";
  return { threads: started.threads, details };
}
