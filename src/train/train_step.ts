/**
 * One AMDIM self-supervised training step (task_self_supervised.py `_train`, one iteration):
 *
 * 1. The encoder runs in training mode on view 1 and, **separately**, on view 2, as the official
 *    `Model.forward` does (`self.encoder(x1)`, then `self.encoder(x2)`): BatchNorm batch
 *    statistics are per view, never over the concatenation of both views.
 * 2. The NCE objective ({@linkcode amdimNceLoss}) with the 5->5 source locations drawn from
 *    `new Rng(seed, "nce-loc", step)` (view 1, then view 2).
 * 3. The online heads (linear + MLP) on the **detached** r1 of both views, concatenated
 *    `[r1(x1); r1(x2)]` with the labels duplicated, with {@linkcode classifierLoss} per head;
 *    dropout masks from `new Rng(seed, "dropout", step)`.
 * 4. One {@linkcode AdamL2} update of encoder and heads on `total + loss_cls_linear +
 *    loss_cls_mlp` (the heads see only their own loss; the encoder sees only the NCE objective)
 *    at `learningRate(schedule, step, epoch)`.
 * 5. BatchNorm running statistics are written after the update. The two encoder calls update the
 *    running statistics one after the other, exactly as two PyTorch forwards would:
 *    `r2 = (1-m) ((1-m) r0 + m b1) + m b2`.
 *
 * `step` is the 0-based index of the update (the optimiser's step count before it), so a trainer
 * restored from a checkpoint continues the same random streams.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Encoder } from "../model/encoder.ts";
import type { Classifiers } from "../model/classifiers.ts";
import { BN_MOMENTUM } from "../model/batch_norm.ts";
import { applyStateUpdates, discardStateUpdates, type StateUpdate } from "../model/types.ts";
import {
  amdimNceLoss,
  DEFAULT_LGT_REG_WEIGHT,
  DEFAULT_TCLIP,
  drawLoc5,
  NCE_COMPONENTS,
  type NceComponentName,
} from "../loss/nce_loss.ts";
import { classifierLoss } from "../loss/classifier_loss.ts";
import { Rng } from "../util/rng.ts";
import { BenchError } from "../util/errors.ts";
import { AdamL2, type AdamL2Config, type OptimizerTensor } from "./optimizer.ts";
import { learningRate, type LrScheduleConfig } from "./schedule.ts";

/** An NHWC float32 batch: a tensor, or host data with its shape. */
export type ImageBatch = tf.Tensor4D | {
  data: Float32Array;
  shape: [number, number, number, number];
};

/** Options of {@linkcode createTrainer}. */
export interface TrainerOptions {
  /** The encoder to train (its variables are updated in place). */
  encoder: Encoder;
  /** Online evaluation heads, trained on detached r1; null/undefined = none. */
  heads?: Classifiers | null;
  /** Seed of the random streams (`nce-loc`, `dropout`). */
  seed: number;
  /** Learning-rate schedule. */
  schedule: LrScheduleConfig;
  /** Adam settings other than the learning rate (which comes from `schedule`). */
  optimizer?: Omit<AdamL2Config, "lr">;
  /** NCE soft clip (default 20). */
  tclip?: number;
  /** NCE logit-regulariser weight (default 0.05). */
  lgtRegWeight?: number;
}

/** One training batch. */
export interface TrainBatch {
  /** View 1, [B, S, S, 3]. */
  x1: ImageBatch;
  /** View 2, [B, S, S, 3]. */
  x2: ImageBatch;
  /** Labels of the B images (-1 = unlabelled); duplicated for the two views. */
  labels: Int32Array;
  /** 0-based epoch of this update (for the schedule). */
  epoch: number;
}

/** Names of the classifier loss terms in {@linkcode TrainStepResult.losses}. */
export const CLASSIFIER_TERMS = ["loss_cls_linear", "loss_cls_mlp"] as const;

/** Every loss term of a step: the NCE components plus the heads' losses (0 without heads). */
export type TrainLosses = Record<NceComponentName | typeof CLASSIFIER_TERMS[number], number>;

