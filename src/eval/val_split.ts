/**
 * The seeded validation split carved from a training set: per class, a fixed fraction of the
 * labelled rows (a permutation drawn from `Rng(seed, "val-split", class)`) becomes validation; the
 * rest stays for fitting. Unlabeled rows (label -1) go to neither. The test split is never involved.
 *
 * @module
 */
import { Rng } from "../util/rng.ts";

/** Row indices of the fitting and validation parts. */
export interface TrainValSplit {
  /** Rows used for fitting, ascending. */
  train: Int32Array;
  /** Rows held out for selection, ascending. */
  val: Int32Array;
}

/**
 * Stratified seeded split: `round(valFraction * count_c)` rows of each class `c` go to validation
 * (at least one when `valFraction > 0` and the class has two rows or more).
 *
 * @example
 * ```ts
 * const { train, val } = splitTrainVal(labels, 0.1, 1);
 * ```
 */
export function splitTrainVal(
  labels: Int32Array,
  valFraction: number,
  seed: number,
): TrainValSplit {
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new RangeError(`valFraction must be in [0, 1), got ${valFraction}`);
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y < 0) continue;
    let rows = byClass.get(y);
    if (!rows) byClass.set(y, rows = []);
    rows.push(i);
  }
  const isVal = new Uint8Array(labels.length);
  for (const [y, rows] of byClass) {
    let nVal = Math.round(valFraction * rows.length);
    if (valFraction > 0 && nVal === 0 && rows.length >= 2) nVal = 1;
    const perm = new Rng(seed, "val-split", y).permutation(rows.length);
    for (let j = 0; j < nVal; j++) isVal[rows[perm[j]]] = 1;
  }
  const train: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < 0) continue;
    (isVal[i] ? val : train).push(i);
  }
  return { train: Int32Array.from(train), val: Int32Array.from(val) };
}

/**
 * The rows `indices` of a row-major `[n, dim]` array.
 *
 * @example
 * ```ts
 * const sub = takeRows(features, 256, split.val);
 * ```
 */
export function takeRows(data: Float32Array, dim: number, indices: Int32Array): Float32Array {
  const out = new Float32Array(indices.length * dim);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i] * dim;
    out.set(data.subarray(r, r + dim), i * dim);
  }
  return out;
}
