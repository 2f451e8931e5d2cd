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

type UnaryLoop = (x: Float32Array, o: Float32Array, n: number, p: number) => number;

/**
 * A loop computing `o[i] = expr` that returns how many elements met `bad` (0 when `bad` is
 * omitted). A kernel with a fast form that differs from the exact one on rare inputs (NaN,
 * -Infinity) counts them and reruns the exact form only when there were any.
 */
function unaryLoop(expr: string, bad?: string): UnaryLoop {
  return new Function(
    "x",
    "o",
    "n",
    "p",
    `"use strict"; let bad = 0;
    for (let i = 0; i < n; i++) { const v = x[i]; const r = ${expr}; o[i] = r; ${
      bad ? `bad += +(${bad});` : ""
    } }
    return bad;`,
  ) as UnaryLoop;
}

interface UnarySpec {
  /** The exact expression of `v` (and the attribute `p`). */
  expr: string;
  /** Name of the scalar attribute read into `p`. */
  attr?: string;
  /** Faster expression that may differ from `expr` only where `bad` (of `v`, `r`) holds. */
  fast?: string;
  bad?: string;
  /** Use the fast form only when `p` equals this. */
  fastWhenP?: number;
}

function unaryKernel(name: string, spec: UnarySpec): Kernel {
  const exact = unaryLoop(spec.expr);
  const fast = spec.fast ? unaryLoop(spec.fast, spec.bad) : null;
  return (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x } = args.inputs;
    const xv = f32(backend, x);
    if (!xv) return cpuKernel(name, args);
    const p = spec.attr ? Number((args.attrs as Attrs)[spec.attr]) : 0;
    const out = allocF32(backend, xv.length);
    if (fast && (spec.fastWhenP === undefined || p === spec.fastWhenP)) {
      if (fast(xv, out, xv.length, p) > 0) exact(xv, out, xv.length, p);
    } else exact(xv, out, xv.length, p);
    return backend.makeTensorInfo(x.shape, "float32", out);
  };
}

const UNARY: Record<string, UnarySpec> = {
  // Branch-free fast forms: V8 compiles `Math.max` and `?:` to branches, which mispredict on the
  // random signs of activations (10x slower). Where the fast form is not exact (relu(-Infinity)
  // is NaN, step(NaN) is 0) those inputs are counted and the exact loop reruns.
  Relu: { expr: "Math.max(0, v)", fast: "+(v > 0) * v + 0", bad: "r !== r" },
  Relu6: { expr: "Math.min(Math.max(0, v), 6)" },
  Step: {
    expr: "v !== v ? NaN : (v > 0 ? 1 : p)",
    attr: "alpha",
    fast: "+(v > 0)",
    bad: "v !== v",
    fastWhenP: 0,
  },
  LeakyRelu: { expr: "v < 0 ? p * v : v", attr: "alpha" },
  Elu: { expr: "v >= 0 ? v : Math.exp(v) - 1" },
  Sqrt: { expr: "Math.sqrt(v)" },
  Rsqrt: { expr: "1 / Math.sqrt(v)" },
  Square: { expr: "v * v" },
  Exp: { expr: "Math.exp(v)" },
  Expm1: { expr: "Math.expm1(v)" },
  Log: { expr: "Math.log(v)" },
  Log1p: { expr: "Math.log1p(v)" },
  Tanh: { expr: "Math.tanh(v)" },
  Sigmoid: { expr: "1 / (1 + Math.exp(-v))" },
  Neg: { expr: "-v" },
  Abs: { expr: "Math.abs(v)" },
  Reciprocal: { expr: "1 / v" },
};

// ---------------------------------------------------------------------------------------------
// Fused gradients (kernels of the native backend only; see native_gradients.ts).

const reluGradFast = new Function(
  "dy",
  "x",
  "o",
  "n",
  `"use strict"; let bad = 0;
  for (let i = 0; i < n; i++) { const v = x[i]; o[i] = dy[i] * +(v > 0); bad += +(v !== v); }
  return bad;`,
) as (dy: Float32Array, x: Float32Array, o: Float32Array, n: number) => number;

