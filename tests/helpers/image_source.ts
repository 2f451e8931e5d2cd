/**
 * A small labelled in-memory image set for protocol tests: class c images are noise around a
 * class-specific brightness, so even a random encoder separates the classes.
 *
 * @module
 */
import { memorySource } from "../../src/augment/pipeline.ts";
import type { LabelledSource } from "../../src/eval/features.ts";
import { Rng } from "../../src/util/rng.ts";

/** n images of size x size x channels, label i % numClasses. */
export function brightnessImages(
  n: number,
  numClasses: number,
  seed: number,
  size = 32,
  channels = 3,
): LabelledSource {
  const rng = new Rng(seed, "brightness-images");
  const per = size * size * channels;
  const pixels = new Uint8Array(n * per);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % numClasses;
    labels[i] = y;
    const base = 30 + (190 * y) / Math.max(1, numClasses - 1);
    for (let j = 0; j < per; j++) {
      pixels[i * per + j] = Math.max(0, Math.min(255, Math.round(base + 25 * rng.normal())));
    }
  }
  const src = memorySource(pixels, size, size, channels);
  return { ...src, readImages: src.readImages, labels, numClasses, length: n };
}
