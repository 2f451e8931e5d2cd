/**
 * The `amdim-offline` protocol: the official `--classifiers` re-training on a frozen encoder
 * (task_classifiers.py).
 *
 * - Fresh linear and MLP heads, PyTorch-0.4.1-style init: Linear weight and bias U(±1/√fan_in),
 *   BatchNorm weight U(0, 1) (drawn from `Rng(seed, "init", "mlp.bn.weight", "torch041")`), bias 0.
 * - Adam with L2 decay (`lr`, betas (0.8, 0.999), eps 1e-8, weight decay 1e-5) on the heads only;
 *   the learning rate is multiplied by `gamma` at each of `milestones` (epochs, the official
 *   `scheduler.step(epoch)` convention of the pretraining schedule).
 * - Each epoch visits the labelled training images in the order `Rng(seed, "offline-order", epoch)`
 *   with drop_last; the heads see **view 1** of the augmented training pair (augmentation keyed by
 *   `(augmentSeed, epoch, index)`). The frozen encoder runs in training mode as in the official code
 *   (batch statistics; its running BatchNorm statistics drift and are restored after the protocol).
 *   Both heads are trained with the AMDIM classifier loss; dropout masks from
 *   `Rng(seed, "offline-dropout", step)`.
 * - r1 comes from an {@linkcode R1Source}: the tfjs encoder by default, or ONNX Runtime computing
 *   everything before `final.bn` with tfjs applying `final.bn` (`src/onnx/ort_r1_source.ts`); both
 *   return the running-statistics updates, applied here after every batch.
 * - `last`: the heads after the final epoch, scored once on the test split (eval mode).
 * - With `valFraction > 0`, that fraction of the labelled training images (stratified, seeded) is
 *   held out; after every epoch each head is scored on it and the heads at the epoch of best
 *   validation top-1 (per head, earliest on ties) are kept and scored on test as `bestVal`.
 *   The official protocol has no validation split (`valFraction: 0`, the default).
 *
 * Metrics: `amdim-offline.linear.top1|top5`, `amdim-offline.mlp.top1|top5`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AugmentPool, trainViews } from "../augment/pipeline.ts";
import type { PolicyName } from "../augment/policy.ts";
import { classifierLoss } from "../loss/classifier_loss.ts";
import { type Classifiers, createClassifiers } from "../model/classifiers.ts";
import type { Encoder } from "../model/encoder.ts";
import { applyStateUpdates } from "../model/types.ts";
import { AdamL2 } from "../train/optimizer.ts";
import { learningRate } from "../train/schedule.ts";
import { Rng } from "../util/rng.ts";
import type { LabelledSource } from "./features.ts";
import { type R1Source, tfjsR1Source } from "./r1_source.ts";
import { evaluateHeads, fractions, restoreSnapshot, snapshotVariables } from "./heads_eval.ts";
import type { EvalLog, EvalResult, MetricValue } from "./types.ts";
import { splitTrainVal } from "./val_split.ts";

/** Hyperparameters of the offline re-training (the spec's `amdim-offline` entry plus run facts). */
export interface OfflineEvalOptions {
  /** Epochs (official: 120 CIFAR/STL, 30 ImageNet). */
  epochs: number;
  /** Decay epochs (official: [80, 110] CIFAR/STL, [15, 25] ImageNet). */
  milestones: number[];
  /** Decay factor (0.2). */
  gamma: number;
  /** Adam learning rate (2e-4). */
  lr: number;
  /** Batch size (official: the pretraining batch size). */
  batchSize: number;
  /** Seed of head init, order, dropout and the validation split. */
  seed: number;
  /** Augmentation seed (views of the training images). */
  augmentSeed: number;
  /** Augmentation policy. */
  policy: PolicyName;
  /** Held-out fraction of the labelled training images for `bestVal` (default 0, official). */
  valFraction?: number;
  /** Official transductive BatchNorm warm-up before scoring on test (default false). */
  bnWarmup?: boolean;
  /** Official drop_last truncation of the test split (default false). */
  dropLast?: boolean;
  /** Augmentation worker pool. */
  pool?: AugmentPool;
  /**
   * Where r1 of `encoder` comes from, for training and scoring (default: the tfjs encoder). A
   * source must compute the same weights as `encoder` and read its BatchNorm variables live.
   */
  features?: R1Source;
}

