/**
 * The AMDIM encoder in TensorFlow.js, built by walking its {@linkcode encoderPlan}: NHWC tensors,
 * conv filters `[kh, kw, cin, cout]`, one `tf.Variable` per named parameter.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";
import { batchNorm, type BatchNormVariables } from "./batch_norm.ts";
import { convBiasRelu } from "./fused_ops.ts";
import type { EncoderConfig } from "./config.ts";
import { fanInBound, nearIdentityInit, uniformInit } from "./init.ts";
import { type EncoderPlan, encoderPlan, type PlanLayer, type PlanModule } from "./plan.ts";
import type { NamedVariable, StateUpdate } from "./types.ts";
import { createVariableStore } from "./variable_store.ts";

/** The three AMDIM feature maps, all `nRkhs` channels. */
export interface EncoderOutputs {
  /** Global feature `[B, nRkhs]`: the raw output of the final BatchNorm. */
  r1: tf.Tensor2D;
  /** Local features `[B, 5, 5, nRkhs]` (FakeRKHS head on the last 5×5 trunk output). */
  r5: tf.Tensor4D;
  /** Local features `[B, 7, 7, nRkhs]` (FakeRKHS head on the last 7×7 trunk output). */
  r7: tf.Tensor4D;
}

/** Options of {@linkcode Encoder.apply}. */
export interface EncoderApplyOptions {
  /** Training mode: BatchNorms use batch statistics and return running-stat updates. */
  training: boolean;
  /** Also return the output of every trunk module, keyed by module name (for inspection). */
  activations?: boolean;
}

/** What {@linkcode Encoder.apply} returns. */
export interface EncoderApplyResult {
  outputs: EncoderOutputs;
  /** Running-statistics updates (training mode only; empty in eval mode). The caller owns them. */
  stateUpdates: StateUpdate[];
  /** Trunk module outputs by module name (only with `activations: true`). */
  activations?: Record<string, tf.Tensor4D>;
}

/** An AMDIM encoder instance. */
export interface Encoder {
  readonly config: EncoderConfig;
  readonly plan: EncoderPlan;
  readonly seed: number;
  /** Trainable parameters, in plan order. */
  readonly params: NamedVariable[];
  /** BatchNorm running statistics (`*.running_mean`, `*.running_var`), in plan order. */
  readonly state: NamedVariable[];
  /** Looks a parameter or state variable up by name (a `BenchError` if unknown). */
  variable(name: string): tf.Variable;
  /**
   * Forward pass of a `[B, S, S, 3]` float32 batch (S = `config.inputSize`). Intermediate tensors
   * are freed; the outputs (and activations) belong to the caller, or to an enclosing tidy.
   * Training-mode BatchNorm state is never assigned here: it comes back in `stateUpdates`.
   */
  apply(x: tf.Tensor4D, options: EncoderApplyOptions): EncoderApplyResult;
  /** Disposes all variables. */
  dispose(): void;
}

/**
 * Creates an encoder with freshly initialised variables. Every random draw of a parameter `p`
 * comes from `new Rng(seed, "init", p)`:
 * - stem convs: PyTorch default, weight and bias U(±1/√fan_in);
 * - residual and FakeRKHS `conv_a`: kaiming_uniform(a=√5) = U(±1/√fan_in), no bias;
 * - residual and FakeRKHS `conv_b`: zero;
 * - FakeRKHS `shortcut`: U(−0.01, 0.01) with ones on the diagonal when nRkhs ≥ C (else the
 *   default), bias U(±1/√C);
 * - BatchNorm: weight 1, bias 0, running mean 0, running variance 1.
 *
 * @example
 * ```ts
 * const enc = createEncoder(NAMED_ENCODERS.tiny, 1);
 * const { outputs, stateUpdates } = enc.apply(tf.zeros([8, 32, 32, 3]), { training: true });
 * ```
 */
