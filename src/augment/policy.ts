/**
 * The augmentation policies of the official AMDIM code (datasets.py), their seeded parameter
 * draws and their application to one sample.
 *
 * Per sample: the source is first brought to the policy's input form ({@linkcode prepareSource}),
 * flipped horizontally with p = 0.5 (one flip shared by both views), then each of the two views
 * runs the policy's train transform with its own random parameters:
 *
 * - `cifar`: RandomApply(translate with reflect, |dx|, |dy| <= 4, p = 0.8) (no crop).
 * - `stl10`: RandomResizedCrop(64, scale 0.3-1, ratio 0.7-1.4 log-uniform, bicubic).
 * - `imagenet`: RandomResizedCrop(128, same ranges).
 * - all three: RandomApply(ColorJitter(0.4, 0.4, 0.4, hue 0.2; 0.1 for imagenet), p = 0.8) with the
 *   four ops in random order, then RandomGrayscale(p = 0.25), then normalisation.
 * - `fmnist`: 28x28x1 is zero-padded to 32x32 and replicated to RGB, then the `cifar` policy,
 *   normalised with mean 0.2860 / std 0.3530 on every channel.
 * - `none`: no flip, no augmentation (both views are the prepared source), mean/std 0.5.
 *
 * Every random draw of view `v` of sample `index` in `epoch` comes from
 * `new Rng(seed, "augment", epoch, index, v)`, and the flip from `new Rng(seed, "flip", epoch,
 * index)`, so results do not depend on batch composition, order or worker count.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import { Rng } from "../util/rng.ts";
import { JITTER_OPS, type JitterParams } from "./color.ts";
import { hflip, padZero, replicateChannels, translateReflect } from "./geometry.ts";
import type { ImageU8 } from "./image.ts";
import type { Normalization } from "./normalize.ts";
import { type CropBox, resizeBicubic, resizeCenterCrop, resizedCrop } from "./resize.ts";
import { roundHalfEven } from "./round.ts";
import { applyJitterInPlace, grayscaleInPlace } from "./fused.ts";

/** Policy names. */
export const POLICY_NAMES = ["cifar", "stl10", "imagenet", "fmnist", "none"] as const;

/** One of {@linkcode POLICY_NAMES}. */
export type PolicyName = typeof POLICY_NAMES[number];

/** The full definition of a policy (all constants as in the official code). */
export interface PolicySpec {
  /** Policy name. */
  name: PolicyName;
  /** Probability of the shared horizontal flip. */
  flipP: number;
  /** Geometric train transform. */
  geometric:
    | { kind: "translate"; max: number; p: number }
    | { kind: "resized-crop"; size: number; scale: [number, number]; ratio: [number, number] }
    | { kind: "none" };
  /** Colour jitter (RandomApply(ColorJitter)), or null. */
  jitter:
    | { p: number; brightness: number; contrast: number; saturation: number; hue: number }
    | null;
  /** RandomGrayscale probability. */
  grayscaleP: number;
  /** Normalisation applied after the uint8 ops. */
  normalization: Normalization;
  /** The test transform. */
  test: { kind: "as-is" } | { kind: "resize-center-crop"; resize: number; crop: number };
  /**
   * The side the policy's inputs are brought to before augmentation (`cifar`, `fmnist`: 32),
   * or null when any size is used as is.
   */
  inputSize: number | null;
}

const JITTER = { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.4 };
const CROP_SCALE: [number, number] = [0.3, 1.0];
const CROP_RATIO: [number, number] = [0.7, 1.4];

