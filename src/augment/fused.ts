/**
 * In-place variants of the colour ops for the batched pipeline: the same arithmetic as
 * `color.ts` (bit-identical results, checked by the tests), without allocating a new buffer per op.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import { blendValue, hueShiftInto, hueShiftUint8, type JitterParams } from "./color.ts";
import { type ImageU8, requireRgb } from "./image.ts";

const fround = Math.fround;
const lutBuf = new Uint8Array(256);

function blendLutInPlace(data: Uint8Array, deg: number, a: number): void {
  for (let v = 0; v < 256; v++) lutBuf[v] = blendValue(deg, v, a);
  for (let i = 0; i < data.length; i++) data[i] = lutBuf[data[i]];
}

function meanL(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < data.length; i += 3) {
    sum += (19595 * data[i] + 38470 * data[i + 1] + 7471 * data[i + 2] + 32768) >> 16;
  }
  return Math.floor(sum / (data.length / 3) + 0.5);
}

function saturationInPlace(data: Uint8Array, a: number): void {
  if (a === 1) return;
  if (a >= 0 && a <= 1) {
    for (let i = 0; i < data.length; i += 3) {
      const r = data[i], g = data[i + 1], b = data[i + 2];
      const l = (19595 * r + 38470 * g + 7471 * b + 32768) >> 16;
      data[i] = fround(l + fround(a * (r - l)));
      data[i + 1] = fround(l + fround(a * (g - l)));
      data[i + 2] = fround(l + fround(a * (b - l)));
    }
    return;
  }
  for (let i = 0; i < data.length; i += 3) {
    const r = data[i], g = data[i + 1], b = data[i + 2];
    const l = (19595 * r + 38470 * g + 7471 * b + 32768) >> 16;
    let t = fround(l + fround(a * (r - l)));
    data[i] = t <= 0 ? 0 : t >= 255 ? 255 : t;
    t = fround(l + fround(a * (g - l)));
    data[i + 1] = t <= 0 ? 0 : t >= 255 ? 255 : t;
    t = fround(l + fround(a * (b - l)));
    data[i + 2] = t <= 0 ? 0 : t >= 255 ? 255 : t;
  }
}

/**
 * Colour jitter in place: same result as `colorJitter(img, params)`.
 *
 * @example
 * ```ts
 * applyJitterInPlace(view, { order: ["hue", "contrast", "brightness", "saturation"],
 *   brightness: 1.1, contrast: 0.9, saturation: 1.2, hue: 0.05 });
 * ```
 */
export function applyJitterInPlace(img: ImageU8, params: JitterParams): void {
  requireRgb(img, "colour jitter");
  const data = img.data;
  for (const op of params.order) {
    switch (op) {
      case "brightness": {
        const a = fround(params.brightness);
        if (a !== 1) blendLutInPlace(data, 0, a);
        break;
      }
      case "contrast": {
        const a = fround(params.contrast);
        if (a !== 1) blendLutInPlace(data, meanL(data), a);
        break;
      }
      case "saturation":
        saturationInPlace(data, fround(params.saturation));
        break;
      case "hue":
        hueShiftInto(data, data, hueShiftUint8(params.hue));
        break;
      default:
        throw new BenchError("augment_param", `unknown colour-jitter op "${op}"`);
    }
  }
}

/**
 * `convert('L')` replicated to 3 channels, in place.
 *
 * @example
 * ```ts
 * grayscaleInPlace(view);
 * ```
 */
export function grayscaleInPlace(img: ImageU8): void {
  requireRgb(img, "grayscale");
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    const l = (19595 * d[i] + 38470 * d[i + 1] + 7471 * d[i + 2] + 32768) >> 16;
    d[i] = l;
    d[i + 1] = l;
    d[i + 2] = l;
  }
}
