import * as tf from "@tensorflow/tfjs";
import { assert, assertLess } from "../src/testing/asserts.ts";
import { Rng } from "../src/util/rng.ts";
import {
  conv2dFilterGrad,
  conv2dInputGrad,
  initBackend,
  mirrorPadGrad,
  unsortedSegmentSumByMatMul,
} from "../src/backend/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
// The tfjs cpu kernels, captured before initBackend replaces Conv2DBackpropFilter: the reference.
const cpuFilterRef = tf.getKernel("Conv2DBackpropFilter", "cpu")!.kernelFunc;
const cpuInputRef = tf.getKernel("Conv2DBackpropInput", "cpu")!.kernelFunc;

function randArray(seed: string, n: number): Float32Array {
  const rng = new Rng(7, "backend-kernels", seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): [number, number] {
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return [d, m];
}

/** Conv gradients from the replacement kernels on the active backend, as arrays. */
function newGrads(xs: number[], fs: number[], s: number, pad: "valid" | "same") {
  return tf.tidy(() => {
    const x = tf.tensor4d(randArray("x", size(xs)), xs as [number, number, number, number]);
    const w = tf.tensor4d(randArray("w", size(fs)), fs as [number, number, number, number]);
    const ys = tf.conv2d(x, w, s, pad).shape;
    const dy = tf.tensor4d(randArray("dy", size(ys)), ys);
    const dW = conv2dFilterGrad(x, dy, fs as [number, number, number, number], s, pad);
    const dx = conv2dInputGrad(xs as [number, number, number, number], dy, w, s, pad);
    return { dW: dW.dataSync().slice(), dx: dx.dataSync().slice(), ys };
  });
}

/** The same gradients from tfjs's own cpu kernels. */
function refGrads(xs: number[], fs: number[], s: number, pad: "valid" | "same") {
  return tf.tidy(() => {
    const x = tf.tensor4d(randArray("x", size(xs)), xs as [number, number, number, number]);
    const w = tf.tensor4d(randArray("w", size(fs)), fs as [number, number, number, number]);
    const ys = tf.conv2d(x, w, s, pad).shape;
    const dy = tf.tensor4d(randArray("dy", size(ys)), ys);
    const backend = tf.backend();
    const attrs = { strides: [s, s], pad, dataFormat: "NHWC", filterShape: fs, inputShape: xs };
    const dWi = cpuFilterRef({ inputs: { x, dy }, backend, attrs }) as tf.TensorInfo;
    const dxi = cpuInputRef({ inputs: { dy, filter: w }, backend, attrs }) as tf.TensorInfo;
    const dW = tf.engine().makeTensorFromTensorInfo(dWi);
    const dx = tf.engine().makeTensorFromTensorInfo(dxi);
    return { dW: dW.dataSync().slice(), dx: dx.dataSync().slice() };
  });
}

Deno.test("conv gradients match central finite differences (cpu, small shapes)", opts, async () => {
  await initBackend("cpu");
  for (
    const [xs, k, s, pad] of [[[2, 7, 7, 3], 3, 2, "valid"], [[1, 6, 6, 2], 2, 1, "same"], [
      [1, 9, 9, 2],
      5,
      2,
      "valid",
    ]] as const
  ) {
    const fs = [k, k, xs[3], 3];
    const { dW, dx, ys } = newGrads([...xs], fs, s, pad);
    // loss = sum(conv(x, w) * dy) is linear in x and w: central differences are exact up to
    // float32 rounding of the forward pass (computed with tfjs's trusted Conv2D).
    const xv = randArray("x", size([...xs])), wv = randArray("w", size(fs));
    const dyv = tf.tensor4d(randArray("dy", size(ys)), ys);
    const loss = (xa: Float32Array, wa: Float32Array) =>
      tf.tidy(() =>
        tf.sum(
          tf.mul(
            tf.conv2d(
              tf.tensor4d(xa, [...xs]),
              tf.tensor4d(wa, fs as [number, number, number, number]),
              s,
              pad,
            ),
            dyv,
          ),
        )
          .dataSync()[0]
      );
    const eps = 0.05;
    const rng = new Rng(3, "fd", k, s);
    for (let t = 0; t < 12; t++) {
      const i = rng.int(0, wv.length - 1);
      const wp = wv.slice(), wm = wv.slice();
      wp[i] += eps;
      wm[i] -= eps;
      const fd = (loss(xv, wp) - loss(xv, wm)) / (2 * eps);
      assertLess(Math.abs(fd - dW[i]), 2e-3 * Math.max(1, Math.abs(fd)), `dW[${i}] k=${k} s=${s}`);
      const j = rng.int(0, xv.length - 1);
      const xp = xv.slice(), xm = xv.slice();
      xp[j] += eps;
      xm[j] -= eps;
      const fdx = (loss(xp, wv) - loss(xm, wv)) / (2 * eps);
      assertLess(
        Math.abs(fdx - dx[j]),
        2e-3 * Math.max(1, Math.abs(fdx)),
        `dx[${j}] k=${k} s=${s}`,
      );
    }
    dyv.dispose();
  }
});

// AMDIM's convolutions (valid padding): spatial sizes of the 32px encoder, kernels 1-5,
// strides 1 and 2; channels reduced to keep the cpu reference kernels fast.
const AMDIM_CASES: Array<[number[], number, number, number]> = [
  [[1, 32, 32, 3], 3, 1, 8], // stem 32 -> 30
  [[2, 30, 30, 8], 1, 1, 8],
  [[2, 30, 30, 8], 4, 2, 16], // 30 -> 14
  [[1, 14, 14, 16], 2, 2, 16], // 14 -> 7
  [[3, 7, 7, 16], 3, 1, 16], // 7 -> 5
  [[3, 5, 5, 16], 3, 1, 16], // 5 -> 3
  [[2, 3, 3, 16], 3, 1, 32], // 3 -> 1 (nRkhs head)
  [[2, 9, 9, 4], 5, 1, 4],
  [[2, 11, 11, 4], 5, 2, 4],
  [[1, 8, 8, 4], 1, 2, 4],
];

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(
    `${backend} conv-gradient kernels match tfjs cpu kernels at AMDIM shapes`,
    opts,
    async () => {
      for (const [xs, k, s, co] of AMDIM_CASES) {
        const fs = [k, k, xs[3], co];
        await initBackend("cpu");
        const ref = refGrads(xs, fs, s, "valid");
        await initBackend(backend, { threads: 2 });
        // through the registered kernels (tf.grads), not just the functions
        const got = tf.tidy(() => {
          const x = tf.tensor4d(randArray("x", size(xs)), xs as [number, number, number, number]);
          const w = tf.tensor4d(randArray("w", size(fs)), fs as [number, number, number, number]);
          const ys = tf.conv2d(x, w, s, "valid").shape;
          const dy = tf.tensor4d(randArray("dy", size(ys)), ys);
          const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, "valid")
          )([x, w], dy);
          return { dx: gx.dataSync().slice(), dW: gw.dataSync().slice() };
        });
        // and the replacement functions themselves (the kernel hands tiny input-gradient problems
        // back to the backend's own kernel)
        const direct = newGrads(xs, fs, s, "valid");
        assertLess(
          maxAbsDiff(direct.dx, ref.dx)[0],
          1e-4 * Math.max(1, maxAbsDiff(direct.dx, ref.dx)[1]),
        );
        assertLess(
          maxAbsDiff(direct.dW, ref.dW)[0],
          1e-4 * Math.max(1, maxAbsDiff(direct.dW, ref.dW)[1]),
        );
        const [dW, mW] = maxAbsDiff(got.dW, ref.dW);
        const [dx, mx] = maxAbsDiff(got.dx, ref.dx);
        assertLess(dW, 1e-4 * Math.max(1, mW), `${backend} dW x=${xs} k=${k} s=${s}`);
        assertLess(dx, 1e-4 * Math.max(1, mx), `${backend} dx x=${xs} k=${k} s=${s}`);
      }
      await initBackend("cpu");
    },
  );
}

