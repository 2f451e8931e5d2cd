/**
 * The `synthetic` dataset: oriented colour gratings generated from a seed, in any shape. Class c
 * has its own grating orientation (c/K of a half turn), spatial frequency (2, 3 or 4 cycles per
 * image width) and colour (a hue c/K around the colour wheel); each image draws a random phase,
 * contrast and brightness offset and adds Gaussian pixel noise (sd 0.08 of the range). A small
 * encoder separates the classes; pixels and labels are a pure function of (seed, split, index),
 * so nothing is stored and any image can be regenerated alone.
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import { sha256Hex } from "../util/hash.ts";
import { BenchError } from "../util/errors.ts";
import type { ImageDataset, SyntheticParams } from "./types.ts";
import { checkIndices } from "./read_util.ts";

/** Version of the generator; part of the fingerprint so a change shows in records. */
export const SYNTHETIC_VERSION = 1;

/** Parameters with every default filled in. */
export type ResolvedSyntheticParams = Required<SyntheticParams>;

/**
 * Fills defaults and checks ranges.
 *
 * @example
 * ```ts
 * resolveSyntheticParams({ n: 100, seed: 1 }).testN; // 25
 * ```
 */
export function resolveSyntheticParams(p: SyntheticParams): ResolvedSyntheticParams {
  const r: ResolvedSyntheticParams = {
    n: p.n,
    testN: p.testN ?? Math.max(1, Math.floor(p.n / 4)),
    height: p.height ?? 32,
    width: p.width ?? 32,
    channels: p.channels ?? 3,
    numClasses: p.numClasses ?? 10,
    seed: p.seed,
  };
  const bad = (key: string, why: string) =>
    new BenchError("synthetic_invalid", `${key} ${why}`, { location: `synthetic.${key}` });
  for (const key of ["n", "testN", "height", "width", "numClasses"] as const) {
    if (!Number.isInteger(r[key]) || r[key] < 1) throw bad(key, "must be a positive integer");
  }
  if (r.channels !== 1 && r.channels !== 3) throw bad("channels", "must be 1 or 3");
  if (!Number.isSafeInteger(r.seed)) throw bad("seed", "must be an integer");
  return r;
}

/**
 * The label of image `index` of `split`.
 *
 * @example
 * ```ts
 * syntheticLabel(resolveSyntheticParams({ n: 10, seed: 1 }), "train", 3);
 * ```
 */
export function syntheticLabel(p: ResolvedSyntheticParams, split: string, index: number): number {
  return new Rng(p.seed, "synthetic-label", split, index).int(0, p.numClasses - 1);
}

/**
 * Renders image `index` of `split` (HWC uint8) into `out` at `offset`.
 *
 * @example
 * ```ts
 * const out = new Uint8Array(32 * 32 * 3);
 * renderSyntheticImage(params, "train", 0, out, 0);
 * ```
 */
export function renderSyntheticImage(
  p: ResolvedSyntheticParams,
  split: string,
  index: number,
  out: Uint8Array,
  offset: number,
): void {
  const label = syntheticLabel(p, split, index);
  const rng = new Rng(p.seed, "synthetic-image", split, index);
  const k = p.numClasses;
  const theta = Math.PI * label / k;
  const freq = 2 + (label % 3);
  const phase = rng.uniform(0, 2 * Math.PI);
  const contrast = rng.uniform(0.6, 1.0);
  const bias = rng.uniform(-0.1, 0.1);
  const cx = Math.cos(theta) * 2 * Math.PI * freq / p.width;
  const cy = Math.sin(theta) * 2 * Math.PI * freq / p.height;
  const weights = Array.from(
    { length: p.channels },
    (_, ch) => p.channels === 1 ? 1 : 0.5 + 0.5 * Math.cos(2 * Math.PI * (label / k + ch / 3)),
  );
  let o = offset;
  for (let y = 0; y < p.height; y++) {
    for (let x = 0; x < p.width; x++) {
      const g = Math.cos(cx * x + cy * y + phase);
      for (let ch = 0; ch < p.channels; ch++) {
        const v = 0.5 + bias + 0.4 * contrast * weights[ch] * g + 0.08 * rng.normal();
        out[o++] = Math.min(255, Math.max(0, Math.round(v * 255)));
      }
    }
  }
}

/**
 * Opens a split (`train` with `n` images, `test` with `testN`) of the synthetic dataset.
 *
 * @example
 * ```ts
 * const ds = openSynthetic("train", { n: 512, numClasses: 4, seed: 7 });
 * const x = await ds.readImages([0, 1, 2]);
 * ```
 */
export function openSynthetic(split: string, params: SyntheticParams): ImageDataset {
  const p = resolveSyntheticParams(params);
  if (split !== "train" && split !== "test") {
    throw new BenchError("split_unknown", `dataset synthetic has no split '${split}'`, {
      location: `synthetic/${split}`,
      hint: "splits: train, test",
    });
  }
  const length = split === "train" ? p.n : p.testN;
  const labels = new Int32Array(length);
  for (let i = 0; i < length; i++) labels[i] = syntheticLabel(p, split, i);
  const pixels = p.height * p.width * p.channels;
  const canonical = JSON.stringify({ version: SYNTHETIC_VERSION, ...p });
  return {
    id: "synthetic",
    split,
    length,
    height: p.height,
    width: p.width,
    channels: p.channels,
    numClasses: p.numClasses,
    classNames: Array.from({ length: p.numClasses }, (_, c) => `class-${c}`),
    labels,
    sourceFiles: [],
    fingerprint: () => Promise.resolve({ [`synthetic/${split}`]: sha256Hex(canonical) }),
    readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
      checkIndices(indices, length, `synthetic/${split}`);
      const out = new Uint8Array(indices.length * pixels);
      for (let i = 0; i < indices.length; i++) {
        renderSyntheticImage(p, split, indices[i], out, i * pixels);
      }
      return Promise.resolve(out);
    },
    close() {},
  };
}
