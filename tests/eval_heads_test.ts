import * as tf from "@tensorflow/tfjs";
import { createEncoder } from "../src/model/encoder.ts";
import { createClassifiers } from "../src/model/classifiers.ts";
import { amdimOnlineEval } from "../src/eval/amdim_online.ts";
import { amdimOfflineEval, torch041Classifiers } from "../src/eval/amdim_offline.ts";
import { extractFeatures, FeatureCache, rawPixelFeatures } from "../src/eval/features.ts";
import { brightnessImages } from "./helpers/image_source.ts";
import { assert, assertEquals } from "../src/testing/asserts.ts";

await tf.setBackend("cpu");

const cfg = { inputSize: 32 as const, ndf: 4, nRkhs: 16, nDepth: 1, useBn: false };
const train = brightnessImages(48, 3, 1);
const test = brightnessImages(30, 3, 2);
const state = (vars: { variable: tf.Variable }[]) =>
  vars.map((v) => Array.from(v.variable.dataSync()));

Deno.test("amdim-online: scores both heads, options recorded, BN state left intact", async () => {
  const encoder = createEncoder(cfg, 1);
  const heads = createClassifiers({ nIn: 16, nClasses: 3, seed: 1 });
  const before = state([...encoder.state, ...heads.state]);
  const opts = { policy: "cifar" as const, batchSize: 8, seed: 1, bnWarmup: true, dropLast: true };
  const r = await amdimOnlineEval(encoder, heads, test, opts);
  assertEquals(Object.keys(r.metrics).sort(), [
    "amdim-online.linear.top1",
    "amdim-online.linear.top5",
    "amdim-online.mlp.top1",
    "amdim-online.mlp.top5",
  ]);
  assertEquals(r.details.nEvaluated, 24, "drop_last keeps 3 full batches of 8");
  assertEquals(r.metrics["amdim-online.mlp.top5"].last, 1, "3 classes: top-5 is always right");
  assertEquals(state([...encoder.state, ...heads.state]), before);
  const plain = await amdimOnlineEval(encoder, heads, test, {
    ...opts,
    bnWarmup: false,
    dropLast: false,
  });
  assertEquals(plain.details.nEvaluated, 30);
  assertEquals(await amdimOnlineEval(encoder, heads, test, opts), r, "deterministic");
  encoder.dispose();
  heads.dispose();
});

Deno.test("amdim-offline: trains fresh heads on a frozen encoder; last and bestVal apart", async () => {
  const encoder = createEncoder(cfg, 1);
  const params = state(encoder.params);
  const bn = state(encoder.state);
  const opts = {
    epochs: 6,
    milestones: [4],
    gamma: 0.2,
    lr: 2e-2,
    batchSize: 8,
    seed: 3,
    augmentSeed: 1,
    policy: "cifar" as const,
    valFraction: 0.25,
  };
  const lines: string[] = [];
  const r = await amdimOfflineEval(encoder, train, test, opts, (l) => lines.push(l));
  assertEquals(lines.length, 6);
  for (const head of ["linear", "mlp"]) {
    const m = r.metrics[`amdim-offline.${head}.top1`];
    assert(m.bestVal !== undefined && m.last >= 0 && m.last <= 1, JSON.stringify(m));
  }
  assert(r.metrics["amdim-offline.linear.top1"].last > 0.6, JSON.stringify(r.metrics));
  assertEquals(r.details.nVal, 12);
  assertEquals(state(encoder.params), params, "encoder frozen");
  assertEquals(state(encoder.state), bn, "encoder BN statistics restored");
  assertEquals(await amdimOfflineEval(encoder, train, test, opts), r, "deterministic");
  const official = await amdimOfflineEval(encoder, train, test, {
    ...opts,
    epochs: 1,
    valFraction: 0,
  });
  assertEquals(official.metrics["amdim-offline.mlp.top1"].bestVal, undefined);
  encoder.dispose();
});

Deno.test("amdim-offline: PyTorch-0.4.1 BatchNorm init is U(0, 1)", () => {
  const heads = torch041Classifiers(16, 3, 1);
  const w = Array.from(heads.variable("mlp.bn.weight").dataSync());
  assert(w.every((v) => v >= 0 && v < 1) && new Set(w).size > 100);
  heads.dispose();
});

Deno.test("features: extracted once, cached in memory and on disk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const encoder = createEncoder(cfg, 1);
    const key = {
      model: "m",
      dataset: "b",
      split: "test",
      transform: "test:cifar",
      feature: "r1",
      n: 30,
    };
    const cache = new FeatureCache(dir);
    const f = await cache.get(
      key,
      () => extractFeatures(encoder, test, { policy: "cifar", batchSize: 7 }),
    );
    assertEquals([f.n, f.dim], [30, 16]);
    await cache.get(key, () => Promise.reject(new Error("must hit memory")));
    const again = new FeatureCache(dir);
    const g = await again.get(key, () => Promise.reject(new Error("must hit disk")));
    assertEquals(g, f);
    assertEquals(cache.computed + again.computed, 1);
    const whole = await extractFeatures(encoder, test, { policy: "cifar", batchSize: 30 });
    assertEquals(whole.features, f.features, "batch size does not change features");
    const gray = brightnessImages(4, 2, 1, 28, 1);
    const raw = await rawPixelFeatures(gray, { policy: "fmnist" });
    assertEquals(raw.dim, 32 * 32);
    encoder.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
