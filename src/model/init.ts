/**
 * Parameter initialisation, seeded per parameter: every draw for a parameter named `p` comes from
 * `new Rng(seed, "init", p)`, so a parameter's initial value depends only on the seed and its
 * name (not on layer order or which other layers exist). Values are drawn in the tensor's memory
 * order (conv filters `[kh, kw, cin, cout]`, dense weights `[nIn, nOut]`).
 *
 * @module
 */

import { Rng } from "../util/rng.ts";

/** U(−b, b) values, seeded by `(seed, "init", name)`. */
export function uniformInit(seed: number, name: string, size: number, bound: number): Float32Array {
  return new Rng(seed, "init", name).fillUniform(new Float32Array(size), -bound, bound);
}

/**
 * PyTorch's default (and kaiming_uniform(a=√5)) bound for a weight or its bias: 1/√fan_in.
 *
 * @example
 * ```ts
 * fanInBound(3 * 3 * 64); // 1/24
 * ```
 */
export function fanInBound(fanIn: number): number {
  return 1 / Math.sqrt(fanIn);
}

/**
 * The near-identity 1×1 conv weight of the FakeRKHS shortcut: U(−0.01, 0.01) with exactly 1 at
 * `[0, 0, i, i]` for every input channel i (filter layout `[1, 1, cin, cout]`, cout ≥ cin).
 *
 * @example
 * ```ts
 * const w = nearIdentityInit(1, "head5.shortcut.weight", 4, 8); // 32 values
 * ```
 */
export function nearIdentityInit(
  seed: number,
  name: string,
  cin: number,
  cout: number,
): Float32Array {
  if (cout < cin) {
    throw new RangeError(`near-identity init needs cout >= cin, got ${cin} -> ${cout}`);
  }
  const w = uniformInit(seed, name, cin * cout, 0.01);
  for (let i = 0; i < cin; i++) w[i * cout + i] = 1;
  return w;
}
