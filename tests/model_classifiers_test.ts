import * as tf from "@tensorflow/tfjs";
import {
  applyStateUpdates,
  createClassifiers,
  discardStateUpdates,
  dropoutMask,
  exportNamedTensors,
  loadNamedTensors,
  namedTensors,
} from "../src/model/mod.ts";
import { BenchError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../src/testing/asserts.ts";
import { channelStats, maxAbsDiff, randomValues } from "./helpers/model_fixtures.ts";

await tf.setBackend("cpu");

const features = (b: number, n: number, seed = 1) =>
  tf.tensor2d(randomValues(seed, "features", b * n, -2, 2), [b, n]);

Deno.test("model classifiers: shapes, names and init", async () => {
  const heads = createClassifiers({ nIn: 64, nClasses: 10, seed: 3 });
  assertEquals(
    namedTensors(heads).map((t) => `${t.name}:${t.kind}:${t.variable.shape.join("x")}`),
    [
      "linear.fc.weight:param:64x10",
      "linear.fc.bias:param:10",
      "mlp.fc1.weight:param:64x1024",
      "mlp.bn.weight:param:1024",
      "mlp.bn.bias:param:1024",
      "mlp.fc2.weight:param:1024x10",
      "mlp.fc2.bias:param:10",
      "mlp.bn.running_mean:state:1024",
      "mlp.bn.running_var:state:1024",
    ],
  );
  const bound = (name: string, b: number) => {
    const d = Array.from(heads.variable(name).dataSync());
    const max = d.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert(max <= b && max > 0.8 * b, `${name}: ${max} vs ${b}`);
  };
  bound("linear.fc.weight", 1 / 8);
  bound("linear.fc.bias", 1 / 8);
  bound("mlp.fc1.weight", 1 / 8);
  bound("mlp.fc2.weight", 1 / 32);
  bound("mlp.fc2.bias", 1 / 32);
  assert(heads.variable("mlp.bn.weight").dataSync().every((v) => v === 1));
  assert(heads.variable("mlp.bn.bias").dataSync().every((v) => v === 0));
  // Seeded by (seed, "init", name).
  const rng = new Rng(3, "init", "linear.fc.weight");
  assertEquals(
    heads.variable("linear.fc.weight").dataSync()[0],
    Math.fround(rng.uniform(-1 / 8, 1 / 8)),
  );
  const other = createClassifiers({ nIn: 64, nClasses: 10, seed: 4 });
  assertNotEquals(
    Array.from(await other.variable("mlp.fc1.weight").data()),
    Array.from(await heads.variable("mlp.fc1.weight").data()),
  );

  const x = features(5, 64);
  for (const training of [true, false]) {
    const { outputs, stateUpdates } = heads.apply(x, { training, rng: new Rng(1, "dropout", 0) });
    assertEquals(outputs.linear.shape, [5, 10]);
    assertEquals(outputs.mlp.shape, [5, 10]);
    assertEquals(
      stateUpdates.map((u) => u.name),
      training ? ["mlp.bn.running_mean", "mlp.bn.running_var"] : [],
    );
    tf.dispose(Object.values(outputs));
    discardStateUpdates(stateUpdates);
  }
  assertEquals(
    assertThrows(() => heads.apply(x, { training: true }), BenchError).code,
    "dropout_rng_missing",
  );
  const bad = tf.zeros([5, 63]) as tf.Tensor2D;
  assertEquals(
    assertThrows(() => heads.apply(bad, { training: false }), BenchError).code,
    "classifier_input_invalid",
  );
  assertEquals(
    assertThrows(() => createClassifiers({ nIn: 0, nClasses: 10, seed: 1 }), BenchError).code,
    "classifier_config_invalid",
  );
  tf.dispose([x, bad]);
  heads.dispose();
  other.dispose();
});

Deno.test("model classifiers: eval mode equals the reference computation", async () => {
  const heads = createClassifiers({ nIn: 16, nClasses: 3, seed: 2, hidden: 8 });
  const B = 4;
  const x = features(B, 16, 2);
  const { outputs } = heads.apply(x, { training: false });
  const xd = await x.data();
  const w = (n: string) => heads.variable(n).dataSync();
  const dense = (
    inp: ArrayLike<number>,
    nI: number,
    W: ArrayLike<number>,
    nO: number,
    b?: ArrayLike<number>,
  ) => {
    const out = new Float64Array(B * nO);
    for (let i = 0; i < B; i++) {
      for (let o = 0; o < nO; o++) {
        let s = b ? b[o] : 0;
        for (let k = 0; k < nI; k++) s += inp[i * nI + k] * W[k * nO + o];
        out[i * nO + o] = s;
      }
    }
    return out;
  };
  assert(
    maxAbsDiff(
      await outputs.linear.data(),
      dense(xd, 16, w("linear.fc.weight"), 3, w("linear.fc.bias")),
    ) < 1e-5,
  );
  // Eval BN at init: running mean 0, var 1 -> x / sqrt(1 + eps); dropout is off.
  const h = dense(xd, 16, w("mlp.fc1.weight"), 8).map((v) => Math.max(0, v / Math.sqrt(1 + 1e-5)));
  assert(
    maxAbsDiff(await outputs.mlp.data(), dense(h, 8, w("mlp.fc2.weight"), 3, w("mlp.fc2.bias"))) <
      1e-5,
  );

  // Training: batch statistics (biased), running var from the unbiased variance.
  const train = heads.apply(x, { training: true, rng: new Rng(1, "dropout", 0) });
  const z = Float32Array.from(dense(xd, 16, w("mlp.fc1.weight"), 8)); // dropout0 differs, so only check the update shape
  assertEquals(train.stateUpdates[1].value.shape, [8]);
  const noDrop = createClassifiers({ nIn: 16, nClasses: 3, seed: 2, hidden: 8, dropout: 0 });
  const t2 = noDrop.apply(x, { training: true });
  const st = channelStats(z, 8);
  assert(maxAbsDiff(await t2.stateUpdates[0].value.data(), st.mean.map((m) => 0.1 * m)) < 1e-5);
  assert(
    maxAbsDiff(await t2.stateUpdates[1].value.data(), st.unbiased.map((v) => 0.9 + 0.1 * v)) < 1e-4,
  );
  applyStateUpdates(t2.stateUpdates);
  assert(
    maxAbsDiff(
      await noDrop.variable("mlp.bn.running_var").data(),
      st.unbiased.map((v) => 0.9 + 0.1 * v),
    ) < 1e-4,
  );
  tf.dispose([
    x,
    ...Object.values(outputs),
    ...Object.values(train.outputs),
    ...Object.values(t2.outputs),
  ]);
  discardStateUpdates(train.stateUpdates);
  heads.dispose();
  noDrop.dispose();
});

Deno.test("model classifiers: dropout masks are keyed by the rng (bit-reproducible)", async () => {
  const heads = createClassifiers({ nIn: 32, nClasses: 5, seed: 1 });
  const x = features(8, 32, 3);
  const run = async (rng: Rng) => {
    const { outputs, stateUpdates } = heads.apply(x, { training: true, rng });
    const r = {
      linear: Array.from(await outputs.linear.data()),
      mlp: Array.from(await outputs.mlp.data()),
    };
    tf.dispose(Object.values(outputs));
    discardStateUpdates(stateUpdates);
    return r;
  };
  const a = await run(new Rng(9, "dropout", 5));
  const b = await run(new Rng(9, "dropout", 5));
  const c = await run(new Rng(9, "dropout", 6));
  assertEquals(a, b);
  assertNotEquals(a.mlp, c.mlp);
  assertEquals(a.linear, c.linear); // the linear head has no dropout

  const mask = dropoutMask(new Rng(1, "mask"), [200, 500], 0.2);
  const m = await mask.data();
  const zeros = m.filter((v) => v === 0).length / m.length;
  assert(Math.abs(zeros - 0.2) < 0.005, `drop rate ${zeros}`);
  assert(m.every((v) => v === 0 || v === 1.25), "kept units scaled by 1/(1-p)");
  mask.dispose();
  x.dispose();
  heads.dispose();
});

Deno.test("model classifiers: export/load round trip and no tensor leaks", async () => {
  const a = createClassifiers({ nIn: 32, nClasses: 4, seed: 1 });
  const b = createClassifiers({ nIn: 32, nClasses: 4, seed: 2 });
  loadNamedTensors(b, await exportNamedTensors(a));
  const x = features(6, 32, 4);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const ra = a.apply(x, { training: false }).outputs;
    const rb = b.apply(x, { training: false }).outputs;
    assertEquals(Array.from(await ra.mlp.data()), Array.from(await rb.mlp.data()));
    tf.dispose([...Object.values(ra), ...Object.values(rb)]);
    const t = a.apply(x, { training: true, rng: new Rng(1, "dropout", i) });
    tf.dispose(Object.values(t.outputs));
    discardStateUpdates(t.stateUpdates);
  }
  assertEquals(tf.memory().numTensors, before);
  const wrong = createClassifiers({ nIn: 32, nClasses: 5, seed: 1 });
  assertEquals(
    assertThrows(
      () =>
        loadNamedTensors(
          wrong,
          namedTensors(a).map((t) => ({
            name: t.name,
            shape: t.variable.shape,
            data: t.variable.dataSync() as Float32Array,
          })),
        ),
      BenchError,
    ).code,
    "checkpoint_mismatch",
  );
  x.dispose();
  for (const m of [a, b, wrong]) m.dispose();
});
