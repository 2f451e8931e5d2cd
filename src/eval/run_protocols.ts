/**
 * Runs the evaluation protocols a spec lists (`eval[]`) on a pretrained encoder, and the
 * calibration baselines of the feature protocols: the same protocol on the randomly initialised
 * encoder (`random-init`: the pretraining seed's initial weights, i.e. the starting point of the
 * run) and on the normalised input pixels (`raw-pixels`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { AugmentPool } from "../augment/pipeline.ts";
import type { ImageDataset } from "../data/types.ts";
import type { Classifiers } from "../model/classifiers.ts";
import { createEncoder, type Encoder } from "../model/encoder.ts";
import type { EvalSpec, Spec } from "../spec/types.ts";
import { amdimOfflineEval } from "./amdim_offline.ts";
import { amdimOnlineEval } from "./amdim_online.ts";
import {
  extractFeatures,
  type FeatureCache,
  type FeatureExtractor,
  rawPixelFeatures,
} from "./features.ts";
import { knnEval } from "./knn.ts";
import { linearProbe } from "./linear_probe.ts";
import type { R1Source } from "./r1_source.ts";
import type { EvalLog, EvalResult, FeatureSet } from "./types.ts";

/** Baselines a feature protocol can be calibrated with. */
export type BaselineName = "random-init" | "raw-pixels";

/** Everything the protocols need. */
export interface ProtocolContext {
  /** The resolved spec. */
  spec: Spec;
  /** The pretrained encoder. */
  encoder: Encoder;
  /** The online heads (null if the spec trains none). */
  heads: Classifiers | null;
  /** Training split (labelled rows are used by the supervised protocols). */
  train: ImageDataset;
  /** Test split. */
  test: ImageDataset;
  /** Feature cache. */
  cache: FeatureCache;
  /** What identifies the encoder's weights (e.g. the final checkpoint's sha256). */
  modelKey: string;
  /** Augmentation workers. */
  pool?: AugmentPool;
  /** Progress lines. */
  log?: EvalLog;
  /**
   * How the frozen r1 features of `encoder` are extracted for `linear-probe` and `knn` (default:
   * the tfjs encoder). An ONNX Runtime extractor must hold the same weights as `encoder`.
   */
  featureExtractor?: FeatureExtractor;
  /**
   * Where `amdim-offline` gets r1 of `encoder`, batch by batch (default: the tfjs encoder). An
   * ONNX Runtime source must hold the same weights as `encoder`.
   */
  offlineFeatures?: R1Source;
}

/** Results of {@linkcode runProtocols}. */
export interface ProtocolRun {
  /** One result per spec entry, in spec order. */
  results: EvalResult[];
  /** Wall seconds per protocol (summed if listed twice). */
  seconds: Record<string, number>;
}

type FeatureModel =
  | { kind: "encoder"; encoder: Encoder; key: string; extractor?: FeatureExtractor }
  | { kind: "raw-pixels" };

async function featurePair(
  ctx: ProtocolContext,
  model: FeatureModel,
): Promise<[FeatureSet, FeatureSet]> {
  const policy = ctx.spec.augment.policy;
  const get = (ds: ImageDataset) => {
    const key = {
      model: model.kind === "encoder" ? model.key : "raw-pixels",
      dataset: ds.id,
      split: ds.split,
      transform: `test:${policy}`,
      // Which code computed them: features of different extractors or backends agree only to
      // rounding, so they are never mixed.
      feature: model.kind === "encoder"
        ? `r1@${model.extractor?.name ?? "tfjs"}${
          (model.extractor?.name ?? "tfjs") === "tfjs" ? `-${tf.getBackend()}` : ""
        }`
        : "pixels",
      n: ds.length,
    };
    return ctx.cache.get(key, () => {
      ctx.log?.(`features: ${key.model.slice(0, 24)} ${ds.id}/${ds.split} (${ds.length} images)`);
      if (model.kind === "raw-pixels") return rawPixelFeatures(ds, { policy, pool: ctx.pool });
      return model.extractor
        ? model.extractor.extract(ds, { policy, pool: ctx.pool })
        : extractFeatures(model.encoder, ds, { policy, pool: ctx.pool });
    });
  };
  return [await get(ctx.train), await get(ctx.test)];
}

