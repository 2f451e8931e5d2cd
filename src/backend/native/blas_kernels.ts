/**
 * The BLAS-backed tfjs kernels of the `native` backend: Conv2D and its two gradients, FusedConv2D,
 * BatchMatMul and _FusedMatMul. Each handles float32 NHWC cases itself and hands anything else
 * (other layouts, dilations, int dtypes, unusual fusions) to the `cpu` kernel of the same name.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import {
  conv2dBackpropFilter,
  conv2dBackpropInput,
  conv2dForward,
  type ConvGeometry,
} from "./conv2d.ts";
import { allocF32 } from "./pooled_cpu_backend.ts";
import { TASK } from "./parallel_tasks.ts";
import { gemmPieces, parallelRun } from "./thread_pool.ts";

type Attrs = Record<string, unknown>;
type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

/**
 * Calls to the `cpu` fallback by kernel name and input shapes/dtypes, counted only while a
 * caller has put this map into counting mode by clearing it with {@linkcode countFallbacks}.
 */
export const fallbackCounts = new Map<string, number>();
let countingFallbacks = false;

/**
 * Starts (true) or stops (false) counting fallbacks into {@linkcode fallbackCounts}.
 *
 * @example
 * ```ts
 * countFallbacks(true);
 * step();
 * console.log([...fallbackCounts]);
 * ```
 */
export function countFallbacks(on: boolean): void {
  countingFallbacks = on;
}

/** Calls the `cpu` kernel of the same name (the fallback for cases handled here). */
export function cpuKernel(name: string, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  if (countingFallbacks && !(name === "Cast" && args.inputs.x?.dtype === args.attrs?.dtype)) {
    const key = `${name} ${
      Object.values(args.inputs).map((t) => t ? `${t.dtype}[${t.shape}]` : "-").join(" ")
    }`;
    fallbackCounts.set(key, (fallbackCounts.get(key) ?? 0) + 1);
  }
  const config = tf.getKernel(name, "cpu");
  if (!config) throw new Error(`native backend: no cpu kernel ${name} to fall back on`);
  return config.kernelFunc(args as Parameters<tf.KernelFunc>[0]);
}

/** The float32 values of a tensor held by a CPU-style backend, or null if it is not float32. */
export function f32(backend: MathBackendCPU, t: tf.TensorInfo): Float32Array | null {
  if (t.dtype !== "float32") return null;
  const values = backend.data.get(t.dataId).values;
  return values instanceof Float32Array ? values : null;
}

function size(shape: number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: Attrs,
): tf.backend_util.Conv2DInfo | null {
  if ((attrs.dataFormat ?? "NHWC") !== "NHWC") return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    (attrs.dilations ?? 1) as [number, number] | number,
    attrs.pad as "valid" | "same" | number | tf.backend_util.ExplicitPadding,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    false,
    "channelsLast",
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  return info;
}

function geometry(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    batchSize: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

function conv2dKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const backend = args.backend as MathBackendCPU;
  const { x, filter } = args.inputs;
  const xv = f32(backend, x), wv = f32(backend, filter);
  const info = xv && wv ? convInfo(x.shape, filter.shape, args.attrs as Attrs) : null;
  if (!info || !xv || !wv) return cpuKernel("Conv2D", args);
  const y = allocF32(backend, size(info.outShape));
  conv2dForward(geometry(info), xv, wv, y);
  return backend.makeTensorInfo(info.outShape, "float32", y);
}

function conv2dBackpropInputKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const backend = args.backend as MathBackendCPU;
  const { dy, filter } = args.inputs;
  const attrs = args.attrs as Attrs;
  const inputShape = attrs.inputShape as number[];
  const dyv = f32(backend, dy), wv = f32(backend, filter);
  const info = dyv && wv ? convInfo(inputShape, filter.shape, attrs) : null;
  if (!info || !dyv || !wv) return cpuKernel("Conv2DBackpropInput", args);
  const dx = allocF32(backend, size(inputShape));
  conv2dBackpropInput(geometry(info), dyv, wv, dx);
  return backend.makeTensorInfo(inputShape, "float32", dx);
}

function conv2dBackpropFilterKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const backend = args.backend as MathBackendCPU;
  const { x, dy } = args.inputs;
  const attrs = args.attrs as Attrs;
  const filterShape = attrs.filterShape as number[];
  const xv = f32(backend, x), dyv = f32(backend, dy);
  const info = xv && dyv ? convInfo(x.shape, filterShape, attrs) : null;
  if (!info || !xv || !dyv) return cpuKernel("Conv2DBackpropFilter", args);
  const dw = allocF32(backend, size(filterShape));
  conv2dBackpropFilter(geometry(info), xv, dyv, dw);
  return backend.makeTensorInfo(filterShape, "float32", dw);
}

