/**
 * Adam with classic L2 weight decay, the update of `torch.optim.Adam(params, lr, betas, eps,
 * weight_decay)` (not AdamW): per parameter p with gradient g, at step t = 1, 2, ...
 *
 * ```
 * g  = g + weightDecay * p
 * m  = beta1 * m + (1 - beta1) * g
 * v  = beta2 * v + (1 - beta2) * g * g
 * p  = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * ```
 *
 * The bias corrections and the step size are computed in float64 on the host (as PyTorch does
 * with Python floats); the tensor arithmetic is float32. Decay applies to every parameter
 * (AMDIM uses one parameter group). The state (m, v per parameter and the step count) exports to
 * and imports from named tensors for checkpoints.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";
import type { NamedVariable } from "../model/types.ts";

/** `NativeAdamL2` (native backend): returns `[m, v, p]` in the order of the composed update. */
function fusedUpdate(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  beta1: number,
  beta2: number,
  weightDecay: number,
  eps: number,
  stepSize: number,
  bc2Sqrt: number,
): tf.Tensor[] {
  const [next, m1, v1] = tf.engine().runKernel(
    "NativeAdamL2",
    { p, g, m, v },
    { beta1, beta2, weightDecay, eps, stepSize, bc2Sqrt },
  ) as tf.Tensor[];
  return [m1, v1, next];
}

/** A tensor of the optimiser state with its checkpoint name. */
export interface OptimizerTensor {
  /** Name, e.g. `adam.m/stem.conv.weight`. */
  name: string;
  /** The tensor. */
  tensor: tf.Tensor;
}

/** Hyper-parameters of {@linkcode AdamL2}; defaults are AMDIM's (task_self_supervised.py). */
export interface AdamL2Config {
  /** Learning rate (default 2e-4); each step may pass its own (schedule). */
  lr?: number;
  /** (beta1, beta2), default (0.8, 0.999). */
  betas?: readonly [number, number];
  /** Denominator epsilon, default 1e-8. */
  eps?: number;
  /** L2 weight decay added to the gradient, default 1e-5. */
  weightDecay?: number;
}

/** AMDIM's optimiser settings. */
export const AMDIM_ADAM: Required<AdamL2Config> = Object.freeze({
  lr: 2e-4,
  betas: [0.8, 0.999] as const,
  eps: 1e-8,
  weightDecay: 1e-5,
});

/** Name of the step counter in exported state. */
export const ADAM_STEP_NAME = "adam.step";

/**
 * Adam with L2 weight decay over a fixed list of named variables.
 *
 * @example
 * ```ts
 * const opt = new AdamL2(encoder.params, { lr: 2e-4 });
 * const { grads } = tf.variableGrads(() => lossFn(), encoder.params.map((p) => p.variable));
 * opt.applyGradients(encoder.params.map((p) => grads[p.variable.name]), 1e-4);
 * tf.dispose(grads);
 * ```
 */
export class AdamL2 {
  /** The parameters, in a fixed order. */
  readonly params: readonly NamedVariable[];
  /** The hyper-parameters in use. */
  readonly config: Required<AdamL2Config>;
  #m: tf.Tensor[];
  #v: tf.Tensor[];
  #step = 0;

  constructor(params: readonly NamedVariable[], config: AdamL2Config = {}) {
    const names = new Set<string>();
    for (const p of params) {
      if (names.has(p.name)) {
        throw new BenchError("optimizer_params", `duplicate parameter ${p.name}`);
      }
      names.add(p.name);
    }
    this.params = [...params];
    this.config = { ...AMDIM_ADAM, ...config } as Required<AdamL2Config>;
    this.#m = this.params.map((p) => tf.zerosLike(p.variable));
    this.#v = this.params.map((p) => tf.zerosLike(p.variable));
  }

  /** Number of updates applied so far. */
  get step(): number {
    return this.#step;
  }

