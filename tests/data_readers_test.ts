import { join } from "node:path";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../src/testing/asserts.ts";
import { openDataset } from "../src/data/open_dataset.ts";
import { datasetFingerprint } from "../src/data/fingerprint.ts";
import { loadManifest, parseManifest } from "../src/data/manifest.ts";
import { BenchError } from "../src/util/errors.ts";
import { sha256Hex } from "../src/util/hash.ts";
import {
  cifarRecords,
  fixtureImageHwc,
  fixtureManifest,
  gzip,
  idxBytes,
  writeJpegFolder,
  writeStlFixture,
} from "./helpers/data_fixtures.ts";

const manifest = await fixtureManifest();

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "amdim-data-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("manifest: the checked-in manifest validates; bad ones name the key path", async () => {
  const real = await loadManifest();
  assertEquals(Object.keys(real.datasets).sort(), [
    "cifar10",
    "cifar100",
    "fashion-mnist",
    "imagenet",
    "stl10",
    "synthetic",
  ]);
  for (const ds of Object.values(real.datasets)) {
    for (const s of ds.sources) assert(s.sha256 !== null || s.sha256Status, `${s.name} says why`);
  }
  const bad = structuredClone(real) as unknown as {
    datasets: Record<string, Record<string, unknown>>;
  };
  (bad.datasets.cifar10.sources as Record<string, unknown>[])[0].md5 = "XYZ";
  bad.datasets.cifar10.colour = 1;
  const e = assertThrows(() => parseManifest(bad, "m.json"), BenchError);
  assertStringIncludes(e.message, "datasets.cifar10.sources.0.md5");
  assertStringIncludes(e.message, "'colour'");
  const nullSha = structuredClone(real) as unknown as {
    datasets: Record<string, { sources: Record<string, unknown>[] }>;
  };
  delete nullSha.datasets.stl10.sources[0].sha256Status;
  assertThrows(() => parseManifest(nullSha), BenchError, "sha256Status");
});

Deno.test("cifar10 and cifar100 binary records read as HWC with the right labels", async () => {
  await withTemp(async (root) => {
    const c10 = join(root, "cifar10", "cifar-10-batches-bin");
    await Deno.mkdir(c10, { recursive: true });
    for (let b = 1; b <= 5; b++) {
      await Deno.writeFile(
        join(c10, `data_batch_${b}.bin`),
        cifarRecords((b - 1) * 4, 4, (i) => [i % 10]),
      );
    }
    await Deno.writeFile(join(c10, "test_batch.bin"), cifarRecords(100, 3, (i) => [(i * 3) % 10]));
    const train = await openDataset("cifar10", "train", { dataDir: root, manifest });
    assertEquals([train.length, train.height, train.width, train.channels, train.numClasses], [
      20,
      32,
      32,
      3,
      10,
    ]);
    assertEquals(Array.from(train.labels), Array.from({ length: 20 }, (_, i) => i % 10));
    const x = await train.readImages([13, 0, 13]);
    assertEquals(x.length, 3 * 3072);
    assertEquals(x.subarray(0, 3072), fixtureImageHwc(13, 32, 32, 3));
    assertEquals(x.subarray(3072, 6144), fixtureImageHwc(0, 32, 32, 3));
    assertEquals(x.subarray(6144), fixtureImageHwc(13, 32, 32, 3));
    await assertRejects(() => train.readImages([20]), BenchError, "outside");
    const fp = await datasetFingerprint(train);
    assertEquals(Object.keys(fp)[0], "cifar-10-batches-bin/data_batch_1.bin");
    assertEquals(
      fp["cifar-10-batches-bin/data_batch_1.bin"],
      sha256Hex(await Deno.readFile(join(c10, "data_batch_1.bin"))),
    );
    const limited = await openDataset("cifar10", "test", { dataDir: root, manifest, limit: 2 });
    assertEquals(limited.length, 2);
    assertEquals(Array.from(limited.labels), [0, 3]);

    const c100 = join(root, "cifar100", "cifar-100-binary");
    await Deno.mkdir(c100, { recursive: true });
    // coarse label byte first (ignored), fine label second (used).
    await Deno.writeFile(join(c100, "train.bin"), cifarRecords(0, 6, (i) => [19, 90 + i]));
    await Deno.writeFile(join(c100, "test.bin"), cifarRecords(50, 2, (i) => [3, i]));
    const t100 = await openDataset("cifar100", "train", { dataDir: root, manifest });
    assertEquals(Array.from(t100.labels), [90, 91, 92, 93, 94, 95]);
    assertEquals(t100.classNames[90], "train");
    assertEquals(t100.classNames[99], "worm");
    assertEquals(await t100.readImages([5]), fixtureImageHwc(5, 32, 32, 3));
    // A file that is not whole records is an error naming it.
    await Deno.writeFile(join(c100, "test.bin"), new Uint8Array(3075));
    const e = await assertRejects(
      () => openDataset("cifar100", "test", { dataDir: root, manifest }),
      BenchError,
    );
    assertStringIncludes(e.location ?? "", "test.bin");
  });
});

