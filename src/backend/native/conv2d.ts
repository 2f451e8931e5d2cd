/**
 * 2-D convolution (NHWC, HWIO filters) as im2col + SGEMM, and its two gradients (col2im for the
 * input, col^T * dy for the filter). The im2col matrix has rows `(n, oh, ow)` and columns
 * `(kh, kw, ci)`, which is exactly the HWIO filter flattened to `[KH*KW*Cin, Cout]`, so no filter
 * reshuffling is needed. Two shapes need no im2col at all: 1x1 stride-1 unpadded convolutions and
 * "full" convolutions whose window covers the whole unpadded input (1x1 output).
 *
 * Where oneDNN is bound and {@linkcode convOnDnnl} says so (thin and 1x1 layers), a computation
 * runs instead as pieces of whole images on oneDNN's direct kernels (`dnnl_conv.ts`), the epilogue
 * as post-ops.
 *
 * Work is split over whole images so the scratch matrix stays near {@linkcode COL_BUDGET_FLOATS},
 * and large GEMMs into up to 4 pieces; the pieces run on the native backend's threads (each with
 * its own scratch and a single-threaded SGEMM). The split depends only on the shapes, and the
 * filter gradient sums its per-piece partial results in a fixed order, so results are identical
 * for any thread count.
 *
 * @module
 */
import { sgemm } from "./gemm.ts";
import { DNNL_CONV, DNNL_POST, type DnnlConvKind, dnnlConvPiece } from "./dnnl_conv.ts";
import { dnnlEnabled } from "./dnnl_library.ts";
import { DNNL_BINARY_ALGS, dnnlBinary } from "./dnnl_elementwise.ts";
import {
  defineTask,
  gemmPieces,
  isShared,
  parallelRun,
  shareable,
  sharedF32,
  span,
  startedWorkers,
} from "./thread_pool.ts";

/** The geometry of a 2-D convolution (a subset of tfjs' `Conv2DInfo`). */
export interface ConvGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * Target size of the im2col scratch matrix, in floats (1 MiB): small enough that the chunk just
 * written is still in cache when the GEMM reads it (measured: the 4x4/2 layer of the 32-px
 * encoder is ~25% faster than with a 16 MiB scratch; other layers unchanged).
 */
export const COL_BUDGET_FLOATS = 1 << 18;
/** im2col runs at least this long are copied with `TypedArray.set` (a subarray costs ~100 ns). */
const COPY_WITH_SET = 1024;

let scratch = new Float32Array(0);

function scratchOf(size: number): Float32Array {
  if (scratch.length < size) scratch = new Float32Array(size);
  return scratch.length === size ? scratch : scratch.subarray(0, size);
}

/** Releases the im2col scratch memory (it is re-grown on demand). */
export function releaseConvScratch(): void {
  scratch = new Float32Array(0);
}

/** Whether the im2col matrix equals the input itself (row-major), so it can be skipped. */
function colIsInput(g: ConvGeometry): boolean {
  const unpadded = g.padTop === 0 && g.padLeft === 0;
  const pointwise = g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 &&
    g.strideWidth === 1 && g.outHeight === g.inHeight && g.outWidth === g.inWidth;
  const full = g.outHeight === 1 && g.outWidth === 1 && g.filterHeight === g.inHeight &&
    g.filterWidth === g.inWidth;
  return unpadded && (pointwise || full);
}

function imagesPerChunk(g: ConvGeometry): number {
  const k = g.filterHeight * g.filterWidth * g.inChannels;
  const perImage = g.outHeight * g.outWidth * k;
  return Math.max(1, Math.min(g.batchSize, Math.floor(COL_BUDGET_FLOATS / Math.max(1, perImage))));
}

