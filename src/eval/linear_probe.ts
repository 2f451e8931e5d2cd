/**
 * The `linear-probe` protocol: multinomial logistic regression on frozen features.
 *
 * 1. The labelled training rows are split (stratified, seeded: {@linkcode splitTrainVal}) into a
 *    fitting part and a validation part of `valFraction`.
 * 2. For every candidate `l2`, a model is fitted on the fitting part for `epochs` epochs (same init
 *    and shuffles for all candidates) and scored on validation after every epoch.
 * 3. The chosen `l2` is the one with the best validation top-1 after the last epoch (ties: the
 *    first listed); `bestValEpoch` is the epoch at which that candidate's validation top-1 peaked
 *    (ties: the earliest).
 * 4. The chosen `l2` is refitted on **all** labelled training rows for `epochs` epochs. The test
 *    split is scored exactly twice: after `bestValEpoch` epochs (reported as `bestVal`) and after
 *    the last epoch (reported as `last`). The test split never takes part in any choice.
 *
 * With `valFraction: 0` there is no selection: `l2` must hold one value and only `last` is reported.
 *
 * @module
 */
import { topKAccuracy } from "./accuracy.ts";
import { fitLogisticRegression } from "./logistic_regression.ts";
import type { EvalLog, EvalResult, FeatureSet } from "./types.ts";
import { splitTrainVal, takeRows } from "./val_split.ts";
import { BenchError } from "../util/errors.ts";

/** Hyperparameters of the linear probe (the spec's `eval[]` entry with `protocol: "linear-probe"`). */
export interface LinearProbeOptions {
  /** Fraction of the labelled training rows held out for selection (0 = no selection). */
  valFraction: number;
  /** Seed of the split, the init and the shuffles. */
  seed: number;
  /** Candidate L2 strengths. */
  l2: number[];
  /** Epochs of every fit. */
  epochs: number;
  /** Minibatch size. */
  batchSize: number;
  /** Adam learning rate. */
  lr: number;
}

/** Keeps the labelled rows of a feature set. */
export function labelledOnly(set: FeatureSet): FeatureSet {
  let m = 0;
  for (let i = 0; i < set.n; i++) if (set.labels[i] >= 0) m++;
  if (m === set.n) return set;
  const rows = new Int32Array(m);
  for (let i = 0, j = 0; i < set.n; i++) if (set.labels[i] >= 0) rows[j++] = i;
  return {
    n: m,
    dim: set.dim,
    numClasses: set.numClasses,
    features: takeRows(set.features, set.dim, rows),
    labels: rows.map((r) => set.labels[r]),
  };
}

/**
 * Runs the linear probe; metrics `linear-probe.top1` and `linear-probe.top5`.
 *
 * @example
 * ```ts
 * const result = await linearProbe(trainFeatures, testFeatures, {
 *   valFraction: 0.1, seed: 1, l2: [0, 1e-4, 1e-3], epochs: 100, batchSize: 256, lr: 1e-3,
 * });
 * result.metrics["linear-probe.top1"]; // { last, bestVal }
 * ```
 */
