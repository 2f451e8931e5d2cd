/**
 * Pixel-moving ops without resampling: translation with reflect padding (AMDIM's
 * `RandomTranslateWithReflect`), horizontal flip, zero padding and channel replication.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import { type ImageU8, makeImage } from "./image.ts";

/** Mirror index without repeating the edge (numpy `'reflect'`, TF `'REFLECT'`). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  i = ((i % period) + period) % period;
  return i > n - 1 ? period - i : i;
}

/**
 * Translates the content by (`dx`, `dy`) pixels with reflect padding:
 * `out[y, x] = in[r(y - dy), r(x - dx)]`. Positive `dx` moves the content right, positive `dy`
 * moves it down (AMDIM's `(xtranslation, ytranslation)`).
 *
 * @example
 * ```ts
 * const moved = translateReflect(img, 1, -2);
 * ```
 */
export function translateReflect(img: ImageU8, dx: number, dy: number): ImageU8 {
  if (!Number.isInteger(dx) || !Number.isInteger(dy)) {
    throw new BenchError("augment_param", `translate needs integer shifts, got (${dx}, ${dy})`);
  }
  const { height: h, width: w, channels: c, data } = img;
  const out = new Uint8Array(data.length);
  const rowLen = w * c;
  // Source columns of one row, as element offsets within a row.
  const colSrc = new Int32Array(w);
  for (let x = 0; x < w; x++) colSrc[x] = reflect(x - dx, w) * c;
  // The interior run [x0, x1) copies contiguously.
  const x0 = Math.min(w, Math.max(0, dx));
  const x1 = Math.max(x0, Math.min(w, w + dx));
  for (let y = 0; y < h; y++) {
    const sRow = reflect(y - dy, h) * rowLen;
    const oRow = y * rowLen;
    if (x1 > x0) {
      out.set(data.subarray(sRow + (x0 - dx) * c, sRow + (x1 - dx) * c), oRow + x0 * c);
    }
    for (let x = 0; x < x0; x++) {
      const s = sRow + colSrc[x], o = oRow + x * c;
      for (let ch = 0; ch < c; ch++) out[o + ch] = data[s + ch];
    }
    for (let x = x1; x < w; x++) {
      const s = sRow + colSrc[x], o = oRow + x * c;
      for (let ch = 0; ch < c; ch++) out[o + ch] = data[s + ch];
    }
  }
  return makeImage(out, h, w, c);
}

/**
 * Horizontal flip: `out[y, x] = in[y, W-1-x]`.
 *
 * @example
 * ```ts
 * const mirrored = hflip(img);
 * ```
 */
export function hflip(img: ImageU8): ImageU8 {
  const { height: h, width: w, channels: c, data } = img;
  const out = new Uint8Array(data.length);
  if (c === 3) {
    for (let y = 0; y < h; y++) {
      const row = y * w * 3;
      for (let o = row, s = row + (w - 1) * 3; s >= row; o += 3, s -= 3) {
        out[o] = data[s];
        out[o + 1] = data[s + 1];
        out[o + 2] = data[s + 2];
      }
    }
    return makeImage(out, h, w, c);
  }
  for (let y = 0; y < h; y++) {
    const row = y * w * c;
    for (let x = 0; x < w; x++) {
      const o = row + x * c, s = row + (w - 1 - x) * c;
      for (let ch = 0; ch < c; ch++) out[o + ch] = data[s + ch];
    }
  }
  return makeImage(out, h, w, c);
}

/**
 * Zero padding by `pad` pixels on every side.
 *
 * @example
 * ```ts
 * const padded = padZero(mnist28, 2); // 32x32
 * ```
 */
export function padZero(img: ImageU8, pad: number): ImageU8 {
  const { height: h, width: w, channels: c, data } = img;
  const oh = h + 2 * pad, ow = w + 2 * pad;
  const out = new Uint8Array(oh * ow * c);
  for (let y = 0; y < h; y++) {
    out.set(data.subarray(y * w * c, (y + 1) * w * c), ((y + pad) * ow + pad) * c);
  }
  return makeImage(out, oh, ow, c);
}

/**
 * Copies a 1-channel image into `channels` identical channels (grey to RGB).
 *
 * @example
 * ```ts
 * const rgb = replicateChannels(grey, 3);
 * ```
 */
export function replicateChannels(img: ImageU8, channels: number): ImageU8 {
  if (img.channels !== 1) {
    throw new BenchError("augment_shape", `replicateChannels needs 1 channel, got ${img.channels}`);
  }
  const n = img.height * img.width;
  const out = new Uint8Array(n * channels);
  const src = img.data;
  for (let i = 0, o = 0; i < n; i++) {
    const v = src[i];
    for (let ch = 0; ch < channels; ch++) out[o++] = v;
  }
  return makeImage(out, img.height, img.width, channels);
}