/** Fills `col` with the im2col rows of images `[n0, n1)`. */
export function im2col(
  g: ConvGeometry,
  x: Float32Array,
  n0: number,
  n1: number,
  col: Float32Array,
) {
  const H = g.inHeight, W = g.inWidth, C = g.inChannels;
  const OH = g.outHeight, OW = g.outWidth, KH = g.filterHeight, KW = g.filterWidth;
  const sh = g.strideHeight, sw = g.strideWidth, top = g.padTop, left = g.padLeft;
  const rowLen = KW * C;
  const K = KH * rowLen;
  let dst = 0;
  for (let n = n0; n < n1; n++) {
    const xImage = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * sh - top;
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * sw - left;
        const inside = iw0 >= 0 && iw0 + KW <= W;
        for (let kh = 0; kh < KH; kh++) {
          const ih = ih0 + kh;
          const d = dst + kh * rowLen;
          if (ih < 0 || ih >= H) {
            col.fill(0, d, d + rowLen);
          } else if (inside) {
            const s = xImage + (ih * W + iw0) * C;
            if (rowLen >= COPY_WITH_SET) col.set(x.subarray(s, s + rowLen), d);
            else for (let i = 0; i < rowLen; i++) col[d + i] = x[s + i];
          } else {
            for (let kw = 0; kw < KW; kw++) {
              const iw = iw0 + kw;
              const dd = d + kw * C;
              if (iw < 0 || iw >= W) col.fill(0, dd, dd + C);
              else {
                const s = xImage + (ih * W + iw) * C;
                for (let i = 0; i < C; i++) col[dd + i] = x[s + i];
              }
            }
          }
        }
        dst += K;
      }
    }
  }
}

/** Adds the im2col-shaped `col` (images `[n0, n1)`) back into the NHWC gradient `dx`. */
export function col2imAdd(
  g: ConvGeometry,
  col: Float32Array,
  n0: number,
  n1: number,
  dx: Float32Array,
) {
  const H = g.inHeight, W = g.inWidth, C = g.inChannels;
  const OH = g.outHeight, OW = g.outWidth, KH = g.filterHeight, KW = g.filterWidth;
  const sh = g.strideHeight, sw = g.strideWidth, top = g.padTop, left = g.padLeft;
  const rowLen = KW * C;
  const K = KH * rowLen;
  let src = 0;
  for (let n = n0; n < n1; n++) {
    const xImage = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * sh - top;
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * sw - left;
        const inside = iw0 >= 0 && iw0 + KW <= W;
        for (let kh = 0; kh < KH; kh++) {
          const ih = ih0 + kh;
          if (ih < 0 || ih >= H) continue;
          const s = src + kh * rowLen;
          if (inside) {
            const d = xImage + (ih * W + iw0) * C;
            for (let i = 0; i < rowLen; i++) dx[d + i] += col[s + i];
          } else {
            for (let kw = 0; kw < KW; kw++) {
              const iw = iw0 + kw;
              if (iw < 0 || iw >= W) continue;
              const d = xImage + (ih * W + iw) * C;
              const ss = s + kw * C;
              for (let i = 0; i < C; i++) dx[d + i] += col[ss + i];
            }
          }
        }
        src += K;
      }
    }
  }
}

/** Task ids of the convolution chunk functions (see `thread_pool.ts`). */
export const CONV_TASK = { forward: 20, backpropInput: 21, backpropFilter: 22 } as const;

function geometryParams(g: ConvGeometry): number[] {
  return [
    g.batchSize,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outHeight,
    g.outWidth,
    g.outChannels,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.padTop,
    g.padLeft,
  ];
}

function geometryOf(p: Float64Array): ConvGeometry {
  return {
    batchSize: p[0] | 0,
    inHeight: p[1] | 0,
    inWidth: p[2] | 0,
    inChannels: p[3] | 0,
    outHeight: p[4] | 0,
    outWidth: p[5] | 0,
    outChannels: p[6] | 0,
    filterHeight: p[7] | 0,
    filterWidth: p[8] | 0,
    strideHeight: p[9] | 0,
    strideWidth: p[10] | 0,
    padTop: p[11] | 0,
    padLeft: p[12] | 0,
  };
}

/** How a convolution is cut into pieces: images per piece and the piece count. */
interface ConvSplit {
  direct: boolean;
  step: number;
  pieces: number;
}

