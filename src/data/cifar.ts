/**
 * CIFAR-10 / CIFAR-100 binary-version reader. Record layout: label byte(s), then 3072 pixel
 * bytes (R plane, G plane, B plane, each 32x32 row-major). Files are held in memory as read
 * (150 MB for a train split); images are converted to HWC when read.
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";
import type { DatasetEntry } from "./manifest.ts";
import type { ImageDataset } from "./types.ts";
import { checkIndices, requireFile, splitEntryOf } from "./read_util.ts";

/**
 * Converts one planar (CHW) image to HWC into `out` at `outOffset`.
 *
 * @example
 * ```ts
 * planarToHwc(record.subarray(1), 32, 32, 3, out, 0);
 * ```
 */
export function planarToHwc(
  src: Uint8Array,
  height: number,
  width: number,
  channels: number,
  out: Uint8Array,
  outOffset: number,
): void {
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    for (let p = 0; p < plane; p++) out[outOffset + p * channels + c] = src[base + p];
  }
}

/**
 * Opens a split of a CIFAR binary dataset from `root` (the folder holding e.g.
 * `cifar-10-batches-bin/`).
 *
 * @example
 * ```ts
 * const ds = await openCifarBinary("cifar10", "train", manifest.datasets.cifar10, "/data/cifar10");
 * ```
 */
export async function openCifarBinary(
  id: string,
  split: string,
  entry: DatasetEntry,
  root: string,
): Promise<ImageDataset> {
  const splitEntry = splitEntryOf(id, split, entry);
  const record = entry.record!;
  const h = entry.height!, w = entry.width!, c = entry.channels!;
  const pixels = h * w * c;
  const paths = splitEntry.files.map((f) => join(root, f));
  const buffers: Uint8Array[] = [];
  for (const path of paths) {
    const size = await requireFile(path, `run \`deno task data get ${id}\``);
    if (size === 0 || size % record.bytes !== 0) {
      throw new BenchError(
        "data_corrupt",
        `size ${size} is not a multiple of the ${record.bytes}-byte record`,
        { location: path, hint: `run \`deno task data verify ${id}\`` },
      );
    }
    buffers.push(await Deno.readFile(path));
  }
  const counts = buffers.map((b) => b.length / record.bytes);
  const length = counts.reduce((a, b) => a + b, 0);
  if (splitEntry.length !== null && length !== splitEntry.length) {
    throw new BenchError(
      "data_corrupt",
      `${split} holds ${length} records, expected ${splitEntry.length}`,
      { location: paths.join(", ") },
    );
  }
  const labels = new Int32Array(length);
  const fileOf = new Int32Array(length);
  const recOf = new Int32Array(length);
  let k = 0;
  for (let f = 0; f < buffers.length; f++) {
    for (let r = 0; r < counts[f]; r++, k++) {
      const label = buffers[f][r * record.bytes + record.labelOffset];
      if (label >= entry.numClasses!) {
        throw new BenchError("data_corrupt", `record ${r} has label ${label}`, {
          location: paths[f],
        });
      }
      labels[k] = label;
      fileOf[k] = f;
      recOf[k] = r;
    }
  }
  let closed = false;
  return {
    id,
    split,
    length,
    height: h,
    width: w,
    channels: c,
    numClasses: entry.numClasses!,
    classNames: entry.classNames!,
    labels,
    sourceFiles: paths,
    root,
    readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
      if (closed) return Promise.reject(new Error(`${id}/${split} is closed`));
      checkIndices(indices, length, `${id}/${split}`);
      const out = new Uint8Array(indices.length * pixels);
      for (let i = 0; i < indices.length; i++) {
        const j = indices[i];
        const start = recOf[j] * record.bytes + record.pixelOffset;
        planarToHwc(buffers[fileOf[j]].subarray(start, start + pixels), h, w, c, out, i * pixels);
      }
      return Promise.resolve(out);
    },
    close() {
      closed = true;
      buffers.length = 0;
    },
  };
}
