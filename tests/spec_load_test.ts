/** Spec loading: shipped specs and suites, extends, overrides, defaults and hash stability. */
import { assert, assertEquals, assertNotEquals } from "../src/testing/asserts.ts";
import { loadSpec, readSpecLayers, resolveSpecLayers } from "../src/spec/load.ts";
import { loadSuites, resolveTarget } from "../src/spec/suites.ts";
import { canonicalJson } from "../src/spec/canonical.ts";
import { SPEC_SCHEMA } from "../src/spec/schema.ts";
import { DATASET_IDS, POLICIES, PROTOCOLS } from "../src/spec/types.ts";
import { DEFAULT_MANIFEST, DEFAULT_SPECS_DIR } from "../src/spec/context.ts";
import { baseSpecValue, specDir } from "./helpers/harness_fixtures.ts";

Deno.test("every shipped spec loads and every suite names shipped specs", async () => {
  const ids: string[] = [];
  for await (const e of Deno.readDir(DEFAULT_SPECS_DIR)) {
    if (e.name.endsWith(".jsonc")) ids.push(e.name.slice(0, -6));
  }
  assert(ids.length >= 7, `specs: ${ids}`);
  for (const id of ids.sort()) {
    const loaded = await loadSpec(id);
    assertEquals(loaded.spec.id, id);
    assert(/^[0-9a-f]{64}$/.test(loaded.hash));
  }
  const suites = await loadSuites();
  assertEquals(suites.quick, ["smoke", "fmnist-tiny"]);
  assertEquals(suites.paper, [
    "cifar10-amdim",
    "cifar100-amdim",
    "stl10-amdim",
    "imagenet128-amdim",
  ]);
  for (const list of Object.values(suites)) for (const id of list) assert(ids.includes(id), id);
  assertEquals(await resolveTarget("quick"), { suite: "quick", specs: ["smoke", "fmnist-tiny"] });
  assertEquals(await resolveTarget("smoke"), { suite: null, specs: ["smoke"] });
});

Deno.test("paper specs carry the official hyperparameters", async () => {
  const c10 = (await loadSpec("cifar10-amdim")).spec;
  assertEquals(c10.encoder, { inputSize: 32, ndf: 128, nRkhs: 1024, nDepth: 3, useBn: false });
  assertEquals([c10.pretrain.batchSize, c10.pretrain.epochs], [200, 300]);
  assertEquals(c10.pretrain.schedule.milestones, [250, 280]);
  assertEquals(c10.pretrain.optimizer, {
    name: "adam",
    lr: 2e-4,
    betas: [0.8, 0.999],
    eps: 1e-8,
    weightDecay: 1e-5,
  });
  const c100 = (await loadSpec("cifar100-amdim")).spec;
  assertEquals(c100.dataset.pins, { "cifar-100-binary.tar.gz": null });
  assertEquals(c100.encoder, c10.encoder);
  const stl = (await loadSpec("stl10-amdim")).spec;
  assertEquals([stl.encoder.inputSize, stl.dataset.trainSplit, stl.augment.policy], [
    64,
    "train+unlabeled",
    "stl10",
  ]);
  const inet = (await loadSpec("imagenet128-amdim")).spec;
  assertEquals(inet.encoder, { inputSize: 128, ndf: 192, nRkhs: 1536, nDepth: 8, useBn: false });
  assertEquals([inet.pretrain.batchSize, inet.pretrain.epochs], [480, 50]);
  assertEquals(inet.pretrain.schedule.milestones, [30, 45]);
  const fm = (await loadSpec("fmnist-tiny")).spec;
  for (const [file, sha] of Object.entries(fm.dataset.pins)) {
    assert(/^[0-9a-f]{64}$/.test(sha ?? ""), file);
  }
});

Deno.test("fmnist-tiny pins equal the sha256 of Debian's files when they are installed", async () => {
  const { sha256File } = await import("../src/util/hash.ts");
  const fm = (await loadSpec("fmnist-tiny")).spec;
  for (const [file, sha] of Object.entries(fm.dataset.pins)) {
    const path = `/usr/share/datasets/fashion-mnist/${file}`;
    try {
      await Deno.stat(path);
    } catch {
      continue; // package not installed here
    }
    assertEquals(await sha256File(path), sha, file);
  }
});