function convSplit(g: ConvGeometry): ConvSplit {
  const K = g.filterHeight * g.filterWidth * g.inChannels;
  const P = g.outHeight * g.outWidth;
  const N = g.batchSize;
  const want = Math.min(N, gemmPieces(N * P, g.outChannels, K));
  if (colIsInput(g)) return { direct: true, step: 0, pieces: Math.max(1, want) };
  const step = Math.max(1, Math.min(imagesPerChunk(g), Math.ceil(N / Math.max(1, want))));
  return { direct: false, step, pieces: Math.max(1, Math.ceil(N / step)) };
}

/**
 * Images `[n0, n1)` of piece `c` of `n` of a forward or input-gradient job: a balanced share
 * (direct GEMM, param 13 = 1) or `step` (param 14) whole images from `c * step` (im2col).
 */
function pieceImages(g: ConvGeometry, p: Float64Array, c: number, n: number): [number, number] {
  if (p[13] === 1) return span(g.batchSize, c, n);
  const step = p[14] | 0;
  const n0 = c * step;
  return [n0, Math.min(g.batchSize, n0 + step)];
}

/** Output epilogue flags of a forward job (param 15; oneDNN jobs: param 13). */
const EPILOGUE = DNNL_POST;

/**
 * Adds the per-channel `bias`, then the `residual` (same layout as `y`), then applies ReLU to
 * `len` values of `y` from `o` (in place), as the flags say. ReLU is `v > 0 ? v : +0` (NaN and
 * -0 give +0), as oneDNN's.
 */
function epilogue(
  y: Float32Array,
  o: number,
  len: number,
  co: number,
  flags: number,
  b: Float32Array,
  r: Float32Array,
) {
  const e = o + len;
  if (flags & EPILOGUE.bias) {
    for (let i = o; i < e; i += co) for (let j = 0; j < co; j++) y[i + j] += b[j];
  }
  if (flags & EPILOGUE.residual) {
    for (let i = o; i < e; i++) y[i] += r[i];
  }
  if (flags & EPILOGUE.relu) {
    for (let i = o; i < e; i++) if (!(y[i] > 0)) y[i] = 0;
  }
}

/** Forward piece `c`: images `[c*step, ...)` (im2col) or a block of rows (direct). */
function forwardPiece(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [x, w, y, bias, residual] = a;
  const flags = p[15] | 0;
  const g = geometryOf(p);
  const K = g.filterHeight * g.filterWidth * g.inChannels, Co = g.outChannels;
  const P = g.outHeight * g.outWidth;
  const [n0, n1] = pieceImages(g, p, c, n);
  const rows = (n1 - n0) * P;
  if (rows === 0) return;
  if (p[13] === 1) {
    sgemm(
      false,
      false,
      rows,
      Co,
      K,
      1,
      x.subarray(n0 * P * K),
      K,
      w,
      Co,
      0,
      y.subarray(n0 * P * Co),
      Co,
    );
  } else {
    const col = scratchOf(rows * K);
    im2col(g, x, n0, n1, col);
    sgemm(false, false, rows, Co, K, 1, col, K, w, Co, 0, y.subarray(n0 * P * Co), Co);
  }
  if (flags !== 0) epilogue(y, n0 * P * Co, rows * Co, Co, flags, bias, residual);
}

/** Input-gradient piece `c` (writes every element of its images' part of `dx`). */
function backpropInputPiece(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [dy, w, dx] = a;
  const g = geometryOf(p);
  const K = g.filterHeight * g.filterWidth * g.inChannels, Co = g.outChannels;
  const P = g.outHeight * g.outWidth;
  const [n0, n1] = pieceImages(g, p, c, n);
  const rows = (n1 - n0) * P;
  if (rows === 0) return;
  if (p[13] === 1) {
    sgemm(
      false,
      true,
      rows,
      K,
      Co,
      1,
      dy.subarray(n0 * P * Co),
      Co,
      w,
      Co,
      0,
      dx.subarray(n0 * P * K),
      K,
    );
    return;
  }
  const image = g.inHeight * g.inWidth * g.inChannels;
  dx.fill(0, n0 * image, n1 * image);
  const col = scratchOf(rows * K);
  sgemm(false, true, rows, K, Co, 1, dy.subarray(n0 * P * Co), Co, w, Co, 0, col, K);
  col2imAdd(g, col, n0, n1, dx);
}

