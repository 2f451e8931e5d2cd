/**
 * Backend selection for the loss / training commands (`verify-loss`, `perf`): delegates to
 * `src/backend/mod.ts` (`initBackend`) when that module exists, otherwise starts `cpu` or `wasm`
 * directly. Either way a named backend that cannot start is an error, never a silent fallback.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";

/** What a command reports about the backend it runs on (a subset of `BackendInfo`). */
export interface ActiveBackend {
  /** Active tfjs backend name. */
  name: string;
  /** What was asked for (`auto`, `cpu`, ...). */
  requested: string;
  /** tfjs version. */
  tfjsVersion: string;
  /** Device description. */
  device: string;
  /** Threads the backend uses. */
  threads: number;
  /** Extra details. */
  details: Record<string, string>;
}

const BACKEND_MODULE = "../backend/mod.ts";

/** Path of the wasm binaries of `@tensorflow/tfjs-backend-wasm` under ./node_modules. */
export function wasmDistDir(): string {
  return new URL("../../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url)
    .pathname;
}

async function startLocal(name: string): Promise<ActiveBackend> {
  if (name === "auto") name = "wasm";
  if (name === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    wasm.setWasmPaths(wasmDistDir());
  } else if (name !== "cpu") {
    throw new BenchError(
      "backend_unavailable",
      `backend ${name} needs src/backend/ (not present)`,
      {
        location: "--backend",
        hint: "use --backend cpu or --backend wasm",
      },
    );
  }
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch (cause) {
    throw new BenchError("backend_unavailable", `backend ${name} failed to start`, { cause });
  }
  if (!ok || tf.getBackend() !== name) {
    throw new BenchError("backend_unavailable", `backend ${name} failed to start`, {
      location: "--backend",
    });
  }
  await tf.ready();
  let threads = 1;
  if (name === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    threads = wasm.getThreadsCount();
  }
  return {
    name,
    requested: name,
    tfjsVersion: tf.version.tfjs,
    device: `${Deno.build.arch} CPU`,
    threads,
    details: {},
  };
}

/**
 * Starts the named tfjs backend and describes it.
 *
 * @example
 * ```ts
 * const info = await useBackend("wasm");
 * console.log(info.name, info.threads);
 * ```
 */
export async function useBackend(name: string): Promise<ActiveBackend> {
  let mod: Record<string, unknown> | undefined;
  try {
    mod = await import(BACKEND_MODULE);
  } catch {
    mod = undefined;
  }
  if (mod && typeof mod.initBackend === "function") {
    const info = await (mod.initBackend as (n: string) => Promise<Record<string, unknown>>)(name);
    return {
      name: String(info.name),
      requested: String(info.requested ?? name),
      tfjsVersion: String(info.tfjsVersion ?? tf.version.tfjs),
      device: String(info.device ?? ""),
      threads: Number(info.threads ?? 1),
      details: (info.details ?? {}) as Record<string, string>,
    };
  }
  return await startLocal(name);
}