  /**
   * Applies one update. `grads` is either an array in parameter order or a record keyed by the
   * parameter's name (`NamedVariable.name`) or its tfjs variable name. A missing (undefined)
   * gradient skips that parameter (no decay, moments unchanged), like PyTorch with
   * `p.grad is None`; the step count is shared, so such a parameter's later bias correction uses
   * the global step (PyTorch counts per parameter). The caller keeps ownership of `grads`.
   */
  applyGradients(
    grads: readonly (tf.Tensor | undefined)[] | Readonly<Record<string, tf.Tensor>>,
    lr: number = this.config.lr,
  ): void {
    const list = Array.isArray(grads)
      ? grads as readonly (tf.Tensor | undefined)[]
      : this.params.map((p) => {
        const rec = grads as Readonly<Record<string, tf.Tensor>>;
        return rec[p.name] ?? rec[p.variable.name];
      });
    if (list.length !== this.params.length) {
      throw new BenchError(
        "optimizer_grads",
        `${list.length} gradients for ${this.params.length} parameters`,
      );
    }
    const t = this.#step + 1;
    const [b1, b2] = this.config.betas;
    const wd = this.config.weightDecay;
    const stepSize = lr / (1 - Math.pow(b1, t));
    const bc2Sqrt = Math.sqrt(1 - Math.pow(b2, t));
    const eps = this.config.eps;
    // On the native backend one fused kernel does the whole update of a parameter, bit-identical
    // to the composed ops below (see src/backend/native/adam_kernel.ts).
    const native = tf.getBackend() === "native" && !!tf.getKernel("NativeAdamL2", "native");
    for (let i = 0; i < this.params.length; i++) {
      const g0 = list[i];
      if (g0 === undefined) continue;
      const p = this.params[i].variable;
      if (!tf.util.arraysEqual(g0.shape, p.shape)) {
        throw new BenchError(
          "optimizer_grads",
          `gradient of ${this.params[i].name} has shape [${g0.shape}], expected [${p.shape}]`,
        );
      }
      const fused = native && p.dtype === "float32" && g0.dtype === "float32";
      const [m, v, next] = fused
        ? fusedUpdate(p, g0, this.#m[i], this.#v[i], b1, b2, wd, eps, stepSize, bc2Sqrt)
        : tf.tidy(() => {
          const g = wd !== 0 ? tf.add(g0, tf.mul(p, wd)) : g0;
          const m = tf.add(tf.mul(this.#m[i], b1), tf.mul(g, 1 - b1));
          const v = tf.add(tf.mul(this.#v[i], b2), tf.mul(tf.square(g), 1 - b2));
          const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
          const next = tf.sub(p, tf.mul(tf.div(m, denom), stepSize));
          return [m, v, next];
        });
      p.assign(next);
      next.dispose();
      this.#m[i].dispose();
      this.#v[i].dispose();
      this.#m[i] = m;
      this.#v[i] = v;
    }
    this.#step = t;
  }

  /**
   * The state as named tensors (copies; the caller disposes them): `adam.m/<param>`,
   * `adam.v/<param>` and the scalar `adam.step`.
   */
  exportState(): OptimizerTensor[] {
    const out: OptimizerTensor[] = [];
    this.params.forEach((p, i) => {
      out.push({ name: `adam.m/${p.name}`, tensor: tf.clone(this.#m[i]) });
      out.push({ name: `adam.v/${p.name}`, tensor: tf.clone(this.#v[i]) });
    });
    out.push({ name: ADAM_STEP_NAME, tensor: tf.scalar(this.#step, "int32") });
    return out;
  }

  /**
   * Restores state written by {@linkcode AdamL2.exportState} (copies the tensors; the caller
   * keeps ownership). Every parameter's moments must be present with the right shape.
   */
  async importState(state: readonly OptimizerTensor[]): Promise<void> {
    const byName = new Map(state.map((s) => [s.name, s.tensor]));
    const stepT = byName.get(ADAM_STEP_NAME);
    if (!stepT || stepT.size !== 1) {
      throw new BenchError("optimizer_state", `missing ${ADAM_STEP_NAME}`, {
        location: ADAM_STEP_NAME,
      });
    }
    const ms: tf.Tensor[] = [], vs: tf.Tensor[] = [];
    for (const p of this.params) {
      for (const [kind, into] of [["m", ms], ["v", vs]] as const) {
        const name = `adam.${kind}/${p.name}`;
        const t = byName.get(name);
        if (!t || !tf.util.arraysEqual(t.shape, p.variable.shape)) {
          tf.dispose([...ms, ...vs]);
          throw new BenchError(
            "optimizer_state",
            t ? `shape [${t.shape}] does not match parameter [${p.variable.shape}]` : "missing",
            { location: name },
          );
        }
        into.push(tf.cast(t, "float32"));
      }
    }
    tf.dispose([...this.#m, ...this.#v]);
    this.#m = ms;
    this.#v = vs;
    this.#step = (await stepT.data())[0];
  }

  /** Frees the moment tensors. */
  dispose(): void {
    tf.dispose([...this.#m, ...this.#v]);
    this.#m = [];
    this.#v = [];
  }
}
