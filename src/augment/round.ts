/**
 * Python's `round()` for floats: round half to even (banker's rounding), which torchvision uses
 * for crop sizes and centre-crop offsets. JavaScript's `Math.round` rounds half up instead.
 *
 * @module
 */

/**
 * Rounds to the nearest integer, ties to even (Python 3 `round(x)`).
 *
 * @example
 * ```ts
 * roundHalfEven(14.5); // 14
 * roundHalfEven(13.5); // 14
 * ```
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}
