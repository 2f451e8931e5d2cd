import { assert, assertEquals, assertNotEquals, assertRejects } from "../src/testing/asserts.ts";
import { makeImage } from "../src/augment/image.ts";
import { normalizationTable, normalizeInto } from "../src/augment/normalize.ts";
import { augmentSample, POLICIES, testTransform } from "../src/augment/policy.ts";
import { AugmentPool, memorySource, testViews, trainViews } from "../src/augment/pipeline.ts";
import { runDataPerf } from "../src/augment/perf_data.ts";
import { BenchError } from "../src/util/errors.ts";
import { testImages } from "./helpers/augment_fixtures.ts";

const N = 64;
const cifar = memorySource(testImages(21, N, 32, 32), 32, 32, 3);
const stl = memorySource(testImages(22, 24, 72, 80), 72, 80, 3);
const fmnist = memorySource(testImages(23, 16, 28, 28, 1), 28, 28, 1);

function slice(x: Float32Array, k: number, per: number): Float32Array {
  return x.subarray(k * per, (k + 1) * per);
}

Deno.test("batch 1 vs batch 64 vs 2 workers give identical views; views match augmentSample", async () => {
  const indices = Array.from({ length: N }, (_, i) => (i * 7) % N);
  const whole = await trainViews(cifar, { policy: "cifar", seed: 5, epoch: 2, indices });
  assertEquals([whole.n, whole.height, whole.width, whole.channels], [N, 32, 32, 3]);
  const per = 32 * 32 * 3;
  for (let k = 0; k < N; k += 9) {
    const one = await trainViews(cifar, {
      policy: "cifar",
      seed: 5,
      epoch: 2,
      indices: [indices[k]],
    });
    assertEquals(one.x1, slice(whole.x1, k, per).slice());
    assertEquals(one.x2, slice(whole.x2, k, per).slice());
  }
  // The per-sample path (uint8 views, then normalisation) gives the same values.
  const img = await cifar.readImages([indices[3]]);
  const { views } = augmentSample("cifar", makeImage(img, 32, 32, 3), 5, 2, indices[3]);
  const lut = normalizationTable(POLICIES.cifar.normalization);
  const v1 = new Float32Array(per);
  normalizeInto(views[0], lut, v1, 0);
  assertEquals(v1, slice(whole.x1, 3, per).slice());
  assertNotEquals(slice(whole.x1, 3, per).slice(), slice(whole.x2, 3, per).slice());

  const pool = new AugmentPool(2);
  try {
    const pooled = await trainViews(cifar, { policy: "cifar", seed: 5, epoch: 2, indices, pool });
    assertEquals(pooled.x1, whole.x1);
    assertEquals(pooled.x2, whole.x2);
    // Crops (stl10 from a non-standard 72x80 source), grey fmnist, and the test transforms.
    const si = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9];
    const a = await trainViews(stl, { policy: "stl10", seed: 1, epoch: 0, indices: si });
    const b = await trainViews(stl, { policy: "stl10", seed: 1, epoch: 0, indices: si, pool });
    assertEquals([a.height, a.width], [64, 64]);
    assertEquals(b.x1, a.x1);
    assertEquals(b.x2, a.x2);
    // Repeated index 1 (positions 1 and 3) gets the same views: the draw depends on the index only.
    const sper = 64 * 64 * 3;
    assertEquals(slice(a.x1, 1, sper).slice(), slice(a.x1, 3, sper).slice());
    const f0 = await trainViews(fmnist, {
      policy: "fmnist",
      seed: 2,
      epoch: 1,
      indices: [0, 1, 2, 3, 4],
    });
    const f2 = await trainViews(fmnist, {
      policy: "fmnist",
      seed: 2,
      epoch: 1,
      indices: [0, 1, 2, 3, 4],
      pool,
    });
    assertEquals(f2.x1, f0.x1);
    const t0 = await testViews(stl, { policy: "stl10", indices: si });
    const t2 = await testViews(stl, { policy: "stl10", indices: si, pool });
    assertEquals(t2.x, t0.x);
    assertEquals([t0.n, t0.height, t0.width], [si.length, 64, 64]);
  } finally {
    pool.close();
  }
});

Deno.test("epochs and seeds change the views; test views are deterministic and normalised", async () => {
  const e0 = await trainViews(cifar, { policy: "cifar", seed: 5, epoch: 0, indices: [1, 2, 3] });
  const e1 = await trainViews(cifar, { policy: "cifar", seed: 5, epoch: 1, indices: [1, 2, 3] });
  const s6 = await trainViews(cifar, { policy: "cifar", seed: 6, epoch: 0, indices: [1, 2, 3] });
  assertNotEquals(e0.x1, e1.x1);
  assertNotEquals(e0.x1, s6.x1);
  const t = await testViews(fmnist, { policy: "fmnist", indices: [0] });
  assertEquals([t.height, t.width, t.channels], [32, 32, 3]);
  // The zero padding normalises to (0 - 0.2860) / 0.3530 in float32.
  const pad = Math.fround(Math.fround(0 - Math.fround(0.2860)) / Math.fround(0.3530));
  assertEquals(t.x[0], pad);
  const img = makeImage(await fmnist.readImages([0]), 28, 28, 1);
  const lut = normalizationTable(POLICIES.fmnist.normalization);
  const expected = new Float32Array(32 * 32 * 3);
  normalizeInto(testTransform("fmnist", img), lut, expected, 0);
  assertEquals(t.x, expected);
  const empty = await trainViews(cifar, { policy: "cifar", seed: 1, epoch: 0, indices: [] });
  assertEquals(empty.x1.length, 0);
  await assertRejects(
    () => trainViews(cifar, { policy: "cifar", seed: 1, epoch: 0, indices: [N] }),
    BenchError,
    "out of range",
  );
  await assertRejects(
    () => trainViews(cifar, { policy: "cifar", seed: 1, epoch: 0, indices: [-1] }),
    BenchError,
  );
});

Deno.test("runDataPerf measures and reports JSON", async () => {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  let code: number;
  try {
    code = await runDataPerf([
      "--data",
      "--policy",
      "stl10",
      "--workers",
      "0",
      "--batch-size",
      "8",
      "--seconds",
      "0.2",
      "--json",
    ]);
  } finally {
    console.log = log;
  }
  assertEquals(code, 0);
  const r = JSON.parse(lines[0]);
  assertEquals(r.policy, "stl10");
  assertEquals(r.viewShape, [64, 64, 3]);
  assert(r.samples >= 8 && r.samplesPerSecond > 0);
});
