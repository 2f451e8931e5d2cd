/**
 * The online evaluation heads of AMDIM: a linear classifier and an MLP classifier on the
 * (detached) global feature r1.
 *
 * - linear: Dropout(0) → Linear(nIn → nClasses, bias);
 * - mlp: Dropout(0.2) → Linear(nIn → 1024, no bias) → BatchNorm1d(1024) → ReLU → Dropout(0.2)
 *   → Linear(1024 → nClasses, bias).
 *
 * Linear layers use PyTorch's default init, weight and bias U(±1/√fan_in), drawn from
 * `new Rng(seed, "init", name)`; BatchNorm weight 1, bias 0. Dropout masks come from the `rng`
 * the caller passes to `apply`, so training is bit-reproducible.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import { batchNorm, type BatchNormVariables } from "./batch_norm.ts";
import { fanInBound, uniformInit } from "./init.ts";
import type { NamedVariable, StateUpdate } from "./types.ts";
import { createVariableStore } from "./variable_store.ts";

/** Hidden width of the MLP head. */
export const MLP_HIDDEN = 1024;
/** Dropout rate of the MLP head (before each Linear). */
export const MLP_DROPOUT = 0.2;

/** Options of {@linkcode createClassifiers}. */
export interface ClassifierOptions {
  /** Feature dimension (the encoder's nRkhs). */
  nIn: number;
  nClasses: number;
  seed: number;
  /** MLP hidden width (default 1024). */
  hidden?: number;
  /** MLP dropout rate (default 0.2). */
  dropout?: number;
}

/** Options of {@linkcode Classifiers.apply}. */
export interface ClassifierApplyOptions {
  training: boolean;
  /** Source of the dropout masks; required in training mode, e.g. `new Rng(seed, "dropout", step)`. */
  rng?: Rng;
}

/** Logits of both heads, `[B, nClasses]`. */
export interface ClassifierOutputs {
  linear: tf.Tensor2D;
  mlp: tf.Tensor2D;
}

/** What {@linkcode Classifiers.apply} returns. */
export interface ClassifierApplyResult {
  outputs: ClassifierOutputs;
  /** Running-statistics updates of the MLP BatchNorm (training mode only); the caller owns them. */
  stateUpdates: StateUpdate[];
}

/** The pair of online heads. */
export interface Classifiers {
  readonly nIn: number;
  readonly nClasses: number;
  readonly hidden: number;
  readonly dropout: number;
  readonly seed: number;
  /** Trainable parameters: `linear.fc.weight`, `linear.fc.bias`, `mlp.fc1.weight`, `mlp.bn.weight`, ... */
  readonly params: NamedVariable[];
  /** `mlp.bn.running_mean`, `mlp.bn.running_var`. */
  readonly state: NamedVariable[];
  /** Looks a variable up by name (a `BenchError` if unknown). */
  variable(name: string): tf.Variable;
  /** Both heads on `[B, nIn]` features. Pass detached features: gradients flow into whatever produced them. */
  apply(features: tf.Tensor2D, options: ClassifierApplyOptions): ClassifierApplyResult;
  dispose(): void;
}

/**
 * Creates the linear and MLP heads.
 *
 * @example
 * ```ts
 * const heads = createClassifiers({ nIn: 256, nClasses: 10, seed: 1 });
 * const { outputs, stateUpdates } = heads.apply(r1, { training: true, rng: new Rng(1, "dropout", step) });
 * ```
 */
