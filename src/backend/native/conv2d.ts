/**
 * 2-D convolution (NHWC, HWIO filters) as im2col + SGEMM, and its two gradients (col2im for the
 * input, col^T * dy for the filter). The im2col matrix has rows `(n, oh, ow)` and columns
 * `(kh, kw, ci)`, which is exactly the HWIO filter flattened to `[KH*KW*Cin, Cout]`, so no filter
 * reshuffling is needed. Two shapes need no im2col at all: 1x1 stride-1 unpadded convolutions and
 * "full" convolutions whose window covers the whole unpadded input (1x1 output).
 *
 * Work is split over whole images so the scratch matrix stays near {@linkcode COL_BUDGET_FLOATS};
 * the split depends only on shapes, so results are reproducible for a fixed BLAS thread count.
 *
 * @module
 */
import { sgemm } from "./gemm.ts";

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
let colBudget = COL_BUDGET_FLOATS;
/** Runs at least this long are copied with `TypedArray.set` (a subarray costs ~100 ns). */
let copyWithSet = 1024;
/**
 * Benchmark hook: the run length from which im2col copies with `TypedArray.set` (default 1024).
 *
 * @example
 * ```ts
 * setCopyWithSet(64);
 * ```
 */
export function setCopyWithSet(n: number): void {
  copyWithSet = n;
}
/**
 * Benchmark hook: sets the im2col budget in floats and returns the previous one.
 *
 * @example
 * ```ts
 * const old = setColBudget(1 << 22);
 * setColBudget(old);
 * ```
 */
export function setColBudget(floats: number): number {
  const old = colBudget;
  colBudget = floats;
  return old;
}

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
  return Math.max(1, Math.min(g.batchSize, Math.floor(colBudget / Math.max(1, perImage))));
}

/** Fills `col` with the im2col rows of images `[n0, n1)`. */
function im2col(g: ConvGeometry, x: Float32Array, n0: number, n1: number, col: Float32Array) {
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
            if (rowLen >= copyWithSet) col.set(x.subarray(s, s + rowLen), d);
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
function col2imAdd(g: ConvGeometry, col: Float32Array, n0: number, n1: number, dx: Float32Array) {
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

/**
 * `y = conv2d(x, w)`; `x` NHWC, `w` HWIO, `y` NHWC (written, not accumulated).
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
export function conv2dForward(g: ConvGeometry, x: Float32Array, w: Float32Array, y: Float32Array) {
  const K = g.filterHeight * g.filterWidth * g.inChannels;
  const Co = g.outChannels;
  const P = g.outHeight * g.outWidth;
  if (colIsInput(g)) {
    sgemm(false, false, g.batchSize * P, Co, K, 1, x, K, w, Co, 0, y, Co);
    return;
  }
  const step = imagesPerChunk(g);
  for (let n0 = 0; n0 < g.batchSize; n0 += step) {
    const n1 = Math.min(g.batchSize, n0 + step);
    const rows = (n1 - n0) * P;
    const col = scratchOf(rows * K);
    im2col(g, x, n0, n1, col);
    sgemm(false, false, rows, Co, K, 1, col, K, w, Co, 0, y.subarray(n0 * P * Co), Co);
  }
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
  const K = g.filterHeight * g.filterWidth * g.inChannels;
  const Co = g.outChannels;
  const P = g.outHeight * g.outWidth;
  if (colIsInput(g)) {
    sgemm(false, true, g.batchSize * P, K, Co, 1, dy, Co, w, Co, 0, dx, K);
    return;
  }
  dx.fill(0);
  const step = imagesPerChunk(g);
  for (let n0 = 0; n0 < g.batchSize; n0 += step) {
    const n1 = Math.min(g.batchSize, n0 + step);
    const rows = (n1 - n0) * P;
    const col = scratchOf(rows * K);
    sgemm(false, true, rows, K, Co, 1, dy.subarray(n0 * P * Co), Co, w, Co, 0, col, K);
    col2imAdd(g, col, n0, n1, dx);
  }
}

/**
 * `dw = d conv2d / d w` given `x` and `dy`; `dw` (HWIO) is fully written.
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
  const K = g.filterHeight * g.filterWidth * g.inChannels;
  const Co = g.outChannels;
  const P = g.outHeight * g.outWidth;
  if (colIsInput(g)) {
    sgemm(true, false, K, Co, g.batchSize * P, 1, x, K, dy, Co, 0, dw, Co);
    return;
  }
  const step = imagesPerChunk(g);
  for (let n0 = 0; n0 < g.batchSize; n0 += step) {
    const n1 = Math.min(g.batchSize, n0 + step);
    const rows = (n1 - n0) * P;
    const col = scratchOf(rows * K);
    im2col(g, x, n0, n1, col);
    sgemm(
      true,
      false,
      K,
      Co,
      rows,
      1,
      col,
      K,
      dy.subarray(n0 * P * Co),
      Co,
      n0 === 0 ? 0 : 1,
      dw,
      Co,
    );
  }
  if (g.batchSize === 0) dw.fill(0);
}
