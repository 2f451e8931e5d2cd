/**
 * Chunk functions of the native backend's fused NCE score kernels, defined on every thread. The
 * scores `raw` are `[B, B, L]`: row `i` holds source `i` against every target `j` and location
 * `l`. A chunk owns a range of rows; every row is independent, so results do not depend on the
 * chunk or thread count. Arithmetic is in float64, per-row results rounded to float32.
 *
 * Per row `i` (the formulas of `src/loss/nce_loss.ts`): `c = tclip · tanh(raw / tclip)`; the
 * positives `c[i,i,l]`; `lse_i = log Σ_{j≠i, l} exp(c[i,j,l])` (shifted by the row's largest
 * negative, floored at `-tclip` as the masked positives are); `x[i,l] = lse_i − c[i,i,l]`;
 * `loss_i = Σ_l softplus(x[i,l])`, `reg_i = Σ_{j,l} raw²`.
 *
 * @module
 */
import { defineTask, span } from "./thread_pool.ts";

/** Task ids of the fused NCE jobs. */
export const NCE_TASK = { forward: 40, backward: 41 } as const;

function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

let scratch = new Float64Array(0);

/**
 * Params `[B, L, tclip]`; arrays `[raw, rows, aux]`: `rows` gets `[lse_i, loss_i, reg_i, s_i]`
 * per row (`s_i = Σ_l sigmoid(x[i,l])`), `aux` the per-element factors the gradient needs:
 * `exp(c − lse_i) · (1 − t²)` at the negatives and `sigmoid(x[i,l]) · (1 − t²)` at the positives
 * (`t = tanh(raw / tclip)`).
 */
function forwardChunk(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [raw, rows, aux] = a;
  const B = p[0] | 0, L = p[1] | 0, tclip = p[2];
  const [i0, i1] = span(B, c, n);
  const rowLen = B * L;
  if (scratch.length < 2 * rowLen) scratch = new Float64Array(2 * rowLen);
  const cs = scratch, dt = rowLen; // c at [0, rowLen), 1 − t² at [rowLen, 2·rowLen)
  for (let i = i0; i < i1; i++) {
    const o = i * rowLen, p0 = i * L, p1 = p0 + L;
    let reg = 0, max = -tclip;
    for (let k = 0; k < rowLen; k++) {
      const r = raw[o + k];
      reg += r * r;
      const t = Math.tanh(r / tclip);
      const v = tclip * t;
      cs[k] = v;
      cs[dt + k] = 1 - t * t;
      if (v > max && (k < p0 || k >= p1)) max = v;
    }
    let sum = 0;
    for (let k = 0; k < p0; k++) sum += cs[k] = Math.exp(cs[k] - max);
    for (let k = p1; k < rowLen; k++) sum += cs[k] = Math.exp(cs[k] - max);
    const lse = max + Math.log(sum), inv = 1 / sum;
    let loss = 0, sig = 0;
    for (let k = p0; k < p1; k++) {
      const x = lse - cs[k];
      loss += softplus(x);
      const s = 1 / (1 + Math.exp(-x));
      sig += s;
      aux[o + k] = s * cs[dt + k];
    }
    for (let k = 0; k < p0; k++) aux[o + k] = cs[k] * inv * cs[dt + k];
    for (let k = p1; k < rowLen; k++) aux[o + k] = cs[k] * inv * cs[dt + k];
    rows[4 * i] = lse;
    rows[4 * i + 1] = loss;
    rows[4 * i + 2] = reg;
    rows[4 * i + 3] = sig;
  }
}

/**
 * Params `[B, L, gLoss, gReg]` (`gLoss` already divided by `B·L`, `gReg` by `B·B·L` and times
 * `2·w`); arrays `[raw, aux, sig, draw]` (`sig` = the forward's `s_i`): the gradient of
 * `gLoss·Σ softplus + gReg/2·Σ raw²`, `−gLoss·aux + gReg·raw` at the positives and
 * `gLoss·s_i·aux + gReg·raw` at the negatives.
 */
function backwardChunk(a: Float32Array[], p: Float64Array, c: number, n: number) {
  const [raw, aux, sig, draw] = a;
  const B = p[0] | 0, L = p[1] | 0, gLoss = p[2], gReg = p[3];
  const [i0, i1] = span(B, c, n);
  const rowLen = B * L;
  for (let i = i0; i < i1; i++) {
    const o = i * rowLen, p0 = o + i * L, p1 = p0 + L, e = o + rowLen;
    const neg = gLoss * sig[i];
    for (let k = o; k < p0; k++) draw[k] = neg * aux[k] + gReg * raw[k];
    for (let k = p0; k < p1; k++) draw[k] = gReg * raw[k] - gLoss * aux[k];
    for (let k = p1; k < e; k++) draw[k] = neg * aux[k] + gReg * raw[k];
  }
}

defineTask(NCE_TASK.forward, forwardChunk);
defineTask(NCE_TASK.backward, backwardChunk);