export async function linearProbe(
  trainSet: FeatureSet,
  testSet: FeatureSet,
  options: LinearProbeOptions,
  log: EvalLog = () => {},
): Promise<EvalResult> {
  const { valFraction, seed, epochs, batchSize, lr } = options;
  if (options.l2.length === 0) {
    throw new BenchError("eval_invalid", "linear-probe needs at least one l2 value", {
      location: "eval[linear-probe].l2",
    });
  }
  if (valFraction === 0 && options.l2.length > 1) {
    throw new BenchError("eval_invalid", "several l2 values but no validation split to choose", {
      location: "eval[linear-probe].valFraction",
      hint: "set valFraction > 0 (e.g. 0.1) or give a single l2",
    });
  }
  if (trainSet.dim !== testSet.dim) {
    throw new RangeError(`train features have dim ${trainSet.dim}, test ${testSet.dim}`);
  }
  const train = labelledOnly(trainSet);
  const test = labelledOnly(testSet);
  const { dim, numClasses } = train;
  const fit = (
    x: Float32Array,
    y: Int32Array,
    l2: number,
    tag: string,
    onEpoch?: (
      epoch: number,
      score: (f: Float32Array) => Promise<Float32Array>,
    ) => Promise<void>,
  ) =>
    fitLogisticRegression(x, y, dim, numClasses, { l2, epochs, batchSize, lr, seed, tag, onEpoch });

  let chosenL2 = options.l2[0];
  let bestValEpoch = epochs;
  const selection: { l2: number; valTop1: number[] }[] = [];
  let nVal = 0;
  if (valFraction > 0) {
    const split = splitTrainVal(train.labels, valFraction, seed);
    nVal = split.val.length;
    if (split.val.length === 0 || split.train.length === 0) {
      throw new BenchError("eval_invalid", "validation split is empty", {
        location: "eval[linear-probe].valFraction",
      });
    }
    const fitX = takeRows(train.features, dim, split.train);
    const fitY = split.train.map((r) => train.labels[r]);
    const valX = takeRows(train.features, dim, split.val);
    const valY = split.val.map((r) => train.labels[r]);
    for (const l2 of options.l2) {
      const curve: number[] = [];
      await fit(fitX, fitY, l2, "select", async (_epoch, score) => {
        curve.push(topKAccuracy(await score(valX), numClasses, valY).top1);
      });
      selection.push({ l2, valTop1: curve });
      log(`linear-probe: l2=${l2} val top1 ${(curve[curve.length - 1] * 100).toFixed(2)}%`);
    }
    let best = -1;
    for (const s of selection) {
      const v = s.valTop1[s.valTop1.length - 1];
      if (v > best) {
        best = v;
        chosenL2 = s.l2;
      }
    }
    const curve = selection.find((s) => s.l2 === chosenL2)!.valTop1;
    let peak = -1;
    for (let e = 0; e < curve.length; e++) {
      if (curve[e] > peak) {
        peak = curve[e];
        bestValEpoch = e + 1;
      }
    }
  }

  let atBest: { top1: number; top5: number } | undefined;
  let atLast: { top1: number; top5: number } | undefined;
  await fit(train.features, train.labels, chosenL2, "refit", async (epoch, score) => {
    if ((valFraction > 0 && epoch === bestValEpoch) || epoch === epochs) {
      const acc = topKAccuracy(await score(test.features), numClasses, test.labels);
      if (valFraction > 0 && epoch === bestValEpoch) atBest = acc;
      if (epoch === epochs) atLast = acc;
    }
  });
  if (!atLast) throw new RangeError("linear-probe needs epochs >= 1");
  log(`linear-probe: l2=${chosenL2} test top1 ${(atLast.top1 * 100).toFixed(2)}% (last)`);
  const chosenCurve = selection.find((s) => s.l2 === chosenL2)?.valTop1;
  const metric = (key: "top1" | "top5") =>
    atBest
      ? {
        last: atLast![key],
        bestVal: atBest[key],
        valTop1: chosenCurve![bestValEpoch - 1],
        selected: { l2: chosenL2, epoch: bestValEpoch },
      }
      : { last: atLast![key] };
  return {
    protocol: "linear-probe",
    metrics: { "linear-probe.top1": metric("top1"), "linear-probe.top5": metric("top5") },
    details: {
      featureDim: dim,
      numClasses,
      nTrain: train.n,
      nFit: train.n - nVal,
      nVal,
      nTest: test.n,
      chosenL2,
      bestValEpoch: valFraction > 0 ? bestValEpoch : null,
      selection: selection.map((s) => ({
        l2: s.l2,
        valTop1Last: s.valTop1[s.valTop1.length - 1],
        valTop1Best: Math.max(...s.valTop1),
      })),
      refit: "all labelled training rows, chosen l2, fixed epochs",
      options,
    },
  };
}
