/**
 * The named variables of a model part (encoder, classifier heads): created once from initial
 * values, looked up by name, disposed together.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";
import type { NamedVariable } from "./types.ts";

/** Trainable parameters and non-trainable state of one model part, by name. */
export interface VariableStore {
  /** Trainable variables, in creation order. */
  readonly params: NamedVariable[];
  /** Non-trainable variables (BatchNorm running statistics), in creation order. */
  readonly state: NamedVariable[];
  /** Creates a variable in `list` (this store's `params` or `state`) from float32 values. */
  add(list: NamedVariable[], name: string, values: Float32Array, shape: number[]): void;
  /** The variable called `name`; an unknown name is `BenchError("unknown_variable")`. */
  get(name: string): tf.Variable;
  /** Disposes every variable of the store (later calls do nothing). */
  disposeAll(): void;
  /** Whether {@linkcode VariableStore.disposeAll} has run. */
  readonly disposed: boolean;
}

/**
 * An empty store. `owner` names the model part in errors, e.g. `"encoder has"`.
 *
 * @example
 * ```ts
 * const store = createVariableStore("encoder has", "encoder");
 * store.add(store.params, "stem.conv.bias", new Float32Array(8), [8]);
 * store.get("stem.conv.bias");
 * ```
 */
export function createVariableStore(owner: string, listedIn: string): VariableStore {
  const params: NamedVariable[] = [];
  const state: NamedVariable[] = [];
  const byName = new Map<string, tf.Variable>();
  let disposed = false;
  return {
    params,
    state,
    add(list, name, values, shape) {
      const initial = tf.tensor(values, shape, "float32");
      const variable = tf.variable(initial, list === params);
      initial.dispose();
      list.push({ name, variable });
      byName.set(name, variable);
    },
    get(name) {
      const v = byName.get(name);
      if (v === undefined) {
        throw new BenchError("unknown_variable", `${owner} no variable "${name}"`, {
          location: name,
          hint: `names are listed in ${listedIn}.params and ${listedIn}.state`,
        });
      }
      return v;
    },
    disposeAll() {
      if (disposed) return;
      disposed = true;
      for (const v of byName.values()) v.dispose();
    },
    get disposed() {
      return disposed;
    },
  };
}
