import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { Rng } from "../src/util/rng.ts";
import {
  isShared,
  setActiveThreads,
  setMainClaims,
  startedWorkers,
  threadStats,
} from "../src/backend/native/thread_pool.ts";
import type { PooledCpuBackend } from "../src/backend/native/pooled_cpu_backend.ts";
import { AdamL2 } from "../src/train/optimizer.ts";
import { nativeAvailable } from "./helpers/native_compare.ts";
import { runTrainSteps } from "./helpers/train_steps.ts";

const ok = await nativeAvailable();
// AMDIM_NATIVE_WORKERS=0 turns the workers off on purpose (BLAS threads only).
const workersOff = Deno.env.get("AMDIM_NATIVE_WORKERS") === "0";
const opts = { ignore: !ok || workersOff, sanitizeOps: false, sanitizeResources: false };

function randomTensor(name: string, shape: number[], lo = -1, hi = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Rng(7, "threads-test", name).fillUniform(new Float32Array(n), lo, hi);
  // Through a kernel, so the values live in a pooled (shared) buffer like every activation.
  return tf.tidy(() => tf.add(tf.tensor(v, shape), 0));
}

/** Runs `work` with one thread, then with the workers doing every chunk; returns both results. */
function bothWays(work: () => tf.Tensor[]): { one: Float32Array[]; workers: Float32Array[] } {
  const read = () => {
    const out = work();
    const values = out.map((t) => t.dataSync() as Float32Array);
    tf.dispose(out);
    return values;
  };
  setActiveThreads(1);
  const one = read();
  setActiveThreads(2);
  setMainClaims(false);
  const before = threadStats.chunksByWorkers;
  let workers: Float32Array[];
  try {
    workers = read();
  } finally {
    setMainClaims(true);
  }
  assert(threadStats.chunksByWorkers > before, "the workers computed chunks");
  return { one, workers };
}

function assertBitIdentical(a: Float32Array[], b: Float32Array[], what: string) {
  assertEquals(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    const x = new Uint32Array(a[i].buffer, a[i].byteOffset, a[i].length);
    const y = new Uint32Array(b[i].buffer, b[i].byteOffset, b[i].length);
    let diff = -1;
    for (let j = 0; j < x.length && diff < 0; j++) if (x[j] !== y[j]) diff = j;
    assert(
      diff < 0,
      `${what}, output ${i}: element ${diff} differs: ${a[i][diff]} vs ${b[i][diff]}`,
    );
  }
}

Deno.test({
  name: "native threads: a helper worker starts and kernel outputs live in shared memory",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    assert(startedWorkers() >= 1, "loadNativeBackend({threads: 2}) starts a worker");
    const x = randomTensor("shared", [64, 32, 32]);
    const values = (tf.backend() as PooledCpuBackend).data.get(x.dataId).values as Float32Array;
    assert(isShared(values));
    x.dispose();
  },
});

Deno.test({
  name:
    "native threads: elementwise, reductions, pooling, matmul and Adam are bit-identical on workers",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    const a = randomTensor("a", [64, 30, 30, 32]);
    const b = randomTensor("b", [64, 30, 30, 32]);
    const c = randomTensor("c", [32]);
    const col = randomTensor("col", [64, 30, 30, 1]);
    const { one, workers } = bothWays(() =>
      tf.tidy(() => [
        tf.add(a, b),
        tf.mul(a, c),
        tf.sub(col, a),
        tf.div(a, tf.add(tf.abs(b), 1)),
        tf.relu(a),
        tf.exp(a),
        tf.tanh(b),
        tf.sum(a, [0, 1, 2]),
        tf.mean(a, 3),
        tf.max(a, [1, 2]),
        tf.avgPool(a as tf.Tensor4D, 4, 2, "valid"),
        tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(t as tf.Tensor4D, 4, 2, "valid"), 2)))(
          a,
        ),
        tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), b)))(a),
        tf.matMul(tf.reshape(a, [3600, 512]), tf.reshape(b, [3600, 512]), true, false),
        tf.matMul(tf.reshape(a, [64, 900, 32]), tf.reshape(b, [64, 900, 32]), false, true),
      ])
    );
    assertBitIdentical(one, workers, "kernels");
    tf.dispose([a, b, c, col]);
  },
});

