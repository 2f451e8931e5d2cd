/**
 * "Did you mean" suggestions for misspelled keys and values.
 *
 * @module
 */
import { distance } from "fastest-levenshtein";

/**
 * The known word closest to `word` when it is close enough to be a likely typo (edit distance at
 * most max(2, a third of the longer word), or one is a prefix of the other), else undefined.
 *
 * @example
 * ```ts
 * closestWord("optimzer", ["optimizer", "seed"]); // "optimizer"
 * closestWord("linear", ["linear-probe", "knn"]); // "linear-probe"
 * ```
 */
export function closestWord(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const candidate of known) {
    const d = distance(lower, candidate.toLowerCase());
    const limit = Math.max(2, Math.floor(Math.max(word.length, candidate.length) / 3));
    const prefix = lower.length >= 3 &&
      (candidate.toLowerCase().startsWith(lower) || lower.startsWith(candidate.toLowerCase()));
    if ((d <= limit || prefix) && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** `; did you mean "x"?` or the empty string. */
export function didYouMean(word: string, known: readonly string[]): string {
  const best = closestWord(word, known);
  return best === undefined ? "" : `; did you mean "${best}"?`;
}