/** Adds `bias` (length = last dim, or a scalar) and applies linear/relu in place; false if unsupported. */
function biasAndActivation(
  backend: MathBackendCPU,
  y: Float32Array,
  channels: number,
  bias: tf.TensorInfo | undefined,
  attrs: Attrs,
): boolean {
  const activation = (attrs.activation ?? "linear") as string;
  if (activation !== "linear" && activation !== "relu") return false;
  if (bias) {
    const bv = f32(backend, bias);
    if (!bv) return false;
    if (bv.length === channels) {
      for (let i = 0; i < y.length; i += channels) {
        for (let c = 0; c < channels; c++) y[i + c] += bv[c];
      }
    } else if (bv.length === 1) {
      const b = bv[0];
      for (let i = 0; i < y.length; i++) y[i] += b;
    } else return false;
  }
  if (activation === "relu") {
    for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] = 0;
  }
  return true;
}

function simpleFusion(inputs: tf.NamedTensorInfoMap, attrs: Attrs, channels: number): boolean {
  const activation = (attrs.activation ?? "linear") as string;
  if (activation !== "linear" && activation !== "relu") return false;
  if (inputs.preluActivationWeights) return false;
  const bias = inputs.bias;
  return !bias ||
    bias.dtype === "float32" && (size(bias.shape) === channels || size(bias.shape) === 1);
}

/**
 * The `FusedConv2D` kernel (bias and linear/ReLU activation applied by the convolution's pieces
 * while their output is in cache; the ReLU maps NaN to 0); also registered as
 * `NativeFusedConv2D`, which carries its own gradient (see `native_gradients.ts`) and takes an
 * optional `residual` input of the output's shape, added after the bias and before the ReLU.
 *
 * @example
 * ```ts
 * const y = tf.engine().runKernel("NativeFusedConv2D", { x, filter, bias },
 *   { strides: [1, 1], pad: "valid", dataFormat: "NHWC", dilations: [1, 1], activation: "relu" });
 * ```
 */
export function fusedConv2dKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const backend = args.backend as MathBackendCPU;
  const { x, filter, bias, residual } = args.inputs;
  const attrs = args.attrs as Attrs;
  const xv = f32(backend, x), wv = f32(backend, filter);
  const info = xv && wv ? convInfo(x.shape, filter.shape, attrs) : null;
  const rv = residual ? f32(backend, residual) : null;
  if (residual && (!info || !rv || rv.length !== size(info.outShape))) {
    throw new Error(
      "NativeFusedConv2D: the residual must be float32 of the output's shape, got " +
        `[${residual.shape}]`,
    );
  }
  if (!info || !xv || !wv || !simpleFusion(args.inputs, attrs, info.outChannels)) {
    if (residual) throw new Error("NativeFusedConv2D: a residual needs a linear or relu fusion");
    const out = cpuKernel("FusedConv2D", args) as tf.TensorInfo;
    if (attrs.activation === "relu" && out.dtype === "float32") {
      // The same ReLU as the fused paths (NaN gives 0), which the gradient relies on.
      const v = backend.data.get(out.dataId).values as Float32Array;
      for (let i = 0; i < v.length; i++) if (!(v[i] > 0)) v[i] = 0;
    }
    return out;
  }
  const y = allocF32(backend, size(info.outShape));
  const bv = bias ? f32(backend, bias) : null;
  const relu = attrs.activation === "relu";
  if (bias === undefined || (bv && bv.length === info.outChannels)) {
    conv2dForward(geometry(info), xv, wv, y, {
      bias: bv ?? undefined,
      residual: rv ?? undefined,
      relu,
    });
  } else {
    // A scalar bias: convolution (and residual) first, then bias and activation in order.
    conv2dForward(geometry(info), xv, wv, y);
    biasAndActivation(backend, y, info.outChannels, bias, { activation: "linear" });
    if (rv) { for (let i = 0; i < y.length; i++) y[i] += rv[i]; }
    if (relu) { for (let i = 0; i < y.length; i++) if (!(y[i] > 0)) y[i] = 0; }
  }
  return backend.makeTensorInfo(info.outShape, "float32", y);
}

interface MatMulPlan {
  outShape: number[];
  m: number;
  n: number;
  k: number;
  batch: number;
  strideA: number;
  strideB: number;
}