export function createClassifiers(options: ClassifierOptions): Classifiers {
  const { nIn, nClasses, seed } = options;
  const hidden = options.hidden ?? MLP_HIDDEN;
  const dropout = options.dropout ?? MLP_DROPOUT;
  const check = (key: string, ok: boolean, got: unknown, hint: string) => {
    if (!ok) {
      throw new BenchError("classifier_config_invalid", `invalid ${key}: ${got}`, {
        location: `classifiers.${key}`,
        hint,
      });
    }
  };
  check("nIn", Number.isInteger(nIn) && nIn >= 1, nIn, "the encoder's nRkhs");
  check("nClasses", Number.isInteger(nClasses) && nClasses >= 1, nClasses, "number of labels");
  check("hidden", Number.isInteger(hidden) && hidden >= 1, hidden, "default 1024");
  check("dropout", dropout >= 0 && dropout < 1, dropout, "a rate in [0, 1)");
  check("seed", Number.isSafeInteger(seed), seed, "an integer seed");

  const store = createVariableStore("classifiers have", "classifiers");
  const { params, state, add } = store;
  const dense = (name: string, nI: number, nO: number, bias: boolean) => {
    const b = fanInBound(nI);
    add(params, `${name}.weight`, uniformInit(seed, `${name}.weight`, nI * nO, b), [nI, nO]);
    if (bias) add(params, `${name}.bias`, uniformInit(seed, `${name}.bias`, nO, b), [nO]);
  };
  dense("linear.fc", nIn, nClasses, true);
  dense("mlp.fc1", nIn, hidden, false);
  add(params, "mlp.bn.weight", new Float32Array(hidden).fill(1), [hidden]);
  add(params, "mlp.bn.bias", new Float32Array(hidden), [hidden]);
  add(state, "mlp.bn.running_mean", new Float32Array(hidden), [hidden]);
  add(state, "mlp.bn.running_var", new Float32Array(hidden).fill(1), [hidden]);
  dense("mlp.fc2", hidden, nClasses, true);

  const get = store.get;
  const bn: BatchNormVariables = {
    name: "mlp.bn",
    weight: get("mlp.bn.weight"),
    bias: get("mlp.bn.bias"),
    runningMean: get("mlp.bn.running_mean"),
    runningVar: get("mlp.bn.running_var"),
  };

  const apply = (features: tf.Tensor2D, opts: ClassifierApplyOptions): ClassifierApplyResult => {
    if (store.disposed) {
      throw new BenchError("classifiers_disposed", "apply() on disposed classifiers", {
        hint: "create new classifiers",
      });
    }
    if (features.rank !== 2 || features.shape[1] !== nIn || features.dtype !== "float32") {
      throw new BenchError(
        "classifier_input_invalid",
        `expected float32 [B, ${nIn}] features, got ${features.dtype} [${
          features.shape.join(", ")
        }]`,
        { location: "classifiers.apply(features)", hint: "pass the encoder's r1 output" },
      );
    }
    const { training, rng } = opts;
    if (training && dropout > 0 && rng === undefined) {
      throw new BenchError(
        "dropout_rng_missing",
        "training-mode apply needs an rng for dropout masks",
        {
          location: "classifiers.apply(options.rng)",
          hint: 'pass e.g. new Rng(seed, "dropout", step)',
        },
      );
    }
    const updates: StateUpdate[] = [];
    try {
      const [linear, mlp] = tf.tidy(() => {
        const drop = (x: tf.Tensor2D, which: string): tf.Tensor2D =>
          training && dropout > 0
            ? tf.mul(x, dropoutMask(rng!.fork("mlp", which), x.shape, dropout))
            : x;
        const lin = tf.add(
          tf.matMul(features, get("linear.fc.weight") as tf.Tensor2D),
          get("linear.fc.bias"),
        );
        const z = tf.matMul(drop(features, "dropout0"), get("mlp.fc1.weight") as tf.Tensor2D);
        const h = tf.relu(batchNorm(z, bn, training, updates)) as tf.Tensor2D;
        const out = tf.add(
          tf.matMul(drop(h, "dropout1"), get("mlp.fc2.weight") as tf.Tensor2D),
          get("mlp.fc2.bias"),
        );
        return [lin as tf.Tensor2D, out as tf.Tensor2D];
      });
      return { outputs: { linear, mlp }, stateUpdates: updates };
    } catch (e) {
      for (const u of updates) u.value.dispose();
      throw e;
    }
  };

  return {
    nIn,
    nClasses,
    hidden,
    dropout,
    seed,
    params,
    state,
    variable: get,
    apply,
    dispose: () => store.disposeAll(),
  };
}

/**
 * An inverted-dropout mask: each entry is 0 with probability `p`, else 1/(1−p); entry i keeps iff
 * the i-th 32-bit draw of `rng` is ≥ p·2³² (row-major order).
 *
 * @example
 * ```ts
 * const mask = dropoutMask(new Rng(1, "dropout", 0), [4, 16], 0.2);
 * ```
 */
export function dropoutMask(rng: Rng, shape: [number, number], p: number): tf.Tensor2D {
  const n = shape[0] * shape[1];
  const data = new Float32Array(n);
  const threshold = Math.round(p * 4294967296);
  const keep = 1 / (1 - p);
  for (let i = 0; i < n; i++) data[i] = rng.nextU32() >= threshold ? keep : 0;
  return tf.tensor2d(data, shape);
}
