/**
 * PIL 9.4 colour ops as torchvision 0.14 runs them on PIL images, bit-exact: `convert('L')`
 * grayscale, the `ImageEnhance` blends (brightness, contrast, saturation) in float32 with
 * truncation, the 8-bit HSV round trip of `adjust_hue`, and `ColorJitter` in a given order.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import { type ImageU8, makeImage, requireRgb } from "./image.ts";

const fround = Math.fround;

/** PIL's integer luma: `(19595 R + 38470 G + 7471 B + 32768) >> 16`. */
export function luma(r: number, g: number, b: number): number {
  return (19595 * r + 38470 * g + 7471 * b + 32768) >> 16;
}

/**
 * `F.rgb_to_grayscale(pil, 3)`: PIL `convert('L')` replicated to 3 channels.
 *
 * @example
 * ```ts
 * const grey = grayscale(img);
 * ```
 */
export function grayscale(img: ImageU8): ImageU8 {
  requireRgb(img, "grayscale");
  const src = img.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const l = (19595 * src[i] + 38470 * src[i + 1] + 7471 * src[i + 2] + 32768) >> 16;
    out[i] = l;
    out[i + 1] = l;
    out[i + 2] = l;
  }
  return makeImage(out, img.height, img.width, 3);
}

/**
 * One PIL blend value: `Image.blend(deg, img, a)` for one sample, float32 arithmetic and
 * truncation (`a` must already be a float32 value).
 */
export function blendValue(deg: number, v: number, a: number): number {
  const t = fround(deg + fround(a * (v - deg)));
  if (a >= 0 && a <= 1) return Math.trunc(t);
  return t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
}

/** The 256-entry table of `blendValue(deg, v, a)` for a constant degenerate value. */
function blendTable(deg: number, a: number): Uint8Array {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = blendValue(deg, v, a);
  return lut;
}

function applyTable(img: ImageU8, lut: Uint8Array): ImageU8 {
  const src = img.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]];
  return makeImage(out, img.height, img.width, img.channels);
}

function checkFactor(op: string, factor: number): number {
  if (!Number.isFinite(factor) || factor < 0) {
    throw new BenchError(
      "augment_param",
      `${op}: factor must be a finite number >= 0, got ${factor}`,
    );
  }
  return fround(factor);
}

/**
 * `F.adjust_brightness(pil, factor)` = `ImageEnhance.Brightness`: blend with black.
 *
 * @example
 * ```ts
 * const darker = adjustBrightness(img, 0.6);
 * ```
 */
export function adjustBrightness(img: ImageU8, factor: number): ImageU8 {
  requireRgb(img, "adjustBrightness");
  const a = checkFactor("adjustBrightness", factor);
  if (a === 1) return makeImage(img.data.slice(), img.height, img.width, 3);
  return applyTable(img, blendTable(0, a));
}

/**
 * The contrast grey level PIL uses: `floor(mean(L) + 0.5)` over all pixels.
 *
 * @example
 * ```ts
 * const grey = contrastMean(img);
 * ```
 */
export function contrastMean(img: ImageU8): number {
  requireRgb(img, "contrastMean");
  const src = img.data;
  let sum = 0;
  for (let i = 0; i < src.length; i += 3) {
    sum += (19595 * src[i] + 38470 * src[i + 1] + 7471 * src[i + 2] + 32768) >> 16;
  }
  return Math.floor(sum / (img.height * img.width) + 0.5);
}

/**
 * `F.adjust_contrast(pil, factor)` = `ImageEnhance.Contrast`: blend with the grey image at
 * {@linkcode contrastMean}.
 *
 * @example
 * ```ts
 * const flat = adjustContrast(img, 0.6);
 * ```
 */
export function adjustContrast(img: ImageU8, factor: number): ImageU8 {
  requireRgb(img, "adjustContrast");
  const a = checkFactor("adjustContrast", factor);
  if (a === 1) return makeImage(img.data.slice(), img.height, img.width, 3);
  return applyTable(img, blendTable(contrastMean(img), a));
}

/**
 * `F.adjust_saturation(pil, factor)` = `ImageEnhance.Color`: blend with the image's own
 * grayscale (`L` replicated).
 *
 * @example
 * ```ts
 * const vivid = adjustSaturation(img, 1.4);
 * ```
 */
