/**
 * Synthetic feature sets for evaluation tests: Gaussian clusters around seeded class means, or
 * random labels on noise.
 *
 * @module
 */
import { Rng } from "../../src/util/rng.ts";
import type { FeatureSet } from "../../src/eval/types.ts";

/** Options of {@linkcode gaussianClusters}. */
export interface ClusterOptions {
  n: number;
  dim: number;
  numClasses: number;
  /** Distance scale of the class means (noise std is 1). */
  separation: number;
  seed: number;
  /** Which draw of samples (the class means depend on `seed` only). */
  part: string;
  /** Replace every label by a uniformly random one. */
  randomLabels?: boolean;
}

/** n rows: label i % numClasses, features mean_label * separation + N(0, 1). */
export function gaussianClusters(o: ClusterOptions): FeatureSet {
  const meanRng = new Rng(o.seed, "cluster-means");
  const means = Float32Array.from({ length: o.numClasses * o.dim }, () => meanRng.normal());
  const rng = new Rng(o.seed, "cluster-samples", o.part);
  const features = new Float32Array(o.n * o.dim);
  const labels = new Int32Array(o.n);
  for (let i = 0; i < o.n; i++) {
    const y = i % o.numClasses;
    labels[i] = o.randomLabels ? rng.int(0, o.numClasses - 1) : y;
    for (let j = 0; j < o.dim; j++) {
      features[i * o.dim + j] = means[y * o.dim + j] * o.separation + rng.normal();
    }
  }
  return { n: o.n, dim: o.dim, numClasses: o.numClasses, features, labels };
}