/** The five policies. */
export const POLICIES: Readonly<Record<PolicyName, PolicySpec>> = {
  cifar: {
    name: "cifar",
    flipP: 0.5,
    geometric: { kind: "translate", max: 4, p: 0.8 },
    jitter: { ...JITTER, hue: 0.2 },
    grayscaleP: 0.25,
    normalization: {
      mean: [125.3 / 255, 123.0 / 255, 113.9 / 255],
      std: [63.0 / 255, 62.1 / 255, 66.7 / 255],
    },
    test: { kind: "as-is" },
    inputSize: 32,
  },
  stl10: {
    name: "stl10",
    flipP: 0.5,
    geometric: { kind: "resized-crop", size: 64, scale: CROP_SCALE, ratio: CROP_RATIO },
    jitter: { ...JITTER, hue: 0.2 },
    grayscaleP: 0.25,
    normalization: { mean: [0.43, 0.42, 0.39], std: [0.27, 0.26, 0.27] },
    test: { kind: "resize-center-crop", resize: 70, crop: 64 },
    inputSize: null,
  },
  imagenet: {
    name: "imagenet",
    flipP: 0.5,
    geometric: { kind: "resized-crop", size: 128, scale: CROP_SCALE, ratio: CROP_RATIO },
    jitter: { ...JITTER, hue: 0.1 },
    grayscaleP: 0.25,
    normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    test: { kind: "resize-center-crop", resize: 146, crop: 128 },
    inputSize: null,
  },
  fmnist: {
    name: "fmnist",
    flipP: 0.5,
    geometric: { kind: "translate", max: 4, p: 0.8 },
    jitter: { ...JITTER, hue: 0.2 },
    grayscaleP: 0.25,
    normalization: { mean: [0.2860, 0.2860, 0.2860], std: [0.3530, 0.3530, 0.3530] },
    test: { kind: "as-is" },
    inputSize: 32,
  },
  none: {
    name: "none",
    flipP: 0,
    geometric: { kind: "none" },
    jitter: null,
    grayscaleP: 0,
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    test: { kind: "as-is" },
    inputSize: null,
  },
};

/**
 * Looks a policy up by name; unknown names are a `BenchError("augment_policy")`.
 *
 * @example
 * ```ts
 * getPolicy("stl10").geometric; // { kind: "resized-crop", size: 64, ... }
 * ```
 */
export function getPolicy(name: string): PolicySpec {
  if (!(POLICY_NAMES as readonly string[]).includes(name)) {
    throw new BenchError("augment_policy", `unknown augmentation policy "${name}"`, {
      location: "augment.policy",
      hint: `one of ${POLICY_NAMES.join(", ")}`,
    });
  }
  return POLICIES[name as PolicyName];
}

function toPolicy(policy: PolicyName | PolicySpec): PolicySpec {
  return typeof policy === "string" ? getPolicy(policy) : policy;
}

/** The random parameters of one view. */
export interface ViewParams {
  /** Translation applied (cifar/fmnist), or null (not drawn for this policy, or not applied). */
  translate: { dx: number; dy: number } | null;
  /** Crop box in the (prepared, flipped) source (stl10/imagenet), or null. */
  crop: CropBox | null;
  /** Colour jitter applied, or null. */
  jitter: JitterParams | null;
  /** Whether the view is converted to grayscale. */
  grayscale: boolean;
}

/** The random parameters of one sample: the shared flip and the two views. */
export interface SampleParams {
  /** Policy name. */
  policy: PolicyName;
  /** Horizontal flip of the source (shared by both views). */
  flip: boolean;
  /** The two views' parameters. */
  views: [ViewParams, ViewParams];
}

/**
 * The source size a policy sees after {@linkcode prepareSource} for an input of `height x width`.
 *
 * @example
 * ```ts
 * preparedSize("fmnist", 28, 28); // [32, 32]
 * ```
 */
export function preparedSize(
  policy: PolicyName | PolicySpec,
  height: number,
  width: number,
): [number, number] {
  const spec = toPolicy(policy);
  if (spec.inputSize === null) return [height, width];
  return [spec.inputSize, spec.inputSize];
}

/**
 * torchvision's `RandomResizedCrop.get_params` (0.14): 10 tries of area ~ U[scale] * area and
 * log-uniform aspect ratio (w/h), sizes rounded half to even, position uniform; then the
 * centre-crop fallback clamped to the ratio range.
 *
 * @example
 * ```ts
 * const box = drawResizedCropBox(new Rng(1, "augment", 0, 5, 0), 96, 96, [0.3, 1], [0.7, 1.4]);
 * ```
 */
export function drawResizedCropBox(
  rng: Rng,
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
): CropBox {
  const area = height * width;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(0, height - h);
      const left = rng.int(0, width - w);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number, h: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) {
    w = width;
    h = roundHalfEven(w / Math.min(ratio[0], ratio[1]));
  } else if (inRatio > Math.max(ratio[0], ratio[1])) {
    h = height;
    w = roundHalfEven(h * Math.max(ratio[0], ratio[1]));
  } else {
    w = width;
    h = height;
  }
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}

