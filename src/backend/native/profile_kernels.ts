/**
 * Where the time of a piece of tfjs work goes, per kernel: every kernel of a backend is wrapped
 * with a timer while the work runs, then the original kernels are put back.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { processCpuMs } from "./cpu_clock.ts";

/** Time spent in one kernel (or one kernel at one set of input shapes). */
export interface KernelTime {
  /** Kernel name, followed by the input shapes when grouped by shape. */
  name: string;
  /** Number of calls. */
  calls: number;
  /** Total milliseconds inside the kernel function. */
  ms: number;
}

/** The result of {@linkcode profileKernels}. */
export interface KernelProfile<T> {
  /** What the work returned. */
  result: T;
  /** Wall time of the whole work, ms. */
  totalMs: number;
  /** Sum over kernels, ms. */
  kernelMs: number;
  /** Per kernel, slowest first. */
  kernels: KernelTime[];
}

/** Options of {@linkcode profileKernels}. */
export interface ProfileKernelsOptions {
  /** Backend whose kernels to time; default the active one. */
  backend?: string;
  /** Group by kernel name (default) or by kernel name and input shapes. */
  groupBy?: "kernel" | "shape";
  /**
   * What to time: wall time (default) or the process's CPU time (all threads; use it on a shared
   * machine, where wall time depends on other jobs).
   */
  clock?: "wall" | "cpu";
}

/**
 * Runs `work` with every kernel of the backend timed, and returns the per-kernel times.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const p = await profileKernels(() => tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync()));
 * console.log(formatKernelProfile(p));
 * ```
 */
export async function profileKernels<T>(
  work: () => T | Promise<T>,
  options: ProfileKernelsOptions = {},
): Promise<KernelProfile<T>> {
  const backendName = options.backend ?? tf.getBackend();
  const byShape = options.groupBy === "shape";
  const now = options.clock === "cpu" ? processCpuMs : () => performance.now();
  const originals = tf.getKernelsForBackend(backendName);
  const times = new Map<string, KernelTime>();
  for (const config of originals) {
    const inner = config.kernelFunc;
    const kernelName = config.kernelName;
    const timed: tf.KernelFunc = (args) => {
      const t0 = now();
      const out = inner(args);
      const dt = now() - t0;
      let key = kernelName;
      if (byShape) {
        key += " " + Object.values(args.inputs).map((t) => `[${t ? t.shape : ""}]`).join("");
      }
      let entry = times.get(key);
      if (!entry) times.set(key, entry = { name: key, calls: 0, ms: 0 });
      entry.calls++;
      entry.ms += dt;
      return out;
    };
    tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ ...config, kernelFunc: timed });
  }
  const t0 = now();
  let result: T;
  try {
    result = await work();
  } finally {
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, backendName);
      tf.registerKernel(config);
    }
  }
  const totalMs = now() - t0;
  const kernels = [...times.values()].sort((a, b) => b.ms - a.ms);
  const kernelMs = kernels.reduce((s, k) => s + k.ms, 0);
  return { result, totalMs, kernelMs, kernels };
}

/**
 * Renders a profile as a fixed-width table (top `limit` rows, then the rest summed).
 *
 * @example
 * ```ts
 * console.log(formatKernelProfile({ result: 0, totalMs: 10, kernelMs: 8,
 *   kernels: [{ name: "Conv2D", calls: 2, ms: 8 }] }));
 * ```
 */
export function formatKernelProfile(profile: KernelProfile<unknown>, limit = 25): string {
  const lines = [
    `total ${profile.totalMs.toFixed(1)} ms, in kernels ${profile.kernelMs.toFixed(1)} ms, ` +
    `outside kernels ${(profile.totalMs - profile.kernelMs).toFixed(1)} ms`,
    `${"kernel".padEnd(48)} ${"calls".padStart(6)} ${"ms".padStart(9)} ${"share".padStart(6)}`,
  ];
  const share = (ms: number) => `${(100 * ms / Math.max(1e-9, profile.totalMs)).toFixed(1)}%`;
  for (const k of profile.kernels.slice(0, limit)) {
    lines.push(
      `${k.name.slice(0, 48).padEnd(48)} ${String(k.calls).padStart(6)} ${
        k.ms.toFixed(1).padStart(9)
      } ${share(k.ms).padStart(6)}`,
    );
  }
  const rest = profile.kernels.slice(limit);
  if (rest.length > 0) {
    const ms = rest.reduce((s, k) => s + k.ms, 0);
    const calls = rest.reduce((s, k) => s + k.calls, 0);
    lines.push(
      `${`(${rest.length} more)`.padEnd(48)} ${String(calls).padStart(6)} ${
        ms.toFixed(1).padStart(9)
      } ${share(ms).padStart(6)}`,
    );
  }
  return lines.join("\n");
}
