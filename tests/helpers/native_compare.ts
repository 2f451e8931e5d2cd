/**
 * Helpers for native-backend tests: random inputs from the project Rng, running the same
 * computation on two tfjs backends, and a scaled max-difference comparison.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../src/util/rng.ts";
import { loadNativeBackend } from "../../src/backend/native/mod.ts";
import type { ConvGeometry } from "../../src/backend/native/conv2d.ts";

/** Result of loading the native backend once for a test module (logs why when it is absent). */
export async function nativeAvailable(): Promise<boolean> {
  const r = await loadNativeBackend({ threads: 2 });
  if (!r.ok) {
    console.warn(
      `SKIPPING native backend tests: ${r.reason}\n  hint: ${r.hint}`,
    );
  }
  return r.ok;
}

/** A named random input: shape plus values drawn from `new Rng(seed, "input", name)`. */
export interface Input {
  shape: number[];
  values: Float32Array;
}

/** Uniform random values in [lo, hi). */
export function input(name: string, shape: number[], lo = -1, hi = 1, seed = 11): Input {
  const rng = new Rng(seed, "input", name);
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = rng.uniform(lo, hi);
  return { shape, values };
}

/** Runs `build` on `backend` with tensors made from `inputs`; returns every output's values. */
export async function runOn(
  backend: string,
  inputs: Input[],
  build: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
): Promise<{ shape: number[]; dtype: string; values: Float32Array | Int32Array | Uint8Array }[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = inputs.map((i) => tf.tensor(i.values.slice(), i.shape));
    const out = build(...xs);
    return (Array.isArray(out) ? out : [out]).map((t) => ({
      shape: t.shape,
      dtype: t.dtype,
      values: t.dataSync() as Float32Array,
    }));
  });
}

/** max |a - b| / max(max |b|, 1e-6): the error relative to the reference's scale. */
export function scaledMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 1e-6;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= diff)) {
      diff = Number.isNaN(d) ? (Number.isNaN(a[i]) && Number.isNaN(b[i]) ? diff : Infinity) : d;
    }
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/**
 * Runs `build` on `cpu` and on `native`; throws if shapes/dtypes differ or the scaled difference
 * of any output exceeds `tol`. Returns the largest scaled difference.
 */
export async function compareWithCpu(
  label: string,
  inputs: Input[],
  build: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  tol = 1e-4,
): Promise<number> {
  const want = await runOn("cpu", inputs, build);
  const got = await runOn("native", inputs, build);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (JSON.stringify(got[i].shape) !== JSON.stringify(want[i].shape)) {
      throw new Error(`${label}: output ${i} shape ${got[i].shape} != cpu ${want[i].shape}`);
    }
    if (got[i].dtype !== want[i].dtype) {
      throw new Error(`${label}: output ${i} dtype ${got[i].dtype} != cpu ${want[i].dtype}`);
    }
    const d = scaledMaxDiff(got[i].values, want[i].values);
    worst = Math.max(worst, d);
    if (!(d <= tol)) throw new Error(`${label}: output ${i} differs from cpu by ${d} (tol ${tol})`);
  }
  return worst;
}

/**
 * The geometry of an unpadded square convolution of `n` images `h`×`h`×`c` with `k`×`k` filters
 * to `o` channels at stride `s`.
 */
export function squareConvGeometry(
  n: number,
  h: number,
  c: number,
  o: number,
  k: number,
  s: number,
): ConvGeometry {
  const out = Math.floor((h - k) / s) + 1;
  return {
    batchSize: n,
    inHeight: h,
    inWidth: h,
    inChannels: c,
    outHeight: out,
    outWidth: out,
    outChannels: o,
    filterHeight: k,
    filterWidth: k,
    strideHeight: s,
    strideWidth: s,
    padTop: 0,
    padLeft: 0,
  };
}
