/**
 * `F.normalize(F.to_tensor(pil), mean, std)` with torch's float32 rounding, bit-exact:
 * `x = fround(u / 255)`, `out = fround(fround(x - fround(mean)) / fround(std))`. Every uint8 value
 * maps through a 256-entry table per channel.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import type { ImageU8 } from "./image.ts";

/** Per-channel normalisation constants, as given to `F.normalize`. */
export interface Normalization {
  /** Channel means (on the [0, 1] scale). */
  mean: readonly number[];
  /** Channel standard deviations. */
  std: readonly number[];
}

/**
 * The per-channel table `lut[c * 256 + u]` of normalised float32 values.
 *
 * @example
 * ```ts
 * const lut = normalizationTable({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
 * lut[255]; // 1
 * ```
 */
export function normalizationTable(norm: Normalization): Float32Array {
  const c = norm.mean.length;
  if (c < 1 || norm.std.length !== c) {
    throw new BenchError("augment_param", "normalisation mean and std must have the same length");
  }
  const lut = new Float32Array(c * 256);
  for (let ch = 0; ch < c; ch++) {
    const m = Math.fround(norm.mean[ch]);
    const s = Math.fround(norm.std[ch]);
    for (let u = 0; u < 256; u++) {
      const x = Math.fround(u / 255);
      lut[ch * 256 + u] = Math.fround(Math.fround(x - m) / s);
    }
  }
  return lut;
}

/**
 * Writes the normalised HWC float32 values of `img` into `out` at `offset` (NHWC layout, ready
 * for `tf.tensor4d`).
 *
 * @example
 * ```ts
 * const x = new Float32Array(32 * 32 * 3);
 * normalizeInto(img, normalizationTable(cifarNorm), x, 0);
 * ```
 */
export function normalizeInto(
  img: ImageU8,
  lut: Float32Array,
  out: Float32Array,
  offset: number,
): void {
  const src = img.data;
  const c = img.channels;
  if (lut.length !== c * 256) {
    throw new BenchError(
      "augment_shape",
      `normalisation has ${lut.length / 256} channels, image ${c}`,
    );
  }
  if (c === 3) {
    for (let i = 0; i < src.length; i += 3) {
      out[offset + i] = lut[src[i]];
      out[offset + i + 1] = lut[256 + src[i + 1]];
      out[offset + i + 2] = lut[512 + src[i + 2]];
    }
    return;
  }
  for (let i = 0; i < src.length; i++) out[offset + i] = lut[(i % c) * 256 + src[i]];
}

/**
 * `F.normalize(F.to_tensor(pil), mean, std)`: the CHW float32 tensor torchvision produces.
 *
 * @example
 * ```ts
 * const chw = toTensorNormalize(img, { mean: [0.43, 0.42, 0.39], std: [0.27, 0.26, 0.27] });
 * ```
 */
export function toTensorNormalize(img: ImageU8, norm: Normalization): Float32Array {
  const lut = normalizationTable(norm);
  const { height: h, width: w, channels: c, data } = img;
  if (norm.mean.length !== c) {
    throw new BenchError(
      "augment_shape",
      `normalisation has ${norm.mean.length} channels, image ${c}`,
    );
  }
  const out = new Float32Array(c * h * w);
  const plane = h * w;
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < c; ch++) out[ch * plane + p] = lut[ch * 256 + data[p * c + ch]];
  }
  return out;
}