/**
 * `NativeReluGrad`: `dy * step(x)` in one pass (the Relu gradient tfjs builds from Step, Cast
 * and Multiply). Exact: a NaN in `x` gives NaN, as `step` does.
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
  if (reluGradFast(dyv, xv, out, n) > 0) {
    for (let i = 0; i < n; i++) {
      const v = xv[i];
      out[i] = dyv[i] * (v !== v ? NaN : v > 0 ? 1 : 0);
    }
  }
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

type BinaryLoop = (
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  o: Float32Array | Uint8Array,
  n: number[],
  sa: number[],
  sb: number[],
) => void;

const binaryLoops = new Map<string, BinaryLoop>();

function binaryLoop(expr: string, innerA: number, innerB: number): BinaryLoop {
  const kind = (s: number) => (s === 0 ? 0 : s === 1 ? 1 : 2);
  const ka = kind(innerA), kb = kind(innerB);
  const key = `${expr}|${ka}|${kb}`;
  let loop = binaryLoops.get(key);
  if (loop) return loop;
  const read = (arr: string, k: number) =>
    k === 0 ? `${arr}v` : k === 1 ? `${arr}[${arr}o + l]` : `${arr}[${arr}o + l * s${arr}2]`;
  const body = `"use strict";
    const n0 = n[0], n1 = n[1], n2 = n[2];
    const sa0 = sa[0], sa1 = sa[1], sa2 = sa[2], sb0 = sb[0], sb1 = sb[1], sb2 = sb[2];
    let k = 0;
    for (let i = 0; i < n0; i++) {
      for (let j = 0; j < n1; j++) {
        const ao = i * sa0 + j * sa1, bo = i * sb0 + j * sb1;
        ${ka === 0 ? "const av = a[ao];" : ""}
        ${kb === 0 ? "const bv = b[bo];" : ""}
        for (let l = 0; l < n2; l++) {
          const x = ${read("a", ka)}, y = ${read("b", kb)};
          o[k++] = ${expr};
        }
      }
    }`;
  loop = new Function("a", "b", "o", "n", "sa", "sb", body) as BinaryLoop;
  binaryLoops.set(key, loop);
  return loop;
}

function binaryKernel(name: string, expr: string, outBool: boolean): Kernel {
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
    const out = outBool ? new Uint8Array(n) : allocF32(backend, n);
    binaryLoop(expr, plan.sa[2], plan.sb[2])(av, bv, out, plan.n, plan.sa, plan.sb);
    return backend.makeTensorInfo(plan.outShape, outBool ? "bool" : "float32", out);
  };
}

const BINARY: Record<string, [string, boolean]> = {
  Add: ["x + y", false],
  Sub: ["x - y", false],
  Multiply: ["x * y", false],
  RealDiv: ["x / y", false],
  Maximum: ["Math.max(x, y)", false],
  Minimum: ["Math.min(x, y)", false],
  SquaredDifference: ["(x - y) * (x - y)", false],
  Equal: ["x === y ? 1 : 0", true],
  NotEqual: ["x !== y ? 1 : 0", true],
  Greater: ["x > y ? 1 : 0", true],
  GreaterEqual: ["x >= y ? 1 : 0", true],
  Less: ["x < y ? 1 : 0", true],
  LessEqual: ["x <= y ? 1 : 0", true],
};

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
    if (op === "sum" || op === "mean") {
      const scale = op === "mean" ? 1 / red : 1;
      if (inner === 1) {
        for (let o = 0; o < outer; o++) {
          let s = 0;
          const base = o * red;
          for (let r = 0; r < red; r++) s += xv[base + r];
          out[o] = op === "mean" ? s / red : s;
        }
      } else {
        const acc = new Float64Array(inner);
        for (let o = 0; o < outer; o++) {
          acc.fill(0);
          let base = o * red * inner;
          for (let r = 0; r < red; r++, base += inner) {
            for (let i = 0; i < inner; i++) acc[i] += xv[base + i];
          }
          const ob = o * inner;
          if (op === "mean") { for (let i = 0; i < inner; i++) out[ob + i] = acc[i] / red; }
          else for (let i = 0; i < inner; i++) out[ob + i] = acc[i] * scale;
        }
      }
    } else {
      const isMax = op === "max";
      for (let o = 0; o < outer; o++) {
        const base = o * red * inner, ob = o * inner;
        for (let i = 0; i < inner; i++) out[ob + i] = xv[base + i];
        for (let r = 1; r < red; r++) {
          const rb = base + r * inner;
          for (let i = 0; i < inner; i++) {
            const v = xv[rb + i], m = out[ob + i];
            if (v !== v || (isMax ? v > m : v < m)) out[ob + i] = v;
          }
        }
      }
    }
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

let poolScratch = new Float32Array(0);

function poolScratchOf(n: number): Float32Array {
  if (poolScratch.length < n) poolScratch = new Float32Array(n);
  return poolScratch;
}

/**
 * Average pooling, separably: first the sums over each window's columns (`t`, one row of the
 * input per output column), then over its rows. About KH + KW reads per output instead of
 * KH * KW.
 */