export function adjustSaturation(img: ImageU8, factor: number): ImageU8 {
  requireRgb(img, "adjustSaturation");
  const a = checkFactor("adjustSaturation", factor);
  const src = img.data;
  const out = new Uint8Array(src.length);
  if (a === 1) {
    out.set(src);
  } else if (a === 0) {
    for (let i = 0; i < src.length; i += 3) {
      const l = (19595 * src[i] + 38470 * src[i + 1] + 7471 * src[i + 2] + 32768) >> 16;
      out[i] = l;
      out[i + 1] = l;
      out[i + 2] = l;
    }
  } else if (a < 1) {
    for (let i = 0; i < src.length; i += 3) {
      const l = (19595 * src[i] + 38470 * src[i + 1] + 7471 * src[i + 2] + 32768) >> 16;
      // For 0 <= a <= 1 the result lies between l and v: truncation, no clipping needed.
      out[i] = fround(l + fround(a * (src[i] - l)));
      out[i + 1] = fround(l + fround(a * (src[i + 1] - l)));
      out[i + 2] = fround(l + fround(a * (src[i + 2] - l)));
    }
  } else {
    for (let i = 0; i < src.length; i += 3) {
      const l = (19595 * src[i] + 38470 * src[i + 1] + 7471 * src[i + 2] + 32768) >> 16;
      for (let ch = 0; ch < 3; ch++) {
        const t = fround(l + fround(a * (src[i + ch] - l)));
        out[i + ch] = t <= 0 ? 0 : t >= 255 ? 255 : t;
      }
    }
  }
  return makeImage(out, img.height, img.width, 3);
}

/**
 * The uint8 hue shift torchvision adds to PIL's H channel: `trunc(factor * 255) mod 256`.
 *
 * @example
 * ```ts
 * hueShiftUint8(-0.2); // 205
 * hueShiftUint8(0.1); // 25
 * ```
 */
export function hueShiftUint8(factor: number): number {
  return ((Math.trunc(factor * 255) % 256) + 256) % 256;
}

/**
 * One pixel of PIL's `convert('HSV')`, returned as `H << 16 | S << 8 | V` (reference
 * implementation; the bulk path {@linkcode hueShiftInto} uses tables built from the same formulas).
 *
 * @example
 * ```ts
 * const hsv = rgbToHsvPil(200, 30, 30);
 * ```
 */
export function rgbToHsvPil(r: number, g: number, b: number): number {
  const maxc = Math.max(r, g, b), minc = Math.min(r, g, b);
  if (maxc === minc) return maxc;
  // PIL rgb2hsv_row: float32 variables, double constants.
  const cr = fround(maxc - minc);
  const s = fround(cr / maxc);
  const rc = fround((maxc - r) / cr), gc = fround((maxc - g) / cr), bc = fround((maxc - b) / cr);
  let h: number;
  if (r === maxc) h = fround(bc - gc);
  else if (g === maxc) h = fround(2.0 + rc - bc);
  else h = fround(4.0 + gc - rc);
  h = fround((h / 6.0 + 1.0) % 1.0);
  const hi = Math.min(255, Math.max(0, Math.trunc(h * 255.0)));
  const si = Math.min(255, Math.max(0, Math.trunc(s * 255.0)));
  return (hi << 16) | (si << 8) | maxc;
}

/**
 * One pixel of PIL's HSV -> RGB conversion, returned as `R << 16 | G << 8 | B` (reference
 * implementation of the formulas tabulated in {@linkcode hueShiftInto}).
 *
 * @example
 * ```ts
 * const rgb = hsvToRgbPil(0, 216, 200);
 * ```
 */
export function hsvToRgbPil(h: number, s: number, v: number): number {
  if (s === 0) return (v << 16) | (v << 8) | v;
  const i = Math.floor(h * 6.0 / 255.0);
  const f = fround(h * 6.0 / 255.0 - i);
  const fs = fround(s / 255.0);
  const clip = (x: number) => (x < 0 ? 0 : x > 255 ? 255 : x);
  const p = clip(Math.round(v * (1.0 - fs)));
  const q = clip(Math.round(v * (1.0 - fround(fs * f))));
  const t = clip(Math.round(v * (1.0 - fs * (1.0 - f))));
  const rgb = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i % 6];
  return (rgb[0] << 16) | (rgb[1] << 8) | rgb[2];
}

