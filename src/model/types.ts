/**
 * Types shared by the encoder and the classifier heads: named variables and BatchNorm
 * running-statistics updates.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";

/** A variable with its stable name (e.g. `block2.unit0.conv_a.weight`). */
export interface NamedVariable {
  /** Stable, unique name; used for checkpoints and exports. */
  name: string;
  variable: tf.Variable;
}

/**
 * A pending assignment of a BatchNorm running statistic, produced by a training-mode forward.
 * `value` is kept out of any enclosing `tf.tidy`/`tf.variableGrads` scope (via `tf.keep`), so the
 * caller owns it: assign it after the gradient step (see {@linkcode applyStateUpdates}) or dispose
 * it.
 */
export interface StateUpdate {
  /** Name of the state variable, e.g. `final.bn.running_mean`. */
  name: string;
  variable: tf.Variable;
  value: tf.Tensor;
}

/**
 * Assigns every update's value to its variable, then disposes the values.
 *
 * @example
 * ```ts
 * const { outputs, stateUpdates } = encoder.apply(x, { training: true });
 * // ... gradient step ...
 * applyStateUpdates(stateUpdates);
 * ```
 */
export function applyStateUpdates(updates: readonly StateUpdate[]): void {
  for (const u of updates) {
    u.variable.assign(u.value);
    u.value.dispose();
  }
}

/**
 * Disposes the values of updates that will not be applied (e.g. a forward used only to measure).
 *
 * @example
 * ```ts
 * discardStateUpdates(encoder.apply(x, { training: true }).stateUpdates);
 * ```
 */
export function discardStateUpdates(updates: readonly StateUpdate[]): void {
  for (const u of updates) u.value.dispose();
}
