/**
 * Hand-tuned JavaScript kernels of the `native` backend: elementwise unary and broadcasting binary
 * ops, reductions over one contiguous run of axes, average pooling and its gradient, Slice, PadV2
 * and AddN. The `cpu` backend computes these through generic index arithmetic (and transposes
 * before every reduction); here each op gets a straight loop, generated once per op and access
 * pattern so that V8 compiles a monomorphic loop for each. Cases outside the fast paths (other
 * dtypes, more than three broadcast dimensions after merging, non-contiguous reduction axes,
 * padded pooling) are handed to the `cpu` kernel of the same name, so results never depend on
 * which path ran beyond float rounding.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { cpuKernel, f32 } from "./blas_kernels.ts";
import { allocF32 } from "./pooled_cpu_backend.ts";
import {
  BINARY_NAMES,
  BINARY_SPECS,
  binaryLoopId,
  binaryLoopOf,
  REDUCE_OP,
  TASK,
  UNARY_NAMES,
  UNARY_SPECS,
  type UnarySpec,
} from "./parallel_tasks.ts";
import { chunksFor, parallelRun } from "./thread_pool.ts";
import { dnnlEnabled } from "./dnnl_library.ts";
import { dnnlStridedCopy } from "./dnnl_elementwise.ts";

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};
type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];
type Attrs = Record<string, unknown>;

function sizeOf(shape: number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Unary ops: o[i] = f(x[i]) with an optional scalar attribute `p`.

function unaryKernel(name: string, spec: UnarySpec): Kernel {
  const id = UNARY_NAMES.indexOf(name);
  return (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x } = args.inputs;
    const xv = f32(backend, x);
    if (!xv) return cpuKernel(name, args);
    const p = spec.attr ? Number((args.attrs as Attrs)[spec.attr]) : 0;
    const out = allocF32(backend, xv.length);
    const fast = spec.fast && (spec.fastWhenP === undefined || p === spec.fastWhenP) ? 1 : 0;
    parallelRun(TASK.unary, [xv, out], [id, p, xv.length, fast], chunksFor(xv.length));
    return backend.makeTensorInfo(x.shape, "float32", out);
  };
}

// ---------------------------------------------------------------------------------------------
// Fused gradients (kernels of the native backend only; see native_gradients.ts).

/**
 * `NativeReluGrad`: `dy * step(x)` in one pass (the Relu gradient tfjs builds from Step, Cast
 * and Multiply). Exact: a NaN in `x` gives NaN, as `step` does. With attribute `nanFree: true`
 * (the caller guarantees `x` has no NaN, e.g. the output of `NativeFusedConv2D`'s ReLU) it may
 * run on oneDNN, which gives the same bits for such inputs.
 */
const reluGradKernel: Kernel = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { dy, x } = args.inputs;
  const dyv = f32(backend, dy), xv = f32(backend, x);
  if (!dyv || !xv || dyv.length !== xv.length) {
    throw new Error("NativeReluGrad: needs float32 dy and x of one shape");
  }
  const n = xv.length;
  const out = allocF32(backend, n);
  const fast = (args.attrs as Attrs | undefined)?.nanFree === true && dnnlEnabled();
  parallelRun(fast ? TASK.reluGradDnnl : TASK.reluGrad, [dyv, xv, out], [n], chunksFor(n));
  return backend.makeTensorInfo(x.shape, "float32", out);
};

// ---------------------------------------------------------------------------------------------
// Binary ops with broadcasting, merged to at most three dimensions.

interface BroadcastPlan {
  outShape: number[];
  n: [number, number, number];
  sa: [number, number, number];
  sb: [number, number, number];
}

/** Plans `out = f(a, b)` over at most 3 merged dims, or returns null. */
export function broadcastPlan(aShape: number[], bShape: number[]): BroadcastPlan | null {
  let outShape: number[];
  try {
    outShape = tf.broadcast_util.assertAndGetBroadcastShape(aShape, bShape);
  } catch {
    return null;
  }
  const R = outShape.length;
  const strides = (shape: number[]) => {
    const padded = [...new Array(R - shape.length).fill(1), ...shape];
    const s = new Array(R).fill(0);
    let acc = 1;
    for (let d = R - 1; d >= 0; d--) {
      s[d] = padded[d] === 1 ? 0 : acc;
      acc *= padded[d];
    }
    return s;
  };
  const a = strides(aShape), b = strides(bShape);
  const dims: number[] = [], as: number[] = [], bs: number[] = [];
  for (let d = 0; d < R; d++) {
    const n = outShape[d];
    if (n === 1) continue;
    const L = dims.length - 1;
    if (L >= 0 && as[L] === a[d] * n && bs[L] === b[d] * n) {
      dims[L] *= n;
      as[L] = a[d];
      bs[L] = b[d];
    } else {
      dims.push(n);
      as.push(a[d]);
      bs.push(b[d]);
    }
  }
  if (dims.length > 3) return null;
  while (dims.length < 3) {
    dims.unshift(1);
    as.unshift(0);
    bs.unshift(0);
  }
  return {
    outShape,
    n: dims as [number, number, number],
    sa: as as [number, number, number],
    sb: bs as [number, number, number],
  };
}