/** What one training step reports. */
export interface TrainStepResult {
  /** 0-based index of this update. */
  step: number;
  /** Epoch passed in. */
  epoch: number;
  /** Learning rate used. */
  lr: number;
  /** Every loss term, as numbers (float32 values). */
  losses: TrainLosses;
}

/** A training loop's state: encoder, heads, optimiser and the step function. */
export interface Trainer {
  /** The encoder being trained. */
  readonly encoder: Encoder;
  /** The heads being trained, or null. */
  readonly heads: Classifiers | null;
  /** The optimiser over `encoder/<param>` and `heads/<param>`. */
  readonly optimizer: AdamL2;
  /** Number of updates done = 0-based index of the next one. */
  readonly step: number;
  /** Runs one update (see the module doc). */
  trainStep(batch: TrainBatch): Promise<TrainStepResult>;
  /** Optimiser state as named tensors (copies; the caller disposes them). */
  exportState(): OptimizerTensor[];
  /** Restores optimiser state (and so the step count). */
  importState(state: readonly OptimizerTensor[]): Promise<void>;
  /** Frees the optimiser state (not the encoder or heads). */
  dispose(): void;
}

function toTensor(x: ImageBatch, what: string): { t: tf.Tensor4D; owned: boolean } {
  if (x instanceof tf.Tensor) {
    if (x.rank !== 4 || x.dtype !== "float32") {
      throw new BenchError("train_input", `${what} must be a float32 [B, H, W, C] tensor`);
    }
    return { t: x, owned: false };
  }
  const n = x.shape.reduce((a, b) => a * b, 1);
  if (x.shape.length !== 4 || x.data.length !== n) {
    throw new BenchError("train_input", `${what}: ${x.data.length} values for shape [${x.shape}]`);
  }
  return { t: tf.tensor4d(x.data, x.shape, "float32"), owned: true };
}

/**
 * Composes the running-statistics updates of two sequential training-mode forwards computed from
 * the same starting value r0 (`u = (1-m) r0 + m b`): the result is `u2 + (1-m) (u1 - r0)`, what
 * applying the first forward's update before running the second would give. Disposes the inputs'
 * values; the caller owns the returned values.
 *
 * @example
 * ```ts
 * applyStateUpdates(composeSequentialUpdates(a.stateUpdates, b.stateUpdates));
 * ```
 */
export function composeSequentialUpdates(
  first: readonly StateUpdate[],
  second: readonly StateUpdate[],
  momentum: number = BN_MOMENTUM,
): StateUpdate[] {
  const byName = new Map(first.map((u) => [u.name, u]));
  const out = second.map((u2) => {
    const u1 = byName.get(u2.name);
    if (!u1) return u2;
    byName.delete(u2.name);
    const value = tf.tidy(() =>
      tf.add(u2.value, tf.mul(tf.sub(u1.value, u2.variable), 1 - momentum))
    );
    u1.value.dispose();
    u2.value.dispose();
    return { ...u2, value };
  });
  return [...out, ...byName.values()];
}

