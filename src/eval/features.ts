/**
 * Frozen features for the feature-based protocols (`linear-probe`, `knn`): the encoder's global
 * feature r1 (eval mode, running BatchNorm statistics) of the policy's deterministic test transform
 * of every image, or the transformed pixels themselves (the `raw-pixels` baseline). Extracted once
 * per (model, dataset, split, transform) and cached in memory and, optionally, on disk as a
 * safetensors file named by the hash of that key.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AugmentPool, type ImageSource, testViews } from "../augment/pipeline.ts";
import type { PolicyName } from "../augment/policy.ts";
import type { Encoder } from "../model/encoder.ts";
import { decodeSafetensors, encodeSafetensors } from "../train/safetensors.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { sha256Hex } from "../util/hash.ts";
import type { FeatureSet } from "./types.ts";

/** A dataset split as the feature extractor needs it. */
export interface LabelledSource extends ImageSource {
  /** Images in the split. */
  readonly length: number;
  /** One label per image (-1 = unlabeled). */
  readonly labels: Int32Array;
  /** Number of classes. */
  readonly numClasses: number;
}

/** Options of {@linkcode extractFeatures} and {@linkcode rawPixelFeatures}. */
export interface ExtractOptions {
  /** Augmentation policy whose test transform is applied. */
  policy: PolicyName;
  /** Images per forward pass (default 256). */
  batchSize?: number;
  /** Augmentation worker pool. */
  pool?: AugmentPool;
  /** Called after each batch with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Runs the policy's test transform over `source` in batches and gathers `featuresOf` each batch
 * (NHWC float32 views `[n, h, w, 3]`) into one feature set. Shared by every feature extractor
 * (tfjs encoder, raw pixels, ONNX Runtime), so all of them see identical inputs.
 *
 * @example
 * ```ts
 * const set = await collectFeatures(testSet, { policy: "cifar" }, (x) => x);
 * ```
 */
export async function collectFeatures(
  source: LabelledSource,
  options: ExtractOptions,
  featuresOf: (
    x: Float32Array,
    n: number,
    h: number,
    w: number,
  ) => Float32Array | Promise<Float32Array>,
): Promise<FeatureSet> {
  const batch = options.batchSize ?? 256;
  let out: Float32Array | undefined;
  let dim = 0;
  for (let start = 0; start < source.length; start += batch) {
    const m = Math.min(batch, source.length - start);
    const indices = Array.from({ length: m }, (_, k) => start + k);
    const views = await testViews(source, { policy: options.policy, indices, pool: options.pool });
    const f = await featuresOf(views.x, m, views.height, views.width);
    if (!out) {
      dim = f.length / m;
      out = new Float32Array(source.length * dim);
    }
    out.set(f, start * dim);
    options.onProgress?.(start + m, source.length);
  }
  return {
    n: source.length,
    dim,
    numClasses: source.numClasses,
    features: out ?? new Float32Array(0),
    labels: source.labels.slice(),
  };
}

/**
 * The encoder's r1 features (eval mode) of every image of `source`.
 *
 * @example
 * ```ts
 * const train = await extractFeatures(encoder, trainSet, { policy: "fmnist" });
 * ```
 */
export function extractFeatures(
  encoder: Encoder,
  source: LabelledSource,
  options: ExtractOptions,
): Promise<FeatureSet> {
  return collectFeatures(source, options, async (x, n, h, w) => {
    const r1 = tf.tidy(() => {
      const { outputs } = encoder.apply(tf.tensor4d(x, [n, h, w, 3]), { training: false });
      return outputs.r1;
    });
    try {
      return await r1.data() as Float32Array;
    } finally {
      r1.dispose();
    }
  });
}

/**
 * Something that turns a labelled split into frozen r1 features: the tfjs encoder
 * ({@linkcode tfjsFeatureExtractor}) or an ONNX Runtime session of the same weights
 * (`src/onnx/ort_features.ts`). Every implementation goes through {@linkcode collectFeatures}.
 */
export interface FeatureExtractor {
  /** Which path runs: `tfjs` or `onnxruntime`. */
  readonly name: "tfjs" | "onnxruntime";
  /** Features of every image of `source`. */
  extract(source: LabelledSource, options: ExtractOptions): Promise<FeatureSet>;
}

/**
 * The tfjs path as a {@linkcode FeatureExtractor} (same as {@linkcode extractFeatures}).
 *
 * @example
 * ```ts
 * const fx = tfjsFeatureExtractor(encoder);
 * const train = await fx.extract(trainSet, { policy: "fmnist" });
 * ```
 */
export function tfjsFeatureExtractor(encoder: Encoder): FeatureExtractor {
  return { name: "tfjs", extract: (source, options) => extractFeatures(encoder, source, options) };
}

/**
 * The `raw-pixels` baseline features: the normalised test-transformed input flattened; for
 * single-channel datasets only the first of the three replicated channels is kept.
 *
 * @example
 * ```ts
 * const train = await rawPixelFeatures(trainSet, { policy: "fmnist" });
 * ```
 */
export function rawPixelFeatures(
  source: LabelledSource,
  options: ExtractOptions,
): Promise<FeatureSet> {
  return collectFeatures(source, options, (x, n) => {
    if (source.channels !== 1) return x;
    const out = new Float32Array(x.length / 3);
    for (let i = 0; i < out.length; i++) out[i] = x[i * 3];
    void n;
    return out;
  });
}

/** What identifies a set of features. */
export interface FeatureKey {
  /** The model: a checkpoint hash, `random-init:<seed>:<config>` or `raw-pixels`. */
  model: string;
  /** Dataset id. */
  dataset: string;
  /** Split name. */
  split: string;
  /** Transform, e.g. `test:fmnist`. */
  transform: string;
  /** Which feature, e.g. `r1`. */
  feature: string;
  /** Images in the split (guards against a changed `limit`). */
  n: number;
}

/**
 * Memory + optional disk cache of feature sets. Disk entries are `<dir>/<sha256(key)>.safetensors`
 * with tensors `features` `[n, dim]` and `labels` `[n]` and the key in the metadata; an entry whose
 * key or shape does not match is ignored and recomputed.
 *
 * @example
 * ```ts
 * const cache = new FeatureCache(".cache/features");
 * const f = await cache.get(key, () => extractFeatures(encoder, trainSet, { policy: "fmnist" }));
 * ```
 */
export class FeatureCache {
  readonly #dir?: string;
  readonly #memory = new Map<string, FeatureSet>();
  /** Number of sets computed (not found in memory or on disk). */
  computed = 0;

