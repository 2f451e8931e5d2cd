import {
  assert,
  assertEquals,
  assertLess,
  assertNotEquals,
  assertThrows,
} from "../src/testing/asserts.ts";
import { hflip } from "../src/augment/geometry.ts";
import { makeImage } from "../src/augment/image.ts";
import {
  applyViewParams,
  augmentSample,
  drawResizedCropBox,
  drawSampleParams,
  getPolicy,
  POLICIES,
  prepareSource,
  testTransform,
  type ViewParams,
} from "../src/augment/policy.ts";
import { BenchError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { chiSquareUniform, testImage } from "./helpers/augment_fixtures.ts";

const N = 12_000;

/** |observed - p| within 4.5 standard errors (false alarm ~1e-5), and the bound is tight enough. */
function assertRate(hits: number, n: number, p: number, what: string): void {
  const se = Math.sqrt(p * (1 - p) / n);
  const rate = hits / n;
  assert(
    Math.abs(rate - p) <= 4.5 * se,
    `${what}: rate ${rate.toFixed(4)}, expected ${p} +- ${(4.5 * se).toFixed(4)}`,
  );
}

// chi-square critical values at p = 1e-4.
const CHI2_1E4: Record<number, number> = { 3: 21.11, 8: 31.83, 9: 33.72, 23: 55.48 };

Deno.test("cifar draws: flip 0.5, translate p 0.8 with dx, dy uniform on -4..4, jitter 0.8, grayscale 0.25", () => {
  let flips = 0, translated = 0, jittered = 0, grey = 0, views = 0;
  const dxCounts = new Array(9).fill(0), dyCounts = new Array(9).fill(0);
  const orderCounts = new Map<string, number>();
  const factors: Record<string, number[]> = {
    brightness: [],
    contrast: [],
    saturation: [],
    hue: [],
  };
  let sameDxDy = 0;
  for (let i = 0; i < N; i++) {
    const p = drawSampleParams("cifar", 7, 3, i);
    if (p.flip) flips++;
    for (const v of p.views) {
      views++;
      assertEquals(v.crop, null);
      if (v.translate) {
        translated++;
        dxCounts[v.translate.dx + 4]++;
        dyCounts[v.translate.dy + 4]++;
        if (v.translate.dx === v.translate.dy) sameDxDy++;
      }
      if (v.jitter) {
        jittered++;
        const key = v.jitter.order.join(",");
        orderCounts.set(key, (orderCounts.get(key) ?? 0) + 1);
        for (const k of ["brightness", "contrast", "saturation", "hue"] as const) {
          factors[k].push(v.jitter[k]);
        }
      }
      if (v.grayscale) grey++;
    }
  }
  assertRate(flips, N, 0.5, "flip");
  assertRate(translated, views, 0.8, "translate applied");
  assertRate(jittered, views, 0.8, "jitter applied");
  assertRate(grey, views, 0.25, "grayscale");
  assertLess(chiSquareUniform(dxCounts), CHI2_1E4[8], `dx counts ${dxCounts}`);
  assertLess(chiSquareUniform(dyCounts), CHI2_1E4[8], `dy counts ${dyCounts}`);
  // dx and dy are independent: P(dx == dy) = 1/9.
  assertRate(sameDxDy, translated, 1 / 9, "dx == dy");
  assertEquals(orderCounts.size, 24);
  assertLess(chiSquareUniform([...orderCounts.values()]), CHI2_1E4[23], "jitter orders uniform");
  for (
    const [k, lo, hi] of [["brightness", 0.6, 1.4], ["contrast", 0.6, 1.4], [
      "saturation",
      0.6,
      1.4,
    ], ["hue", -0.2, 0.2]] as const
  ) {
    const xs = factors[k];
    assert(xs.every((x) => x >= lo && x < hi), `${k} outside [${lo}, ${hi})`);
    // Uniform: 10 equal bins.
    const bins = new Array(10).fill(0);
    for (const x of xs) bins[Math.min(9, Math.floor((x - lo) / (hi - lo) * 10))]++;
    assertLess(chiSquareUniform(bins), CHI2_1E4[9], `${k} bins ${bins}`);
    // Range really reaches both ends (a narrower range would fail).
    assert(
      Math.min(...xs) < lo + 0.01 * (hi - lo) && Math.max(...xs) > hi - 0.01 * (hi - lo),
      `${k} range`,
    );
  }
});

Deno.test("imagenet hue range is 0.1, stl10/imagenet draw crops and no translation", () => {
  let maxHue = 0;
  for (let i = 0; i < 3000; i++) {
    const p = drawSampleParams("imagenet", 1, 0, i, { height: 200, width: 180 });
    for (const v of p.views) {
      assertEquals(v.translate, null);
      assert(v.crop !== null);
      if (v.jitter) maxHue = Math.max(maxHue, Math.abs(v.jitter.hue));
    }
  }
  assert(maxHue <= 0.1 && maxHue > 0.099, `max |hue| ${maxHue}`);
});

Deno.test("resized-crop boxes: scale in 0.3-1, ratio in 0.7-1.4 log-uniform, uniform scale", () => {
  const H = 1000, W = 1000;
  const lowScaleBins = [0, 0, 0, 0]; // scale in [0.3, 0.7) in 4 bins: no rejections there
  let belowMid = 0, lowScale = 0;
  const logMid = (Math.log(0.7) + Math.log(1.4)) / 2;
  for (let i = 0; i < N; i++) {
    const box = drawResizedCropBox(new Rng(5, "augment", 0, i, 0), H, W, [0.3, 1], [0.7, 1.4]);
    assert(box.top >= 0 && box.left >= 0 && box.top + box.height <= H && box.left + box.width <= W);
    const scale = box.height * box.width / (H * W);
    const ratio = box.width / box.height;
    // Rounding of w and h to integers moves scale/ratio by < 0.3 % at this size.
    assert(scale >= 0.3 * 0.997 && scale <= 1, `scale ${scale}`);
    assert(ratio >= 0.7 * 0.997 && ratio <= 1.4 * 1.003, `ratio ${ratio}`);
    if (scale < 0.7) {
      lowScale++;
      lowScaleBins[Math.min(3, Math.floor((scale - 0.3) / 0.1))]++;
      if (Math.log(ratio) < logMid) belowMid++;
    }
  }
  assertLess(chiSquareUniform(lowScaleBins), CHI2_1E4[3], `scale bins ${lowScaleBins}`);
  // Log-uniform ratio: half below the log-midpoint (a uniform ratio would give 41 %).
  assertRate(belowMid, lowScale, 0.5, "log ratio below midpoint");
  // Fallback after 10 failed tries: a very wide image gets the centred 1.4-ratio crop.
  assertEquals(
    drawResizedCropBox(new Rng(1, "x"), 10, 200, [0.3, 1], [0.7, 1.4]),
    { top: 0, left: 93, height: 10, width: 14 },
  );
  assertEquals(
    drawResizedCropBox(new Rng(1, "x"), 300, 12, [0.3, 1], [0.7, 1.4]),
    { top: 141, left: 0, height: 17, width: 12 },
  );
});

Deno.test("the same (seed, epoch, index, view) always gives the same parameters; others differ", () => {
  const a = drawSampleParams("stl10", 3, 2, 77);
  assertEquals(drawSampleParams("stl10", 3, 2, 77), a);
  assertNotEquals(drawSampleParams("stl10", 3, 3, 77), a);
  assertNotEquals(drawSampleParams("stl10", 4, 2, 77), a);
  assertNotEquals(drawSampleParams("stl10", 3, 2, 78), a);
  assertNotEquals(a.views[0], a.views[1]);
});

Deno.test("views of one sample differ but share the flip of the source", () => {
  for (const policy of ["cifar", "stl10"] as const) {
    const size = policy === "cifar" ? 32 : 96;
    let differ = 0, flipped = 0;
    for (let i = 0; i < 60; i++) {
      const img = testImage(100 + i, size, size);
      const { params, views } = augmentSample(policy, img, 9, 1, i);
      if (params.flip) flipped++;
      const src = prepareSource(policy, img);
      const base = params.flip ? hflip(src) : src;
      // Both views are made from the same (flipped or not) source.
      assertEquals(views[0].data, applyViewParams(policy, base, params.views[0]).data);
      assertEquals(views[1].data, applyViewParams(policy, base, params.views[1]).data);
      if (views[0].data.some((v, k) => v !== views[1].data[k])) differ++;
    }
    assert(flipped > 10 && flipped < 50, `${policy}: ${flipped} of 60 flipped`);
    assert(differ >= 55, `${policy}: only ${differ} of 60 samples have different views`);
  }
  // With identity view parameters, a flipped sample's views are exactly the mirrored source.
  const img = testImage(3, 32, 32);
  const identity: ViewParams = { translate: null, crop: null, jitter: null, grayscale: false };
  assertEquals(applyViewParams("cifar", hflip(img), identity).data, hflip(img).data);
});

Deno.test("fmnist: 28x28x1 is zero-padded to 32 and replicated; none keeps the source", () => {
  const grey = makeImage(new Uint8Array(28 * 28).map((_, i) => 1 + (i % 250)), 28, 28, 1);
  const src = prepareSource("fmnist", grey);
  assertEquals([src.height, src.width, src.channels], [32, 32, 3]);
  assertEquals(Array.from(src.data.slice(0, 3)), [0, 0, 0]);
  const at = ((2 * 32) + 2) * 3;
  assertEquals(Array.from(src.data.slice(at, at + 3)), [1, 1, 1]);
  assertEquals(testTransform("fmnist", grey).data, src.data);
  assertEquals(POLICIES.fmnist.normalization.mean, [0.2860, 0.2860, 0.2860]);
  const img = testImage(4, 20, 24);
  const { params, views } = augmentSample("none", img, 1, 0, 0);
  assertEquals(params.flip, false);
  assertEquals(views[0].data, img.data);
  assertEquals(views[1].data, img.data);
});

Deno.test("test transforms and other input sizes", () => {
  assertEquals(sizeOf(testTransform("stl10", testImage(1, 96, 96))), [64, 64, 3]);
  assertEquals(sizeOf(testTransform("stl10", testImage(1, 75, 100))), [64, 64, 3]);
  assertEquals(sizeOf(testTransform("imagenet", testImage(1, 160, 200))), [128, 128, 3]);
  assertEquals(sizeOf(testTransform("cifar", testImage(1, 32, 32))), [32, 32, 3]);
  // Other sizes: cifar resizes to 32; stl10/imagenet crop any size to 64/128.
  assertEquals(sizeOf(testTransform("cifar", testImage(1, 48, 40))), [32, 32, 3]);
  assertEquals(sizeOf(augmentSample("cifar", testImage(1, 48, 40), 1, 0, 0).views[0]), [32, 32, 3]);
  assertEquals(sizeOf(augmentSample("stl10", testImage(1, 32, 32), 1, 0, 0).views[1]), [64, 64, 3]);
  assertEquals(sizeOf(augmentSample("imagenet", testImage(1, 64, 80, 1), 1, 0, 0).views[0]), [
    128,
    128,
    3,
  ]);
  assertEquals(testTransform("cifar", testImage(2, 32, 32)).data, testImage(2, 32, 32).data);
  assertThrows(() => getPolicy("cifar10"), BenchError, "unknown augmentation policy");
  assertThrows(
    () => prepareSource("cifar", makeImage(new Uint8Array(32 * 32 * 4), 32, 32, 4)),
    BenchError,
  );
});

function sizeOf(img: { height: number; width: number; channels: number }): number[] {
  return [img.height, img.width, img.channels];
}