/**
 * Filter-gradient piece `c` of `n`: the images `span(N, c, n)`, accumulated (in steps of
 * `step` images for im2col) into `dw` for piece 0 and into partial `c - 1` otherwise.
 */
function backpropFilterPiece(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [x, dy, dw, part] = a;
  const g = geometryOf(p);
  const K = g.filterHeight * g.filterWidth * g.inChannels, Co = g.outChannels;
  const P = g.outHeight * g.outWidth;
  const target = c === 0 ? dw : part.subarray((c - 1) * K * Co, c * K * Co);
  const [n0, n1] = span(g.batchSize, c, n);
  if (n1 === n0) {
    target.fill(0);
    return;
  }
  if (p[13] === 1) {
    sgemm(
      true,
      false,
      K,
      Co,
      (n1 - n0) * P,
      1,
      x.subarray(n0 * P * K),
      K,
      dy.subarray(n0 * P * Co),
      Co,
      0,
      target,
      Co,
    );
    return;
  }
  const step = p[14] | 0;
  for (let s0 = n0; s0 < n1; s0 += step) {
    const s1 = Math.min(n1, s0 + step);
    const rows = (s1 - s0) * P;
    const col = scratchOf(rows * K);
    im2col(g, x, s0, s1, col);
    sgemm(
      true,
      false,
      K,
      Co,
      rows,
      1,
      col,
      K,
      dy.subarray(s0 * P * Co),
      Co,
      s0 === n0 ? 0 : 1,
      target,
      Co,
    );
  }
}

defineTask(CONV_TASK.forward, forwardPiece);
defineTask(CONV_TASK.backpropInput, backpropInputPiece);
defineTask(CONV_TASK.backpropFilter, backpropFilterPiece);

/** Task ids of the oneDNN convolution pieces (images `span(N, c, n)` each). */
export const DNNL_CONV_TASK = { forward: 23, backpropInput: 24, backpropFilter: 25 } as const;

defineTask(DNNL_CONV_TASK.forward, (a, p, c, n) => {
  const [x, w, y, bias, residual] = a;
  const g = geometryOf(p);
  const [n0, n1] = span(g.batchSize, c, n);
  dnnlConvPiece(DNNL_CONV.forward, g, n0, n1, x, w, y, p[13] | 0, bias, residual);
});
defineTask(DNNL_CONV_TASK.backpropInput, (a, p, c, n) => {
  const [dy, w, dx] = a;
  const g = geometryOf(p);
  const [n0, n1] = span(g.batchSize, c, n);
  dnnlConvPiece(DNNL_CONV.backwardData, g, n0, n1, dy, w, dx);
});
defineTask(DNNL_CONV_TASK.backpropFilter, (a, p, c, n) => {
  const [x, dy, dw, part] = a;
  const g = geometryOf(p);
  const size = g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;
  const target = c === 0 ? dw : part.subarray((c - 1) * size, c * size);
  const [n0, n1] = span(g.batchSize, c, n);
  if (n1 === n0) target.fill(0);
  else dnnlConvPiece(DNNL_CONV.backwardWeights, g, n0, n1, x, dy, target);
});

let everywhere = false;

/**
 * Sends every convolution oneDNN can take to it, ignoring the shape rule of
 * {@linkcode convOnDnnl} (for measuring both paths per layer; off by default).
 */
export function dnnlForEveryConvolution(on: boolean): void {
  everywhere = on;
}

/**
 * Whether computation `kind` of a convolution of shape `g` runs on oneDNN; a function of the
 * shape alone, from per-layer timings of both paths on the AMDIM encoders (2-core AVX2): oneDNN's
 * direct kernels win where the im2col GEMM is skinny (few input channels, 1x1 filters) and where
 * the forward epilogue would otherwise be a separate pass, and on the forward pass of the 4x4
 * stride-2 layer up to 64 input channels; OpenBLAS wins on wide GEMMs (3x3 and 2x2 strided
 * filters over 64+ channels). Full-window convolutions are plain GEMMs.
 */
