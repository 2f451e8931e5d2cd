import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { profileKernels } from "../src/backend/native/mod.ts";
import { PooledCpuBackend } from "../src/backend/native/pooled_cpu_backend.ts";
import {
  createStandIn,
  randomImages,
  standInLoss,
  standInTraining,
} from "./helpers/native_stand_in.ts";
import { nativeAvailable } from "./helpers/native_compare.ts";
import { runTrainSteps } from "./helpers/train_steps.ts";

const ok = await nativeAvailable();
const opts = { ignore: !ok, sanitizeOps: false, sanitizeResources: false };

const SMALL = { ndf: 4, nRkhs: 16, nDepth: 2 };

/** Three Adam steps of the stand-in encoder on `native`; returns every weight afterwards. */
async function threeSteps(seed: number): Promise<Float32Array[]> {
  await tf.setBackend("native");
  const model = createStandIn(SMALL, seed);
  const x1 = randomImages(seed, 8), x2 = randomImages(seed + 100, 8);
  const opt = tf.train.adam(1e-2);
  for (let i = 0; i < 3; i++) {
    const loss = opt.minimize(
      () => standInLoss(model.forward(x1), model.forward(x2)),
      true,
      model.vars,
    );
    loss?.dispose();
  }
  const weights = model.vars.map((v) => v.dataSync() as Float32Array);
  opt.dispose();
  tf.dispose([x1, x2, ...model.vars]);
  return weights;
}

Deno.test({
  name: "native: three training steps of a conv net are bit-identical for the same seed",
  ...opts,
  fn: async () => {
    const a = await threeSteps(5), b = await threeSteps(5);
    assertEquals(a.length, b.length);
    for (let i = 0; i < a.length; i++) assertEquals(b[i], a[i], `variable ${i}`);
    const c = await threeSteps(6);
    assert(c.some((w, i) => w.some((v, j) => v !== a[i][j])), "another seed changes the weights");
  },
});

Deno.test({
  name: "native: the project's trainStep is deterministic (3 steps, tiny-like encoder)",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    const cfg = { inputSize: 32 as const, ndf: 8, nRkhs: 32, nDepth: 2, useBn: false };
    const run = () =>
      runTrainSteps({ cfg, seed: 3, batch: 6, steps: 3, classes: 3, stream: "test-images" });
    const first = await run(), second = await run();
    assertEquals(second.losses, first.losses);
    for (let i = 0; i < first.weights.length; i++) {
      assertEquals(second.weights[i], first.weights[i]);
    }
  },
});

Deno.test({
  name: "native: no tensor, pool or RSS growth over repeated training steps",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    const training = standInTraining(), step = training.step;
    for (let i = 0; i < 3; i++) step();
    const backend = tf.backend() as PooledCpuBackend;
    assert(backend instanceof PooledCpuBackend);
    const tensors = tf.memory().numTensors;
    const pooled = backend.pooledBytes;
    const allocated = backend.stats.allocated;
    for (let i = 0; i < 6; i++) step();
    for (let i = 0; i < 12; i++) step();
    assertEquals(tf.memory().numTensors, tensors, "live tensors");
    assertEquals(backend.pooledBytes, pooled, "pooled bytes settle after warm-up");
    assertEquals(backend.stats.allocated, allocated, "no new pool buffers after warm-up");
    // Resident memory, in a process of its own (test modules share this one).
    const probe = new URL("./helpers/native_rss_probe.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", probe] }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const { growth } = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    assert(growth < 64 * 2 ** 20, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB over 24 steps`);
    assert(backend.stats.reused > 0, "buffers are reused");
    training.dispose();
  },
});

Deno.test({
  name:
    "native: values read with dataSync or data() stay valid after the tensor's buffer is recycled",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    const x = tf.fill([64, 128], 3);
    const y = tf.mul(x, 2); // a pooled output
    const read = y.dataSync();
    y.dispose();
    const z = tf.mul(x, 5); // may reuse y's buffer
    z.dataSync();
    assert(read.every((v) => v === 6));
    // the same for the asynchronous read the harness uses
    const y2 = tf.mul(x, 3);
    const read2 = await y2.data();
    y2.dispose();
    const z2 = tf.mul(x, 4);
    await z2.data();
    assert(read2.every((v) => v === 9));
    z2.dispose();
    // The cpu SplitV kernel returns views (subarray) of its input: a view keeps the parent's
    // buffer out of the pool until both are disposed.
    const parent = tf.mul(x, 7);
    const [rows, rest] = tf.split(parent, 2, 0);
    const parentBuffer = (tf.backend() as PooledCpuBackend).data.get(parent.dataId)
      .values as Float32Array;
    const rowsValues = (tf.backend() as PooledCpuBackend).data.get(rows.dataId)
      .values as Float32Array;
    assert(rowsValues.buffer === parentBuffer.buffer, "split returns a view here");
    tf.dispose([parent, rest]);
    const others = [tf.mul(x, 11), tf.mul(x, 13)];
    assert((rows.dataSync() as Float32Array).every((v) => v === 21));
    tf.dispose([x, z, rows, ...others]);
  },
});

Deno.test({
  name: "native: profileKernels reports per-kernel time and restores the kernels",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    const before = tf.getKernel("Conv2D", "native")?.kernelFunc;
    const p = await profileKernels(() =>
      tf.tidy(() =>
        tf.conv2d(
          tf.ones([2, 8, 8, 3]) as tf.Tensor4D,
          tf.ones([3, 3, 3, 4]) as tf.Tensor4D,
          1,
          "valid",
        ).dataSync()
      )
    );
    const conv = p.kernels.find((k) => k.name === "Conv2D");
    assert(conv && conv.calls === 1 && conv.ms >= 0);
    assert(p.totalMs >= p.kernelMs);
    assertEquals(tf.getKernel("Conv2D", "native")?.kernelFunc, before);
  },
});
