/**
 * A fixed training workload on the active backend: an encoder, online heads and trainer built
 * from a seed, two input views drawn uniform in [-2, 2] (the range of normalised images) from
 * `Rng(seed, stream, view)`, and labels `i mod classes`. `perf`, `parity` and the measurement
 * helpers run the same steps on it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng.ts";
import {
  type Classifiers,
  createClassifiers,
  createEncoder,
  discardStateUpdates,
  type Encoder,
  type EncoderConfig,
} from "../model/mod.ts";
import { createTrainer, type Trainer, type TrainStepResult } from "./train_step.ts";
import { AMDIM_SCHEDULE } from "./schedule.ts";

/** What {@linkcode createTrainingWorkload} builds from. */
export interface WorkloadOptions {
  /** Images per view. */
  batch: number;
  /** Seed of the weights, the views and the trainer's random streams. */
  seed: number;
  /** Classes of the online heads. */
  classes: number;
  /** Name of the image stream (`perf-images`, `parity-images`). */
  stream: string;
}

/** The workload's model, inputs and steps; {@linkcode TrainingWorkload.dispose} frees all. */
export interface TrainingWorkload {
  readonly encoder: Encoder;
  readonly heads: Classifiers;
  readonly trainer: Trainer;
  /** View 1, [batch, S, S, 3]. */
  readonly x1: tf.Tensor4D;
  /** View 2, [batch, S, S, 3]. */
  readonly x2: tf.Tensor4D;
  readonly labels: Int32Array;
  /** One trainer step on the two views (epoch 0); resolves once its losses are read back. */
  trainStep(): Promise<TrainStepResult>;
  /** One eval-mode forward of view 1; resolves once r1, r5 and r7 are read back. */
  evalStep(): Promise<void>;
  /** Frees the views, the trainer, the heads and the encoder. */
  dispose(): void;
}

/**
 * Builds the workload on the active backend.
 *
 * @example
 * ```ts
 * const w = createTrainingWorkload(NAMED_ENCODERS.tiny, {
 *   batch: 8, seed: 1, classes: 10, stream: "perf-images",
 * });
 * await w.trainStep();
 * w.dispose();
 * ```
 */
export function createTrainingWorkload(
  cfg: EncoderConfig,
  opts: WorkloadOptions,
): TrainingWorkload {
  const { batch, seed, classes, stream } = opts;
  const s = cfg.inputSize;
  const shape: [number, number, number, number] = [batch, s, s, 3];
  const view = (v: number) =>
    new Rng(seed, stream, v).fillUniform(new Float32Array(batch * s * s * 3), -2, 2);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % classes);
  const encoder = createEncoder(cfg, seed);
  const heads = createClassifiers({ nIn: cfg.nRkhs, nClasses: classes, seed });
  const trainer = createTrainer({ encoder, heads, seed, schedule: AMDIM_SCHEDULE });
  const x1 = tf.tensor4d(view(1), shape);
  const x2 = tf.tensor4d(view(2), shape);
  return {
    encoder,
    heads,
    trainer,
    x1,
    x2,
    labels,
    trainStep: () => trainer.trainStep({ x1, x2, labels, epoch: 0 }),
    evalStep: async () => {
      const { outputs, stateUpdates } = encoder.apply(x1, { training: false });
      try {
        await Promise.all([outputs.r1.data(), outputs.r5.data(), outputs.r7.data()]);
      } finally {
        tf.dispose([outputs.r1, outputs.r5, outputs.r7]);
        discardStateUpdates(stateUpdates);
      }
    },
    dispose: () => {
      tf.dispose([x1, x2]);
      trainer.dispose();
      heads.dispose();
      encoder.dispose();
    },
  };
}
