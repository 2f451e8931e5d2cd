/**
 * Fixtures for the augmentation tests: seeded synthetic images (gradients, a hard-edged box,
 * noise) and the path of the shared golden parity file.
 *
 * @module
 */
import { type ImageU8, makeImage } from "../../src/augment/image.ts";
import { syntheticImages } from "../../src/augment/perf_data.ts";

/** The shared golden parity file. */
export const GOLDEN_AUGMENT_PATH = new URL(
  "../../../shared/golden/augment-cases.json",
  import.meta.url,
).pathname;

/** One seeded synthetic image. */
export function testImage(seed: number, height: number, width: number, channels = 3): ImageU8 {
  return makeImage(syntheticImages(1, height, width, channels, seed), height, width, channels);
}

/** `n` packed seeded synthetic images. */
export function testImages(
  seed: number,
  n: number,
  height: number,
  width: number,
  channels = 3,
): Uint8Array {
  return syntheticImages(n, height, width, channels, seed);
}

/** Pearson chi-square statistic of observed counts against equal expected counts. */
export function chiSquareUniform(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  const e = total / counts.length;
  let chi = 0;
  for (let i = 0; i < counts.length; i++) chi += (counts[i] - e) ** 2 / e;
  return chi;
}