function binaryKernel(name: string, outBool: boolean): Kernel {
  return (args) => {
    const backend = args.backend as MathBackendCPU;
    const { a, b } = args.inputs;
    let av: ArrayLike<number> | null, bv: ArrayLike<number> | null;
    if (outBool) {
      const ok = a.dtype === b.dtype && (a.dtype === "float32" || a.dtype === "int32");
      av = ok ? backend.data.get(a.dataId).values as ArrayLike<number> : null;
      bv = ok ? backend.data.get(b.dataId).values as ArrayLike<number> : null;
    } else {
      av = f32(backend, a);
      bv = f32(backend, b);
    }
    const plan = av && bv ? broadcastPlan(a.shape, b.shape) : null;
    if (!plan || !av || !bv) return cpuKernel(name, args);
    const n = sizeOf(plan.outShape);
    const id = binaryLoopId(name, plan.sa[2], plan.sb[2]);
    const [n0, n1, n2] = plan.n, [sa0, sa1, sa2] = plan.sa, [sb0, sb1, sb2] = plan.sb;
    if (outBool) {
      const out = new Uint8Array(n);
      binaryLoopOf(id)(av, bv, out, n1, n2, sa0, sa1, sa2, sb0, sb1, sb2, 0, n0 * n1, 0, n2);
      return backend.makeTensorInfo(plan.outShape, "bool", out);
    }
    const out = allocF32(backend, n);
    parallelRun(
      TASK.binary,
      [av as Float32Array, bv as Float32Array, out],
      [id, n0, n1, n2, sa0, sa1, sa2, sb0, sb1, sb2],
      chunksFor(n),
    );
    return backend.makeTensorInfo(plan.outShape, "float32", out);
  };
}

// ---------------------------------------------------------------------------------------------
// Reductions over one contiguous run of axes: x viewed as [outer, reduce, inner].

type ReduceOp = "sum" | "mean" | "max" | "min";

function reduceKernel(name: string, op: ReduceOp): Kernel {
  return (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x } = args.inputs;
    const attrs = args.attrs as Attrs;
    const xv = f32(backend, x);
    if (!xv) return cpuKernel(name, args);
    const axes = tf.util.parseAxisParam(
      (attrs.axis ?? attrs.reductionIndices) as number | number[],
      x.shape,
    ).sort((p, q) => p - q);
    for (let i = 1; i < axes.length; i++) {
      if (axes[i] !== axes[i - 1] + 1) return cpuKernel(name, args);
    }
    const rank = x.shape.length;
    const first = axes.length ? axes[0] : rank,
      last = axes.length ? axes[axes.length - 1] : rank - 1;
    const outer = sizeOf(x.shape.slice(0, first));
    const red = sizeOf(x.shape.slice(first, last + 1));
    const inner = sizeOf(x.shape.slice(last + 1));
    const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const shape = attrs.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    const out = allocF32(backend, outer * inner);
    if (red === 0) {
      if (op === "max" || op === "min") return cpuKernel(name, args);
      out.fill(op === "mean" ? NaN : 0);
      return backend.makeTensorInfo(shape, "float32", out);
    }
    // Split the outputs (never a sum): over `outer` when it is large enough, else over `inner`
    // when each chunk keeps long contiguous runs; otherwise one thread.
    let chunks = chunksFor(xv.length);
    if (outer < chunks) chunks = inner >= 256 * chunks ? chunks : 1;
    parallelRun(TASK.reduce, [xv, out], [REDUCE_OP[op], outer, red, inner], chunks);
    return backend.makeTensorInfo(shape, "float32", out);
  };
}

// ---------------------------------------------------------------------------------------------
// Average pooling (unpadded, undilated) and its gradient.