async function featureProtocol(
  ctx: ProtocolContext,
  entry: EvalSpec,
  model: FeatureModel,
): Promise<EvalResult> {
  const [train, test] = await featurePair(ctx, model);
  if (entry.protocol === "linear-probe") {
    const { valFraction, seed, l2, epochs, batchSize, lr } = entry;
    return linearProbe(train, test, { valFraction, seed, l2, epochs, batchSize, lr }, ctx.log);
  }
  if (entry.protocol === "knn") {
    const { k, temperature, normalize } = entry;
    return knnEval(train, test, { k, temperature, normalize });
  }
  throw new RangeError(`${entry.protocol} is not a feature protocol`);
}

/**
 * Runs every protocol of `ctx.spec.eval`, in order.
 *
 * @example
 * ```ts
 * const { results } = await runProtocols({ spec, encoder, heads, train, test, cache, modelKey });
 * ```
 */
export async function runProtocols(ctx: ProtocolContext): Promise<ProtocolRun> {
  const results: EvalResult[] = [];
  const seconds: Record<string, number> = {};
  const { spec } = ctx;
  for (const entry of spec.eval) {
    const t0 = performance.now();
    let r: EvalResult;
    switch (entry.protocol) {
      case "linear-probe":
      case "knn":
        r = await featureProtocol(ctx, entry, {
          kind: "encoder",
          encoder: ctx.encoder,
          key: ctx.modelKey,
          extractor: ctx.featureExtractor,
        });
        break;
      case "amdim-online":
        if (!ctx.heads) {
          throw new RangeError("amdim-online needs pretrain.onlineHeads: true");
        }
        r = await amdimOnlineEval(ctx.encoder, ctx.heads, ctx.test, {
          policy: spec.augment.policy,
          batchSize: spec.pretrain.batchSize,
          seed: spec.pretrain.seed,
          bnWarmup: entry.bnWarmup,
          dropLast: entry.dropLast,
          pool: ctx.pool,
        });
        break;
      case "amdim-offline":
        r = await amdimOfflineEval(ctx.encoder, ctx.train, ctx.test, {
          epochs: entry.epochs,
          milestones: entry.milestones,
          gamma: entry.gamma,
          lr: entry.lr,
          batchSize: entry.batchSize,
          seed: spec.pretrain.seed,
          augmentSeed: spec.augment.seed,
          policy: spec.augment.policy,
          pool: ctx.pool,
          features: ctx.offlineFeatures,
        }, ctx.log);
        break;
    }
    seconds[entry.protocol] = (seconds[entry.protocol] ?? 0) + (performance.now() - t0) / 1000;
    results.push(r);
    for (const [name, m] of Object.entries(r.metrics)) {
      ctx.log?.(
        `${name}: ${(m.last * 100).toFixed(2)}%` +
          (m.bestVal !== undefined ? ` (bestVal ${(m.bestVal * 100).toFixed(2)}%)` : ""),
      );
    }
  }
  return { results, seconds };
}

/**
 * The calibration baselines of the feature protocols: every `linear-probe` / `knn` entry runs once
 * more per baseline it lists in `baselines` (plus the `extra` ones, applied to every feature
 * entry). Values are test metrics (`last`) keyed `<baseline>/<metric>`, e.g.
 * `random-init/linear-probe.top1`.
 *
 * @example
 * ```ts
 * const baselines = await runBaselines(ctx); // as the spec asks
 * ```
 */
export async function runBaselines(
  ctx: ProtocolContext,
  extra: readonly BaselineName[] = [],
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const features = ctx.spec.eval.filter((e) =>
    e.protocol === "linear-probe" || e.protocol === "knn"
  );
  for (const name of ["random-init", "raw-pixels"] as const) {
    const entries = features.filter((e) =>
      extra.includes(name) || ((e as { baselines?: string[] }).baselines ?? []).includes(name)
    );
    if (entries.length === 0) continue;
    let model: FeatureModel;
    let dispose = () => {};
    if (name === "random-init") {
      const encoder = createEncoder(ctx.spec.encoder, ctx.spec.pretrain.seed);
      dispose = () => encoder.dispose();
      model = {
        kind: "encoder",
        encoder,
        key: `random-init:${ctx.spec.pretrain.seed}:${JSON.stringify(ctx.spec.encoder)}`,
      };
    } else {
      model = { kind: "raw-pixels" };
    }
    try {
      for (const entry of entries) {
        const r = await featureProtocol(ctx, entry, model);
        for (const [metric, v] of Object.entries(r.metrics)) {
          out[`${name}/${metric}`] = v.last;
          ctx.log?.(`baseline ${name} ${metric}: ${(v.last * 100).toFixed(2)}%`);
        }
      }
    } finally {
      dispose();
    }
  }
  return out;
}