const avgPoolKernel: Kernel = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs;
  const xv = f32(backend, x);
  const info = xv ? poolInfo(x.shape, args.attrs as Attrs) : null;
  if (!info || !xv) return cpuKernel("AvgPool", args);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } =
    info;
  const KH = info.filterHeight,
    KW = info.filterWidth,
    sh = info.strideHeight,
    sw = info.strideWidth;
  const out = allocF32(backend, N * OH * OW * C);
  const scale = 1 / (KH * KW);
  // t[n, ih, ow, c] = sum over kw of x[n, ih, ow * sw + kw, c], only for rows some window uses.
  const t = poolScratchOf(H * OW * C);
  for (let n = 0; n < N; n++) {
    for (let ih = 0; ih < H; ih++) {
      const xRow = ((n * H + ih) * W) * C, tRow = ih * OW * C;
      for (let ow = 0; ow < OW; ow++) {
        const d = tRow + ow * C;
        let src = xRow + ow * sw * C;
        for (let c = 0; c < C; c++) t[d + c] = xv[src + c];
        for (let kw = 1; kw < KW; kw++) {
          src += C;
          for (let c = 0; c < C; c++) t[d + c] += xv[src + c];
        }
      }
    }
    const rowLen = OW * C;
    for (let oh = 0; oh < OH; oh++) {
      const o = ((n * OH + oh) * OW) * C;
      let src = oh * sh * rowLen;
      for (let i = 0; i < rowLen; i++) out[o + i] = t[src + i];
      for (let kh = 1; kh < KH; kh++) {
        src += rowLen;
        for (let i = 0; i < rowLen; i++) out[o + i] += t[src + i];
      }
      for (let i = 0; i < rowLen; i++) out[o + i] *= scale;
    }
  }
  return backend.makeTensorInfo([N, OH, OW, C], "float32", out);
};

/**
 * The gradient of average pooling, separably: `t[n, oh, iw]` sums the outputs of row `oh` whose
 * windows cover column `iw`; `dx[n, ih, iw]` sums `t` over the rows whose windows cover `ih`.
 * Every element of `dx` is written once (no zero fill, no scattered accumulation).
 */
const avgPoolGradKernel: Kernel = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { dy, input } = args.inputs;
  const dyv = f32(backend, dy);
  const info = dyv && input.dtype === "float32" ? poolInfo(input.shape, args.attrs as Attrs) : null;
  if (!info || !dyv) return cpuKernel("AvgPoolGrad", args);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } =
    info;
  const KH = info.filterHeight,
    KW = info.filterWidth,
    sh = info.strideHeight,
    sw = info.strideWidth;
  const dx = allocF32(backend, N * H * W * C);
  const scale = 1 / (KH * KW);
  // Output index range [lo, hi] whose windows (stride s, size k) cover input index i.
  const cover = (i: number, s: number, k: number, count: number): [number, number] => [
    Math.max(0, Math.ceil((i - k + 1) / s)),
    Math.min(count - 1, Math.floor(i / s)),
  ];
  const colLo = new Int32Array(W), colHi = new Int32Array(W);
  for (let iw = 0; iw < W; iw++) [colLo[iw], colHi[iw]] = cover(iw, sw, KW, OW);
  const t = poolScratchOf(OH * W * C);
  const rowLen = W * C;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const dyRow = ((n * OH + oh) * OW) * C, tRow = oh * rowLen;
      for (let iw = 0; iw < W; iw++) {
        const d = tRow + iw * C, lo = colLo[iw], hi = colHi[iw];
        if (lo > hi) {
          for (let c = 0; c < C; c++) t[d + c] = 0;
          continue;
        }
        let src = dyRow + lo * C;
        for (let c = 0; c < C; c++) t[d + c] = dyv[src + c];
        for (let ow = lo + 1; ow <= hi; ow++) {
          src += C;
          for (let c = 0; c < C; c++) t[d + c] += dyv[src + c];
        }
      }
    }
    for (let ih = 0; ih < H; ih++) {
      const [lo, hi] = cover(ih, sh, KH, OH);
      const o = ((n * H + ih) * W) * C;
      if (lo > hi) {
        dx.fill(0, o, o + rowLen);
        continue;
      }
      let src = lo * rowLen;
      for (let i = 0; i < rowLen; i++) dx[o + i] = t[src + i];
      for (let oh = lo + 1; oh <= hi; oh++) {
        src += rowLen;
        for (let i = 0; i < rowLen; i++) dx[o + i] += t[src + i];
      }
      for (let i = 0; i < rowLen; i++) dx[o + i] *= scale;
    }
  }
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
  if (n > 0) {
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
  if (xv.length > 0) {
    const len = x.shape[x.shape.length - 1];
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
    Object.entries(UNARY).map(([name, spec]) => [name, unaryKernel(name, spec)]),
  ),
  ...Object.fromEntries(
    Object.entries(BINARY).map(([name, [expr, bool]]) => [name, binaryKernel(name, expr, bool)]),
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
