/**
 * PIL 9.4 bicubic resampling, bit-exact: separable (horizontal pass first, then vertical), Keys
 * kernel with a = -0.5, support widened by the downscale factor (antialiasing), taps outside the
 * image dropped and the weights renormalised, 22-bit fixed-point weights, and a uint8 rounding
 * and clipping step after each pass. Also the two torchvision compositions built on it:
 * `resized_crop` (integer crop, then resize) and resize-shorter-side + centre crop.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import { type ImageU8, makeImage } from "./image.ts";
import { roundHalfEven } from "./round.ts";

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const CLIP_HIGH = 1 << (PRECISION_BITS + 8);
const ONE = 1 << PRECISION_BITS;

/** PIL's bicubic kernel (a = -0.5), with PIL's evaluation order. */
function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Fixed-point taps of one axis: for output `i`, taps `xmin[i] .. xmin[i]+count[i]-1`. */
export interface AxisCoefficients {
  /** First input index of each output. */
  xmin: Int32Array;
  /** Number of taps of each output. */
  count: Int32Array;
  /** Taps per output in `weights` (row stride). */
  ksize: number;
  /** Fixed-point weights, `outSize * ksize`, unused slots 0. */
  weights: Int32Array;
}

const cache = new Map<number, AxisCoefficients>();
const CACHE_LIMIT = 8192;

/**
 * PIL's `precompute_coeffs` + `normalize_coeffs_8bpc` for resampling `inSize` to `outSize`
 * (whole axis, bicubic). Results are cached by size pair.
 *
 * @example
 * ```ts
 * const c = axisCoefficients(96, 64);
 * c.xmin[0]; // first input column read by output column 0
 * ```
 */
