/**
 * Backend selection for the loss / training commands (`verify-loss`, `perf`, `parity`, `bench`):
 * starts the named backend through `initBackend` and reduces its description to what a command
 * prints. A named backend that cannot start is an error, never a silent fallback.
 *
 * @module
 */
import { initBackend } from "../backend/mod.ts";

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
  const info = await initBackend(name);
  return {
    name: info.name,
    requested: info.requested,
    tfjsVersion: info.tfjsVersion,
    device: info.device,
    threads: info.threads,
    details: info.details,
  };
}