/** Detach: identity forward, zero gradient (PyTorch `.detach()`). */
const detach = tf.customGrad(
  ((x: tf.Tensor) => ({
    value: tf.clone(x),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0],
) as (x: tf.Tensor2D) => tf.Tensor2D;

/**
 * Creates a trainer: an {@linkcode AdamL2} over the encoder's and heads' parameters and a
 * `trainStep` doing one AMDIM update.
 *
 * @example
 * ```ts
 * const encoder = createEncoder(NAMED_ENCODERS.tiny, 1);
 * const heads = createClassifiers({ nIn: 256, nClasses: 10, seed: 1 });
 * const trainer = createTrainer({ encoder, heads, seed: 1, schedule: AMDIM_SCHEDULE });
 * const r = await trainer.trainStep({ x1, x2, labels, epoch: 0 });
 * console.log(r.lr, r.losses.total, r.losses.loss_cls_mlp);
 * ```
 */
export function createTrainer(options: TrainerOptions): Trainer {
  const { encoder, seed, schedule } = options;
  const heads = options.heads ?? null;
  const tclip = options.tclip ?? DEFAULT_TCLIP;
  const lgtRegWeight = options.lgtRegWeight ?? DEFAULT_LGT_REG_WEIGHT;
  const named = [
    ...encoder.params.map((p) => ({ name: `encoder/${p.name}`, variable: p.variable })),
    ...(heads?.params ?? []).map((p) => ({ name: `heads/${p.name}`, variable: p.variable })),
  ];
  const optimizer = new AdamL2(named, { ...options.optimizer, lr: schedule.lr });
  const varList = named.map((p) => p.variable);

  const trainStep = async (batch: TrainBatch): Promise<TrainStepResult> => {
    const step = optimizer.step;
    const lr = learningRate(schedule, step, batch.epoch);
    const a = toTensor(batch.x1, "x1");
    const b = toTensor(batch.x2, "x2");
    const updates: StateUpdate[][] = [];
    try {
      const n = a.t.shape[0];
      if (b.t.shape[0] !== n || batch.labels.length !== n) {
        throw new BenchError(
          "train_input",
          `x1 has ${n} images, x2 ${b.t.shape[0]}, labels ${batch.labels.length}`,
        );
      }
      const locRng = new Rng(seed, "nce-loc", step);
      const loc5V1 = drawLoc5(locRng, n);
      const loc5V2 = drawLoc5(locRng, n);
      const labels2 = new Int32Array(2 * n);
      labels2.set(batch.labels, 0);
      labels2.set(batch.labels, n);
      let terms: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const o1 = encoder.apply(a.t, { training: true });
        updates.push(o1.stateUpdates);
        const o2 = encoder.apply(b.t, { training: true });
        updates.push(o2.stateUpdates);
        const parts = amdimNceLoss(o1.outputs, o2.outputs, { tclip, lgtRegWeight, loc5V1, loc5V2 });
        let clsLin: tf.Scalar = tf.scalar(0), clsMlp: tf.Scalar = tf.scalar(0);
        if (heads) {
          const feats = detach(tf.concat([o1.outputs.r1, o2.outputs.r1], 0) as tf.Tensor2D);
          const h = heads.apply(feats, { training: true, rng: new Rng(seed, "dropout", step) });
          updates.push(h.stateUpdates);
          clsLin = classifierLoss(h.outputs.linear, labels2);
          clsMlp = classifierLoss(h.outputs.mlp, labels2);
        }
        terms = tf.keep(tf.stack([...NCE_COMPONENTS.map((k) => parts[k]), clsLin, clsMlp]));
        return tf.addN([parts.total, clsLin, clsMlp]) as tf.Scalar;
      }, varList);
      value.dispose();
      try {
        optimizer.applyGradients(varList.map((v) => grads[v.name]), lr);
      } finally {
        tf.dispose(grads);
      }
      const [u1, u2, uh] = updates.splice(0);
      applyStateUpdates(composeSequentialUpdates(u1, u2));
      if (uh) applyStateUpdates(uh);
      const values = await terms!.data();
      terms!.dispose();
      const losses = {} as TrainLosses;
      NCE_COMPONENTS.forEach((k, i) => losses[k] = values[i]);
      CLASSIFIER_TERMS.forEach((k, i) => losses[k] = values[NCE_COMPONENTS.length + i]);
      return { step, epoch: batch.epoch, lr, losses };
    } finally {
      for (const u of updates) discardStateUpdates(u);
      if (a.owned) a.t.dispose();
      if (b.owned) b.t.dispose();
    }
  };

  return {
    encoder,
    heads,
    optimizer,
    get step() {
      return optimizer.step;
    },
    trainStep,
    exportState: () => optimizer.exportState(),
    importState: (state) => optimizer.importState(state),
    dispose: () => optimizer.dispose(),
  };
}
