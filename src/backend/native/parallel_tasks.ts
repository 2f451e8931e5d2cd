/**
 * The chunk functions of the native backend's parallel kernels, defined identically on the main
 * thread and in every worker (each imports this module): elementwise unary and broadcasting
 * binary loops, the fused Relu gradient, reductions over one contiguous run of axes, average
 * pooling and its gradient, the fused Adam update, GEMM row blocks and (from `conv2d.ts`) the
 * convolution pieces. No tfjs here: workers load only plain loops and the SGEMM and oneDNN
 * bindings (the oneDNN chunks are in `dnnl_elementwise.ts`).
 *
 * Every chunk computes its elements with exactly the code the one-thread path uses, and the
 * chunking splits outputs, never a sum, so any thread count gives bit-identical results.
 *
 * @module
 */
import { defineTask, span } from "./thread_pool.ts";
import { sgemm } from "./gemm.ts";
import { dnnlBound } from "./dnnl_library.ts";
import {
  DNNL_BINARY_ALGS,
  dnnlAvgPool,
  dnnlBinary,
  dnnlBinaryBroadcast,
  dnnlReluBackward,
} from "./dnnl_elementwise.ts";
import "./conv2d.ts";
import "./batch_norm_tasks.ts";
import "./nce_tasks.ts";

/** Task ids (the convolution ones are in `conv2d.ts`). */
export const TASK = {
  unary: 1,
  binary: 2,
  reluGrad: 3,
  reduce: 4,
  avgPool: 5,
  avgPoolGrad: 6,
  adam: 7,
  gemmRows: 8,
  gemmBatch: 9,
  avgPoolDnnl: 10,
  avgPoolGradDnnl: 11,
  reluGradDnnl: 12,
} as const;

// ---------------------------------------------------------------------------------------------
// Unary ops: o[i] = f(x[i]) with an optional scalar attribute `p`.

