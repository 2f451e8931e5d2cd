/**
 * Synchronous batch kernels shared by the main thread and the augmentation workers: packed uint8
 * source images in, normalised NHWC float32 views out.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import { hflip } from "./geometry.ts";
import { type ImageU8, makeImage } from "./image.ts";
import { normalizationTable, normalizeInto } from "./normalize.ts";
import {
  applyViewParams,
  drawFlip,
  drawViewParams,
  getPolicy,
  type PolicyName,
  type PolicySpec,
  prepareSource,
  testOutputSize,
  testTransform,
  trainOutputSize,
} from "./policy.ts";

const lutCache = new Map<string, Float32Array>();

/** The normalisation table of a policy (cached). */
export function policyLut(spec: PolicySpec): Float32Array {
  let lut = lutCache.get(spec.name);
  if (!lut) {
    lut = normalizationTable(spec.normalization);
    lutCache.set(spec.name, lut);
  }
  return lut;
}

/** Shape of packed source images. */
export interface PackedShape {
  /** Rows per image. */
  height: number;
  /** Columns per image. */
  width: number;
  /** Channels per image. */
  channels: number;
}

function imageAt(images: Uint8Array, k: number, shape: PackedShape): ImageU8 {
  const n = shape.height * shape.width * shape.channels;
  return makeImage(images.subarray(k * n, (k + 1) * n), shape.height, shape.width, shape.channels);
}

function checkPacked(images: Uint8Array, count: number, shape: PackedShape): void {
  const n = shape.height * shape.width * shape.channels;
  if (images.length !== count * n) {
    throw new BenchError(
      "augment_shape",
      `packed images have ${images.length} values, ${count} images of ${shape.height}x${shape.width}x${shape.channels} need ${
        count * n
      }`,
      { hint: "readImages must return N*H*W*C uint8 values in HWC order" },
    );
  }
}

/**
 * Two normalised views of each packed source image, written into `x1`/`x2` (NHWC) starting at
 * sample slot `slot0`. `indices[k]` is the dataset index of image `k` (it keys the random draws).
 *
 * @example
 * ```ts
 * const [oh, ow] = trainOutputSize("cifar", 32, 32);
 * const x1 = new Float32Array(n * oh * ow * 3), x2 = new Float32Array(x1.length);
 * trainBatchInto("cifar", 1, 0, indices, images, { height: 32, width: 32, channels: 3 }, x1, x2, 0);
 * ```
 */
export function trainBatchInto(
  policy: PolicyName | PolicySpec,
  seed: number,
  epoch: number,
  indices: ArrayLike<number>,
  images: Uint8Array,
  shape: PackedShape,
  x1: Float32Array,
  x2: Float32Array,
  slot0: number,
): void {
  const spec = typeof policy === "string" ? getPolicy(policy) : policy;
  checkPacked(images, indices.length, shape);
  const lut = policyLut(spec);
  let per = 0;
  for (let k = 0; k < indices.length; k++) {
    const index = indices[k];
    let src = prepareSource(spec, imageAt(images, k, shape));
    if (per === 0) {
      const [oh, ow] = trainOutputSize(spec, src.height, src.width);
      per = oh * ow * 3;
      if (
        x1.length < (slot0 + indices.length) * per || x2.length < (slot0 + indices.length) * per
      ) {
        throw new BenchError("augment_shape", "output buffers are too small for the batch");
      }
    }
    if (drawFlip(spec, seed, epoch, index)) src = hflip(src);
    for (let view = 0; view < 2; view++) {
      const params = drawViewParams(spec, seed, epoch, index, view, src.height, src.width);
      const out = applyViewParams(spec, src, params);
      normalizeInto(out, lut, view === 0 ? x1 : x2, (slot0 + k) * per);
    }
  }
}

/**
 * The normalised test transform of each packed image, written into `x` (NHWC) from slot `slot0`.
 *
 * @example
 * ```ts
 * const x = new Float32Array(n * 64 * 64 * 3);
 * testBatchInto("stl10", images, { height: 96, width: 96, channels: 3 }, n, x, 0);
 * ```
 */
export function testBatchInto(
  policy: PolicyName | PolicySpec,
  images: Uint8Array,
  shape: PackedShape,
  count: number,
  x: Float32Array,
  slot0: number,
): void {
  const spec = typeof policy === "string" ? getPolicy(policy) : policy;
  checkPacked(images, count, shape);
  const lut = policyLut(spec);
  const [oh, ow] = testOutputSize(spec, shape.height, shape.width);
  const per = oh * ow * 3;
  if (x.length < (slot0 + count) * per) {
    throw new BenchError("augment_shape", "output buffer is too small for the batch");
  }
  for (let k = 0; k < count; k++) {
    const out = testTransform(spec, imageAt(images, k, shape));
    normalizeInto(out, lut, x, (slot0 + k) * per);
  }
}