Deno.test(
  "MirrorPad gradient folds the mirrored border back (finite differences)",
  opts,
  async () => {
    await initBackend("cpu");
    for (const mode of ["reflect", "symmetric"] as const) {
      const xs = [1, 5, 4, 2];
      const pads: Array<[number, number]> = [[0, 0], [2, 1], [1, 2], [0, 0]];
      const xv = randArray("mp", size(xs));
      const x = tf.tensor4d(xv, xs as [number, number, number, number]);
      const ys = tf.mirrorPad(x, pads, mode).shape;
      const r = tf.tensor(randArray("mpr", size(ys)), ys);
      const g = tf.grad((a: tf.Tensor) =>
        tf.sum(tf.mul(tf.mirrorPad(a as tf.Tensor4D, pads, mode), r))
      )(x);
      const gv = g.dataSync();
      const loss = (a: Float32Array) =>
        tf.tidy(() =>
          tf.sum(
            tf.mul(
              tf.mirrorPad(tf.tensor4d(a, xs as [number, number, number, number]), pads, mode),
              r,
            ),
          ).dataSync()[0]
        );
      for (let i = 0; i < xv.length; i++) {
        const p = xv.slice(), m = xv.slice();
        p[i] += 0.05;
        m[i] -= 0.05;
        const fd = (loss(p) - loss(m)) / 0.1;
        assertLess(Math.abs(fd - gv[i]), 1e-3 * Math.max(1, Math.abs(fd)), `${mode} x[${i}]`);
      }
      // and the direct function agrees with the registered gradient
      const direct = mirrorPadGrad(r, pads, mode).dataSync();
      assertLess(maxAbsDiff(direct, gv)[0], 1e-6);
      tf.dispose([x, r, g]);
    }
  },
);