Deno.test("key order, comments, trailing commas and extends do not change the hash", async () => {
  const tmp = await specDir();
  // The file-name rule for ids is checked by loadSpec; the pure resolver compares contents.
  const resolveFile = async (file: string, overrides: string[] = []) =>
    resolveSpecLayers(await readSpecLayers(file, tmp.dir), overrides, {});
  try {
    const value = baseSpecValue("a");
    const a = await tmp.write("a", value);
    // Same content, keys reversed, with comments and trailing commas.
    const reversed = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reversed)
        : v && typeof v === "object"
        ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)]))
        : v;
    const text = JSON.stringify(reversed(value), null, 2).replace(/\n}$/, ",\n  // end\n}");
    const b = await tmp.write("b", `/* copy */\n${text}`);
    const la = await loadSpec(a, { specsDir: tmp.dir });
    assertEquals((await resolveFile(a)).hash, la.hash);
    assertEquals((await resolveFile(b)).hash, la.hash);
    // A child that extends a (by id and by path) and restates one of its values.
    const c = await tmp.write("c", { extends: "a", pretrain: { steps: 20 } });
    const d = await tmp.write("d", { extends: "./a.jsonc" });
    assertEquals((await resolveFile(c)).hash, la.hash);
    assertEquals((await resolveFile(d)).hash, la.hash);
    assertEquals((await loadSpec(d, { specsDir: tmp.dir, overrides: ["id=d"] })).chain, [d, a]);
    // An override that restates a value keeps the hash; one that changes a value changes it.
    assertEquals((await resolveFile(a, ["pretrain.steps=20"])).hash, la.hash);
    const changed = await resolveFile(a, ["pretrain.steps=19"]);
    assertNotEquals(changed.hash, la.hash);
    assertNotEquals(changed.comparableHash, la.comparableHash);
    // Seeds change the spec hash but not the comparable hash.
    const seeded = await resolveFile(a, ["pretrain.seed=7", "augment.seed=7"]);
    assertNotEquals(seeded.hash, la.hash);
    assertEquals(seeded.comparableHash, la.comparableHash);
  } finally {
    await tmp.cleanup();
  }
});

Deno.test("extends merges objects deeply, replaces arrays and maps; overrides reach eval by protocol", async () => {
  const tmp = await specDir();
  try {
    await tmp.write("a", baseSpecValue("a"));
    const b = await tmp.write("b", {
      extends: "a",
      id: "b",
      pretrain: { optimizer: { lr: 1e-3 }, schedule: { milestones: [5] } },
      gate: { metrics: { "knn.top1": { absTolerance: 0.1 } } },
    });
    const { spec } = await loadSpec(b, {
      specsDir: tmp.dir,
      overrides: ["eval.knn.k=50", "pretrain.optimizer.betas=[0.9,0.99]", "eval.1.epochs=7"],
    });
    assertEquals(spec.pretrain.optimizer, {
      name: "adam",
      lr: 1e-3,
      betas: [0.9, 0.99],
      eps: 1e-8,
      weightDecay: 1e-5,
    });
    assertEquals(spec.pretrain.steps, 20); // from a
    assertEquals(spec.pretrain.schedule.milestones, [5]); // replaced, not merged
    assertEquals(Object.keys(spec.gate.metrics), ["knn.top1"]); // map replaced
    assertEquals(spec.eval.find((e) => e.protocol === "knn"), {
      protocol: "knn",
      k: 50,
      temperature: 0.07,
      normalize: true,
      baselines: [],
    });
    assertEquals(spec.eval[1].protocol === "linear-probe" && spec.eval[1].epochs, 7);
    assertEquals(Object.hasOwn(spec, "extends"), false);
  } finally {
    await tmp.cleanup();
  }
});

Deno.test("canonical JSON sorts keys and prints numbers as JavaScript does", () => {
  assertEquals(
    canonicalJson({ b: 1e-4, a: [1, 2.5, 1e21], c: { z: null, y: "é" } }),
    '{"a":[1,2.5,1e+21],"b":0.0001,"c":{"y":"é","z":null}}',
  );
});

Deno.test("schema enums agree with the code and the dataset manifest", async () => {
  // deno-lint-ignore no-explicit-any
  const s = SPEC_SCHEMA as any;
  assertEquals(s.properties.dataset.properties.id.enum, [...DATASET_IDS]);
  assertEquals(s.properties.augment.properties.policy.enum, [...POLICIES]);
  assertEquals(s.properties.eval.items.properties.protocol.enum, [...PROTOCOLS]);
  const manifest = JSON.parse(await Deno.readTextFile(DEFAULT_MANIFEST));
  assertEquals(Object.keys(manifest.datasets).sort(), [...DATASET_IDS].sort());
  // additionalProperties: false on every object schema with properties.
  const walk = (n: unknown, path: string) => {
    if (!n || typeof n !== "object") return;
    // deno-lint-ignore no-explicit-any
    const node = n as any;
    if (node.properties && !node.discriminator) {
      assertEquals(node.additionalProperties, false, path);
    }
    for (const [k, v] of Object.entries(node)) walk(v, `${path}/${k}`);
  };
  walk(s, "#");
});