  constructor(dir?: string) {
    this.#dir = dir;
  }

  /** The cache file of `key` (undefined without a folder). */
  pathOf(key: FeatureKey): string | undefined {
    return this.#dir ? `${this.#dir}/${this.#id(key)}.safetensors` : undefined;
  }

  #id(key: FeatureKey): string {
    const canonical = JSON.stringify(Object.keys(key).sort().map((k) => [k, (key as never)[k]]));
    return sha256Hex(canonical);
  }

  /** The features of `key`, computed with `compute` on a miss. */
  async get(key: FeatureKey, compute: () => Promise<FeatureSet>): Promise<FeatureSet> {
    const id = this.#id(key);
    const hit = this.#memory.get(id);
    if (hit) return hit;
    const path = this.pathOf(key);
    if (path) {
      const loaded = await this.#load(path, key);
      if (loaded) {
        this.#memory.set(id, loaded);
        return loaded;
      }
    }
    const set = await compute();
    this.computed++;
    this.#memory.set(id, set);
    if (path) {
      const bytes = encodeSafetensors(
        new Map([
          ["features", { dtype: "F32", shape: [set.n, set.dim], data: set.features }],
          ["labels", { dtype: "I32", shape: [set.n], data: set.labels }],
        ]),
        { key: JSON.stringify(key), numClasses: String(set.numClasses) },
      );
      await writeFileAtomic(path, bytes);
    }
    return set;
  }

  async #load(path: string, key: FeatureKey): Promise<FeatureSet | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      return undefined;
    }
    try {
      const { tensors, metadata } = decodeSafetensors(bytes, path);
      const f = tensors.get("features");
      const l = tensors.get("labels");
      if (metadata.key !== JSON.stringify(key) || !f || !l || f.shape[0] !== key.n) {
        return undefined;
      }
      return {
        n: f.shape[0],
        dim: f.shape[1],
        numClasses: Number(metadata.numClasses),
        features: f.data as Float32Array,
        labels: l.data as Int32Array,
      };
    } catch {
      return undefined;
    }
  }
}