export function convOnDnnl(g: ConvGeometry, kind: DnnlConvKind): boolean {
  if (!dnnlEnabled()) return false;
  const full = g.outHeight === 1 && g.outWidth === 1 && g.filterHeight === g.inHeight &&
    g.filterWidth === g.inWidth && g.padTop === 0 && g.padLeft === 0;
  if (full) return false;
  if (everywhere) return true;
  const pointwise = g.filterHeight === 1 && g.filterWidth === 1;
  const thin = g.inChannels <= 32;
  const wideStrided = g.strideHeight > 1 && g.filterHeight >= 4 && g.inChannels <= 64;
  if (kind === DNNL_CONV.forward) return thin || pointwise || wideStrided;
  if (kind === DNNL_CONV.backwardData) return thin || (pointwise && g.inChannels <= 128);
  return thin;
}

/** Pieces of a oneDNN job: whole-image groups, as many as the GEMM-size rule gives. */
function dnnlPieces(g: ConvGeometry): number {
  const K = g.filterHeight * g.filterWidth * g.inChannels;
  const P = g.outHeight * g.outWidth;
  return Math.max(1, Math.min(g.batchSize, gemmPieces(g.batchSize * P, g.outChannels, K)));
}

/**
 * `y = conv2d(x, w)`; `x` NHWC, `w` HWIO, `y` NHWC (written, not accumulated), then the optional
 * epilogue (bias, residual, ReLU) on each piece's rows while they are in cache.
 *
 * @example
 * ```ts
 * // 1x1 conv of one 1x1x1 image: y = x * w
 * const g = { batchSize: 1, inHeight: 1, inWidth: 1, inChannels: 1, outHeight: 1, outWidth: 1,
 *   outChannels: 1, filterHeight: 1, filterWidth: 1, strideHeight: 1, strideWidth: 1, padTop: 0,
 *   padLeft: 0 };
 * const y = new Float32Array(1);
 * conv2dForward(g, new Float32Array([2]), new Float32Array([3]), y); // y[0] = 6
 * ```
 */
export function conv2dForward(
  g: ConvGeometry,
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
  post: ConvEpilogue = {},
) {
  if (g.batchSize === 0) return;
  const flags = (post.bias ? EPILOGUE.bias : 0) | (post.relu ? EPILOGUE.relu : 0) |
    (post.residual ? EPILOGUE.residual : 0);
  const b = post.bias ?? NO_BIAS, r = post.residual ?? NO_BIAS;
  const onDnnl = convOnDnnl(g, DNNL_CONV.forward);
  const s = onDnnl ? null : convSplit(g);
  const pieces = s ? s.pieces : dnnlPieces(g);
  const arrays = pieces > 1
    ? [shareable(x, 0), shareable(w, 1), y, shareable(b, 2), shareable(r, 3)]
    : [x, w, y, b, r];
  if (!s) parallelRun(DNNL_CONV_TASK.forward, arrays, [...geometryParams(g), flags], pieces);
  else {
    const params = [...geometryParams(g), s.direct ? 1 : 0, s.step, flags];
    parallelRun(CONV_TASK.forward, arrays, params, pieces);
  }
}

const NO_BIAS = new Float32Array(0);

/** What {@linkcode conv2dForward} applies to its output while it is still in cache. */
export interface ConvEpilogue {
  /** Per-output-channel bias, added first (float32 rounding, as a separate Add). */
  bias?: Float32Array;
  /** Then a residual of `y`'s shape (float32 rounding, as a separate Add). */
  residual?: Float32Array;
  /** Then ReLU (`v > 0 ? v : +0`: NaN and -0 give +0, as oneDNN's fused ReLU). */
  relu?: boolean;
}