Deno.test({
  name: "native threads: convolutions and both gradients are bit-identical on workers",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    // The encoder's layer kinds: stem (K=27), 4x4/2, 1x1, 3x3 padded, full-window.
    const cases: [number[], number[], number, "valid" | "same"][] = [
      [[64, 32, 32, 3], [3, 3, 3, 32], 1, "valid"],
      [[64, 30, 30, 32], [4, 4, 32, 64], 2, "valid"],
      [[64, 14, 14, 64], [1, 1, 64, 64], 1, "valid"],
      [[64, 7, 7, 128], [3, 3, 128, 128], 1, "same"],
      [[64, 3, 3, 128], [3, 3, 128, 128], 1, "valid"],
    ];
    for (const [xs, ws, stride, pad] of cases) {
      const label = `conv [${xs}] [${ws}] s${stride} ${pad}`;
      // The stem's input comes from outside the pool (a batch of images): not shared.
      const x = xs[3] === 3
        ? tf.tensor(
          new Rng(3, label).fillUniform(new Float32Array(xs.reduce((p, q) => p * q)), -1, 1),
          xs,
        )
        : randomTensor(`${label}/x`, xs);
      const w = randomTensor(`${label}/w`, ws, -0.1, 0.1);
      const { one, workers } = bothWays(() =>
        tf.tidy(() => {
          const f = (xx: tf.Tensor, ww: tf.Tensor) =>
            tf.sum(tf.square(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, pad)));
          const [dx, dw] = tf.grads(f)([x, w]);
          return [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad), dx, dw];
        })
      );
      assertBitIdentical(one, workers, label);
      tf.dispose([x, w]);
    }
  },
});

Deno.test({
  name: "native threads: two trainStep steps give the same losses and weights on 1 and 2 threads",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    const cfg = { inputSize: 32 as const, ndf: 16, nRkhs: 64, nDepth: 3, useBn: false };
    const run = (threads: number) => {
      setActiveThreads(threads);
      return runTrainSteps({
        cfg,
        seed: 4,
        batch: 32,
        steps: 2,
        classes: 10,
        stream: "threads-images",
      });
    };
    const one = await run(1);
    const before = threadStats.chunksByWorkers;
    setMainClaims(false);
    let two;
    try {
      two = await run(2);
    } finally {
      setMainClaims(true);
    }
    assert(threadStats.chunksByWorkers > before, "the workers computed chunks");
    assertEquals(two.losses, one.losses);
    assertBitIdentical(one.weights, two.weights, "weights");
  },
});

Deno.test({
  name: "native threads: AdamL2 runs the fused kernel on native, bit-identical to cpu",
  ...opts,
  fn: async () => {
    const steps = async (backend: string, wd: number) => {
      await tf.setBackend(backend);
      const shapes = [[3, 3, 32, 64], [64], [256, 300]];
      const vars = shapes.map((s, i) =>
        tf.variable(
          tf.tensor(
            new Rng(9, "adam-p", i).fillUniform(new Float32Array(s.reduce((a, b) => a * b)), -1, 1),
            s,
          ),
        )
      );
      const opt = new AdamL2(vars.map((v, i) => ({ name: `p${i}`, variable: v })), {
        weightDecay: wd,
      });
      for (let k = 0; k < 3; k++) {
        const grads = vars.map((v, i) =>
          tf.tensor(
            new Rng(9, "adam-g", k, i).fillUniform(new Float32Array(v.size), -1, 1),
            v.shape,
          )
        );
        opt.applyGradients(grads, 1e-3 * (k + 1));
        tf.dispose(grads);
      }
      const out = vars.map((v) => v.dataSync() as Float32Array);
      const state = opt.exportState();
      const moments = state.filter((s) => s.tensor.dtype === "float32").map((s) =>
        s.tensor.dataSync() as Float32Array
      );
      tf.dispose(state.map((s) => s.tensor));
      opt.dispose();
      tf.dispose(vars);
      return [...out, ...moments];
    };
    for (const wd of [1e-5, 0]) {
      const calls = { n: 0 };
      const kernel = tf.getKernel("NativeAdamL2", "native")!;
      const original = kernel.kernelFunc;
      tf.unregisterKernel("NativeAdamL2", "native");
      tf.registerKernel({
        ...kernel,
        kernelFunc: (args) => {
          calls.n++;
          return original(args);
        },
      });
      let native: Float32Array[];
      try {
        native = await steps("native", wd);
      } finally {
        tf.unregisterKernel("NativeAdamL2", "native");
        tf.registerKernel({ ...kernel, kernelFunc: original });
      }
      assertEquals(calls.n, 9, "one fused call per parameter and step");
      const cpu = await steps("cpu", wd);
      assertBitIdentical(cpu, native, `adam wd=${wd}`);
    }
  },
});