Deno.test(
  "UnsortedSegmentSum by one-hot matmul matches cpu (and gather's gradient on wasm)",
  opts,
  async () => {
    await initBackend("cpu");
    const xv = randArray("seg", 6 * 5);
    const ids = Int32Array.from([2, 0, 2, -1, 1, 0]);
    const ref = tf.tidy(() =>
      tf.unsortedSegmentSum(tf.tensor2d(xv, [6, 5]), tf.tensor1d(ids, "int32"), 3).dataSync()
        .slice()
    );
    const mine = tf.tidy(() =>
      unsortedSegmentSumByMatMul(tf.tensor2d(xv, [6, 5]), tf.tensor1d(ids, "int32"), 3).dataSync()
        .slice()
    );
    assertLess(maxAbsDiff(mine, ref)[0], 1e-6);
    const gatherGrad = () =>
      tf.tidy(() =>
        tf.grad((a: tf.Tensor) =>
          tf.sum(tf.square(tf.gather(a, tf.tensor1d([0, 2, 2, 5], "int32"))))
        )(
          tf.tensor2d(xv, [6, 5]),
        ).dataSync().slice()
      );
    const refG = gatherGrad();
    await initBackend("wasm", { threads: 2 });
    assert(tf.getKernel("UnsortedSegmentSum", "wasm"));
    assertLess(maxAbsDiff(gatherGrad(), refG)[0], 1e-5);
    await initBackend("cpu");
  },
);

Deno.test("oneHot with a float32 dtype gives 0/1 values on wasm", opts, async () => {
  await initBackend("wasm", { threads: 2 });
  const v = tf.tidy(() =>
    tf.oneHot(tf.tensor1d([2, 0], "int32"), 3, 1, 0, "float32").dataSync().slice()
  );
  await initBackend("cpu");
  assertLess(maxAbsDiff(v, [0, 0, 1, 1, 0, 0])[0], 1e-12);
});
