/**
 * STL-10 binary reader. `*_X.bin` holds 3x96x96 uint8 images, each channel column-major;
 * `*_y.bin` one label byte per image, 1-10. Images are read on demand by file offset (contiguous
 * runs in one read) and converted to HWC per image, so the 2.7 GB unlabeled file is never loaded
 * whole. `fold_indices.txt` holds 10 lines of zero-based train indices (parsed as integers).
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";
import type { DatasetEntry } from "./manifest.ts";
import type { ImageDataset } from "./types.ts";
import { checkIndices, readExactAt, requireFile, SerialQueue } from "./read_util.ts";

/** Pixels per side. */
export const STL10_SIZE = 96;
/** Bytes per image (3 x 96 x 96). */
export const STL10_IMAGE_BYTES = 3 * STL10_SIZE * STL10_SIZE;
const MAX_RUN = 64;

/**
 * Converts one STL-10 image (3 channels, each column-major) to HWC into `out` at `outOffset`.
 *
 * @example
 * ```ts
 * stlToHwc(record, out, 0); // out[(y*96+x)*3+c] = record[c*9216 + x*96 + y]
 * ```
 */
export function stlToHwc(src: Uint8Array, out: Uint8Array, outOffset: number): void {
  const s = STL10_SIZE;
  const plane = s * s;
  for (let c = 0; c < 3; c++) {
    const base = c * plane;
    for (let x = 0; x < s; x++) {
      const col = base + x * s;
      for (let y = 0; y < s; y++) out[outOffset + (y * s + x) * 3 + c] = src[col + y];
    }
  }
}

/** An image file read on demand. */
export interface StlImageFile {
  path: string;
  length: number;
  read(indices: ArrayLike<number>, out: Uint8Array, outStart: number): Promise<void>;
  close(): void;
}

/**
 * Opens an STL-10 `*_X.bin` for on-demand reads.
 *
 * @example
 * ```ts
 * const f = await openStlImageFile("/data/stl10/stl10_binary/unlabeled_X.bin", 100000);
 * ```
 */
export async function openStlImageFile(
  path: string,
  expected: number | null,
): Promise<StlImageFile> {
  const size = await requireFile(path, "run `deno task data get stl10`");
  if (
    size % STL10_IMAGE_BYTES !== 0 || (expected !== null && size !== expected * STL10_IMAGE_BYTES)
  ) {
    throw new BenchError(
      "data_corrupt",
      `size ${size} is not ${expected ?? "a whole number of"} images of ${STL10_IMAGE_BYTES} bytes`,
      { location: path, hint: "run `deno task data verify stl10`" },
    );
  }
  const length = size / STL10_IMAGE_BYTES;
  const file = await Deno.open(path, { read: true });
  const queue = new SerialQueue();
  let closed = false;
  return {
    path,
    length,
    read(indices, out, outStart) {
      if (closed) return Promise.reject(new Error(`${path} is closed`));
      return queue.run(async () => {
        // Sort positions by index, read contiguous runs in one call, scatter to their slots.
        const order = Array.from({ length: indices.length }, (_, i) => i)
          .sort((a, b) => indices[a] - indices[b]);
        let buf = new Uint8Array(0);
        for (let p = 0; p < order.length;) {
          const first = indices[order[p]];
          let q = p + 1;
          let last = first;
          while (
            q < order.length && indices[order[q]] - last <= 1 && indices[order[q]] - first < MAX_RUN
          ) {
            last = indices[order[q]];
            q++;
          }
          const n = last - first + 1;
          if (buf.length < n * STL10_IMAGE_BYTES) buf = new Uint8Array(n * STL10_IMAGE_BYTES);
          const view = buf.subarray(0, n * STL10_IMAGE_BYTES);
          await readExactAt(file, view, first * STL10_IMAGE_BYTES, path);
          for (let r = p; r < q; r++) {
            const k = indices[order[r]] - first;
            stlToHwc(
              view.subarray(k * STL10_IMAGE_BYTES, (k + 1) * STL10_IMAGE_BYTES),
              out,
              (outStart + order[r]) * STL10_IMAGE_BYTES,
            );
          }
          p = q;
        }
      });
    },
    close() {
      if (!closed) file.close();
      closed = true;
    },
  };
}

/**
 * Reads STL-10 labels (1-10 on disk) as 0-9.
 *
 * @example
 * ```ts
 * const labels = await readStlLabels("/data/stl10/stl10_binary/train_y.bin", 5000);
 * ```
 */
export async function readStlLabels(path: string, expected: number): Promise<Int32Array> {
  await requireFile(path, "run `deno task data get stl10`");
  const bytes = await Deno.readFile(path);
  if (bytes.length !== expected) {
    throw new BenchError("data_corrupt", `${bytes.length} labels, expected ${expected}`, {
      location: path,
    });
  }
  const labels = new Int32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] < 1 || bytes[i] > 10) {
      throw new BenchError("data_corrupt", `label ${bytes[i]} at ${i} is outside 1-10`, {
        location: path,
      });
    }
    labels[i] = bytes[i] - 1;
  }
  return labels;
}

/**
 * Parses `fold_indices.txt`: one line per fold, whitespace-separated zero-based indices.
 *
 * @example
 * ```ts
 * parseFoldIndices("0 3 7\n1 2 300\n", 5000); // [[0, 3, 7], [1, 2, 300]]
 * ```
 */
