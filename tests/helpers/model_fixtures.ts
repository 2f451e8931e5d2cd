/**
 * Test fixtures for the model tests: seeded input batches and small host-side reference ops.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../src/util/rng.ts";

/** A seeded `[b, s, s, 3]` batch with values U(−1, 1). */
export function randomImages(seed: number, b: number, s: number): tf.Tensor4D {
  const data = new Rng(seed, "test-images", b, s).fillUniform(
    new Float32Array(b * s * s * 3),
    -1,
    1,
  );
  return tf.tensor4d(data, [b, s, s, 3]);
}

/** Seeded values U(lo, hi). */
export function randomValues(seed: number, name: string, n: number, lo = -1, hi = 1): Float32Array {
  return new Rng(seed, "test-values", name).fillUniform(new Float32Array(n), lo, hi);
}

/**
 * Host reference of the residual shortcut: avg_pool(k, s, valid) then zero-padding of the
 * channel axis to `cout` (NHWC).
 */
export function hostShortcut(
  x: Float32Array,
  [b, h, w, c]: number[],
  k: number,
  s: number,
  cout: number,
): { data: Float32Array; shape: number[] } {
  const ho = Math.floor((h - k) / s) + 1;
  const wo = Math.floor((w - k) / s) + 1;
  const out = new Float32Array(b * ho * wo * cout);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        for (let ch = 0; ch < c; ch++) {
          let sum = 0;
          for (let di = 0; di < k; di++) {
            for (let dj = 0; dj < k; dj++) {
              sum += x[((n * h + i * s + di) * w + j * s + dj) * c + ch];
            }
          }
          out[((n * ho + i) * wo + j) * cout + ch] = sum / (k * k);
        }
      }
    }
  }
  return { data: out, shape: [b, ho, wo, cout] };
}

/** Largest |a − b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Per-channel mean and biased/unbiased variance of a `[n, c]`-flattened array (float64). */
export function channelStats(
  x: Float32Array,
  c: number,
): { mean: number[]; biased: number[]; unbiased: number[] } {
  const n = x.length / c;
  const mean = new Array(c).fill(0);
  const sq = new Array(c).fill(0);
  for (let i = 0; i < x.length; i++) mean[i % c] += x[i] / n;
  for (let i = 0; i < x.length; i++) sq[i % c] += (x[i] - mean[i % c]) ** 2;
  return { mean, biased: sq.map((v) => v / n), unbiased: sq.map((v) => v / (n - 1)) };
}
