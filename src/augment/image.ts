/**
 * The image value every augmentation op takes and returns: packed uint8 pixels in row-major HWC
 * order (channel order R, G, B for colour images), plus the shape.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";

/** A uint8 image, row-major HWC. `data.length === height * width * channels`. */
export interface ImageU8 {
  /** Pixels, row-major, channels interleaved (R, G, B). */
  data: Uint8Array;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
  /** Channels per pixel (1 or 3 for the ops here; colour ops require 3). */
  channels: number;
}

/**
 * Wraps pixel data as an {@linkcode ImageU8}, checking that the length matches the shape.
 *
 * @example
 * ```ts
 * const img = makeImage(new Uint8Array(4 * 4 * 3), 4, 4, 3);
 * ```
 */
export function makeImage(
  data: Uint8Array,
  height: number,
  width: number,
  channels: number,
): ImageU8 {
  if (
    !Number.isInteger(height) || !Number.isInteger(width) || !Number.isInteger(channels) ||
    height < 1 || width < 1 || channels < 1
  ) {
    throw new BenchError("augment_shape", `invalid image shape [${height}, ${width}, ${channels}]`);
  }
  if (data.length !== height * width * channels) {
    throw new BenchError(
      "augment_shape",
      `image data has ${data.length} values, shape [${height}, ${width}, ${channels}] needs ${
        height * width * channels
      }`,
    );
  }
  return { data, height, width, channels };
}

/** Throws unless `img` has 3 channels (the colour ops follow PIL's RGB mode). */
export function requireRgb(img: ImageU8, op: string): void {
  if (img.channels !== 3) {
    throw new BenchError(
      "augment_shape",
      `${op} needs a 3-channel RGB image, got ${img.channels}`,
      {
        hint: "replicate grey images to 3 channels first (replicateChannels)",
      },
    );
  }
}
