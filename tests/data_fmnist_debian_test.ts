import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "../src/testing/asserts.ts";
import { openDataset } from "../src/data/open_dataset.ts";
import { verifyDataset } from "../src/data/verify.ts";
import { datasetFingerprint } from "../src/data/fingerprint.ts";
import { loadManifest } from "../src/data/manifest.ts";

const DEBIAN = "/usr/share/datasets/fashion-mnist";
const installed = await Deno.stat(join(DEBIAN, "t10k-labels-idx1-ubyte.gz")).then(
  () => true,
  () => false,
);

Deno.test({
  name: "fashion-mnist from the Debian package: 60000/10000 28x28 images, labels 0-9",
  ignore: !installed,
  async fn() {
    const train = await openDataset("fashion-mnist", "train");
    const test = await openDataset("fashion-mnist", "test");
    assertEquals(train.root, DEBIAN);
    assertEquals([train.length, test.length], [60000, 10000]);
    assertEquals([train.height, train.width, train.channels, train.numClasses], [28, 28, 1, 10]);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    assertEquals(counts, new Array(10).fill(1000));
    assert(train.labels.every((l) => l >= 0 && l <= 9));
    const x = await test.readImages([0, 9999]);
    assertEquals(x.length, 2 * 784);
    assert(x.some((v) => v > 0));
    const fp = await datasetFingerprint(test);
    const manifest = await loadManifest();
    const debianSha = (name: string) =>
      manifest.datasets["fashion-mnist"].sources.find((s) => s.name === name)!.variants![0].sha256;
    assertEquals(fp["t10k-images-idx3-ubyte.gz"], debianSha("t10k-images-idx3-ubyte.gz"));
    assertEquals(fp["t10k-labels-idx1-ubyte.gz"], debianSha("t10k-labels-idx1-ubyte.gz"));
  },
});

Deno.test({
  name: "fashion-mnist: the Debian files match the manifest's sha256 and content sha256",
  ignore: !installed,
  async fn() {
    const report = await verifyDataset("fashion-mnist", { dataDir: "/nonexistent-amdim-data" });
    assertEquals(report.dir, DEBIAN);
    assertEquals(report.problems, []);
    assertEquals(report.files.length, 4);
    for (const f of report.files) {
      assertEquals(f.status, "ok");
      assertStringIncludes(f.checkedBy ?? "", "sha256 (manifest, debian) + contentSha256");
    }
  },
});

Deno.test("data command: list, where, verify and usage errors", async () => {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-check",
        new URL("../src/cli/data.ts", import.meta.url).pathname,
        ...args,
      ],
      env: { AMDIM_DATA_DIR: "/nonexistent-amdim-data" },
    }).output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  };
  const list = await run("list");
  assertEquals(list.code, 0);
  assertStringIncludes(list.stdout, "stl10");
  const where = await run("where", "cifar10");
  assertStringIncludes(where.stdout, "data folder: /nonexistent-amdim-data (from $AMDIM_DATA_DIR)");
  assertStringIncludes(
    where.stdout,
    "put cifar-10-binary.tar.gz (170052171 bytes, md5 c32a1d4ab5d03f1284b67883e8d87530) at /nonexistent-amdim-data/downloads/cifar-10-binary.tar.gz",
  );
  const verify = await run("verify", "cifar10");
  assertEquals(verify.code, 1);
  assertStringIncludes(
    verify.stdout,
    "missing   /nonexistent-amdim-data/cifar10/cifar-10-batches-bin/data_batch_1.bin",
  );
  if (installed) assertEquals((await run("verify", "fashion-mnist")).code, 0);
  const bad = await run("frobnicate");
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, "unknown command");
  assertEquals((await run("verify", "nope")).code, 2);
});
