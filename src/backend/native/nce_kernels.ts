/**
 * The native backend's fused NCE score kernels (the part of `nceDirection` in
 * `src/loss/nce_loss.ts` after the score matrix product), replacing about twenty composed
 * elementwise ops and their autodiff with one pass forward and one backward:
 *
 * - `NativeNceScores`: input `{raw}` (`[B, B, L]` scores, already divided by `sqrt(D)`), attrs
 *   `{tclip, lgtRegWeight}`; outputs `[loss, reg, sig, aux]`: the mean softplus NCE loss, the
 *   logit regulariser `w · mean(raw²)`, and what the gradient needs (`[B]` and `[B, B, L]`, see
 *   `nce_tasks.ts`), so that the backward pass has no transcendental functions.
 * - `NativeNceScoresGrad`: inputs `{raw, sig, aux, dyLoss, dyReg}`, the same attrs; output `draw`.
 *
 * The arithmetic (float64 per element) is in `nce_tasks.ts`; chunks own rows.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { f32 } from "./blas_kernels.ts";
import { allocF32 } from "./pooled_cpu_backend.ts";
import { NCE_TASK } from "./nce_tasks.ts";
import { chunksFor, isShared, parallelRun, sharedF32, startedWorkers } from "./thread_pool.ts";

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

function scores(backend: MathBackendCPU, raw: tf.TensorInfo): [Float32Array, number, number] {
  const v = f32(backend, raw);
  const [B, B2, L] = raw.shape;
  if (!v || raw.shape.length !== 3 || B !== B2 || B < 2) {
    throw new Error(
      `NativeNceScores: needs float32 scores [B, B, L] with B >= 2, got [${raw.shape}]`,
    );
  }
  return [v, B, L];
}

function attrsOf(args: KernelArgs): { tclip: number; w: number } {
  const a = args.attrs ?? {};
  return { tclip: Number(a.tclip), w: Number(a.lgtRegWeight) };
}

function scalar(backend: MathBackendCPU, t: tf.TensorInfo): number {
  const v = backend.data.get(t.dataId).values as ArrayLike<number>;
  return Number(v[0]);
}

let rowsBuffer: Float32Array = new Float32Array(0);

/**
 * `NativeNceScores`.
 *
 * @example
 * ```ts
 * const attrs = { tclip: 20, lgtRegWeight: 0.05 };
 * const [loss, reg] = tf.engine().runKernel("NativeNceScores", { raw }, attrs);
 * ```
 */
export function nceScoresKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as MathBackendCPU;
  const [raw, B, L] = scores(backend, args.inputs.raw);
  const { tclip, w } = attrsOf(args);
  if (rowsBuffer.length < 4 * B || (startedWorkers() > 0 && !isShared(rowsBuffer))) {
    rowsBuffer = sharedF32(Math.max(4 * B, rowsBuffer.length));
  }
  const rows = rowsBuffer.subarray(0, 4 * B);
  const aux = allocF32(backend, raw.length);
  const chunks = Math.min(B, chunksFor(raw.length));
  parallelRun(NCE_TASK.forward, [raw, rows, aux], [B, L, tclip], chunks);
  let loss = 0, reg = 0;
  const sig = allocF32(backend, B);
  for (let i = 0; i < B; i++) {
    loss += rows[4 * i + 1];
    reg += rows[4 * i + 2];
    sig[i] = rows[4 * i + 3];
  }
  return [
    backend.makeTensorInfo([], "float32", Float32Array.of(loss / (B * L))),
    backend.makeTensorInfo([], "float32", Float32Array.of(w * reg / (B * B * L))),
    backend.makeTensorInfo([B], "float32", sig),
    backend.makeTensorInfo(args.inputs.raw.shape, "float32", aux),
  ];
}

/**
 * `NativeNceScoresGrad`.
 *
 * @example
 * ```ts
 * const inputs = { raw, sig, aux, dyLoss, dyReg };
 * const draw = tf.engine().runKernel("NativeNceScoresGrad", inputs, attrs);
 * ```
 */
export function nceScoresGradKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as MathBackendCPU;
  const [raw, B, L] = scores(backend, args.inputs.raw);
  const sig = f32(backend, args.inputs.sig), aux = f32(backend, args.inputs.aux);
  if (!sig || sig.length !== B || !aux || aux.length !== raw.length) {
    throw new Error("NativeNceScoresGrad: sig must be float32 [B] and aux float32 like raw");
  }
  const { w } = attrsOf(args);
  const gLoss = scalar(backend, args.inputs.dyLoss) / (B * L);
  const gReg = scalar(backend, args.inputs.dyReg) * 2 * w / (B * B * L);
  const draw = allocF32(backend, raw.length);
  parallelRun(
    NCE_TASK.backward,
    [raw, aux, sig, draw],
    [B, L, gLoss, gReg],
    Math.min(B, chunksFor(raw.length)),
  );
  return backend.makeTensorInfo(args.inputs.raw.shape, "float32", draw);
}