function planMatMul(
  aShape: number[],
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
): MatMulPlan | null {
  if (aShape.length < 2 || bShape.length < 2) return null;
  const ar = aShape[aShape.length - 2], ac = aShape[aShape.length - 1];
  const br = bShape[bShape.length - 2], bc = bShape[bShape.length - 1];
  const m = transposeA ? ac : ar, k = transposeA ? ar : ac;
  const kb = transposeB ? bc : br, n = transposeB ? br : bc;
  if (k !== kb) return null;
  const batchShapeA = aShape.slice(0, -2), batchShapeB = bShape.slice(0, -2);
  const batchA = size(batchShapeA), batchB = size(batchShapeB);
  let batchShape: number[];
  try {
    batchShape = tf.broadcast_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  } catch {
    return null;
  }
  const batch = size(batchShape);
  // Only equal batches or a single matrix on one side map onto strided GEMM calls.
  if (!(batchA === batchB && batchA === batch) && batchA !== 1 && batchB !== 1) return null;
  return {
    outShape: [...batchShape, m, n],
    m,
    n,
    k,
    batch,
    strideA: batchA === 1 ? 0 : ar * ac,
    strideB: batchB === 1 ? 0 : br * bc,
  };
}

function runMatMul(
  backend: MathBackendCPU,
  p: MatMulPlan,
  av: Float32Array,
  bv: Float32Array,
  aCols: number,
  bCols: number,
  transposeA: boolean,
  transposeB: boolean,
): Float32Array {
  const out = allocF32(backend, p.batch * p.m * p.n);
  const tA = transposeA ? 1 : 0, tB = transposeB ? 1 : 0;
  if (p.batch === 1 || (p.strideB === 0 && !transposeA)) {
    // One matrix, or a stack of matrices times one matrix (one taller GEMM): split by rows.
    const m = p.batch * p.m;
    const pieces = Math.min(m, gemmPieces(m, p.n, p.k));
    parallelRun(TASK.gemmRows, [av, bv, out], [tA, tB, m, p.n, p.k, aCols, bCols, p.n], pieces);
    return out;
  }
  const pieces = Math.min(p.batch, gemmPieces(p.batch * p.m, p.n, p.k));
  parallelRun(
    TASK.gemmBatch,
    [av, bv, out],
    [tA, tB, p.m, p.n, p.k, aCols, bCols, p.strideA, p.strideB, p.batch],
    pieces,
  );
  return out;
}

/**
 * The BLAS product of a (Batch/Fused)MatMul kernel's `a` and `b`, or `null` when its inputs or
 * `accept`ed plan are outside the BLAS path.
 */
function matMulOnBlas(
  args: KernelArgs,
  accept: (plan: MatMulPlan) => boolean = () => true,
): { plan: MatMulPlan; out: Float32Array } | null {
  const backend = args.backend as MathBackendCPU;
  const { a, b } = args.inputs;
  const attrs = args.attrs as Attrs;
  const transposeA = Boolean(attrs.transposeA), transposeB = Boolean(attrs.transposeB);
  const av = f32(backend, a), bv = f32(backend, b);
  const plan = av && bv ? planMatMul(a.shape, b.shape, transposeA, transposeB) : null;
  if (!plan || !av || !bv || !accept(plan)) return null;
  const out = runMatMul(
    backend,
    plan,
    av,
    bv,
    a.shape[a.shape.length - 1],
    b.shape[b.shape.length - 1],
    transposeA,
    transposeB,
  );
  return { plan, out };
}

function batchMatMulKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const r = matMulOnBlas(args);
  if (!r) return cpuKernel("BatchMatMul", args);
  return (args.backend as MathBackendCPU).makeTensorInfo(r.plan.outShape, "float32", r.out);
}

function fusedMatMulKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const backend = args.backend as MathBackendCPU;
  const attrs = args.attrs as Attrs;
  const r = matMulOnBlas(args, (plan) => simpleFusion(args.inputs, attrs, plan.n));
  if (!r) return cpuKernel("_FusedMatMul", args);
  biasAndActivation(backend, r.out, r.plan.n, args.inputs.bias, attrs);
  return backend.makeTensorInfo(r.plan.outShape, "float32", r.out);
}

/** The BLAS-backed kernel functions, by tfjs kernel name. */
export const BLAS_KERNELS: Record<string, (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]> = {
  Conv2D: conv2dKernel,
  Conv2DBackpropInput: conv2dBackpropInputKernel,
  Conv2DBackpropFilter: conv2dBackpropFilterKernel,
  FusedConv2D: fusedConv2dKernel,
  BatchMatMul: batchMatMulKernel,
  _FusedMatMul: fusedMatMulKernel,
};