export function axisCoefficients(inSize: number, outSize: number): AxisCoefficients {
  const key = inSize * 65536 + outSize;
  const hit = cache.get(key);
  if (hit) return hit;
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const xminArr = new Int32Array(outSize);
  const countArr = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const ss = 1.0 / filterscale;
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const v = bicubic((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      let v = w[x];
      if (ww !== 0.0) v /= ww;
      weights[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    xminArr[xx] = xmin;
    countArr[xx] = xmax;
  }
  const out = { xmin: xminArr, count: countArr, ksize, weights };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, out);
  return out;
}

/** PIL's `clip8`: the fixed-point sum (which fits int32, as in PIL) to a uint8 value. */
function clip8(ss: number): number {
  if (ss >= CLIP_HIGH) return 255;
  if (ss <= 0) return 0;
  return ss >> PRECISION_BITS;
}

/**
 * Horizontal pass over rows `y0 .. y0+rows-1` of a region `[x0, x0+inW)` of `src` (row stride
 * `srcStride` pixels) into `dst` (`rows x outW`). Int32 arithmetic, as PIL's C code.
 */
function horizontalPass(
  src: Uint8Array,
  srcStride: number,
  x0: number,
  y0: number,
  rows: number,
  c: number,
  coef: AxisCoefficients,
  outW: number,
  dst: Uint8Array,
): void {
  const { xmin, count, ksize, weights } = coef;
  if (c === 3) {
    for (let y = 0; y < rows; y++) {
      const rowBase = ((y0 + y) * srcStride + x0) * 3;
      let o = y * outW * 3;
      for (let xx = 0; xx < outW; xx++) {
        const n = count[xx];
        let kb = xx * ksize;
        const kEnd = kb + n;
        let p = rowBase + xmin[xx] * 3;
        let s0 = HALF, s1 = HALF, s2 = HALF;
        for (; kb < kEnd; kb++) {
          const wk = weights[kb];
          s0 = (s0 + Math.imul(src[p], wk)) | 0;
          s1 = (s1 + Math.imul(src[p + 1], wk)) | 0;
          s2 = (s2 + Math.imul(src[p + 2], wk)) | 0;
          p += 3;
        }
        dst[o] = s0 >= CLIP_HIGH ? 255 : s0 <= 0 ? 0 : s0 >> PRECISION_BITS;
        dst[o + 1] = s1 >= CLIP_HIGH ? 255 : s1 <= 0 ? 0 : s1 >> PRECISION_BITS;
        dst[o + 2] = s2 >= CLIP_HIGH ? 255 : s2 <= 0 ? 0 : s2 >> PRECISION_BITS;
        o += 3;
      }
    }
    return;
  }
  for (let y = 0; y < rows; y++) {
    const rowBase = ((y0 + y) * srcStride + x0) * c;
    for (let xx = 0; xx < outW; xx++) {
      const n = count[xx];
      const kb = xx * ksize;
      const o = (y * outW + xx) * c;
      for (let ch = 0; ch < c; ch++) {
        let p = rowBase + xmin[xx] * c + ch;
        let s = HALF;
        for (let k = 0; k < n; k++) {
          s = (s + Math.imul(src[p], weights[kb + k])) | 0;
          p += c;
        }
        dst[o + ch] = clip8(s);
      }
    }
  }
}

let accBuf = new Int32Array(1024);

/**
 * Vertical pass: output row `yy` sums input rows `y0 + xmin[yy] + k` of a region starting at
 * column `x0` (row stride `srcStride` pixels, `w` pixels wide). Whole rows are accumulated, four
 * taps at a time. Partial sums stay within int32 (as in PIL's C code), so the int32 accumulator
 * is exact.
 */
function verticalPass(
  src: Uint8Array,
  w: number,
  x0: number,
  srcStride: number,
  y0: number,
  c: number,
  coef: AxisCoefficients,
  outH: number,
  dst: Uint8Array,
): void {
  const { xmin, count, ksize, weights } = coef;
  const rowLen = w * c;
  const stride = srcStride * c;
  if (accBuf.length < rowLen) accBuf = new Int32Array(rowLen);
  const acc = accBuf;
  for (let yy = 0; yy < outH; yy++) {
    const n = count[yy];
    let kb = yy * ksize;
    let b0 = ((y0 + xmin[yy]) * srcStride + x0) * c;
    for (let k = 0; k < n; k += 4) {
      const m = n - k;
      const first = k === 0;
      if (m >= 4) {
        const w0 = weights[kb], w1 = weights[kb + 1], w2 = weights[kb + 2], w3 = weights[kb + 3];
        const b1 = b0 + stride, b2 = b1 + stride, b3 = b2 + stride;
        if (first) {
          for (let i = 0; i < rowLen; i++) {
            acc[i] = HALF + src[b0 + i] * w0 + src[b1 + i] * w1 + src[b2 + i] * w2 +
              src[b3 + i] * w3;
          }
        } else {
          for (let i = 0; i < rowLen; i++) {
            acc[i] += src[b0 + i] * w0 + src[b1 + i] * w1 + src[b2 + i] * w2 + src[b3 + i] * w3;
          }
        }
      } else if (m === 3) {
        const w0 = weights[kb], w1 = weights[kb + 1], w2 = weights[kb + 2];
        const b1 = b0 + stride, b2 = b1 + stride;
        if (first) {
          for (let i = 0; i < rowLen; i++) {
            acc[i] = HALF + src[b0 + i] * w0 + src[b1 + i] * w1 + src[b2 + i] * w2;
          }
        } else {
          for (let i = 0; i < rowLen; i++) {
            acc[i] += src[b0 + i] * w0 + src[b1 + i] * w1 + src[b2 + i] * w2;
          }
        }
      } else if (m === 2) {
        const w0 = weights[kb], w1 = weights[kb + 1];
        const b1 = b0 + stride;
        if (first) {
          for (let i = 0; i < rowLen; i++) acc[i] = HALF + src[b0 + i] * w0 + src[b1 + i] * w1;
        } else {
          for (let i = 0; i < rowLen; i++) acc[i] += src[b0 + i] * w0 + src[b1 + i] * w1;
        }
      } else {
        const w0 = weights[kb];
        if (first) {
          for (let i = 0; i < rowLen; i++) acc[i] = HALF + src[b0 + i] * w0;
        } else {
          for (let i = 0; i < rowLen; i++) acc[i] += src[b0 + i] * w0;
        }
      }
      kb += 4;
      b0 += 4 * stride;
    }
    const o = yy * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const s = acc[i];
      dst[o + i] = s >= CLIP_HIGH ? 255 : s <= 0 ? 0 : s >> PRECISION_BITS;
    }
  }
}

/**
 * Resizes the region `[top, top+height) x [left, left+width)` of `img` to `outH x outW`, exactly
 * as PIL resizes the cropped image (pixels outside the region are never read).
 */
