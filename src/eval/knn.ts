/**
 * The `knn` protocol: weighted k-nearest-neighbour classification on frozen features, as in
 * InstDisc and DINO. Similarity is the dot product of L2-normalised features (`normalize: true`,
 * cosine) or the negated euclidean distance (`normalize: false`); each of the `k` most similar
 * training rows votes for its class with weight `exp(similarity / temperature)`; classes are ranked
 * by their summed votes (top-1 and top-5). Similarities are computed as batched matmuls in tfjs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { topKAccuracy } from "./accuracy.ts";
import { labelledOnly } from "./linear_probe.ts";
import type { EvalResult, FeatureSet } from "./types.ts";

/** Hyperparameters of the kNN protocol. */
export interface KnnOptions {
  /** Number of neighbours. */
  k: number;
  /** Temperature of the vote weights `exp(sim / temperature)`. */
  temperature: number;
  /** Cosine similarity (true) or negated euclidean distance (false). */
  normalize: boolean;
  /** Test rows per matmul (default 256). */
  batchSize?: number;
}

function l2Normalise(x: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[i + j] * x[i + j];
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < dim; j++) out[i + j] = x[i + j] * inv;
  }
  return out;
}

/**
 * Vote scores `[nQuery, numClasses]` of every query row.
 *
 * @example
 * ```ts
 * const scores = await knnScores(train, queries, { k: 20, temperature: 0.07, normalize: true });
 * ```
 */
export async function knnScores(
  train: FeatureSet,
  query: FeatureSet,
  options: KnnOptions,
): Promise<Float32Array> {
  const ref = labelledOnly(train);
  const { dim, numClasses } = ref;
  if (query.dim !== dim) throw new RangeError(`query dim ${query.dim} != train dim ${dim}`);
  const k = Math.min(options.k, ref.n);
  if (!(k >= 1)) throw new RangeError("knn needs k >= 1 and a labelled training row");
  const batch = options.batchSize ?? 256;
  const refX = options.normalize ? l2Normalise(ref.features, dim) : ref.features;
  const qX = options.normalize ? l2Normalise(query.features, dim) : query.features;
  const scores = new Float32Array(query.n * numClasses);
  const refT = tf.tensor2d(refX, [ref.n, dim]);
  const refSq = options.normalize ? null : tf.tidy(() => tf.sum(tf.square(refT), 1));
  try {
    for (let start = 0; start < query.n; start += batch) {
      const m = Math.min(batch, query.n - start);
      const { values, indices } = tf.tidy(() => {
        const q = tf.tensor2d(qX.subarray(start * dim, (start + m) * dim), [m, dim]);
        let sim = tf.matMul(q, refT, false, true);
        if (refSq) {
          const qSq = tf.sum(tf.square(q), 1, true);
          const d2 = tf.relu(tf.sub(tf.add(qSq, refSq), tf.mul(sim, 2)));
          sim = tf.neg(tf.sqrt(d2));
        }
        return tf.topk(sim, k, true);
      });
      let vals: Float32Array, idx: Int32Array;
      try {
        const read = await Promise.all([values.data(), indices.data()]);
        vals = read[0] as Float32Array;
        idx = read[1] as Int32Array;
      } finally {
        tf.dispose([values, indices]);
      }
      for (let i = 0; i < m; i++) {
        const row = (start + i) * numClasses;
        // Shifting by the row's best similarity scales all votes of the row alike (no underflow).
        const top = vals[i * k];
        for (let j = 0; j < k; j++) {
          const w = Math.exp((vals[i * k + j] - top) / options.temperature);
          scores[row + ref.labels[idx[i * k + j]]] += w;
        }
      }
    }
  } finally {
    tf.dispose([refT, ...(refSq ? [refSq] : [])]);
  }
  return scores;
}

/**
 * Runs kNN classification of `test` against `train`; metrics `knn.top1`, `knn.top5` (no selection,
 * so only `last`).
 *
 * @example
 * ```ts
 * const result = await knnEval(trainFeatures, testFeatures, { k: 20, temperature: 0.07, normalize: true });
 * ```
 */
export async function knnEval(
  train: FeatureSet,
  test: FeatureSet,
  options: KnnOptions,
): Promise<EvalResult> {
  const t = labelledOnly(test);
  const acc = topKAccuracy(await knnScores(train, t, options), train.numClasses, t.labels);
  return {
    protocol: "knn",
    metrics: { "knn.top1": { last: acc.top1 }, "knn.top5": { last: acc.top5 } },
    details: {
      k: options.k,
      temperature: options.temperature,
      normalize: options.normalize,
      nTrain: train.n,
      nTest: t.n,
      featureDim: train.dim,
    },
  };
}