/**
 * Draws one view's parameters from its own stream `new Rng(seed, "augment", epoch, index, view)`,
 * in the order torchvision draws them: geometric, colour jitter (apply?, order, factors),
 * grayscale. `sourceHeight`/`sourceWidth` are the prepared source size (crops depend on it).
 *
 * @example
 * ```ts
 * const v = drawViewParams("cifar", 1, 0, 42, 0, 32, 32);
 * ```
 */
export function drawViewParams(
  policy: PolicyName | PolicySpec,
  seed: number,
  epoch: number,
  index: number,
  view: number,
  sourceHeight: number,
  sourceWidth: number,
): ViewParams {
  const spec = toPolicy(policy);
  const rng = new Rng(seed, "augment", epoch, index, view);
  const out: ViewParams = { translate: null, crop: null, jitter: null, grayscale: false };
  const g = spec.geometric;
  if (g.kind === "translate") {
    if (rng.float() < g.p) {
      out.translate = { dx: rng.int(-g.max, g.max), dy: rng.int(-g.max, g.max) };
    }
  } else if (g.kind === "resized-crop") {
    out.crop = drawResizedCropBox(rng, sourceHeight, sourceWidth, g.scale, g.ratio);
  }
  const j = spec.jitter;
  if (j !== null && rng.float() < j.p) {
    const perm = rng.permutation(4);
    out.jitter = {
      order: Array.from(perm, (k) => JITTER_OPS[k]),
      brightness: rng.uniform(Math.max(0, 1 - j.brightness), 1 + j.brightness),
      contrast: rng.uniform(Math.max(0, 1 - j.contrast), 1 + j.contrast),
      saturation: rng.uniform(Math.max(0, 1 - j.saturation), 1 + j.saturation),
      hue: rng.uniform(-j.hue, j.hue),
    };
  }
  if (spec.grayscaleP > 0) out.grayscale = rng.float() < spec.grayscaleP;
  return out;
}

/**
 * Whether sample `index` of `epoch` is flipped: `new Rng(seed, "flip", epoch, index)`.
 *
 * @example
 * ```ts
 * drawFlip("cifar", 1, 0, 42); // true or false, always the same
 * ```
 */
export function drawFlip(
  policy: PolicyName | PolicySpec,
  seed: number,
  epoch: number,
  index: number,
): boolean {
  const spec = toPolicy(policy);
  if (spec.flipP <= 0) return false;
  return new Rng(seed, "flip", epoch, index).float() < spec.flipP;
}

/**
 * All random parameters of one sample: the shared flip and both views. `source` is the raw input
 * size (defaults: cifar/fmnist as prepared, 32x32; stl10 96x96; imagenet 160x160; none 32x32);
 * crop boxes refer to the prepared source.
 *
 * @example
 * ```ts
 * const p = drawSampleParams("stl10", 1, 0, 7);
 * p.flip; p.views[0].crop; p.views[1].jitter?.order;
 * ```
 */
export function drawSampleParams(
  policy: PolicyName | PolicySpec,
  seed: number,
  epoch: number,
  index: number,
  source?: { height: number; width: number },
): SampleParams {
  const spec = toPolicy(policy);
  const nominal = spec.name === "stl10" ? 96 : spec.name === "imagenet" ? 160 : 32;
  const [h, w] = preparedSize(spec, source?.height ?? nominal, source?.width ?? nominal);
  return {
    policy: spec.name,
    flip: drawFlip(spec, seed, epoch, index),
    views: [
      drawViewParams(spec, seed, epoch, index, 0, h, w),
      drawViewParams(spec, seed, epoch, index, 1, h, w),
    ],
  };
}

/**
 * Brings an input image to the policy's input form (deterministic, no randomness):
 * 1-channel images are replicated to RGB; `cifar` resizes other sizes than 32x32 to 32x32
 * (bicubic); `fmnist` zero-pads 28x28 by 2 px to 32x32 (other sizes than 28 or 32 are resized to
 * 32x32); `stl10`, `imagenet` and `none` keep the size. Only 1- or 3-channel inputs are accepted.
 *
 * @example
 * ```ts
 * const src = prepareSource("fmnist", makeImage(pixels, 28, 28, 1)); // 32x32x3
 * ```
 */
