/**
 * Small statistics for the gate: mean, sample standard deviation and the one-sided Welch t-test.
 * The Student t CDF comes from `jstat` (one dependency-free file, long used for this).
 *
 * @module
 */
import jStatModule from "jstat";

// deno-lint-ignore no-explicit-any
const jStat: any = (jStatModule as any).jStat ?? jStatModule;

/** Mean of a non-empty sample. */
export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample variance (n - 1 in the denominator); 0 for a single value. */
export function sampleVariance(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
}

/**
 * Student t cumulative distribution function P(T <= t) with `df` degrees of freedom.
 *
 * @example
 * ```ts
 * studentTCdf(0, 5); // 0.5
 * ```
 */
export function studentTCdf(t: number, df: number): number {
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  return jStat.studentt.cdf(t, df);
}

/** Result of {@linkcode welchLess}. */
export interface WelchResult {
  /** t statistic of mean(candidate) - mean(baseline). */
  t: number;
  /** Welch-Satterthwaite degrees of freedom. */
  df: number;
  /** One-sided p-value for H1: the candidate mean is lower than the baseline mean. */
  p: number;
}

/**
 * One-sided Welch t-test of "candidate mean < baseline mean" (both samples need >= 2 values).
 * With zero variance on both sides the answer is exact: p = 0 when the candidate is lower, else 1.
 *
 * @example
 * ```ts
 * welchLess([0.80, 0.81, 0.79], [0.70, 0.71, 0.69]).p; // ~1e-5
 * ```
 */
export function welchLess(baseline: readonly number[], candidate: readonly number[]): WelchResult {
  if (baseline.length < 2 || candidate.length < 2) {
    throw new RangeError("the Welch t-test needs at least 2 values on each side");
  }
  const nb = baseline.length;
  const nc = candidate.length;
  const vb = sampleVariance(baseline) / nb;
  const vc = sampleVariance(candidate) / nc;
  const diff = mean(candidate) - mean(baseline);
  const se2 = vb + vc;
  if (se2 === 0) {
    return {
      t: diff < 0 ? -Infinity : diff > 0 ? Infinity : 0,
      df: nb + nc - 2,
      p: diff < 0 ? 0 : 1,
    };
  }
  const t = diff / Math.sqrt(se2);
  const df = se2 * se2 / ((vb * vb) / (nb - 1) + (vc * vc) / (nc - 1));
  return { t, df, p: studentTCdf(t, df) };
}