/** A unary op: its exact expression of `v` (and `p`), optionally a faster form. */
export interface UnarySpec {
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

/** The unary ops with a JavaScript kernel, by tfjs kernel name. */
export const UNARY_SPECS: Record<string, UnarySpec> = {
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

/** Unary op names in a fixed order: the index is the op's id in jobs. */
export const UNARY_NAMES = Object.keys(UNARY_SPECS);

type UnaryLoop = (x: Float32Array, o: Float32Array, s: number, e: number, p: number) => number;

function unaryLoop(expr: string, bad?: string): UnaryLoop {
  return new Function(
    "x",
    "o",
    "s",
    "e",
    "p",
    `"use strict"; let bad = 0;
    for (let i = s; i < e; i++) { const v = x[i]; const r = ${expr}; o[i] = r; ${
      bad ? `bad += +(${bad});` : ""
    } }
    return bad;`,
  ) as UnaryLoop;
}

const unaryLoops: { exact: UnaryLoop; fast: UnaryLoop | null }[] = [];

function unaryLoopsOf(id: number) {
  let l = unaryLoops[id];
  if (!l) {
    const spec = UNARY_SPECS[UNARY_NAMES[id]];
    l = unaryLoops[id] = {
      exact: unaryLoop(spec.expr),
      fast: spec.fast ? unaryLoop(spec.fast, spec.bad) : null,
    };
  }
  return l;
}

/** Params: `[opId, p, total, useFast]`; arrays `[x, o]`. */
function unaryChunk(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [x, o] = a;
  const [s, e] = span(p[2], c, n);
  const l = unaryLoopsOf(p[0] | 0);
  if (p[3] === 1 && l.fast) {
    if (l.fast(x, o, s, e, p[1]) > 0) l.exact(x, o, s, e, p[1]);
  } else l.exact(x, o, s, e, p[1]);
}

// ---------------------------------------------------------------------------------------------
// Binary ops over at most three merged broadcast dimensions.

/** Binary op expressions of `x` and `y`, by tfjs kernel name, with whether the output is bool. */
export const BINARY_SPECS: Record<string, [string, boolean]> = {
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

/** Binary op names in a fixed order. */
export const BINARY_NAMES = Object.keys(BINARY_SPECS);

/**
 * A binary loop over rows `[r0, r1)` of `n0·n1` rows and columns `[l0, l1)` of `n2`, writing
 * `o[r·n2 + l]`.
 */
export type BinaryLoop = (
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  o: Float32Array | Uint8Array,
  n1: number,
  n2: number,
  sa0: number,
  sa1: number,
  sa2: number,
  sb0: number,
  sb1: number,
  sb2: number,
  r0: number,
  r1: number,
  l0: number,
  l1: number,
) => void;

const binaryLoops: BinaryLoop[] = [];

/** The kind of an innermost stride: 0 broadcast, 1 contiguous, 2 strided. */
export function strideKind(s: number): number {
  return s === 0 ? 0 : s === 1 ? 1 : 2;
}

/**
 * The loop id of binary op `name` with innermost strides `innerA`, `innerB`.
 *
 * @example
 * ```ts
 * binaryLoopId("Add", 1, 0);
 * ```
 */
export function binaryLoopId(name: string, innerA: number, innerB: number): number {
  return BINARY_NAMES.indexOf(name) * 9 + strideKind(innerA) * 3 + strideKind(innerB);
}

/** The loop of a loop id (generated once per thread). */
export function binaryLoopOf(id: number): BinaryLoop {
  let loop = binaryLoops[id];
  if (loop) return loop;
  const expr = BINARY_SPECS[BINARY_NAMES[Math.floor(id / 9)]][0];
  const ka = Math.floor(id / 3) % 3, kb = id % 3;
  const read = (arr: string, k: number) =>
    k === 0 ? `${arr}v` : k === 1 ? `${arr}[${arr}o + l]` : `${arr}[${arr}o + l * s${arr}2]`;
  const body = `"use strict";
    for (let r = r0; r < r1; r++) {
      const i = (r / n1) | 0, j = r - i * n1;
      const ao = i * sa0 + j * sa1, bo = i * sb0 + j * sb1;
      ${ka === 0 ? "const av = a[ao];" : ""}
      ${kb === 0 ? "const bv = b[bo];" : ""}
      let k = r * n2 + l0;
      for (let l = l0; l < l1; l++) {
        const x = ${read("a", ka)}, y = ${read("b", kb)};
        o[k++] = ${expr};
      }
    }`;
  loop = new Function(
    "a",
    "b",
    "o",
    "n1",
    "n2",
    "sa0",
    "sa1",
    "sa2",
    "sb0",
    "sb1",
    "sb2",
    "r0",
    "r1",
    "l0",
    "l1",
    body,
  ) as BinaryLoop;
  binaryLoops[id] = loop;
  return loop;
}

/** A loop over elements `[s, e)` of one row (no outer loops: V8 optimises it best). */
export type FlatLoop = (
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  o: Float32Array | Uint8Array,
  s: number,
  e: number,
) => void;

const flatLoops: FlatLoop[] = [];

/** The single-row form of a loop id whose strides are 0 (broadcast) or 1 (contiguous). */
export function binaryFlatLoopOf(id: number): FlatLoop {
  let loop = flatLoops[id];
  if (loop) return loop;
  const expr = BINARY_SPECS[BINARY_NAMES[Math.floor(id / 9)]][0];
  const ka = Math.floor(id / 3) % 3, kb = id % 3;
  const read = (arr: string, k: number) => (k === 0 ? `${arr}v` : `${arr}[k]`);
  loop = new Function(
    "a",
    "b",
    "o",
    "s",
    "e",
    `"use strict";
    ${ka === 0 ? "const av = a[0];" : ""}
    ${kb === 0 ? "const bv = b[0];" : ""}
    for (let k = s; k < e; k++) {
      const x = ${read("a", ka)}, y = ${read("b", kb)};
      o[k] = ${expr};
    }`,
  ) as FlatLoop;
  flatLoops[id] = loop;
  return loop;
}

/** Whether a plan of `rows` rows and inner strides `sa2`, `sb2` can use the flat loop. */
export function isFlat(rows: number, sa2: number, sb2: number): boolean {
  return rows === 1 && sa2 <= 1 && sb2 <= 1;
}

/** Params `[loopId, n0, n1, n2, sa0, sa1, sa2, sb0, sb1, sb2]`; arrays `[a, b, o]`. */
/**
 * Runs rows `[r0, r1)` of a binary job on oneDNN when it is a matrix with a repeated row, column
 * or scalar (bias adds, per-channel scales, the loss's masks and scales); false otherwise.
 */
function broadcastOnDnnl(a: Float32Array[], p: Float64Array, r0: number, r1: number): boolean {
  const id = p[0] | 0;
  const name = BINARY_NAMES[(id / 9) | 0];
  const alg = DNNL_BINARY_ALGS[name];
  if (!alg || p[1] !== 1) return false;
  const n2 = p[3], sa1 = p[5], sa2 = p[6], sb1 = p[8], sb2 = p[9];
  const commutes = name !== "Sub";
  if (sa1 === n2 && sa2 === 1) {
    if (sb1 === 0 && sb2 === 0) {
      dnnlBinaryBroadcast(alg, a[0], a[1], a[2], r0, r1, n2, "scalar", false);
      return true;
    }
    if (sb1 === 0 && sb2 === 1) {
      dnnlBinaryBroadcast(alg, a[0], a[1], a[2], r0, r1, n2, "row", false);
      return true;
    }
    if (sb1 === 1 && sb2 === 0) {
      dnnlBinaryBroadcast(alg, a[0], a[1], a[2], r0, r1, n2, "col", false);
      return true;
    }
  } else if (commutes && sb1 === n2 && sb2 === 1) {
    if (sa1 === 0 && sa2 === 0) {
      dnnlBinaryBroadcast(alg, a[0], a[1], a[2], r0, r1, n2, "scalar", true);
      return true;
    }
    if (sa1 === 0 && sa2 === 1) {
      dnnlBinaryBroadcast(alg, a[0], a[1], a[2], r0, r1, n2, "row", true);
      return true;
    }
    if (sa1 === 1 && sa2 === 0) {
      dnnlBinaryBroadcast(alg, a[0], a[1], a[2], r0, r1, n2, "col", true);
      return true;
    }
  }
  return false;
}

function binaryChunk(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const n1 = p[2] | 0, n2 = p[3] | 0, rows = (p[1] | 0) * n1;
  if (isFlat(rows, p[6], p[9])) {
    const [s, e] = span(n2, c, n);
    const id = p[0] | 0;
    // Both operands contiguous: oneDNN's vector loop gives the same IEEE results, faster.
    const alg = id % 9 === 4 && dnnlBound() ? DNNL_BINARY_ALGS[BINARY_NAMES[(id / 9) | 0]] : 0;
    if (alg) dnnlBinary(alg, a[0], a[1], a[2], s, e);
    else binaryFlatLoopOf(id)(a[0], a[1], a[2], s, e);
    return;
  }
  let r0 = 0, r1 = rows, l0 = 0, l1 = n2;
  if (rows >= n) [r0, r1] = span(rows, c, n);
  else [l0, l1] = span(n2, c, n);
  if (l0 === 0 && l1 === n2 && dnnlBound() && broadcastOnDnnl(a, p, r0, r1)) return;
  binaryLoopOf(p[0])(
    a[0],
    a[1],
    a[2],
    p[2],
    n2,
    p[4],
    p[5],
    p[6],
    p[7],
    p[8],
    p[9],
    r0,
    r1,
    l0,
    l1,
  );
}

// ---------------------------------------------------------------------------------------------
// Fused Relu gradient.

const reluGradFast = new Function(
  "dy",
  "x",
  "o",
  "s",
  "e",
  `"use strict"; let bad = 0;
  for (let i = s; i < e; i++) { const v = x[i]; o[i] = dy[i] * +(v > 0); bad += +(v !== v); }
  return bad;`,
) as (dy: Float32Array, x: Float32Array, o: Float32Array, s: number, e: number) => number;

/** Params `[total]`; arrays `[dy, x, o]`: `o = dy * step(x)` (NaN where `x` is NaN). */
function reluGradChunk(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [dy, x, o] = a;
  const [s, e] = span(p[0], c, n);
  if (reluGradFast(dy, x, o, s, e) > 0) {
    for (let i = s; i < e; i++) {
      const v = x[i];
      o[i] = dy[i] * (v !== v ? NaN : v > 0 ? 1 : 0);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reductions: x viewed as [outer, red, inner].

/** Reduction op codes in job params. */
export const REDUCE_OP = { sum: 0, mean: 1, max: 2, min: 3 } as const;

let acc64 = new Float64Array(0);

/**
 * Params `[op, outer, red, inner]`; arrays `[x, out]`. Chunks split `outer` when it has at least
 * `n` entries, else `inner`; each output is reduced over `red` in order, as on one thread.
 */
function reduceChunk(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [xv, out] = a;
  const op = p[0] | 0, outer = p[1] | 0, red = p[2] | 0, inner = p[3] | 0;
  let o0 = 0, o1 = outer, i0 = 0, i1 = inner;
  if (outer >= n) [o0, o1] = span(outer, c, n);
  else [i0, i1] = span(inner, c, n);
  if (op === REDUCE_OP.sum || op === REDUCE_OP.mean) {
    const mean = op === REDUCE_OP.mean;
    if (inner === 1) {
      for (let o = o0; o < o1; o++) {
        let s = 0;
        const base = o * red;
        for (let r = 0; r < red; r++) s += xv[base + r];
        out[o] = mean ? s / red : s;
      }
      return;
    }
    const w = i1 - i0;
    if (acc64.length < w) acc64 = new Float64Array(w);
    const acc = acc64;
    for (let o = o0; o < o1; o++) {
      acc.fill(0, 0, w);
      let base = o * red * inner + i0;
      for (let r = 0; r < red; r++, base += inner) {
        for (let i = 0; i < w; i++) acc[i] += xv[base + i];
      }
      const ob = o * inner + i0;
      if (mean) { for (let i = 0; i < w; i++) out[ob + i] = acc[i] / red; }
      else for (let i = 0; i < w; i++) out[ob + i] = acc[i];
    }
    return;
  }
  const isMax = op === REDUCE_OP.max;
  for (let o = o0; o < o1; o++) {
    const base = o * red * inner, ob = o * inner;
    for (let i = i0; i < i1; i++) out[ob + i] = xv[base + i];
    for (let r = 1; r < red; r++) {
      const rb = base + r * inner;
      for (let i = i0; i < i1; i++) {
        const v = xv[rb + i], m = out[ob + i];
        if (v !== v || (isMax ? v > m : v < m)) out[ob + i] = v;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Average pooling (unpadded, windows inside the input) and its gradient, by images.

let poolScratch = new Float32Array(0);

function poolScratchOf(n: number): Float32Array {
  if (poolScratch.length < n) poolScratch = new Float32Array(n);
  return poolScratch;
}

/**
 * Params `[N, H, W, C, OH, OW, KH, KW, sh, sw]`; arrays `[x, out]`. Separable: first the sums
 * over each window's columns (`t`, one input row per output column), then over its rows.
 */
function avgPoolChunk(a: Float32Array[], p: Float64Array, c: number, nc: number) {
  const [xv, out] = a;
  const N = p[0] | 0, H = p[1] | 0, W = p[2] | 0, C = p[3] | 0, OH = p[4] | 0, OW = p[5] | 0;
  const KH = p[6] | 0, KW = p[7] | 0, sh = p[8] | 0, sw = p[9] | 0;
  const scale = 1 / (KH * KW);
  const t = poolScratchOf(H * OW * C);
  const [n0, n1] = span(N, c, nc);
  for (let n = n0; n < n1; n++) {
    for (let ih = 0; ih < H; ih++) {
      const xRow = ((n * H + ih) * W) * C, tRow = ih * OW * C;
      for (let ow = 0; ow < OW; ow++) {
        const d = tRow + ow * C;
        let src = xRow + ow * sw * C;
        for (let ch = 0; ch < C; ch++) t[d + ch] = xv[src + ch];
        for (let kw = 1; kw < KW; kw++) {
          src += C;
          for (let ch = 0; ch < C; ch++) t[d + ch] += xv[src + ch];
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
}

/** Output index range `[lo, hi]` whose windows (stride s, size k) cover input index i. */
function cover(i: number, s: number, k: number, count: number): [number, number] {
  return [Math.max(0, Math.ceil((i - k + 1) / s)), Math.min(count - 1, Math.floor(i / s))];
}

let colLo = new Int32Array(0), colHi = new Int32Array(0);

/**
 * Params as {@linkcode avgPoolChunk}; arrays `[dy, dx]`. `t[n, oh, iw]` sums the outputs of row
 * `oh` whose windows cover column `iw`; `dx[n, ih, iw]` sums `t` over the rows whose windows
 * cover `ih`. Every element of `dx` is written once.
 */
function avgPoolGradChunk(a: Float32Array[], p: Float64Array, c: number, nc: number) {
  const [dyv, dx] = a;
  const N = p[0] | 0, H = p[1] | 0, W = p[2] | 0, C = p[3] | 0, OH = p[4] | 0, OW = p[5] | 0;
  const KH = p[6] | 0, KW = p[7] | 0, sh = p[8] | 0, sw = p[9] | 0;
  const scale = 1 / (KH * KW);
  if (colLo.length < W) {
    colLo = new Int32Array(W);
    colHi = new Int32Array(W);
  }
  for (let iw = 0; iw < W; iw++) [colLo[iw], colHi[iw]] = cover(iw, sw, KW, OW);
  const t = poolScratchOf(OH * W * C);
  const rowLen = W * C;
  const [n0, n1] = span(N, c, nc);
  for (let n = n0; n < n1; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const dyRow = ((n * OH + oh) * OW) * C, tRow = oh * rowLen;
      for (let iw = 0; iw < W; iw++) {
        const d = tRow + iw * C, lo = colLo[iw], hi = colHi[iw];
        if (lo > hi) {
          for (let ch = 0; ch < C; ch++) t[d + ch] = 0;
          continue;
        }
        let src = dyRow + lo * C;
        for (let ch = 0; ch < C; ch++) t[d + ch] = dyv[src + ch];
        for (let ow = lo + 1; ow <= hi; ow++) {
          src += C;
          for (let ch = 0; ch < C; ch++) t[d + ch] += dyv[src + ch];
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
}

// ---------------------------------------------------------------------------------------------
// Fused Adam with L2 decay.

/**
 * One Adam-with-L2 update of elements `[s, e)` (see `adam_kernel.ts` for the formula); every
 * intermediate is rounded to float32 where the composed tfjs ops round.
 *
 * @example
 * ```ts
 * const p = new Float32Array([1]), g = new Float32Array([0.5]);
 * const m = new Float32Array(1), v = new Float32Array(1);
 * adamL2Range(p, g, m, v, p, m, v, 0.8, 0.999, 0, 1e-8, 1e-3, Math.sqrt(0.001), 0, 1);
 * ```
 */
export function adamL2Range(
  p: Float32Array,
  g0: Float32Array,
  m: Float32Array,
  v: Float32Array,
  pOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  beta1: number,
  beta2: number,
  weightDecay: number,
  epsilon: number,
  stepSize: number,
  bc2Sqrt: number,
  s: number,
  e: number,
): void {
  const f = Math.fround;
  const wd = f(weightDecay), b1 = f(beta1), b2 = f(beta2);
  const ob1 = f(1 - beta1), ob2 = f(1 - beta2);
  const bc = f(bc2Sqrt), eps = f(epsilon), ss = f(stepSize);
  const decay = weightDecay !== 0;
  for (let i = s; i < e; i++) {
    const pi = p[i];
    const g = decay ? f(g0[i] + f(pi * wd)) : g0[i];
    const mi = f(f(m[i] * b1) + f(g * ob1));
    const vi = f(f(v[i] * b2) + f(f(g * g) * ob2));
    const denom = f(f(f(Math.sqrt(vi)) / bc) + eps);
    pOut[i] = f(pi - f(f(mi / denom) * ss));
    mOut[i] = mi;
    vOut[i] = vi;
  }
}

/** Params `[beta1, beta2, weightDecay, eps, stepSize, bc2Sqrt, total]`; arrays `[p, g, m, v, pOut, mOut, vOut]`. */
function adamChunk(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [s, e] = span(p[6], c, n);
  adamL2Range(a[0], a[1], a[2], a[3], a[4], a[5], a[6], p[0], p[1], p[2], p[3], p[4], p[5], s, e);
}

// ---------------------------------------------------------------------------------------------
// GEMM pieces.

/**
 * Params `[transA, transB, m, n, k, lda, ldb, ldc]`; arrays `[A, B, C]`: rows `span(m, c, n)` of
 * `C = op(A)·op(B)`.
 */
function gemmRowsChunk(a: Float32Array[], p: Float64Array, c: number, nc: number) {
  const [A, B, C] = a;
  const transA = p[0] === 1, lda = p[5] | 0, ldc = p[7] | 0;
  const [r0, r1] = span(p[2], c, nc);
  if (r1 === r0) return;
  sgemm(
    transA,
    p[1] === 1,
    r1 - r0,
    p[3],
    p[4],
    1,
    A.subarray(transA ? r0 : r0 * lda),
    lda,
    B,
    p[6],
    0,
    C.subarray(r0 * ldc),
    ldc,
  );
}

/**
 * Params `[transA, transB, m, n, k, lda, ldb, strideA, strideB, batch]`; arrays `[A, B, C]`:
 * the matrices `span(batch, c, n)` of a batched product.
 */
function gemmBatchChunk(a: Float32Array[], p: Float64Array, c: number, nc: number) {
  const [A, B, C] = a;
  const m = p[2] | 0, n = p[3] | 0, sA = p[7] | 0, sB = p[8] | 0;
  const [b0, b1] = span(p[9], c, nc);
  for (let i = b0; i < b1; i++) {
    sgemm(
      p[0] === 1,
      p[1] === 1,
      m,
      n,
      p[4],
      1,
      sA ? A.subarray(i * sA) : A,
      p[5],
      sB ? B.subarray(i * sB) : B,
      p[6],
      0,
      C.subarray(i * m * n),
      n,
    );
  }
}

defineTask(TASK.unary, unaryChunk, true);
defineTask(TASK.binary, binaryChunk, true);
defineTask(TASK.reluGrad, reluGradChunk, true);
defineTask(TASK.reduce, reduceChunk, true);
defineTask(TASK.avgPool, avgPoolChunk, true);
defineTask(TASK.avgPoolGrad, avgPoolGradChunk, true);
defineTask(TASK.reluGradDnnl, (a, p, c, n) => {
  const [s, e] = span(p[0], c, n);
  dnnlReluBackward(a[0], a[1], a[2], s, e);
}, true);
defineTask(TASK.avgPoolDnnl, (a, p, c, n) => {
  const [n0, n1] = span(p[0], c, n);
  dnnlAvgPool(Array.from(p.subarray(0, 10)), a[0], a[1], n0, n1, false);
});
defineTask(TASK.avgPoolGradDnnl, (a, p, c, n) => {
  const [n0, n1] = span(p[0], c, n);
  dnnlAvgPool(Array.from(p.subarray(0, 10)), a[0], a[1], n0, n1, true);
});
defineTask(TASK.adam, adamChunk, true);
defineTask(TASK.gemmRows, gemmRowsChunk);
defineTask(TASK.gemmBatch, gemmBatchChunk);