export function createEncoder(config: EncoderConfig, seed: number): Encoder {
  const plan = encoderPlan(config);
  if (!Number.isSafeInteger(seed)) {
    throw new BenchError("encoder_seed_invalid", `seed must be a safe integer, got ${seed}`, {
      location: "seed",
      hint: "pass an integer seed",
    });
  }
  const store = createVariableStore("encoder has", "encoder");
  const { params, state, add } = store;
  try {
    for (const l of plan.layers) createLayerVariables(l, seed, params, state, add);
  } catch (e) {
    store.disposeAll();
    throw e;
  }

  const get = store.get;
  const bnVars = (l: PlanLayer): BatchNormVariables => ({
    name: l.name,
    weight: get(`${l.name}.weight`),
    bias: get(`${l.name}.bias`),
    runningMean: get(`${l.name}.running_mean`),
    runningVar: get(`${l.name}.running_var`),
  });
  /**
   * The layer's convolution (after its reflection padding), bias, then `add` (a residual of the
   * output's shape) when given, and ReLU when `relu`.
   */
  const convLayer = (
    l: PlanLayer,
    x: tf.Tensor4D,
    relu = false,
    add?: tf.Tensor4D,
  ): tf.Tensor4D => {
    let h = x;
    if (l.padding > 0) {
      const p = l.padding;
      h = tf.mirrorPad(h, [[0, 0], [p, p], [p, p], [0, 0]], "reflect");
    }
    const w = get(`${l.name}.weight`) as tf.Tensor4D;
    const bias = l.bias ? get(`${l.name}.bias`) as tf.Tensor1D : undefined;
    return convBiasRelu(h, w, { stride: l.stride, bias, add, relu });
  };

  const runModule = (
    m: PlanModule,
    x: tf.Tensor4D,
    training: boolean,
    updates: StateUpdate[],
  ): tf.Tensor4D => {
    const find = (suffix: string) => m.layers.find((l) => l.name === `${m.name}.${suffix}`)!;
    switch (m.kind) {
      case "stem_conv":
        return convLayer(m.layers[0], x, true);
      case "batchnorm": {
        const l = m.layers[0];
        return l.active ? batchNorm(x, bnVars(l), training, updates) : x;
      }
      case "res_unit": {
        const bn = find("bn");
        let h = convLayer(find("conv_a"), x, !bn.active);
        if (bn.active) h = tf.relu(batchNorm(h, bnVars(bn), training, updates));
        let s = x;
        if (m.kernel !== 1 || m.stride !== 1) {
          s = tf.avgPool(x, m.kernel, m.stride, "valid");
        }
        if (m.outChannels > m.inChannels) {
          s = tf.pad(s, [[0, 0], [0, 0], [0, 0], [0, m.outChannels - m.inChannels]]);
        }
        return convLayer(find("conv_b"), h, false, s);
      }
      case "rkhs_head": {
        const bnHid = find("bn_hid");
        let h = convLayer(find("conv_a"), x, !bnHid.active);
        if (bnHid.active) h = tf.relu(batchNorm(h, bnVars(bnHid), training, updates));
        h = convLayer(find("conv_b"), h, false, convLayer(find("shortcut"), x));
        return batchNorm(h, bnVars(find("bn_out")), training, updates);
      }
    }
  };

  const apply = (x: tf.Tensor4D, options: EncoderApplyOptions): EncoderApplyResult => {
    if (store.disposed) {
      throw new BenchError("encoder_disposed", "apply() on a disposed encoder", {
        hint: "create a new encoder",
      });
    }
    checkInput(x, plan.config.inputSize);
    const training = options.training;
    const updates: StateUpdate[] = [];
    try {
      const result = tf.tidy(() => {
        const keep: Record<string, tf.Tensor4D> = {};
        const taps = new Set([
          plan.outputs.r1.source,
          plan.outputs.r5.source,
          plan.outputs.r7.source,
        ]);
        const tapped = new Map<string, tf.Tensor4D>();
        let h = x;
        for (const m of plan.trunk) {
          h = runModule(m, h, training, updates);
          if (taps.has(m.name)) tapped.set(m.name, h);
          if (options.activations) keep[`act:${m.name}`] = h;
        }
        const o = plan.outputs;
        const r1 = tf.reshape(tapped.get(o.r1.source)!, [x.shape[0], o.r1.channels]) as tf.Tensor2D;
        const r5 = runModule(plan.heads.r5, tapped.get(o.r5.source)!, training, updates);
        const r7 = runModule(plan.heads.r7, tapped.get(o.r7.source)!, training, updates);
        return { ...keep, "out:r1": r1, "out:r5": r5, "out:r7": r7 } as Record<string, tf.Tensor>;
      });
      const outputs: EncoderOutputs = {
        r1: result["out:r1"] as tf.Tensor2D,
        r5: result["out:r5"] as tf.Tensor4D,
        r7: result["out:r7"] as tf.Tensor4D,
      };
      const out: EncoderApplyResult = { outputs, stateUpdates: updates };
      if (options.activations) {
        out.activations = {};
        for (const [k, t] of Object.entries(result)) {
          if (k.startsWith("act:")) out.activations[k.slice(4)] = t as tf.Tensor4D;
        }
      }
      return out;
    } catch (e) {
      for (const u of updates) u.value.dispose();
      throw e;
    }
  };

  return {
    config: plan.config,
    plan,
    seed,
    params,
    state,
    variable: get,
    apply,
    dispose: () => store.disposeAll(),
  };
}