/**
 * `dx = d conv2d / d x` given `dy` and `w`; `dx` is fully written.
 *
 * @example
 * ```ts
 * const g = { batchSize: 1, inHeight: 1, inWidth: 1, inChannels: 1, outHeight: 1, outWidth: 1,
 *   outChannels: 1, filterHeight: 1, filterWidth: 1, strideHeight: 1, strideWidth: 1, padTop: 0,
 *   padLeft: 0 };
 * const dx = new Float32Array(1);
 * conv2dBackpropInput(g, new Float32Array([2]), new Float32Array([3]), dx); // dx[0] = 6
 * ```
 */
export function conv2dBackpropInput(
  g: ConvGeometry,
  dy: Float32Array,
  w: Float32Array,
  dx: Float32Array,
) {
  if (g.batchSize === 0) return;
  if (convOnDnnl(g, DNNL_CONV.backwardData)) {
    const pieces = dnnlPieces(g), shared = pieces > 1;
    parallelRun(
      DNNL_CONV_TASK.backpropInput,
      shared ? [shareable(dy, 0), shareable(w, 1), dx] : [dy, w, dx],
      geometryParams(g),
      pieces,
    );
    return;
  }
  const s = convSplit(g);
  const params = [...geometryParams(g), s.direct ? 1 : 0, s.step];
  const dys = s.pieces > 1 ? shareable(dy, 0) : dy, ws = s.pieces > 1 ? shareable(w, 1) : w;
  parallelRun(CONV_TASK.backpropInput, [dys, ws, dx], params, s.pieces);
}

let partials: Float32Array = new Float32Array(0);

/**
 * `dw = d conv2d / d w` given `x` and `dy`; `dw` (HWIO) is fully written. With `p` pieces the
 * images are cut into `p` fixed groups, each summed into its own partial, and the partials are
 * added into `dw` in order.
 *
 * @example
 * ```ts
 * const g = { batchSize: 1, inHeight: 1, inWidth: 1, inChannels: 1, outHeight: 1, outWidth: 1,
 *   outChannels: 1, filterHeight: 1, filterWidth: 1, strideHeight: 1, strideWidth: 1, padTop: 0,
 *   padLeft: 0 };
 * const dw = new Float32Array(1);
 * conv2dBackpropFilter(g, new Float32Array([2]), new Float32Array([3]), dw); // dw[0] = 6
 * ```
 */
export function conv2dBackpropFilter(
  g: ConvGeometry,
  x: Float32Array,
  dy: Float32Array,
  dw: Float32Array,
) {
  if (g.batchSize === 0) {
    dw.fill(0);
    return;
  }
  const K = g.filterHeight * g.filterWidth * g.inChannels, Co = g.outChannels;
  const P = g.outHeight * g.outWidth;
  const s = convSplit(g);
  const groups = Math.max(1, Math.min(g.batchSize, gemmPieces(K, Co, g.batchSize * P)));
  const need = (groups - 1) * K * Co;
  if (partials.length < need || (need > 0 && startedWorkers() > 0 && !isShared(partials))) {
    partials = sharedF32(Math.max(need, partials.length));
  }
  const xs = groups > 1 ? shareable(x, 0) : x, dys = groups > 1 ? shareable(dy, 1) : dy;
  const part = need > 0 ? partials.subarray(0, need) : partials;
  if (convOnDnnl(g, DNNL_CONV.backwardWeights)) {
    parallelRun(DNNL_CONV_TASK.backpropFilter, [xs, dys, dw, part], geometryParams(g), groups);
  } else {
    const params = [...geometryParams(g), s.direct ? 1 : 0, imagesPerChunk(g)];
    parallelRun(CONV_TASK.backpropFilter, [xs, dys, dw, part], params, groups);
  }
  const size = K * Co;
  for (let c = 1; c < groups; c++) {
    const o = (c - 1) * size;
    if (dnnlEnabled()) {
      dnnlBinary(DNNL_BINARY_ALGS.Add, dw, part.subarray(o, o + size), dw, 0, size);
    } else for (let i = 0; i < size; i++) dw[i] += part[o + i];
  }
}
