import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertStringIncludes } from "../src/testing/asserts.ts";
import {
  input,
  nativeAvailable,
  scaledMaxDiff,
  squareConvGeometry,
} from "./helpers/native_compare.ts";
import {
  DNNL_DEBIAN_PACKAGE,
  dnnlEnabled,
  openDnnl,
  setDnnlEnabled,
} from "../src/backend/native/dnnl_library.ts";
import { convOnDnnl } from "../src/backend/native/conv2d.ts";
import { DNNL_CONV } from "../src/backend/native/dnnl_conv.ts";
import { convBiasRelu } from "../src/model/fused_ops.ts";
import { evalLastJson, moduleLiteral } from "./helpers/deno_eval.ts";

const native = await nativeAvailable();
const dnnl = openDnnl();
if (!dnnl.ok) console.warn(`SKIPPING oneDNN tests: ${dnnl.reason}\n  hint: ${dnnl.hint}`);
const opts = { ignore: !native || !dnnl.ok, sanitizeOps: false, sanitizeResources: false };

/** Runs `build` on native twice, with oneDNN off then on; returns both outputs' values. */
function bothPaths(build: () => tf.Tensor[]): { off: Float32Array[]; on: Float32Array[] } {
  const run = (on: boolean) => {
    setDnnlEnabled(on);
    try {
      // Values are read outside tidy: a tidy result is walked element by element.
      const outs = tf.tidy(build);
      const values = outs.map((t) => t.dataSync().slice() as Float32Array);
      tf.dispose(outs);
      return values;
    } finally {
      setDnnlEnabled(true);
    }
  };
  return { off: run(false), on: run(true) };
}

function close(a: Float32Array[], b: Float32Array[], label: string, tol = 1e-4): void {
  assertEquals(a.length, b.length, label);
  a.forEach((v, i) => {
    const d = scaledMaxDiff(v, b[i]);
    assert(d <= tol, `${label}: output ${i} differs by ${d} (tol ${tol})`);
  });
}

function identical(a: Float32Array[], b: Float32Array[], label: string): void {
  assertEquals(a.length, b.length, label);
  a.forEach((v, i) => {
    for (let k = 0; k < v.length; k++) {
      if (!Object.is(v[k], b[i][k])) {
        throw new Error(`${label}: output ${i}[${k}] ${v[k]} != ${b[i][k]}`);
      }
    }
  });
}

function tensor(name: string, shape: number[], lo = -1, hi = 1): tf.Tensor {
  const i = input(name, shape, lo, hi);
  return tf.tensor(i.values, shape);
}

Deno.test({
  name: "oneDNN: the native backend finds it, says so, and routes the thin and 1x1 layers to it",
  ...opts,
  fn: async () => {
    const { loadNativeBackend } = await import("../src/backend/native/mod.ts");
    const r = await loadNativeBackend({ threads: 2 });
    assert(r.ok);
    if (!r.ok) return;
    assertStringIncludes(r.info.convolutions, "oneDNN 2.");
    assert(dnnlEnabled());
    // The shape rule: the stem, 32-channel and 1x1 layers go to oneDNN, wide 3x3 ones to BLAS.
    assert(convOnDnnl(squareConvGeometry(64, 32, 3, 32, 3, 1), DNNL_CONV.forward));
    assert(convOnDnnl(squareConvGeometry(64, 30, 32, 64, 4, 2), DNNL_CONV.backwardWeights));
    assert(convOnDnnl(squareConvGeometry(64, 7, 128, 128, 1, 1), DNNL_CONV.forward));
    assert(convOnDnnl(squareConvGeometry(64, 7, 128, 128, 1, 1), DNNL_CONV.backwardData));
    assert(!convOnDnnl(squareConvGeometry(64, 7, 128, 128, 3, 1), DNNL_CONV.forward));
    // the 4x4 stride-2 layer of `small`: oneDNN forward, OpenBLAS gradients; not 2x2 stride 2
    assert(convOnDnnl(squareConvGeometry(64, 30, 64, 128, 4, 2), DNNL_CONV.forward));
    assert(!convOnDnnl(squareConvGeometry(64, 30, 64, 128, 4, 2), DNNL_CONV.backwardData));
    assert(!convOnDnnl(squareConvGeometry(64, 14, 128, 256, 2, 2), DNNL_CONV.forward));
    assert(!convOnDnnl(squareConvGeometry(64, 7, 128, 128, 1, 1), DNNL_CONV.backwardWeights));
    // A full-window convolution is a plain GEMM.
    assert(!convOnDnnl(squareConvGeometry(64, 3, 128, 256, 3, 1), DNNL_CONV.forward));
  },
});

