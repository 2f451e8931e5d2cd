/**
 * Views of a dataset: a subset by indices (and the `limit` option).
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import type { ImageDataset } from "./types.ts";
import { checkIndices } from "./read_util.ts";

/**
 * The images `indices` of `ds`, in that order (a view: nothing is copied but the labels).
 *
 * @example
 * ```ts
 * const first100 = subsetDataset(ds, Array.from({ length: 100 }, (_, i) => i));
 * ```
 */
export function subsetDataset(ds: ImageDataset, indices: ArrayLike<number>): ImageDataset {
  checkIndices(indices, ds.length, `${ds.id}/${ds.split}`);
  const map = Int32Array.from(indices);
  const labels = Int32Array.from(map, (i) => ds.labels[i]);
  const view: ImageDataset = {
    id: ds.id,
    split: ds.split,
    length: map.length,
    height: ds.height,
    width: ds.width,
    channels: ds.channels,
    numClasses: ds.numClasses,
    classNames: ds.classNames,
    labels,
    sourceFiles: ds.sourceFiles,
    root: ds.root,
    readImages(ix: ArrayLike<number>) {
      checkIndices(ix, map.length, `${ds.id}/${ds.split} (subset)`);
      return ds.readImages(Int32Array.from(ix as ArrayLike<number>, (i) => map[i]));
    },
    close: () => ds.close(),
  };
  if (ds.fingerprint) view.fingerprint = ds.fingerprint.bind(ds);
  return view;
}

/**
 * Applies the `indices` and `limit` options of `openDataset`.
 *
 * @example
 * ```ts
 * applySubsetOptions(ds, { limit: 1000 }); // the first 1000 images
 * ```
 */
export function applySubsetOptions(
  ds: ImageDataset,
  opts: { indices?: ArrayLike<number>; limit?: number | null },
): ImageDataset {
  let out = ds;
  if (opts.indices) out = subsetDataset(out, opts.indices);
  if (opts.limit !== undefined && opts.limit !== null) {
    if (!Number.isInteger(opts.limit) || opts.limit < 0) {
      throw new BenchError("usage", `limit must be a non-negative integer, got ${opts.limit}`, {
        location: "limit",
      });
    }
    if (opts.limit < out.length) {
      out = subsetDataset(out, Array.from({ length: opts.limit }, (_, i) => i));
    }
  }
  return out;
}