function resizeRegion(
  img: ImageU8,
  top: number,
  left: number,
  height: number,
  width: number,
  outH: number,
  outW: number,
): ImageU8 {
  const c = img.channels;
  const needH = outW !== width;
  const needV = outH !== height;
  if (!needH && !needV) {
    const out = new Uint8Array(outH * outW * c);
    const rowLen = width * c;
    for (let y = 0; y < height; y++) {
      const s = ((top + y) * img.width + left) * c;
      out.set(img.data.subarray(s, s + rowLen), y * rowLen);
    }
    return makeImage(out, outH, outW, c);
  }
  if (needH && !needV) {
    const out = new Uint8Array(outH * outW * c);
    horizontalPass(
      img.data,
      img.width,
      left,
      top,
      height,
      c,
      axisCoefficients(width, outW),
      outW,
      out,
    );
    return makeImage(out, outH, outW, c);
  }
  const vc = axisCoefficients(height, outH);
  if (!needH) {
    const out = new Uint8Array(outH * outW * c);
    verticalPass(img.data, width, left, img.width, top, c, vc, outH, out);
    return makeImage(out, outH, outW, c);
  }
  // Only the rows the vertical pass reads go through the horizontal pass (as PIL does).
  const first = vc.xmin[0];
  const last = vc.xmin[outH - 1] + vc.count[outH - 1];
  const rows = last - first;
  const tmp = new Uint8Array(rows * outW * c);
  horizontalPass(
    img.data,
    img.width,
    left,
    top + first,
    rows,
    c,
    axisCoefficients(width, outW),
    outW,
    tmp,
  );
  const out = new Uint8Array(outH * outW * c);
  verticalPass(tmp, outW, 0, outW, -first, c, vc, outH, out);
  return makeImage(out, outH, outW, c);
}

function checkSize(h: number, w: number, what: string): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new BenchError("augment_shape", `${what}: invalid size [${h}, ${w}]`);
  }
}

/**
 * `F.resize(pil, [outH, outW], BICUBIC)`: PIL's exact bicubic resampling of the whole image.
 *
 * @example
 * ```ts
 * const small = resizeBicubic(img, 64, 64);
 * ```
 */
export function resizeBicubic(img: ImageU8, outH: number, outW: number): ImageU8 {
  checkSize(outH, outW, "resizeBicubic");
  return resizeRegion(img, 0, 0, img.height, img.width, outH, outW);
}

/** A crop box in pixels, torchvision order. */
export interface CropBox {
  /** First row. */
  top: number;
  /** First column. */
  left: number;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
}

/**
 * `F.resized_crop(pil, top, left, height, width, [outH, outW], BICUBIC)`: integer crop of the box
 * (which must lie inside the image), then the bicubic resize of that crop alone.
 *
 * @example
 * ```ts
 * const view = resizedCrop(img, { top: 12, left: 9, height: 84, width: 69 }, 64, 64);
 * ```
 */
export function resizedCrop(img: ImageU8, box: CropBox, outH: number, outW: number): ImageU8 {
  checkSize(outH, outW, "resizedCrop");
  const { top, left, height, width } = box;
  if (
    !Number.isInteger(top) || !Number.isInteger(left) || !Number.isInteger(height) ||
    !Number.isInteger(width) || top < 0 || left < 0 || height < 1 || width < 1 ||
    top + height > img.height || left + width > img.width
  ) {
    throw new BenchError(
      "augment_shape",
      `crop box (top ${top}, left ${left}, height ${height}, width ${width}) is not inside a ${img.height}x${img.width} image`,
    );
  }
  return resizeRegion(img, top, left, height, width, outH, outW);
}

/**
 * The size torchvision's `F.resize(img, size: int)` produces: the shorter side becomes `size`,
 * the longer one `floor(size * long / short)`.
 *
 * @example
 * ```ts
 * resizeShorterSize(75, 100, 70); // [70, 93]
 * ```
 */
export function resizeShorterSize(height: number, width: number, size: number): [number, number] {
  if (width <= height) return [Math.trunc(size * height / width), size];
  return [size, Math.trunc(size * width / height)];
}

/**
 * Centre-crop offsets as torchvision computes them: `int(round((H - crop) / 2))` with Python's
 * round-half-to-even.
 *
 * @example
 * ```ts
 * centerCropOffsets(70, 93, 64, 64); // [3, 14]  (14.5 rounds to even)
 * ```
 */
export function centerCropOffsets(
  height: number,
  width: number,
  cropH: number,
  cropW: number,
): [number, number] {
  return [roundHalfEven((height - cropH) / 2), roundHalfEven((width - cropW) / 2)];
}

/**
 * `F.center_crop(F.resize(pil, resize, BICUBIC), crop)`: resize the shorter side to `resize`, then
 * take the centred `crop x crop` window. (The crop must fit inside the resized image.)
 *
 * @example
 * ```ts
 * const test = resizeCenterCrop(img, 70, 64); // STL-10 test transform
 * ```
 */
export function resizeCenterCrop(img: ImageU8, resize: number, crop: number): ImageU8 {
  const [rh, rw] = resizeShorterSize(img.height, img.width, resize);
  if (crop > rh || crop > rw) {
    throw new BenchError(
      "augment_shape",
      `centre crop ${crop} is larger than the resized ${rh}x${rw}`,
    );
  }
  const resized = resizeBicubic(img, rh, rw);
  const [top, left] = centerCropOffsets(rh, rw, crop, crop);
  return resizeRegion(resized, top, left, crop, crop, crop, crop);
}