Deno.test({
  name: "oneDNN: convolutions, fused epilogues and both gradients agree with im2col + BLAS",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    const cases: [number[], number[], number][] = [
      [[64, 32, 32, 3], [3, 3, 3, 32], 1],
      [[64, 30, 30, 32], [4, 4, 32, 64], 2],
      [[4, 30, 30, 64], [4, 4, 64, 128], 2],
      [[64, 30, 30, 32], [1, 1, 32, 32], 1],
      [[64, 7, 7, 128], [1, 1, 128, 256], 1],
      [[3, 9, 9, 32], [5, 5, 32, 16], 2],
      [[1, 14, 14, 64], [2, 2, 64, 128], 2],
    ];
    for (const [xs, ws, s] of cases) {
      const label = `conv [${xs}] [${ws}] s${s}`;
      const x = tensor(`${label}/x`, xs), w = tensor(`${label}/w`, ws, -0.2, 0.2);
      const b = tensor(`${label}/b`, [ws[3]]);
      const { off, on } = bothPaths(() => {
        const y = convBiasRelu(x as tf.Tensor4D, w as tf.Tensor4D, { stride: s, relu: false });
        const r = tf.randomUniform(y.shape, -1, 1, "float32", 5) as tf.Tensor4D;
        const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor, rr: tf.Tensor) =>
          tf.sum(tf.mul(
            convBiasRelu(xx as tf.Tensor4D, ww as tf.Tensor4D, {
              stride: s,
              bias: bb as tf.Tensor1D,
              add: rr as tf.Tensor4D,
              relu: true,
            }),
            r,
          ));
        const [dx, dw, db, dr] = tf.grads(f)([x, w, b, r]);
        return [y, dx, dw, db, dr];
      });
      close(on, off, label);
      tf.dispose([x, w, b]);
    }
  },
});

Deno.test({
  name:
    "oneDNN: the residual and ReLU epilogue is the composed conv + bias + add + relu, bit for bit",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    const x = tensor("res/x", [8, 12, 12, 32]), w = tensor("res/w", [1, 1, 32, 48], -0.3, 0.3);
    const b = tensor("res/b", [48]), r = tensor("res/r", [8, 12, 12, 48]);
    const fused = convBiasRelu(x as tf.Tensor4D, w as tf.Tensor4D, {
      stride: 1,
      bias: b as tf.Tensor1D,
      add: r as tf.Tensor4D,
      relu: true,
    });
    const composed = tf.tidy(() =>
      tf.relu(tf.add(tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "valid"), b), r))
    );
    identical(
      [fused.dataSync() as Float32Array],
      [composed.dataSync() as Float32Array],
      "residual epilogue",
    );
    tf.dispose([fused, composed]);
    // The fused ReLU maps NaN to 0 (the composed one keeps it).
    const nanX = tf.tensor4d([NaN, 1, -1, 2], [1, 2, 2, 1]);
    const one = tf.ones([1, 1, 1, 1]) as tf.Tensor4D;
    const y = convBiasRelu(nanX, one, { stride: 1, relu: true });
    assertEquals(Array.from(y.dataSync()), [0, 1, 0, 2]);
    tf.dispose([x, w, b, r, nanX, one, y]);
  },
});

Deno.test({
  name:
    "oneDNN: pooling, broadcasting arithmetic, slices and pads agree with the JavaScript kernels",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    const a = tensor("ew/a", [64, 30, 30, 32]);
    const rowV = tensor("ew/row", [32]), colV = tensor("ew/col", [64, 30, 30, 1]);
    const m = tensor("ew/m", [64, 64, 25]), mask = tensor("ew/mask", [64, 64, 1]);
    const exact = bothPaths(() => [
      tf.add(a, a),
      tf.mul(a, rowV),
      tf.mul(rowV, a),
      tf.sub(a, rowV),
      tf.add(a, colV),
      tf.mul(m, mask),
      tf.mul(m, 0.25),
      tf.sub(m, 3),
      tf.slice(a, [0, 0, 0, 8], [64, 30, 30, 16]),
      tf.pad(a, [[0, 0], [0, 0], [0, 0], [0, 32]]),
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), m)))(m),
    ]);
    // IEEE add/sub/mul and copies: the same bits either way.
    identical(exact.on, exact.off, "elementwise");
    const pools = bothPaths(() => [
      tf.avgPool(a as tf.Tensor4D, 4, 2, "valid"),
      tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.avgPool(t as tf.Tensor4D, 4, 2, "valid"))))(a),
      tf.avgPool(a as tf.Tensor4D, 3, 1, "valid"),
    ]);
    close(pools.on, pools.off, "pooling", 1e-6);
    tf.dispose([a, rowV, colV, m, mask]);
  },
});

Deno.test({
  name: "oneDNN: hidden or disabled, the backend still loads and says why convolutions use BLAS",
  ignore: !native,
  fn: async () => {
    const code = `
      import { loadNativeBackend } from ${moduleLiteral("src/backend/native/mod.ts")};
      const r = await loadNativeBackend({ threads: 1 });
      console.log(JSON.stringify(r.ok ? r.info.convolutions : "not ok: " + r.reason));`;
    const run = async (env: Record<string, string>) => String(await evalLastJson(code, env));
    const missing: string = await run({ AMDIM_DNNL_LIB: "/nonexistent/libdnnl.so.2" });
    assertStringIncludes(missing, "im2col + BLAS");
    assertStringIncludes(missing, "/nonexistent/libdnnl.so.2");
    assertStringIncludes(missing, DNNL_DEBIAN_PACKAGE);
    const off: string = await run({ AMDIM_NATIVE_DNNL: "0" });
    assertStringIncludes(off, "AMDIM_NATIVE_DNNL=0");
  },
});
