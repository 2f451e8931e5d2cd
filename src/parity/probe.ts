/**
 * One backend's side of a parity check: the real AMDIM encoder and heads, built from a seed, run
 * on fixed inputs (the `parity-images` stream of `createTrainingWorkload`), with every number a
 * backend could get wrong read back to host arrays.
 *
 * What is recorded (all on the active tfjs backend):
 * - `features`: eval-mode r1, r5 and r7 of the freshly initialised encoder;
 * - `grads`: the gradient of the six-direction NCE objective (training mode, fixed r5 locations)
 *   with respect to every encoder parameter, at initialisation;
 * - `losses`: every loss term of `steps` full trainer steps (encoder, heads, Adam, BatchNorm
 *   running statistics), so a trajectory that drifts shows up in its later steps;
 * - `deltas`: how far each encoder and head parameter moved over those steps;
 * - `trained`: eval-mode r1 after the steps (the updated running statistics included).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng.ts";
import { discardStateUpdates, type Encoder, type EncoderConfig } from "../model/mod.ts";
import { amdimNceLoss, drawLoc5 } from "../loss/mod.ts";
import type { TrainLosses } from "../train/train_step.ts";
import { createTrainingWorkload } from "../train/workload.ts";

/** What {@linkcode probeBackend} is run with; identical on every backend of one check. */
export interface ProbeOptions {
  /** Images per view (at least 2: the NCE needs negatives). */
  batch: number;
  /** Trainer steps for `losses`, `deltas` and `trained`. */
  steps: number;
  /** Seed of the weights, the inputs and the trainer's random streams. */
  seed: number;
  /** Classes of the online heads (labels are `i mod classes`). */
  classes: number;
}

/** One backend's numbers, as host arrays (see the module doc). */
export interface ParityProbe {
  /** Eval-mode outputs of the initial encoder, by name (`r1`, `r5`, `r7`). */
  features: Record<string, Float32Array>;
  /** NCE gradient per encoder parameter name, at initialisation. */
  grads: Record<string, Float32Array>;
  /** Loss terms of each trainer step. */
  losses: TrainLosses[];
  /** Parameter change over the steps, by `encoder/<name>` or `heads/<name>`. */
  deltas: Record<string, Float32Array>;
  /** Eval-mode r1 after the steps. */
  trained: Record<string, Float32Array>;
}

/**
 * Runs the probe on the active backend and returns its numbers; every tensor it makes is freed.
 *
 * @example
 * ```ts
 * await initBackend("cpu");
 * const ref = await probeBackend(NAMED_ENCODERS.tiny, { batch: 4, steps: 2, seed: 1, classes: 10 });
 * ```
 */
export async function probeBackend(
  cfg: EncoderConfig,
  opts: ProbeOptions,
): Promise<ParityProbe> {
  const { batch, steps, seed, classes } = opts;
  const work = createTrainingWorkload(cfg, { batch, seed, classes, stream: "parity-images" });
  const { encoder, x1, x2 } = work;
  try {
    const features = await evalFeatures(encoder, x1, ["r1", "r5", "r7"]);
    const grads = await nceGrads(encoder, x1, x2, seed);
    // every encoder and head parameter, as the optimiser names them (`encoder/…`, `heads/…`)
    const named = work.trainer.optimizer.params;
    const before = await Promise.all(named.map(async (p) => (await p.variable.data()).slice()));
    const losses: TrainLosses[] = [];
    for (let i = 0; i < steps; i++) {
      losses.push((await work.trainStep()).losses);
    }
    const deltas: Record<string, Float32Array> = {};
    const afterAll = await Promise.all(named.map((p) => p.variable.data()));
    named.forEach((p, i) => {
      const after = afterAll[i];
      const d = new Float32Array(after.length);
      for (let j = 0; j < d.length; j++) d[j] = after[j] - before[i][j];
      deltas[p.name] = d;
    });
    const trained = await evalFeatures(encoder, x1, ["r1"]);
    return { features, grads, losses, deltas, trained };
  } finally {
    work.dispose();
  }
}

async function evalFeatures(
  encoder: Encoder,
  x: tf.Tensor4D,
  names: ("r1" | "r5" | "r7")[],
): Promise<Record<string, Float32Array>> {
  const { outputs, stateUpdates } = encoder.apply(x, { training: false });
  try {
    const out: Record<string, Float32Array> = {};
    for (const k of names) out[k] = (await outputs[k].data()).slice() as Float32Array;
    return out;
  } finally {
    tf.dispose([outputs.r1, outputs.r5, outputs.r7]);
    discardStateUpdates(stateUpdates);
  }
}

async function nceGrads(
  encoder: Encoder,
  x1: tf.Tensor4D,
  x2: tf.Tensor4D,
  seed: number,
): Promise<Record<string, Float32Array>> {
  const rng = new Rng(seed, "parity-loc");
  const n = x1.shape[0];
  const loc5V1 = drawLoc5(rng, n), loc5V2 = drawLoc5(rng, n);
  const updates: Parameters<typeof discardStateUpdates>[0][] = [];
  const vars = encoder.params.map((p) => p.variable);
  const { value, grads } = tf.variableGrads(() => {
    const o1 = encoder.apply(x1, { training: true });
    updates.push(o1.stateUpdates);
    const o2 = encoder.apply(x2, { training: true });
    updates.push(o2.stateUpdates);
    return amdimNceLoss(o1.outputs, o2.outputs, { loc5V1, loc5V2 }).total;
  }, vars);
  try {
    const out: Record<string, Float32Array> = {};
    for (const p of encoder.params) {
      out[p.name] = (await grads[p.variable.name].data()).slice() as Float32Array;
    }
    return out;
  } finally {
    value.dispose();
    tf.dispose(grads);
    for (const u of updates) discardStateUpdates(u);
  }
}
