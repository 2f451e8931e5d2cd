/**
 * Fixtures for the ONNX tests: encoders whose every weight and running statistic is non-trivial
 * (so a transposed filter or a skipped BatchNorm cannot go unnoticed), and hand-made ONNX models
 * with chosen inputs and outputs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { EncoderConfig } from "../../src/model/config.ts";
import { createEncoder, type Encoder } from "../../src/model/encoder.ts";
import { encoderPlan } from "../../src/model/plan.ts";
import type { WeightLookup } from "../../src/onnx/export_encoder.ts";
import { type OnnxElementType, OnnxGraphBuilder } from "../../src/onnx/onnx_graph.ts";
import { Rng } from "../../src/util/rng.ts";

/**
 * An encoder with seeded weights: every parameter gets U(−0.05, 0.05) added (so zero-initialised
 * convs are non-zero), BatchNorm weights lie in [0.8, 1.2], running means in ±0.1 and running
 * variances in [0.5, 1.5].
 */
export function perturbedEncoder(config: EncoderConfig, seed: number): Encoder {
  const enc = createEncoder(config, seed);
  for (const { name, variable } of [...enc.params, ...enc.state]) {
    const rng = new Rng(seed, "test-perturb", name);
    const cur = variable.dataSync() as Float32Array;
    const next = new Float32Array(cur.length);
    for (let i = 0; i < cur.length; i++) {
      if (name.endsWith("running_var")) next[i] = rng.uniform(0.5, 1.5);
      else if (name.endsWith("running_mean")) next[i] = rng.uniform(-0.1, 0.1);
      else if (/\.bn(_out|_hid)?\.weight$/.test(name)) next[i] = rng.uniform(0.8, 1.2);
      else next[i] = cur[i] + rng.uniform(-0.05, 0.05);
    }
    tf.tidy(() => variable.assign(tf.tensor(next, variable.shape)));
  }
  return enc;
}

/** A one-node ONNX model (`Identity` or `Flatten`) with the given input declaration. */
export function handMadeModel(opts: {
  inputName?: string;
  inputType?: OnnxElementType;
  inputShape: (number | string)[];
  /** Declare an output (default true). */
  withOutput?: boolean;
  /** Extra inputs (to test the single-input rule). */
  extraInputs?: string[];
}): Uint8Array {
  const g = new OnnxGraphBuilder("hand_made");
  const name = opts.inputName ?? "x";
  const type = opts.inputType ?? "float32";
  g.input({ name, elementType: type, shape: opts.inputShape });
  for (const extra of opts.extraInputs ?? []) {
    g.input({ name: extra, elementType: "float32", shape: opts.inputShape });
  }
  g.node("Flatten", [name], ["features"]);
  if (opts.withOutput ?? true) {
    g.output({ name: "features", elementType: type, shape: null });
  }
  return g.encode();
}

/** Constant weights of the right shapes for every tensor of a config's plan (for loading tests). */
export function constantWeights(config: EncoderConfig, value = 0.01): WeightLookup {
  const byName = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, shape: number[], v: number) =>
    byName.set(name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v) });
  for (const l of encoderPlan(config).layers) {
    if (l.kind === "conv") {
      put(`${l.name}.weight`, [l.kernel, l.kernel, l.inChannels, l.outChannels], value);
      if (l.bias) put(`${l.name}.bias`, [l.outChannels], value);
    } else if (l.kind === "batchnorm" && l.active) {
      for (const p of ["weight", "running_var"]) put(`${l.name}.${p}`, [l.outChannels], 1);
      for (const p of ["bias", "running_mean"]) put(`${l.name}.${p}`, [l.outChannels], 0);
    }
  }
  return (name) => byName.get(name);
}