export function parseFoldIndices(
  text: string,
  trainLength: number,
  where = "fold_indices.txt",
): number[][] {
  const folds = text.split(/\r?\n/).filter((l) => l.trim() !== "").map((line, f) =>
    line.trim().split(/\s+/).map((tok) => {
      const v = Number(tok);
      if (!/^\d+$/.test(tok) || v >= trainLength) {
        throw new BenchError("data_corrupt", `fold ${f}: '${tok}' is not an index into train`, {
          location: where,
        });
      }
      return v;
    })
  );
  return folds;
}

/**
 * Opens an STL-10 split from `root` (the folder holding `stl10_binary/`): `train`, `test`,
 * `unlabeled`, `train+unlabeled` (train first, labels of unlabeled = -1) or `fold-N` (N = 0..9).
 *
 * @example
 * ```ts
 * const ds = await openStl10("unlabeled", manifest.datasets.stl10, "/data/stl10");
 * const batch = await ds.readImages([5, 99999]);
 * ```
 */
export async function openStl10(
  split: string,
  entry: DatasetEntry,
  root: string,
): Promise<ImageDataset> {
  const dir = join(root, "stl10_binary");
  const len = (name: string) => entry.splits[name]?.length ?? null;
  const parts: { file: StlImageFile; labels: Int32Array }[] = [];
  let select: number[] | null = null;
  const extraFiles: string[] = [];
  const openLabeled = async (name: "train" | "test") => {
    const file = await openStlImageFile(join(dir, `${name}_X.bin`), len(name));
    try {
      const labels = await readStlLabels(join(dir, `${name}_y.bin`), file.length);
      extraFiles.push(join(dir, `${name}_y.bin`));
      return { file, labels };
    } catch (error) {
      file.close();
      throw error;
    }
  };
  const openUnlabeled = async () => {
    const file = await openStlImageFile(join(dir, "unlabeled_X.bin"), len("unlabeled"));
    return { file, labels: new Int32Array(file.length).fill(-1) };
  };
  const fold = split.match(/^fold-(\d+)$/);
  if (split === "train" || split === "test") parts.push(await openLabeled(split));
  else if (split === "unlabeled") parts.push(await openUnlabeled());
  else if (split === "train+unlabeled") {
    parts.push(await openLabeled("train"));
    parts.push(await openUnlabeled());
  } else if (fold) {
    const path = join(dir, "fold_indices.txt");
    await requireFile(path, "run `deno task data get stl10`");
    const train = await openLabeled("train");
    const folds = parseFoldIndices(await Deno.readTextFile(path), train.file.length, path);
    const n = Number(fold[1]);
    if (n >= folds.length) {
      train.file.close();
      throw new BenchError("split_unknown", `fold ${n} does not exist (${folds.length} folds)`, {
        location: `stl10/${split}`,
      });
    }
    extraFiles.push(path);
    parts.push(train);
    select = folds[n];
  } else {
    throw new BenchError("split_unknown", `dataset stl10 has no split '${split}'`, {
      location: `stl10/${split}`,
      hint: "splits: train, test, unlabeled, train+unlabeled, fold-0 .. fold-9",
    });
  }
  const total = parts.reduce((a, p) => a + p.file.length, 0);
  const all = new Int32Array(total);
  let o = 0;
  for (const p of parts) {
    all.set(p.labels, o);
    o += p.file.length;
  }
  const length = select ? select.length : total;
  const labels = select ? Int32Array.from(select, (i) => all[i]) : all;
  const sourceFiles = [...parts.map((p) => p.file.path), ...extraFiles];
  let closed = false;
  return {
    id: "stl10",
    split,
    length,
    height: STL10_SIZE,
    width: STL10_SIZE,
    channels: 3,
    numClasses: entry.numClasses!,
    classNames: entry.classNames!,
    labels,
    sourceFiles,
    root,
    async readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
      if (closed) throw new Error(`stl10/${split} is closed`);
      checkIndices(indices, length, `stl10/${split}`);
      const out = new Uint8Array(indices.length * STL10_IMAGE_BYTES);
      // Split the request by part, keeping output positions.
      const perPart: { idx: number[]; pos: number[] }[] = parts.map(() => ({ idx: [], pos: [] }));
      for (let i = 0; i < indices.length; i++) {
        let k = select ? select[indices[i]] : indices[i];
        let p = 0;
        while (k >= parts[p].file.length) k -= parts[p++].file.length;
        perPart[p].idx.push(k);
        perPart[p].pos.push(i);
      }
      for (let p = 0; p < parts.length; p++) {
        const { idx, pos } = perPart[p];
        if (idx.length === 0) continue;
        const tmp = new Uint8Array(idx.length * STL10_IMAGE_BYTES);
        await parts[p].file.read(idx, tmp, 0);
        for (let r = 0; r < idx.length; r++) {
          out.set(
            tmp.subarray(r * STL10_IMAGE_BYTES, (r + 1) * STL10_IMAGE_BYTES),
            pos[r] * STL10_IMAGE_BYTES,
          );
        }
      }
      return out;
    },
    close() {
      closed = true;
      for (const p of parts) p.file.close();
    },
  };
}
