/**
 * Compares one backend's {@linkcode ParityProbe} with a reference backend's, quantity by
 * quantity, against tolerances.
 *
 * Deviations (each the worst over the tensors or terms of its quantity):
 * - `features`, `grads`, `trained`: `max |got - ref| / max |ref|` per tensor, so the scale of each
 *   tensor sets its own yardstick; a tensor whose `max |ref|` is under 1e-3 of the quantity's
 *   largest (M) is zero up to rounding (the gradient of a bias in front of a BatchNorm, which
 *   cannot change the output) and is measured against M instead;
 * - `losses`: `|got - ref| / max(1, |ref|)` per term and step (the golden-case rule);
 * - `deltas`: `‖Δgot - Δref‖₂ / ‖Δref‖₂` over all parameters together (the worst named is the
 *   parameter adding most to the numerator). Adam's first steps move every element by about ±lr
 *   whatever its gradient's size, so an element whose gradient is rounding noise (a bias in front
 *   of a BatchNorm) moves either way on two backends; a norm over the whole update tolerates
 *   those few elements and still catches a wrong update.
 *
 * @module
 */
import type { ParityProbe } from "./probe.ts";
import { BenchError } from "../util/errors.ts";

/** The quantities a parity check compares, in report order. */
export const PARITY_QUANTITIES = ["features", "grads", "losses", "deltas", "trained"] as const;

/** One of {@linkcode PARITY_QUANTITIES}. */
export type ParityQuantity = typeof PARITY_QUANTITIES[number];

/** Largest deviation allowed per quantity (see the module doc for each measure). */
export type ParityTolerances = Record<ParityQuantity, number>;

/**
 * Default tolerances: float32 on two backends that sum in different orders. Forward values
 * agree to a few 1e-6 of their scale and gradients to 1e-5 on the backends measured
 * (`docs/backends.md`); the limits leave an order of magnitude on top.
 */
export const DEFAULT_PARITY_TOLERANCES: Readonly<ParityTolerances> = Object.freeze({
  features: 1e-4,
  grads: 1e-3,
  losses: 1e-4,
  deltas: 5e-2,
  trained: 1e-3,
});

/** The verdict on one quantity. */
export interface ParityRow {
  /** What was compared. */
  quantity: ParityQuantity;
  /** The tensor or term that deviates most (e.g. `encoder/c3.conv_a.weight`, `step 2 loss_total`). */
  worst: string;
  /** Its deviation (see the module doc). */
  deviation: number;
  /** The tolerance. */
  limit: number;
  /** `deviation <= limit` (false for NaN). */
  pass: boolean;
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  return m;
}

/** Share of a quantity's largest magnitude under which a tensor is zero up to rounding. */
const ROUNDING_ZERO = 1e-3;

/** `d` is worse than `current`: larger, or NaN where `current` is not (NaN is the worst). */
function isWorse(d: number, current: number): boolean {
  return Number.isNaN(current) ? false : Number.isNaN(d) || d > current;
}

function maxAbsDiff(got: Float32Array, ref: Float32Array): number {
  let d = 0;
  for (let i = 0; i < ref.length; i++) {
    const v = Math.abs(got[i] - ref[i]);
    if (Number.isNaN(v)) return NaN;
    if (v > d) d = v;
  }
  return d;
}

function sumSquaredDiff(got: Float32Array, ref: Float32Array): number {
  let s = 0;
  for (let i = 0; i < ref.length; i++) s += (got[i] - ref[i]) ** 2;
  return s;
}

function checkedPairs(
  quantity: ParityQuantity,
  got: Record<string, Float32Array>,
  ref: Record<string, Float32Array>,
): [string, Float32Array, Float32Array][] {
  return Object.entries(ref).map(([name, r]) => {
    const g = got[name];
    if (!g || g.length !== r.length) {
      throw new BenchError(
        "parity_mismatch",
        `${quantity} ${name}: ${g ? `${g.length} values` : "missing"}, reference has ${r.length}`,
        { location: `${quantity}.${name}` },
      );
    }
    return [name, g, r];
  });
}

function worstScaled(
  quantity: ParityQuantity,
  got: Record<string, Float32Array>,
  ref: Record<string, Float32Array>,
  limit: number,
): ParityRow {
  const pairs = checkedPairs(quantity, got, ref);
  const scales = pairs.map(([, , r]) => maxAbs(r));
  const top = Math.max(0, ...scales);
  let worst = "-", deviation = 0;
  pairs.forEach(([name, g, r], i) => {
    const diff = maxAbsDiff(g, r);
    const scale = scales[i] < ROUNDING_ZERO * top ? top : scales[i];
    const d = diff === 0 ? 0 : diff / Math.max(scale, Number.MIN_VALUE);
    if (isWorse(d, deviation)) {
      deviation = d;
      worst = name;
    }
  });
  return { quantity, worst, deviation, limit, pass: deviation <= limit };
}

function globalRelativeL2(
  quantity: ParityQuantity,
  got: Record<string, Float32Array>,
  ref: Record<string, Float32Array>,
  limit: number,
): ParityRow {
  let num = 0, den = 0, worst = "-", worstPart = 0;
  for (const [name, g, r] of checkedPairs(quantity, got, ref)) {
    const part = sumSquaredDiff(g, r);
    num += part;
    den += sumSquaredDiff(r, new Float32Array(r.length));
    if (isWorse(part, worstPart)) {
      worstPart = part;
      worst = name;
    }
  }
  const deviation = num === 0 ? 0 : Math.sqrt(num) / Math.max(Math.sqrt(den), Number.MIN_VALUE);
  return { quantity, worst, deviation, limit, pass: deviation <= limit };
}

/**
 * Compares `got` with `ref`; one row per quantity, in {@linkcode PARITY_QUANTITIES} order.
 * Probes of different shapes (another config or batch) are a `parity_mismatch` error.
 *
 * @example
 * ```ts
 * const rows = compareProbes(webgpuProbe, cpuProbe);
 * const ok = rows.every((r) => r.pass);
 * ```
 */
export function compareProbes(
  got: ParityProbe,
  ref: ParityProbe,
  tolerances: Readonly<ParityTolerances> = DEFAULT_PARITY_TOLERANCES,
): ParityRow[] {
  if (got.losses.length !== ref.losses.length) {
    throw new BenchError(
      "parity_mismatch",
      `${got.losses.length} trainer steps, reference has ${ref.losses.length}`,
      { location: "losses" },
    );
  }
  let lossWorst = "-", lossDev = 0;
  ref.losses.forEach((terms, step) => {
    for (const [k, r] of Object.entries(terms)) {
      const d = Math.abs((got.losses[step] as Record<string, number>)[k] - r) /
        Math.max(1, Math.abs(r));
      if (isWorse(d, lossDev)) {
        lossDev = d;
        lossWorst = `step ${step + 1} ${k}`;
      }
    }
  });
  return [
    worstScaled("features", got.features, ref.features, tolerances.features),
    worstScaled("grads", got.grads, ref.grads, tolerances.grads),
    {
      quantity: "losses",
      worst: lossWorst,
      deviation: lossDev,
      limit: tolerances.losses,
      pass: lossDev <= tolerances.losses,
    },
    globalRelativeL2("deltas", got.deltas, ref.deltas, tolerances.deltas),
    worstScaled("trained", got.trained, ref.trained, tolerances.trained),
  ];
}