function poolInfo(xShape: number[], attrs: Attrs): tf.backend_util.Conv2DInfo | null {
  if (xShape.length !== 4) return null;
  const info = tf.backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as "valid" | "same" | number,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
  );
  const p = info.padInfo;
  if (p.top !== 0 || p.left !== 0 || p.bottom !== 0 || p.right !== 0) return null;
  // Windows must stay inside the input (true for valid padding).
  if ((info.outHeight - 1) * info.strideHeight + info.filterHeight > info.inHeight) return null;
  if ((info.outWidth - 1) * info.strideWidth + info.filterWidth > info.inWidth) return null;
  return info;
}

function poolParams(info: tf.backend_util.Conv2DInfo): number[] {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
  ];
}

/** Chunks of a pooling job over `n` images touching `elements` values. */
function poolChunks(n: number, elements: number): number {
  return Math.min(n, chunksFor(elements));
}

/**
 * Average pooling, separably: first the sums over each window's columns, then over its rows
 * (about KH + KW reads per output instead of KH * KW); split over images.
 */
const avgPoolKernel: Kernel = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs;
  const xv = f32(backend, x);
  const info = xv ? poolInfo(x.shape, args.attrs as Attrs) : null;
  if (!info || !xv) return cpuKernel("AvgPool", args);
  const { batchSize: N, outHeight: OH, outWidth: OW, inChannels: C } = info;
  const out = allocF32(backend, N * OH * OW * C);
  const task = dnnlEnabled() ? TASK.avgPoolDnnl : TASK.avgPool;
  parallelRun(task, [xv, out], poolParams(info), poolChunks(N, xv.length));
  return backend.makeTensorInfo([N, OH, OW, C], "float32", out);
};

/**
 * The gradient of average pooling, separably (every element of `dx` is written once, no zero
 * fill, no scattered accumulation); split over images.
 */
const avgPoolGradKernel: Kernel = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { dy, input } = args.inputs;
  const dyv = f32(backend, dy);
  const info = dyv && input.dtype === "float32" ? poolInfo(input.shape, args.attrs as Attrs) : null;
  if (!info || !dyv) return cpuKernel("AvgPoolGrad", args);
  const n = sizeOf(input.shape);
  const dx = allocF32(backend, n);
  const task = dnnlEnabled() ? TASK.avgPoolGradDnnl : TASK.avgPoolGrad;
  parallelRun(task, [dyv, dx], poolParams(info), poolChunks(info.batchSize, n));
  return backend.makeTensorInfo(input.shape, "float32", dx);
};

// ---------------------------------------------------------------------------------------------
// Data movement: Slice, PadV2, AddN.

function copyRun(src: Float32Array, s: number, dst: Float32Array, d: number, len: number) {
  if (len >= 64) dst.set(src.subarray(s, s + len), d);
  else for (let i = 0; i < len; i++) dst[d + i] = src[s + i];
}

/** Calls `visit(srcOffset, dstOffset)` for every run of the last dim when copying a box. */
function forEachRow(
  boxShape: number[],
  srcShape: number[],
  srcBegin: number[],
  dstShape: number[],
  dstBegin: number[],
  visit: (s: number, d: number) => void,
) {
  const R = boxShape.length;
  const stridesOf = (shape: number[]) => {
    const s = new Array(R).fill(1);
    for (let d = R - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
    return s;
  };
  const ss = stridesOf(srcShape), ds = stridesOf(dstShape);
  const rows = sizeOf(boxShape.slice(0, R - 1));
  const idx = new Array(Math.max(0, R - 1)).fill(0);
  let s0 = 0, d0 = 0;
  for (let d = 0; d < R; d++) {
    s0 += srcBegin[d] * ss[d];
    d0 += dstBegin[d] * ds[d];
  }
  for (let r = 0; r < rows; r++) {
    let s = s0, dd = d0;
    for (let d = 0; d < R - 1; d++) {
      s += idx[d] * ss[d];
      dd += idx[d] * ds[d];
    }
    visit(s, dd);
    for (let d = R - 2; d >= 0; d--) {
      if (++idx[d] < boxShape[d]) break;
      idx[d] = 0;
    }
  }
}

const sliceKernel: Kernel = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs;
  const xv = f32(backend, x);
  if (!xv || x.shape.length === 0) return cpuKernel("Slice", args);
  const attrs = args.attrs as Attrs;
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as unknown as tf.Tensor,
    attrs.begin as number[],
    attrs.size as number[],
  );
  const n = sizeOf(size);
  const out = allocF32(backend, n);
  const R = size.length, last = x.shape[R - 1];
  if (n > 0 && dnnlEnabled() && size.every((d, i) => i === R - 1 || d === x.shape[i])) {
    // Only the last dimension is cut: one strided copy.
    dnnlStridedCopy(xv, begin[R - 1], last, out, 0, size[R - 1], n / size[R - 1], size[R - 1]);
  } else if (n > 0) {
    const len = size[size.length - 1];
    forEachRow(
      size,
      x.shape,
      begin,
      size,
      size.map(() => 0),
      (s, d) => copyRun(xv, s, out, d, len),
    );
  }
  return backend.makeTensorInfo(size, "float32", out);
};