interface HueTables {
  /** H for (branch, x, y): r max: x = max-g, y = max-b; g max: x = max-r, y = max-b; b max: x = max-g, y = max-r. */
  h: Uint8Array;
  /** S for (cr, max). */
  s: Uint8Array;
  /** Sextant `i % 6` of each H. */
  sextant: Uint8Array;
  /** `1 - fs` per S. */
  coefP: Float64Array;
  /** `1 - fround(fs * f)` per (S, H). */
  coefQ: Float64Array;
  /** `1 - fs * (1 - f)` per (S, H). */
  coefT: Float64Array;
}

let tables: HueTables | null = null;

/**
 * PIL's HSV formulas tabulated: the hue of a pixel depends only on which channel is the maximum
 * and the distances of the other two to it (one of them is the range `max - min`), the saturation
 * on (range, max), and the HSV -> RGB coefficients on (S, H). Every entry is computed with the
 * exact float32/double recipe of the scalar functions above.
 */
function hueTables(): HueTables {
  if (tables) return tables;
  const h = new Uint8Array(3 * 65536);
  for (let x = 0; x < 256; x++) {
    for (let y = 0; y < 256; y++) {
      const cr = x > y ? x : y;
      if (cr === 0) continue;
      const crf = fround(cr);
      const xc = fround(x / crf), yc = fround(y / crf);
      // r max: h = bc - gc with gc = x, bc = y.
      const h0 = fround(yc - xc);
      // g max: h = 2 + rc - bc with rc = x, bc = y.
      const h1 = fround(2.0 + xc - yc);
      // b max: h = 4 + gc - rc with gc = x, rc = y.
      const h2 = fround(4.0 + xc - yc);
      const k = (x << 8) | y;
      const q = (hh: number) => {
        const t = Math.trunc(fround((hh / 6.0 + 1.0) % 1.0) * 255.0);
        return t < 0 ? 0 : t > 255 ? 255 : t;
      };
      h[k] = q(h0);
      h[65536 + k] = q(h1);
      h[131072 + k] = q(h2);
    }
  }
  const s = new Uint8Array(65536);
  for (let cr = 1; cr < 256; cr++) {
    for (let mx = cr; mx < 256; mx++) {
      const t = Math.trunc(fround(fround(cr) / mx) * 255.0);
      s[(cr << 8) | mx] = t < 0 ? 0 : t > 255 ? 255 : t;
    }
  }
  const sextant = new Uint8Array(256);
  const fArr = new Float64Array(256);
  for (let hh = 0; hh < 256; hh++) {
    const i = Math.floor(hh * 6.0 / 255.0);
    sextant[hh] = i % 6;
    fArr[hh] = fround(hh * 6.0 / 255.0 - i);
  }
  const coefP = new Float64Array(256);
  const coefQ = new Float64Array(65536);
  const coefT = new Float64Array(65536);
  for (let ss = 0; ss < 256; ss++) {
    const fs = fround(ss / 255.0);
    coefP[ss] = 1.0 - fs;
    for (let hh = 0; hh < 256; hh++) {
      const f = fArr[hh];
      coefQ[(ss << 8) | hh] = 1.0 - fround(fs * f);
      coefT[(ss << 8) | hh] = 1.0 - fs * (1.0 - f);
    }
  }
  tables = { h, s, sextant, coefP, coefQ, coefT };
  return tables;
}

/**
 * Applies PIL's `convert('HSV')`, `H += shift (mod 256)`, `convert('RGB')` to every pixel of an
 * RGB buffer, writing into `out` (may equal `src`). Bit-identical to
 * {@linkcode rgbToHsvPil} + {@linkcode hsvToRgbPil} per pixel, through precomputed tables.
 *
 * @example
 * ```ts
 * hueShiftInto(img.data, img.data, hueShiftUint8(0.1));
 * ```
 */