/**
 * Fresh heads with the PyTorch-0.4.1 init (BatchNorm weight U(0, 1)).
 *
 * @example
 * ```ts
 * const heads = torch041Classifiers(256, 10, 1);
 * ```
 */
export function torch041Classifiers(nIn: number, nClasses: number, seed: number): Classifiers {
  const heads = createClassifiers({ nIn, nClasses, seed });
  const w = heads.variable("mlp.bn.weight");
  const rng = new Rng(seed, "init", "mlp.bn.weight", "torch041");
  const values = new Float32Array(w.size);
  for (let i = 0; i < values.length; i++) values[i] = rng.float();
  tf.tidy(() => w.assign(tf.tensor(values, w.shape)));
  return heads;
}

/**
 * Runs the offline re-training and scoring.
 *
 * @example
 * ```ts
 * const r = await amdimOfflineEval(encoder, trainSet, testSet, {
 *   epochs: 120, milestones: [80, 110], gamma: 0.2, lr: 2e-4, batchSize: 200,
 *   seed: 1, augmentSeed: 1, policy: "cifar",
 * });
 * ```
 */
export async function amdimOfflineEval(
  encoder: Encoder,
  train: LabelledSource,
  test: LabelledSource,
  options: OfflineEvalOptions,
  log: EvalLog = () => {},
): Promise<EvalResult> {
  const { epochs, batchSize, seed, policy, pool } = options;
  const source = options.features ?? tfjsR1Source(encoder);
  const valFraction = options.valFraction ?? 0;
  const labelled: number[] = [];
  for (let i = 0; i < train.length; i++) if (train.labels[i] >= 0) labelled.push(i);
  let fitRows: Int32Array = Int32Array.from(labelled);
  let valRows: Int32Array = new Int32Array(0);
  if (valFraction > 0) {
    const split = splitTrainVal(train.labels, valFraction, seed);
    fitRows = split.train;
    valRows = split.val;
  }
  const stepsPerEpoch = Math.floor(fitRows.length / batchSize);
  if (stepsPerEpoch < 1) {
    throw new RangeError(`amdim-offline: ${fitRows.length} training images < batch ${batchSize}`);
  }
  const nIn = encoder.config.nRkhs;
  const heads = torch041Classifiers(nIn, train.numClasses, seed);
  const optimizer = new AdamL2(heads.params, {
    lr: options.lr,
    betas: [0.8, 0.999],
    eps: 1e-8,
    weightDecay: 1e-5,
  });
  const schedule = {
    lr: options.lr,
    warmupSteps: 0,
    milestones: options.milestones,
    gamma: options.gamma,
    unit: "epoch" as const,
  };
  const encoderState = await snapshotVariables(encoder.state);
  const headVars = [...heads.params, ...heads.state];
  const scoreOpts = {
    policy,
    batchSize,
    seed,
    bnWarmup: options.bnWarmup ?? false,
    dropLast: options.dropLast ?? false,
    pool,
    features: source,
  };
  const valSource: LabelledSource = {
    height: train.height,
    width: train.width,
    channels: train.channels,
    numClasses: train.numClasses,
    length: valRows.length,
    labels: Int32Array.from(valRows, (r) => train.labels[r]),
    readImages: (idx) => train.readImages(Array.from(idx, (i) => valRows[i])),
  };
  const best = {
    linear: { top1: -1, epoch: 0, snap: [] as Float32Array[] },
    mlp: { top1: -1, epoch: 0, snap: [] as Float32Array[] },
  };
  let step = 0;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const lr = learningRate(schedule, step, epoch);
      const order = new Rng(seed, "offline-order", epoch).permutation(fitRows.length);
      let lossSum = 0;
      for (let s = 0; s < stepsPerEpoch; s++, step++) {
        const indices = Array.from(
          order.subarray(s * batchSize, (s + 1) * batchSize),
          (k) => fitRows[k],
        );
        const views = await trainViews(train, {
          policy,
          seed: options.augmentSeed,
          epoch,
          indices,
          pool,
        });
        const labels = Int32Array.from(indices, (i) => train.labels[i]);
        const { r1, stateUpdates } = await source.r1(
          { x: views.x1, n: views.n, height: views.height, width: views.width },
          { training: true },
        );
        applyStateUpdates(stateUpdates);
        let headUpdates: ReturnType<Classifiers["apply"]>["stateUpdates"] = [];
        const { value, grads } = tf.variableGrads(() => {
          const out = heads.apply(r1, {
            training: true,
            rng: new Rng(seed, "offline-dropout", step),
          });
          headUpdates = out.stateUpdates;
          return tf.add(
            classifierLoss(out.outputs.linear, labels),
            classifierLoss(out.outputs.mlp, labels),
          ) as tf.Scalar;
        }, heads.params.map((p) => p.variable));
        optimizer.applyGradients(grads, lr);
        applyStateUpdates(headUpdates);
        try {
          lossSum += (await value.data())[0];
        } finally {
          tf.dispose([value, r1, ...Object.values(grads)]);
        }
      }
      const note = `amdim-offline: epoch ${epoch + 1}/${epochs} loss ${
        (lossSum / stepsPerEpoch).toFixed(4)
      } lr ${lr.toExponential(2)}`;
      if (valRows.length > 0) {
        const c = await evaluateHeads(encoder, heads, valSource, {
          ...scoreOpts,
          bnWarmup: false,
          dropLast: false,
        });
        for (const head of ["linear", "mlp"] as const) {
          const v = fractions(c[head]).top1;
          if (v > best[head].top1) {
            best[head] = { top1: v, epoch: epoch + 1, snap: await snapshotVariables(headVars) };
          }
        }
        log(
          `${note} val top1 linear ${fractions(c.linear).top1.toFixed(4)} mlp ${
            fractions(c.mlp).top1.toFixed(4)
          }`,
        );
      } else {
        log(note);
      }
    }
    const stateNow = await snapshotVariables([...encoder.state, ...heads.state]);
    const lastCounts = await evaluateHeads(encoder, heads, test, scoreOpts);
    restoreSnapshot([...encoder.state, ...heads.state], stateNow);
    const metrics: Record<string, MetricValue> = {};
    const bestEpochs: Record<string, number> = {};
    for (const head of ["linear", "mlp"] as const) {
      const last = fractions(lastCounts[head]);
      let bestVal: { top1: number; top5: number } | undefined;
      if (valRows.length > 0) {
        restoreSnapshot(headVars, best[head].snap);
        const c = await evaluateHeads(encoder, heads, test, scoreOpts);
        restoreSnapshot([...encoder.state, ...heads.state], stateNow);
        bestVal = fractions(c[head]);
        bestEpochs[head] = best[head].epoch;
      }
      for (const k of ["top1", "top5"] as const) {
        metrics[`amdim-offline.${head}.${k}`] = bestVal
          ? { last: last[k], bestVal: bestVal[k] }
          : { last: last[k] };
      }
    }
    return {
      protocol: "amdim-offline",
      metrics,
      details: {
        epochs,
        milestones: options.milestones,
        gamma: options.gamma,
        lr: options.lr,
        batchSize,
        stepsPerEpoch,
        nFit: fitRows.length,
        nVal: valRows.length,
        nTest: test.length,
        nEvaluated: lastCounts.evaluated,
        bestValEpoch: valRows.length > 0 ? bestEpochs : null,
        bnWarmup: scoreOpts.bnWarmup,
        dropLast: scoreOpts.dropLast,
        init: "pytorch-0.4.1 (BatchNorm weight U(0,1))",
        features: "view 1 of the augmented training pair, encoder in training mode",
        featureExtractor: source.name,
      },
    };
  } finally {
    restoreSnapshot(encoder.state, encoderState);
    optimizer.dispose();
    heads.dispose();
  }
}