Deno.test("stl10: column-major on-demand reads, unlabeled, train+unlabeled, folds above 255", async () => {
  await withTemp(async (root) => {
    const dir = join(root, "stl10");
    const { folds } = await writeStlFixture(dir, { train: 300, test: 4, unlabeled: 40 });
    const train = await openDataset("stl10", "train", { dataDir: root, manifest });
    assertEquals([train.length, train.height, train.width, train.channels], [300, 96, 96, 3]);
    assertEquals(train.labels[0], 0);
    assertEquals(train.labels[9], 9);
    const x = await train.readImages([7, 6, 299]);
    assertEquals(x.subarray(0, 27648), fixtureImageHwc(7, 96, 96, 3));
    assertEquals(x.subarray(27648, 2 * 27648), fixtureImageHwc(6, 96, 96, 3));
    assertEquals(x.subarray(2 * 27648), fixtureImageHwc(299, 96, 96, 3));
    train.close();

    const unl = await openDataset("stl10", "unlabeled", { dataDir: root, manifest });
    assertEquals(unl.length, 40);
    assert(unl.labels.every((l) => l === -1));
    // Concurrent calls on one file handle do not interleave.
    const [a, b] = await Promise.all([unl.readImages([39, 0]), unl.readImages([1, 2, 3])]);
    assertEquals(a.subarray(0, 27648), fixtureImageHwc(5039, 96, 96, 3));
    assertEquals(a.subarray(27648), fixtureImageHwc(5000, 96, 96, 3));
    assertEquals(b.subarray(2 * 27648), fixtureImageHwc(5003, 96, 96, 3));
    unl.close();

    const both = await openDataset("stl10", "train+unlabeled", { dataDir: root, manifest });
    assertEquals(both.length, 340);
    assertEquals(both.labels[299], 9);
    assertEquals(both.labels[300], -1);
    const y = await both.readImages([300, 299]);
    assertEquals(y.subarray(0, 27648), fixtureImageHwc(5000, 96, 96, 3));
    assertEquals(y.subarray(27648), fixtureImageHwc(299, 96, 96, 3));
    both.close();

    const fold = await openDataset("stl10", "fold-9", { dataDir: root, manifest });
    assert(folds[9].some((i) => i > 255), "the fixture has fold indices above 255");
    assertEquals(fold.length, folds[9].length);
    assertEquals(Array.from(fold.labels), folds[9].map((i) => i % 10));
    const big = folds[9].findIndex((i) => i > 255);
    assertEquals(await fold.readImages([big]), fixtureImageHwc(folds[9][big], 96, 96, 3));
    fold.close();

    const test = await openDataset("stl10", "test", { dataDir: root, manifest });
    assertEquals(Array.from(test.labels), [3, 4, 5, 6]);
    test.close();
    await assertRejects(
      () => openDataset("stl10", "fold-10", { dataDir: root, manifest }),
      BenchError,
    );
    // A truncated image file is a clear error.
    await Deno.truncate(join(dir, "stl10_binary", "unlabeled_X.bin"), 27648 * 40 - 5);
    await assertRejects(
      () => openDataset("stl10", "unlabeled", { dataDir: root, manifest }),
      BenchError,
      "27648",
    );
  });
});