function createLayerVariables(
  l: PlanLayer,
  seed: number,
  params: NamedVariable[],
  state: NamedVariable[],
  add: (list: NamedVariable[], name: string, values: Float32Array, shape: number[]) => void,
): void {
  if (l.kind === "conv") {
    const shape = [l.kernel, l.kernel, l.inChannels, l.outChannels];
    const size = shape[0] * shape[1] * shape[2] * shape[3];
    const fanIn = l.kernel * l.kernel * l.inChannels;
    const wName = `${l.name}.weight`;
    let w: Float32Array;
    switch (l.init) {
      case "torch-default":
      case "kaiming-uniform":
        w = uniformInit(seed, wName, size, fanInBound(fanIn));
        break;
      case "zero":
        w = new Float32Array(size);
        break;
      case "near-identity":
        w = nearIdentityInit(seed, wName, l.inChannels, l.outChannels);
        break;
      default:
        throw new Error(`conv ${l.name}: unexpected init ${l.init}`);
    }
    add(params, wName, w, shape);
    if (l.bias) {
      const bName = `${l.name}.bias`;
      add(params, bName, uniformInit(seed, bName, l.outChannels, fanInBound(fanIn)), [
        l.outChannels,
      ]);
    }
  } else if (l.kind === "batchnorm" && l.active) {
    const c = l.outChannels;
    add(params, `${l.name}.weight`, new Float32Array(c).fill(1), [c]);
    add(params, `${l.name}.bias`, new Float32Array(c), [c]);
    add(state, `${l.name}.running_mean`, new Float32Array(c), [c]);
    add(state, `${l.name}.running_var`, new Float32Array(c).fill(1), [c]);
  }
}

function checkInput(x: tf.Tensor, size: number): void {
  const ok = x.rank === 4 && x.shape[1] === size && x.shape[2] === size && x.shape[3] === 3 &&
    x.dtype === "float32" && x.shape[0] >= 1;
  if (!ok) {
    throw new BenchError(
      "encoder_input_invalid",
      `expected a float32 [B, ${size}, ${size}, 3] batch, got ${x.dtype} [${x.shape.join(", ")}]`,
      { location: "encoder.apply(x)", hint: `resize or crop the views to ${size}x${size} RGB` },
    );
  }
}
