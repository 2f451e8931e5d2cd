/**
 * The native backend's fused training-mode BatchNorm (channels last), replacing the dozen
 * full-size elementwise kernels the composed ops and their autodiff emit per layer:
 *
 * - `NativeBatchNormTrain`: inputs `{x, gamma, beta}`, attr `{epsilon}`; outputs
 *   `[y, mean, variance]` (biased variance), bit-identical to `tf.moments` followed by
 *   `x * (gamma * rsqrt(variance + eps)) + (beta - mean * scale)` on this backend.
 * - `NativeBatchNormTrainGrad`: inputs `{dy, x, gamma, mean, variance}`, attr `{epsilon}`;
 *   outputs `[dx, dgamma, dbeta]`.
 *
 * The arithmetic is in `batch_norm_tasks.ts`; chunks own channel ranges.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { f32 } from "./blas_kernels.ts";
import { allocF32 } from "./pooled_cpu_backend.ts";
import { BN_TASK } from "./batch_norm_tasks.ts";
import { chunksFor, parallelRun, shareable } from "./thread_pool.ts";

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

/** Smallest channel range a chunk gets (shorter runs per row are not worth a thread). */
const MIN_CHANNELS_PER_CHUNK = 16;

function channelChunks(size: number, channels: number): number {
  return Math.max(1, Math.min(chunksFor(size), Math.floor(channels / MIN_CHANNELS_PER_CHUNK)));
}

/** Staging slots of the per-channel arrays (beyond the conv kernels' slots 0 and 1). */
const SLOT0 = 8;

/**
 * Runs a BatchNorm job: the per-channel arrays (`small`, below the pool's sharing size) go
 * through shared staging slots so that the helper threads can read and write them.
 */
function runJob(
  task: number,
  large: Float32Array[],
  small: Float32Array[],
  params: number[],
  chunks: number,
): void {
  const staged = chunks > 1 ? small.map((a, i) => shareable(a, SLOT0 + i)) : small;
  parallelRun(task, [...large, ...staged], params, chunks);
  staged.forEach((s, i) => {
    if (s !== small[i]) small[i].set(s);
  });
}

function floats(backend: MathBackendCPU, t: tf.TensorInfo, n: number, what: string): Float32Array {
  const v = f32(backend, t);
  if (!v || v.length !== n) {
    throw new Error(`${what}: needs float32 of ${n} values, got ${t.dtype} [${t.shape}]`);
  }
  return v;
}

/**
 * The kernel function of `NativeBatchNormTrain` (see the module doc).
 *
 * @example
 * ```ts
 * const [y, mean, variance] = tf.engine().runKernel("NativeBatchNormTrain",
 *   { x, gamma, beta }, { epsilon: 1e-5 }) as tf.Tensor[];
 * ```
 */
export function batchNormTrainKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as MathBackendCPU;
  const { x, gamma, beta } = args.inputs;
  const C = x.shape[x.shape.length - 1];
  const size = x.shape.reduce((a, b) => a * b, 1);
  const R = size / C;
  const what = "NativeBatchNormTrain";
  const xv = floats(backend, x, size, `${what} x`);
  const gv = floats(backend, gamma, C, `${what} gamma`),
    bv = floats(backend, beta, C, `${what} beta`);
  const y = allocF32(backend, size), mean = allocF32(backend, C), variance = allocF32(backend, C);
  const eps = Number((args.attrs as Record<string, unknown>).epsilon);
  const chunks = channelChunks(size, C);
  runJob(BN_TASK.forward, [xv, y], [gv, bv, mean, variance], [R, C, eps], chunks);
  return [
    backend.makeTensorInfo(x.shape, "float32", y),
    backend.makeTensorInfo([C], "float32", mean),
    backend.makeTensorInfo([C], "float32", variance),
  ];
}

/**
 * The kernel function of `NativeBatchNormTrainGrad` (see the module doc).
 *
 * @example
 * ```ts
 * const [dx, dgamma, dbeta] = tf.engine().runKernel("NativeBatchNormTrainGrad",
 *   { dy, x, gamma, mean, variance }, { epsilon: 1e-5 }) as tf.Tensor[];
 * ```
 */
export function batchNormTrainGradKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as MathBackendCPU;
  const { dy, x, gamma, mean, variance } = args.inputs;
  const C = x.shape[x.shape.length - 1];
  const size = x.shape.reduce((a, b) => a * b, 1);
  const R = size / C;
  const what = "NativeBatchNormTrainGrad";
  const dyv = floats(backend, dy, size, `${what} dy`), xv = floats(backend, x, size, `${what} x`);
  const gv = floats(backend, gamma, C, `${what} gamma`);
  const mv = floats(backend, mean, C, `${what} mean`);
  const vv = floats(backend, variance, C, `${what} variance`);
  const dx = allocF32(backend, size), dgamma = allocF32(backend, C), dbeta = allocF32(backend, C);
  const eps = Number((args.attrs as Record<string, unknown>).epsilon);
  const chunks = channelChunks(size, C);
  runJob(BN_TASK.backward, [dyv, xv, dx], [gv, mv, vv, dgamma, dbeta], [R, C, eps], chunks);
  return [
    backend.makeTensorInfo(x.shape, "float32", dx),
    backend.makeTensorInfo([C], "float32", dgamma),
    backend.makeTensorInfo([C], "float32", dbeta),
  ];
}
