/**
 * `NativeAdamL2`: one Adam-with-L2 update of one parameter in a single pass (the optimiser's
 * thirteen tfjs ops per parameter, each a full pass with a temporary, plus their engine
 * overhead). Every intermediate is rounded to float32 exactly where the composed ops round
 * (`Math.fround` after each operation of float32 operands is correctly rounded), so the result
 * is bit-identical to the composed update on the `cpu` and `native` backends:
 *
 * ```
 * g = g0 + p * wd;  m = m * b1 + g * (1 - b1);  v = v * b2 + (g * g) * (1 - b2)
 * p = p - (m / (sqrt(v) / bc2Sqrt + eps)) * stepSize
 * ```
 *
 * Inputs `{p, g, m, v}` (float32, one shape); attrs `{beta1, beta2, weightDecay, eps, stepSize,
 * bc2Sqrt}`; outputs `[p, m, v]` (new tensors).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { f32 } from "./blas_kernels.ts";
import { allocF32 } from "./pooled_cpu_backend.ts";
import { adamL2Range, TASK } from "./parallel_tasks.ts";
import { chunksFor, parallelRun } from "./thread_pool.ts";

/** Attributes of {@linkcode adamL2Kernel}. */
export interface AdamL2Attrs {
  beta1: number;
  beta2: number;
  weightDecay: number;
  eps: number;
  stepSize: number;
  bc2Sqrt: number;
}

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

/**
 * The update on plain arrays (writes `pOut`, `mOut`, `vOut`; they may alias the inputs).
 *
 * @example
 * ```ts
 * const p = new Float32Array([1]), g = new Float32Array([0.5]);
 * const m = new Float32Array(1), v = new Float32Array(1);
 * adamL2Update(p, g, m, v, p, m, v, { beta1: 0.8, beta2: 0.999, weightDecay: 0, eps: 1e-8,
 *   stepSize: 1e-3, bc2Sqrt: Math.sqrt(0.001) });
 * ```
 */
export function adamL2Update(
  p: Float32Array,
  g0: Float32Array,
  m: Float32Array,
  v: Float32Array,
  pOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  a: AdamL2Attrs,
): void {
  adamL2Range(
    p,
    g0,
    m,
    v,
    pOut,
    mOut,
    vOut,
    a.beta1,
    a.beta2,
    a.weightDecay,
    a.eps,
    a.stepSize,
    a.bc2Sqrt,
    0,
    p.length,
  );
}

/**
 * The tfjs kernel function of `NativeAdamL2` (see the module doc).
 *
 * @example
 * ```ts
 * const [p1, m1, v1] = tf.engine().runKernel("NativeAdamL2", { p, g, m, v }, attrs) as tf.Tensor[];
 * ```
 */
export function adamL2Kernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as MathBackendCPU;
  const { p, g, m, v } = args.inputs;
  const pv = f32(backend, p), gv = f32(backend, g), mv = f32(backend, m), vv = f32(backend, v);
  const n = pv?.length ?? -1;
  if (!pv || !gv || !mv || !vv || gv.length !== n || mv.length !== n || vv.length !== n) {
    throw new Error("NativeAdamL2: needs float32 p, g, m, v of one shape");
  }
  const pOut = allocF32(backend, n), mOut = allocF32(backend, n), vOut = allocF32(backend, n);
  const a = args.attrs as unknown as AdamL2Attrs;
  parallelRun(
    TASK.adam,
    [pv, gv, mv, vv, pOut, mOut, vOut],
    [a.beta1, a.beta2, a.weightDecay, a.eps, a.stepSize, a.bc2Sqrt, n],
    chunksFor(n),
  );
  return [
    backend.makeTensorInfo(p.shape, "float32", pOut),
    backend.makeTensorInfo(p.shape, "float32", mOut),
    backend.makeTensorInfo(p.shape, "float32", vOut),
  ];
}
