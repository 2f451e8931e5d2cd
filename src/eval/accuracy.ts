/**
 * Top-k accuracy from class scores. A sample counts as correct at k when fewer than k classes
 * outrank its true class; ties are broken towards the lower class index, so the result is a pure
 * function of the scores.
 *
 * @module
 */

/** Top-1 and top-5 hit counts of a batch of scores. */
export interface TopKCounts {
  /** Labelled rows counted. */
  count: number;
  /** Rows whose true class is ranked first. */
  top1: number;
  /** Rows whose true class is among the first `min(5, numClasses)`. */
  top5: number;
}

/**
 * Counts top-1/top-5 hits for `scores` (`[n, numClasses]` row-major); rows with label < 0 are
 * skipped.
 *
 * @example
 * ```ts
 * const c = topKCounts(new Float32Array([0.1, 0.9, 0.8, 0.2]), 2, new Int32Array([1, 1]));
 * // c = { count: 2, top1: 1, top5: 2 }
 * ```
 */
export function topKCounts(
  scores: Float32Array,
  numClasses: number,
  labels: Int32Array,
): TopKCounts {
  const n = labels.length;
  if (scores.length !== n * numClasses) {
    throw new RangeError(`scores hold ${scores.length} values, expected ${n} x ${numClasses}`);
  }
  const k5 = Math.min(5, numClasses);
  const out: TopKCounts = { count: 0, top1: 0, top5: 0 };
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y < 0) continue;
    const row = i * numClasses;
    const s = scores[row + y];
    let rank = 0;
    for (let c = 0; c < numClasses; c++) {
      const v = scores[row + c];
      if (v > s || (v === s && c < y) || (Number.isNaN(s) && c !== y)) rank++;
    }
    out.count++;
    if (rank < 1) out.top1++;
    if (rank < k5) out.top5++;
  }
  return out;
}

/**
 * Top-1 and top-5 accuracy (fractions) of `scores` against `labels`.
 *
 * @example
 * ```ts
 * const { top1, top5 } = topKAccuracy(scores, 10, labels);
 * ```
 */
export function topKAccuracy(
  scores: Float32Array,
  numClasses: number,
  labels: Int32Array,
): { top1: number; top5: number; count: number } {
  const c = topKCounts(scores, numClasses, labels);
  if (c.count === 0) throw new RangeError("no labelled rows to score");
  return { top1: c.top1 / c.count, top5: c.top5 / c.count, count: c.count };
}