Deno.test("fashion-mnist: gzip'd idx with magic numbers; bad magic is rejected", async () => {
  await withTemp(async (root) => {
    const dir = join(root, "fmnist");
    await Deno.mkdir(dir);
    const n = 5;
    const pixels = Uint8Array.from({ length: n * 784 }, (_, i) => (i * 13) & 255);
    await Deno.writeFile(
      join(dir, "t10k-images-idx3-ubyte.gz"),
      await gzip(idxBytes([n, 28, 28], pixels)),
    );
    await Deno.writeFile(
      join(dir, "t10k-labels-idx1-ubyte.gz"),
      await gzip(idxBytes([n], Uint8Array.of(9, 0, 4, 4, 1))),
    );
    await Deno.writeFile(
      join(dir, "train-images-idx3-ubyte.gz"),
      await gzip(idxBytes([n, 28, 28], pixels)),
    );
    await Deno.writeFile(
      join(dir, "train-labels-idx1-ubyte.gz"),
      await gzip(idxBytes([n], Uint8Array.of(1, 1, 1, 1, 1))),
    );
    const ds = await openDataset("fashion-mnist", "test", { root: dir, manifest });
    assertEquals([ds.length, ds.height, ds.width, ds.channels], [5, 28, 28, 1]);
    assertEquals(Array.from(ds.labels), [9, 0, 4, 4, 1]);
    assertEquals(await ds.readImages([3]), pixels.subarray(3 * 784, 4 * 784));
    const badMagic = idxBytes([n], Uint8Array.of(9, 0, 4, 4, 1));
    badMagic[2] = 0x0d; // float
    await Deno.writeFile(join(dir, "t10k-labels-idx1-ubyte.gz"), await gzip(badMagic));
    await assertRejects(
      () => openDataset("fashion-mnist", "test", { root: dir, manifest }),
      BenchError,
      "uint8",
    );
  });
});

Deno.test("image folder: sorted wnids, ILSVRC2012 names, decoded on demand to a fixed square", async () => {
  await withTemp(async (root) => {
    await writeJpegFolder(root, {
      ILSVRC2012_img_train: { n02: 2, n01: 2 },
      ILSVRC2012_img_val: { n01: 1, n02: 2 },
    });
    const train = await openDataset("imagenet", "train", { root, manifest, imageSize: 24 });
    assertEquals([train.length, train.numClasses, train.height, train.width, train.channels], [
      4,
      2,
      24,
      24,
      3,
    ]);
    assertEquals(train.classNames, ["n01", "n02"]);
    assertEquals(Array.from(train.labels), [0, 0, 1, 1]);
    const val = await openDataset("imagenet", "test", { root, manifest, imageSize: 24 });
    assertEquals(Array.from(val.labels), [0, 1, 1]);
    const x = await val.readImages([0, 2]);
    assertEquals(x.length, 2 * 24 * 24 * 3);
    // A solid colour survives decoding (JPEG error of a few levels).
    assert(Math.abs(x[0] - 200) <= 4 && Math.abs(x[2] - 60) <= 4, `got ${x.subarray(0, 3)}`);
    const fp = await datasetFingerprint(val);
    assertEquals(Object.keys(fp), ["ILSVRC2012_img_val/listing"]);
  });
});

Deno.test("synthetic: deterministic by seed, any shape, class-dependent", async () => {
  const params = { n: 64, testN: 16, height: 12, width: 20, channels: 3, numClasses: 4, seed: 5 };
  const a = await openDataset("synthetic", "train", { synthetic: params, manifest });
  const b = await openDataset("synthetic", "train", { synthetic: params, manifest });
  const c = await openDataset("synthetic", "train", {
    synthetic: { ...params, seed: 6 },
    manifest,
  });
  const idx = Array.from({ length: 64 }, (_, i) => i);
  assertEquals(a.labels, b.labels);
  const xa = await a.readImages(idx);
  assertEquals(xa, await b.readImages(idx));
  assertNotEquals(xa, await c.readImages(idx));
  assertEquals(xa.length, 64 * 12 * 20 * 3);
  // Image 17 alone equals image 17 in the batch.
  assertEquals(await a.readImages([17]), xa.subarray(17 * 720, 18 * 720));
  const test = await openDataset("synthetic", "test", { synthetic: params, manifest });
  assertEquals(test.length, 16);
  assertNotEquals(await test.readImages([0]), xa.subarray(0, 720));
  // Classes differ in mean colour more than images of one class do.
  const mean = (cls: number, ch: number) => {
    let s = 0, k = 0;
    for (let i = 0; i < 64; i++) {
      if (a.labels[i] !== cls) continue;
      for (let p = 0; p < 240; p++) s += Math.abs(xa[i * 720 + p * 3 + ch] - 128);
      k++;
    }
    return s / (k * 240);
  };
  assert(new Set(Array.from(a.labels)).size === 4);
  assert(Math.abs(mean(0, 0) - mean(2, 0)) > 5, "class 0 and 2 differ in red contrast");
  assertEquals(await datasetFingerprint(a), await datasetFingerprint(b));
  assertNotEquals(await datasetFingerprint(a), await datasetFingerprint(c));
  const sub = await openDataset("synthetic", "train", {
    synthetic: params,
    manifest,
    indices: [5, 3],
    limit: 1,
  });
  assertEquals(sub.length, 1);
  assertEquals(await sub.readImages([0]), xa.subarray(5 * 720, 6 * 720));
  await assertRejects(() => openDataset("synthetic", "train", { manifest }), BenchError);
});