const padKernel: Kernel = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs;
  const xv = f32(backend, x);
  if (!xv || x.shape.length === 0) return cpuKernel("PadV2", args);
  const attrs = args.attrs as Attrs;
  const paddings = attrs.paddings as [number, number][];
  const value = Number(attrs.constantValue ?? 0);
  const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
  const out = allocF32(backend, sizeOf(outShape));
  out.fill(value);
  const R = outShape.length, len = x.shape[R - 1];
  if (
    xv.length > 0 && dnnlEnabled() &&
    paddings.every((p, i) => i === R - 1 || (p[0] === 0 && p[1] === 0))
  ) {
    // Only the last dimension is padded: one strided copy.
    dnnlStridedCopy(xv, 0, len, out, paddings[R - 1][0], outShape[R - 1], xv.length / len, len);
  } else if (xv.length > 0) {
    forEachRow(
      x.shape,
      x.shape,
      x.shape.map(() => 0),
      outShape,
      paddings.map((p) => p[0]),
      (s, d) => copyRun(xv, s, out, d, len),
    );
  }
  return backend.makeTensorInfo(outShape, "float32", out);
};

const addNKernel: Kernel = (args) => {
  const backend = args.backend as MathBackendCPU;
  const tensors = Object.values(args.inputs) as tf.TensorInfo[];
  const values = tensors.map((t) => f32(backend, t));
  if (tensors.length === 0 || values.some((v) => !v || v.length !== values[0]!.length)) {
    return cpuKernel("AddN", args);
  }
  const out = allocF32(backend, values[0]!.length);
  out.set(values[0]!);
  for (let t = 1; t < values.length; t++) {
    const v = values[t]!;
    for (let i = 0; i < out.length; i++) out[i] += v[i];
  }
  return backend.makeTensorInfo(tensors[0].shape, "float32", out);
};

/**
 * Cast to float32 from bool or int32 into a real Float32Array (the `cpu` kernel keeps the source
 * array, so every fast float32 kernel downstream would fall back on the result), and float32 or
 * bool to int32 (same ToInt32 conversion as the `cpu` kernel's `Int32Array.from`).
 */
const castKernel: Kernel = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs;
  const dtype = (args.attrs as Attrs).dtype;
  const values = backend.data.get(x.dataId).values;
  if (
    dtype === "float32" && (x.dtype === "bool" || x.dtype === "int32") &&
    (values instanceof Uint8Array || values instanceof Int32Array)
  ) {
    const out = allocF32(backend, values.length);
    for (let i = 0; i < values.length; i++) out[i] = values[i];
    return backend.makeTensorInfo(x.shape, "float32", out);
  }
  if (
    dtype === "int32" && (x.dtype === "float32" || x.dtype === "bool") &&
    (values instanceof Float32Array || values instanceof Uint8Array)
  ) {
    const out = new Int32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = values[i];
    return backend.makeTensorInfo(x.shape, "int32", out);
  }
  return cpuKernel("Cast", args);
};

/** The JavaScript kernel functions, by tfjs kernel name. */
export const FAST_KERNELS: Record<string, Kernel> = {
  ...Object.fromEntries(
    Object.entries(UNARY_SPECS).map(([name, spec]) => [name, unaryKernel(name, spec)]),
  ),
  ...Object.fromEntries(
    BINARY_NAMES.map((name) => [name, binaryKernel(name, BINARY_SPECS[name][1])]),
  ),
  Sum: reduceKernel("Sum", "sum"),
  Mean: reduceKernel("Mean", "mean"),
  Max: reduceKernel("Max", "max"),
  Min: reduceKernel("Min", "min"),
  AvgPool: avgPoolKernel,
  AvgPoolGrad: avgPoolGradKernel,
  Slice: sliceKernel,
  PadV2: padKernel,
  AddN: addNKernel,
  Cast: castKernel,
  NativeReluGrad: reluGradKernel,
};
