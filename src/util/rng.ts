/**
 * Counter-based random numbers. A stream is named by a key, e.g. `(seed, "augment", epoch, index,
 * view)`, and its n-th draw is a pure hash of (key, n). So every random choice in the harness is a
 * function of what it is for, never of the order in which things happened: results do not depend
 * on batch size, worker count or the point a run was resumed from.
 *
 * The hash is 32-bit integer arithmetic only (`Math.imul`, shifts, xors), so the numbers are the
 * same on every machine and JavaScript engine.
 *
 * @module
 */

/** A key part: integers (any safe integer, negative too) or strings. */
export type KeyPart = number | string;

/** Finalisation mix of a 32-bit value (the "lowbias32" constants): full avalanche. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}

function absorb(h: number, v: number): number {
  return mix32((h ^ mix32((v + 0x9e3779b9) | 0)) + 0x7f4a7c15);
}

function absorbPart(h: number, part: KeyPart): number {
  if (typeof part === "string") {
    h = absorb(h, 0x5354 ^ part.length);
    for (let i = 0; i < part.length; i++) h = absorb(h, part.charCodeAt(i));
    return h;
  }
  if (!Number.isSafeInteger(part)) {
    throw new RangeError(`random stream key parts must be safe integers or strings, got ${part}`);
  }
  const lo = part % 0x100000000;
  const hi = Math.floor(part / 0x100000000);
  return absorb(absorb(absorb(h, 0x4e55), lo | 0), hi | 0);
}

/** Hashes a key to two independent 32-bit words. */
export function hashKey(key: readonly KeyPart[]): [number, number] {
  let a = 0x243f6a88;
  let b = 0x85a308d3;
  for (const part of key) {
    a = absorbPart(a, part);
    b = absorbPart(b ^ 0x13198a2e, part);
  }
  return [a, b];
}

/**
 * A random stream named by a key. Draw `n` of a stream is `hash(key, n)`.
 *
 * @example
 * ```ts
 * const rng = new Rng(1, "augment", 0, 42, 1); // seed, purpose, epoch, sample, view
 * const flip = rng.float() < 0.5;
 * const dx = rng.int(-4, 4);
 * ```
 */
export class Rng {
  readonly key: readonly KeyPart[];
  #k0: number;
  #k1: number;
  #counter = 0;

  constructor(...key: KeyPart[]) {
    this.key = key;
    [this.#k0, this.#k1] = hashKey(key);
  }

  /** How many 32-bit words have been drawn. */
  get position(): number {
    return this.#counter;
  }

  /** A child stream whose key is this key followed by `more`. */
  fork(...more: KeyPart[]): Rng {
    return new Rng(...this.key, ...more);
  }

  /** The next uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const c = this.#counter++;
    const x = mix32(this.#k0 ^ Math.imul(c, 0x9e3779b1));
    return mix32((x + this.#k1) ^ Math.imul(c ^ 0x6a09e667, 0x85ebca6b));
  }

  /** A double uniform in [0, 1), with 53 random bits. */
  float(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A double uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** An integer uniform in [lo, hi], both ends included. */
  int(lo: number, hi: number): number {
    if (!(hi >= lo)) throw new RangeError(`empty integer range [${lo}, ${hi}]`);
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** A standard normal draw (Box-Muller). */
  normal(): number {
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T>(array: T[] | Int32Array | Uint32Array | Float32Array): typeof array {
    for (let i = array.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const t = array[i];
      array[i] = array[j];
      array[j] = t;
    }
    return array;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p) as Int32Array;
  }

  /** Fills `out` with values uniform in [lo, hi), rounded to float32. */
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(lo, hi);
    return out;
  }
}
