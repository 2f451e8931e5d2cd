import * as tf from "@tensorflow/tfjs";
import { linearProbe } from "../src/eval/linear_probe.ts";
import { topKAccuracy, topKCounts } from "../src/eval/accuracy.ts";
import { splitTrainVal } from "../src/eval/val_split.ts";
import { gaussianClusters } from "./helpers/synthetic_features.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../src/testing/asserts.ts";

await tf.setBackend("cpu");

const probe = { valFraction: 0.2, seed: 3, l2: [0, 1e-2], epochs: 8, batchSize: 64, lr: 1e-2 };

Deno.test("accuracy: top-k counts with ties broken towards the lower class", () => {
  const scores = new Float32Array([
    0.5,
    0.5,
    0.0, // label 0: tie with class 1, wins (lower index)
    0.5,
    0.5,
    0.0, // label 1: tie with class 0, loses top-1
    0.1,
    0.2,
    0.3, // label 0: ranked third
  ]);
  assertEquals(topKCounts(scores, 3, new Int32Array([0, 1, 0])), { count: 3, top1: 1, top5: 3 });
  const acc = topKAccuracy(new Float32Array([1, 0, 0, 1]), 2, new Int32Array([0, -1]));
  assertEquals(acc, { top1: 1, top5: 1, count: 1 });
  assertThrows(() => topKCounts(new Float32Array(3), 2, new Int32Array([0, 1])));
});

Deno.test("val split: stratified, disjoint, seeded, excludes unlabelled rows", () => {
  const labels = Int32Array.from({ length: 1000 }, (_, i) => (i % 7 === 6 ? -1 : i % 3));
  const a = splitTrainVal(labels, 0.1, 1);
  const b = splitTrainVal(labels, 0.1, 1);
  assertEquals(a, b);
  const c = splitTrainVal(labels, 0.1, 2);
  assert(JSON.stringify(a.val) !== JSON.stringify(c.val), "a different seed moves the split");
  const seen = new Set<number>();
  for (const r of [...a.train, ...a.val]) {
    assert(!seen.has(r), `row ${r} in both parts`);
    assert(labels[r] >= 0);
    seen.add(r);
  }
  assertEquals(seen.size, labels.filter((y) => y >= 0).length);
  for (let y = 0; y < 3; y++) {
    const total = labels.filter((v) => v === y).length;
    assertEquals(a.val.filter((r) => labels[r] === y).length, Math.round(0.1 * total));
  }
});

Deno.test("linear-probe: separable Gaussian clusters are classified almost perfectly", async () => {
  const opts = { dim: 16, numClasses: 10, separation: 3, seed: 1 };
  const train = gaussianClusters({ ...opts, n: 2000, part: "train" });
  const test = gaussianClusters({ ...opts, n: 500, part: "test" });
  const r = await linearProbe(train, test, probe);
  assert(r.metrics["linear-probe.top1"].last > 0.97, JSON.stringify(r.metrics));
  assert(r.metrics["linear-probe.top1"].bestVal! > 0.97);
  assertEquals(r.metrics["linear-probe.top5"].last, 1);
  assertEquals(r.details.nVal, 400);
  assertEquals(r.details.nTest, 500);
});

Deno.test("linear-probe: random labels stay at chance", async () => {
  const opts = { dim: 16, numClasses: 10, separation: 3, seed: 2, randomLabels: true };
  const train = gaussianClusters({ ...opts, n: 2000, part: "train" });
  const test = gaussianClusters({ ...opts, n: 1000, part: "test" });
  const r = await linearProbe(train, test, probe);
  const top1 = r.metrics["linear-probe.top1"].last;
  assert(Math.abs(top1 - 0.1) < 0.05, `top1 ${top1} should be near chance`);
  assert(Math.abs(r.metrics["linear-probe.top5"].last - 0.5) < 0.07);
});

Deno.test("linear-probe: deterministic, and the test split never steers the selection", async () => {
  const opts = { dim: 8, numClasses: 4, separation: 0.6, seed: 5 };
  const train = gaussianClusters({ ...opts, n: 800, part: "train" });
  const test = gaussianClusters({ ...opts, n: 300, part: "test" });
  const o = { ...probe, l2: [0, 0.05, 0.5] };
  const a = await linearProbe(train, test, o);
  assertEquals(await linearProbe(train, test, o), a);
  // Same training data, a scrambled test split: the choices made must not move.
  const scrambled = { ...test, labels: test.labels.map((y, i) => (y + i) % 4) };
  const b = await linearProbe(train, scrambled, o);
  assertEquals(b.details.chosenL2, a.details.chosenL2);
  assertEquals(b.details.bestValEpoch, a.details.bestValEpoch);
  assertEquals(b.details.selection, a.details.selection);
  assert(b.metrics["linear-probe.top1"].last !== a.metrics["linear-probe.top1"].last);
});

Deno.test("linear-probe: several l2 values without a validation split is an error", async () => {
  const set = gaussianClusters({ n: 40, dim: 2, numClasses: 2, separation: 1, seed: 1, part: "x" });
  await assertRejects(() => linearProbe(set, set, { ...probe, valFraction: 0 }));
  const r = await linearProbe(set, set, { ...probe, valFraction: 0, l2: [0] });
  assertEquals(r.metrics["linear-probe.top1"].bestVal, undefined);
});
