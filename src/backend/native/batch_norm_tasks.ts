/**
 * Chunk functions of the native backend's fused BatchNorm kernels (training mode, channels last),
 * defined on every thread. `x` is viewed as `[R, C]` (R = all positions of all images). A chunk
 * owns a range of channels and walks every row, so each channel's sums are taken in row order by
 * one thread: results do not depend on the chunk or thread count.
 *
 * The forward pass rounds to float32 exactly where the composed tfjs ops do (`tf.moments`, then
 * `weight * rsqrt(variance + eps)`, `bias - mean * scale`, `x * scale + shift`, each op's result a
 * float32 tensor, sums in float64 as the `Mean` kernel takes them), so it is bit-identical to the
 * composed forward on the `native` backend. The gradient is the closed form
 * `dx = γ·σ⁻¹·(dy − mean(dy) − x̂·mean(dy·x̂))`, `dγ = Σ dy·x̂`, `dβ = Σ dy`, in float64 per element.
 *
 * @module
 */
import { defineTask, span } from "./thread_pool.ts";

/** Task ids of the fused BatchNorm jobs (after those of `parallel_tasks.ts` and `conv2d.ts`). */
export const BN_TASK = { forward: 30, backward: 31 } as const;

const fround = Math.fround;

let acc = [new Float64Array(0), new Float64Array(0), new Float64Array(0)];

/** Three zeroed float64 scratch arrays of `w` entries (per thread, reused). */
function accumulators(w: number): Float64Array[] {
  if (acc[0].length < w) acc = acc.map(() => new Float64Array(w));
  for (const a of acc) a.fill(0, 0, w);
  return acc;
}

/**
 * Params `[R, C, eps]`; arrays `[x, y, gamma, beta, mean, variance]`: per channel the mean and
 * the biased variance of `x` over its `R` rows, then `y = x * scale + shift`.
 */
function forwardChunk(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [x, y, gamma, beta, mean, variance] = a;
  const R = p[0] | 0, C = p[1] | 0, eps = fround(p[2]);
  const [c0, c1] = span(C, c, n);
  const w = c1 - c0;
  const [sum, sq] = accumulators(w);
  for (let r = 0, base = c0; r < R; r++, base += C) {
    for (let i = 0; i < w; i++) sum[i] += x[base + i];
  }
  for (let i = 0; i < w; i++) mean[c0 + i] = sum[i] / R;
  for (let r = 0, base = c0; r < R; r++, base += C) {
    for (let i = 0; i < w; i++) {
      const d = fround(x[base + i] - mean[c0 + i]);
      sq[i] += fround(d * d);
    }
  }
  // Reuse `sum` for the scale and `sq` for the shift (both float32-rounded).
  for (let i = 0; i < w; i++) {
    const v = fround(sq[i] / R);
    variance[c0 + i] = v;
    const scale = fround(gamma[c0 + i] * fround(1 / Math.sqrt(fround(v + eps))));
    sum[i] = scale;
    sq[i] = fround(beta[c0 + i] - fround(mean[c0 + i] * scale));
  }
  for (let r = 0, base = c0; r < R; r++, base += C) {
    for (let i = 0; i < w; i++) y[base + i] = fround(x[base + i] * sum[i]) + sq[i];
  }
}

/**
 * Params `[R, C, eps]`; arrays `[dy, x, dx, gamma, mean, variance, dgamma, dbeta]`: the gradient
 * of the training-mode BatchNorm with respect to `x`, `gamma` and `beta`.
 */
function backwardChunk(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [dy, x, dx, gamma, mean, variance, dgamma, dbeta] = a;
  const R = p[0] | 0, C = p[1] | 0, eps = fround(p[2]);
  const [c0, c1] = span(C, c, n);
  const w = c1 - c0;
  const [sdy, sdyx, k] = accumulators(w);
  for (let r = 0, base = c0; r < R; r++, base += C) {
    for (let i = 0; i < w; i++) {
      const g = dy[base + i];
      sdy[i] += g;
      sdyx[i] += g * (x[base + i] - mean[c0 + i]);
    }
  }
  // Per channel: dx = k * (dy - m - (x - mean) * q), with k = γ/σ, m = mean(dy),
  // q = mean(dy·(x − mean)) / σ². `sdy` becomes m, `sdyx` becomes q.
  for (let i = 0; i < w; i++) {
    const invStd = 1 / Math.sqrt(fround(variance[c0 + i] + eps));
    dbeta[c0 + i] = sdy[i];
    dgamma[c0 + i] = sdyx[i] * invStd;
    sdy[i] = sdy[i] / R;
    sdyx[i] = sdyx[i] * invStd * invStd / R;
    k[i] = gamma[c0 + i] * invStd;
  }
  for (let r = 0, base = c0; r < R; r++, base += C) {
    for (let i = 0; i < w; i++) {
      dx[base + i] = k[i] * (dy[base + i] - sdy[i] - (x[base + i] - mean[c0 + i]) * sdyx[i]);
    }
  }
}

defineTask(BN_TASK.forward, forwardChunk);
defineTask(BN_TASK.backward, backwardChunk);