export function hueShiftInto(src: Uint8Array, out: Uint8Array, shift: number): void {
  const { h: hT, s: sT, sextant, coefP, coefQ, coefT } = hueTables();
  shift &= 255;
  for (let i = 0; i < src.length; i += 3) {
    const r = src[i], g = src[i + 1], b = src[i + 2];
    let v: number, hk: number, minc: number;
    if (r >= g && r >= b) {
      v = r;
      minc = g < b ? g : b;
      hk = ((r - g) << 8) | (r - b);
    } else if (g >= b) {
      v = g;
      minc = r < b ? r : b;
      hk = 65536 | ((g - r) << 8) | (g - b);
    } else {
      v = b;
      minc = r < g ? r : g;
      hk = 131072 | ((b - g) << 8) | (b - r);
    }
    const cr = v - minc;
    const S = sT[(cr << 8) | v];
    if (S === 0) {
      // max == min, or a saturation that truncates to 0: the round trip gives (V, V, V).
      out[i] = v;
      out[i + 1] = v;
      out[i + 2] = v;
      continue;
    }
    const H = (hT[hk] + shift) & 255;
    const sh = (S << 8) | H;
    const p = Math.round(v * coefP[S]);
    const q = Math.round(v * coefQ[sh]);
    const t = Math.round(v * coefT[sh]);
    switch (sextant[H]) {
      case 0:
        out[i] = v, out[i + 1] = t, out[i + 2] = p;
        break;
      case 1:
        out[i] = q, out[i + 1] = v, out[i + 2] = p;
        break;
      case 2:
        out[i] = p, out[i + 1] = v, out[i + 2] = t;
        break;
      case 3:
        out[i] = p, out[i + 1] = q, out[i + 2] = v;
        break;
      case 4:
        out[i] = t, out[i + 1] = p, out[i + 2] = v;
        break;
      default:
        out[i] = v, out[i + 1] = p, out[i + 2] = q;
    }
  }
}

/**
 * `F.adjust_hue(pil, factor)`: PIL's 8-bit HSV round trip with the uint8 shift
 * {@linkcode hueShiftUint8}(factor); `factor` in [-0.5, 0.5].
 *
 * @example
 * ```ts
 * const shifted = adjustHue(img, 0.1);
 * ```
 */
export function adjustHue(img: ImageU8, factor: number): ImageU8 {
  requireRgb(img, "adjustHue");
  if (!(factor >= -0.5 && factor <= 0.5)) {
    throw new BenchError(
      "augment_param",
      `adjustHue: factor must be in [-0.5, 0.5], got ${factor}`,
    );
  }
  const out = new Uint8Array(img.data.length);
  hueShiftInto(img.data, out, hueShiftUint8(factor));
  return makeImage(out, img.height, img.width, 3);
}

/** The four colour-jitter operations, by torchvision's `fn_idx` number (0..3). */
export const JITTER_OPS = ["brightness", "contrast", "saturation", "hue"] as const;

/** One colour-jitter operation name. */
export type JitterOp = typeof JITTER_OPS[number];

/** Colour-jitter parameters: which ops, in which order, with which factors. */
export interface JitterParams {
  /** Operations applied left to right (a permutation of {@linkcode JITTER_OPS}). */
  order: JitterOp[];
  /** Brightness factor (torchvision: U[0.6, 1.4] for 0.4). */
  brightness: number;
  /** Contrast factor. */
  contrast: number;
  /** Saturation factor. */
  saturation: number;
  /** Hue shift as a fraction of the circle, in [-0.5, 0.5]. */
  hue: number;
}

/**
 * `ColorJitter` for fixed parameters: `for name in order: img = adjust_<name>(img, factor)`, each
 * step on the uint8 result of the one before.
 *
 * @example
 * ```ts
 * const out = colorJitter(img, {
 *   order: ["contrast", "hue", "brightness", "saturation"],
 *   brightness: 0.8, contrast: 1.3, saturation: 1.35, hue: -0.12,
 * });
 * ```
 */
export function colorJitter(img: ImageU8, params: JitterParams): ImageU8 {
  let cur = img;
  for (const op of params.order) {
    switch (op) {
      case "brightness":
        cur = adjustBrightness(cur, params.brightness);
        break;
      case "contrast":
        cur = adjustContrast(cur, params.contrast);
        break;
      case "saturation":
        cur = adjustSaturation(cur, params.saturation);
        break;
      case "hue":
        cur = adjustHue(cur, params.hue);
        break;
      default:
        throw new BenchError("augment_param", `unknown colour-jitter op "${op}"`, {
          hint: `one of ${JITTER_OPS.join(", ")}`,
        });
    }
  }
  return cur === img ? makeImage(img.data.slice(), img.height, img.width, img.channels) : cur;
}
