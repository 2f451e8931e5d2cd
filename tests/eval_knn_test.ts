import * as tf from "@tensorflow/tfjs";
import { knnEval, knnScores } from "../src/eval/knn.ts";
import { gaussianClusters } from "./helpers/synthetic_features.ts";
import { assert, assertAlmostEquals, assertEquals } from "../src/testing/asserts.ts";
import type { FeatureSet } from "../src/eval/types.ts";

await tf.setBackend("cpu");

const set = (features: number[], labels: number[], dim: number): FeatureSet => ({
  n: labels.length,
  dim,
  numClasses: 3,
  features: Float32Array.from(features),
  labels: Int32Array.from(labels),
});

Deno.test("knn: weighted votes by hand", async () => {
  const train = set([1, 0, 0.9, 0.1, 0, 1, -1, 0], [0, 0, 1, 2], 2);
  const query = set([1, 0.05], [0], 2);
  const s = await knnScores(train, query, { k: 3, temperature: 0.5, normalize: true });
  // Cosine similarities of the query with the rows: ~0.9988, ~0.9989 (row 1), ~0.0499, ...
  const q = [1, 0.05].map((v) => v / Math.hypot(1, 0.05));
  const cos = (a: number[]) => (a[0] * q[0] + a[1] * q[1]) / Math.hypot(a[0], a[1]);
  const sims = [cos([1, 0]), cos([0.9, 0.1]), cos([0, 1])];
  const top = Math.max(...sims);
  assertAlmostEquals(
    s[0] / s[1],
    (Math.exp((sims[0] - top) / 0.5) + Math.exp((sims[1] - top) / 0.5)) /
      Math.exp((sims[2] - top) / 0.5),
    1e-4,
  );
  assertEquals(s[2], 0, "class 2's row is not among the 3 nearest");
});

Deno.test("knn: euclidean mode votes by negated distance", async () => {
  const train = set([0, 0, 10, 10, 0.5, 0], [1, 2, 1], 2);
  const query = set([9, 9], [2], 2);
  const s = await knnScores(train, query, { k: 1, temperature: 1, normalize: false });
  assertEquals(Array.from(s), [0, 0, 1]);
});

Deno.test("knn: separable clusters ~1, random labels ~chance, deterministic", async () => {
  const opts = { dim: 16, numClasses: 10, separation: 3, seed: 1 };
  const train = gaussianClusters({ ...opts, n: 2000, part: "train" });
  const test = gaussianClusters({ ...opts, n: 500, part: "test" });
  const o = { k: 20, temperature: 0.07, normalize: true, batchSize: 128 };
  const r = await knnEval(train, test, o);
  assert(r.metrics["knn.top1"].last > 0.97, JSON.stringify(r.metrics));
  assertEquals(await knnEval(train, test, o), r);
  const rnd = { ...opts, randomLabels: true, seed: 4 };
  const r2 = await knnEval(
    gaussianClusters({ ...rnd, n: 2000, part: "train" }),
    gaussianClusters({ ...rnd, n: 1000, part: "test" }),
    o,
  );
  assert(Math.abs(r2.metrics["knn.top1"].last - 0.1) < 0.05, JSON.stringify(r2.metrics));
  const e = await knnEval(train, test, { ...o, normalize: false });
  assert(e.metrics["knn.top1"].last > 0.97);
});
