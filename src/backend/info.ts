/**
 * What a started backend reports about itself (stored in every run record).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import os from "node:os";
import type { BackendName, ConcreteBackendName } from "./names.ts";

/** Description of the active backend. */
export interface BackendInfo {
  /** The backend that runs (never `auto`). */
  name: ConcreteBackendName;
  /** What was asked for (`auto` or the same as `name`). */
  requested: BackendName;
  /** Version of @tensorflow/tfjs-core. */
  tfjsVersion: string;
  /** CPU model, GPU adapter or accelerator the backend computes on. */
  device: string;
  /** Threads the backend computes with (1 for single-threaded backends). */
  threads: number;
  /** True when the device is a software emulation (e.g. a llvmpipe WebGPU adapter). */
  software?: boolean;
  /** Further facts: backend package version, SIMD, adapter vendor, library paths. */
  details: Record<string, string>;
}

/**
 * The CPU model name from /proc/cpuinfo (or `os.cpus()`), with the logical CPU count.
 *
 * @example
 * ```ts
 * cpuModel(); // "AMD EPYC (2 logical CPUs)"
 * ```
 */
export function cpuModel(): string {
  let model = "";
  try {
    const text = Deno.readTextFileSync("/proc/cpuinfo");
    model = text.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "";
  } catch {
    // not Linux, or no permission: fall back to os.cpus()
  }
  const cpus = os.cpus();
  if (!model) model = cpus[0]?.model?.trim() || "unknown CPU";
  return `${model} (${cpus.length} logical CPUs)`;
}

let current: BackendInfo | undefined;

/** Records the info of the backend that `initBackend` just started. */
export function setCurrentBackendInfo(info: BackendInfo): void {
  current = info;
}

/**
 * Describes the active tfjs backend: the info `initBackend` returned when it is still the active
 * one, otherwise a minimal description of whatever tfjs runs on.
 *
 * @example
 * ```ts
 * await initBackend("cpu");
 * describeBackend().name; // "cpu"
 * ```
 */
export function describeBackend(): BackendInfo {
  const active = tf.getBackend();
  if (current && tfjsBackendOf(current.name) === active) return structuredClone(current);
  return {
    name: (active ?? "cpu") as ConcreteBackendName,
    requested: (active ?? "cpu") as ConcreteBackendName,
    tfjsVersion: tf.version_core,
    device: cpuModel(),
    threads: 1,
    details: { note: "not started through initBackend" },
  };
}

/** The name tfjs registers a backend under (`tensorflow-gpu` registers as `tensorflow`). */
export function tfjsBackendOf(name: ConcreteBackendName): string {
  return name === "tensorflow-gpu" ? "tensorflow" : name;
}
