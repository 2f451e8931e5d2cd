/**
 * Listing, exporting and loading the named variables of a model (encoder or classifier heads),
 * for checkpoints and exports.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";
import type { NamedVariable } from "./types.ts";

/** Anything with named parameters and state: an `Encoder` or `Classifiers`. */
export interface HasNamedVariables {
  readonly params: readonly NamedVariable[];
  readonly state: readonly NamedVariable[];
}

/** A named variable with its role. */
export interface NamedTensor {
  name: string;
  /** `param`: trainable; `state`: BatchNorm running statistic. */
  kind: "param" | "state";
  variable: tf.Variable;
}

/** A host copy of a named tensor. */
export interface NamedTensorData {
  name: string;
  kind: "param" | "state";
  shape: number[];
  data: Float32Array;
}

/**
 * All parameters then all state, in plan order (stable across runs).
 *
 * @example
 * ```ts
 * for (const t of namedTensors(encoder)) console.log(t.name, t.kind, t.variable.shape);
 * ```
 */
export function namedTensors(model: HasNamedVariables): NamedTensor[] {
  return [
    ...model.params.map((p) => ({ name: p.name, kind: "param" as const, variable: p.variable })),
    ...model.state.map((p) => ({ name: p.name, kind: "state" as const, variable: p.variable })),
  ];
}

/**
 * Copies every named tensor to host memory (a frozen snapshot, independent of later updates).
 *
 * @example
 * ```ts
 * const snapshot = await exportNamedTensors(encoder);
 * ```
 */
export async function exportNamedTensors(model: HasNamedVariables): Promise<NamedTensorData[]> {
  const out: NamedTensorData[] = [];
  for (const t of namedTensors(model)) {
    const data = await t.variable.data();
    out.push({
      name: t.name,
      kind: t.kind,
      shape: [...t.variable.shape],
      data: new Float32Array(data as Float32Array),
    });
  }
  return out;
}

/**
 * Assigns values to a model's variables by name. Every variable must be given exactly once with
 * its exact shape; a missing, unknown, duplicated or mis-shaped entry is a `BenchError`
 * (`checkpoint_mismatch`) and nothing is assigned.
 *
 * @example
 * ```ts
 * loadNamedTensors(encoder, await exportNamedTensors(other), "ckpt-000200");
 * ```
 */
export function loadNamedTensors(
  model: HasNamedVariables,
  entries: readonly { name: string; shape: readonly number[]; data: Float32Array }[],
  location = "checkpoint",
): void {
  const targets = new Map(namedTensors(model).map((t) => [t.name, t]));
  const seen = new Set<string>();
  const fail = (message: string): never => {
    throw new BenchError("checkpoint_mismatch", message, {
      location,
      hint: "the checkpoint was written for a different model configuration",
    });
  };
  for (const e of entries) {
    const t = targets.get(e.name);
    if (t === undefined) fail(`unexpected tensor "${e.name}"`);
    if (seen.has(e.name)) fail(`tensor "${e.name}" given twice`);
    seen.add(e.name);
    const want = t!.variable.shape;
    const size = want.reduce((a, b) => a * b, 1);
    if (
      e.shape.length !== want.length || e.shape.some((d, i) => d !== want[i]) ||
      e.data.length !== size
    ) {
      fail(
        `tensor "${e.name}": shape [${e.shape.join(", ")}] (${e.data.length} values), expected [${
          want.join(", ")
        }]`,
      );
    }
  }
  for (const name of targets.keys()) if (!seen.has(name)) fail(`missing tensor "${name}"`);
  for (const e of entries) {
    const v = targets.get(e.name)!.variable;
    const t = tf.tensor(e.data, v.shape, "float32");
    v.assign(t);
    t.dispose();
  }
}