export function prepareSource(policy: PolicyName | PolicySpec, img: ImageU8): ImageU8 {
  const spec = toPolicy(policy);
  if (img.channels !== 1 && img.channels !== 3) {
    throw new BenchError("augment_shape", `images must have 1 or 3 channels, got ${img.channels}`, {
      hint: "convert the dataset to grey or RGB",
    });
  }
  let cur = img;
  if (spec.name === "fmnist" && cur.height === 28 && cur.width === 28) cur = padZero(cur, 2);
  if (cur.channels === 1) cur = replicateChannels(cur, 3);
  const s = spec.inputSize;
  if (s !== null && (cur.height !== s || cur.width !== s)) cur = resizeBicubic(cur, s, s);
  return cur;
}

/**
 * The output side of a policy's views for a prepared source of `height x width`
 * (crop policies: their crop size; others: the prepared size).
 *
 * @example
 * ```ts
 * trainOutputSize("imagenet", 224, 224); // [128, 128]
 * ```
 */
export function trainOutputSize(
  policy: PolicyName | PolicySpec,
  height: number,
  width: number,
): [number, number] {
  const spec = toPolicy(policy);
  if (spec.geometric.kind === "resized-crop") return [spec.geometric.size, spec.geometric.size];
  return preparedSize(spec, height, width);
}

/**
 * The output size of a policy's test transform for an input of `height x width`.
 *
 * @example
 * ```ts
 * testOutputSize("stl10", 96, 96); // [64, 64]
 * ```
 */
export function testOutputSize(
  policy: PolicyName | PolicySpec,
  height: number,
  width: number,
): [number, number] {
  const spec = toPolicy(policy);
  if (spec.test.kind === "resize-center-crop") return [spec.test.crop, spec.test.crop];
  return preparedSize(spec, height, width);
}

/**
 * Applies one view's parameters to a prepared (and already flipped) source; returns the uint8
 * view. The source is not modified.
 *
 * @example
 * ```ts
 * const src = prepareSource("cifar", img);
 * const p = drawSampleParams("cifar", 1, 0, 3);
 * const v0 = applyViewParams("cifar", p.flip ? hflip(src) : src, p.views[0]);
 * ```
 */
export function applyViewParams(
  policy: PolicyName | PolicySpec,
  source: ImageU8,
  view: ViewParams,
): ImageU8 {
  const spec = toPolicy(policy);
  let cur: ImageU8;
  if (view.translate) {
    cur = translateReflect(source, view.translate.dx, view.translate.dy);
  } else if (view.crop) {
    const g = spec.geometric;
    const size = g.kind === "resized-crop" ? g.size : source.height;
    cur = resizedCrop(source, view.crop, size, size);
  } else {
    cur = { ...source, data: source.data.slice() };
  }
  // `cur` is a fresh buffer from here on: the colour ops work in place.
  if (view.jitter) applyJitterInPlace(cur, view.jitter);
  if (view.grayscale) grayscaleInPlace(cur);
  return cur;
}

/**
 * The whole train transform of one sample: prepare, shared flip, two views.
 *
 * @example
 * ```ts
 * const { params, views } = augmentSample("cifar", img, 1, 0, 42);
 * ```
 */
export function augmentSample(
  policy: PolicyName | PolicySpec,
  image: ImageU8,
  seed: number,
  epoch: number,
  index: number,
): { params: SampleParams; views: [ImageU8, ImageU8] } {
  const spec = toPolicy(policy);
  let src = prepareSource(spec, image);
  const params: SampleParams = {
    policy: spec.name,
    flip: drawFlip(spec, seed, epoch, index),
    views: [
      drawViewParams(spec, seed, epoch, index, 0, src.height, src.width),
      drawViewParams(spec, seed, epoch, index, 1, src.height, src.width),
    ],
  };
  if (params.flip) src = hflip(src);
  return {
    params,
    views: [
      applyViewParams(spec, src, params.views[0]),
      applyViewParams(spec, src, params.views[1]),
    ],
  };
}

/**
 * The policy's deterministic test transform: `cifar`/`fmnist`/`none`: the prepared source;
 * `stl10`: resize 70 + centre crop 64; `imagenet`: resize 146 + centre crop 128.
 *
 * @example
 * ```ts
 * const test = testTransform("stl10", img96); // 64x64x3
 * ```
 */
export function testTransform(policy: PolicyName | PolicySpec, image: ImageU8): ImageU8 {
  const spec = toPolicy(policy);
  const src = prepareSource(spec, image);
  if (spec.test.kind === "resize-center-crop") {
    return resizeCenterCrop(src, spec.test.resize, spec.test.crop);
  }
  return src;
}
