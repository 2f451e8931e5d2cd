/**
 * idx reader (the MNIST / Fashion-MNIST format), gzip'd. Header: two zero bytes, a type byte
 * (0x08 = uint8), a dimension count, then one big-endian uint32 per dimension. Images
 * (`idx3`, magic 0x00000803) are N x rows x cols; labels (`idx1`, magic 0x00000801) are N bytes.
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";
import type { DatasetEntry } from "./manifest.ts";
import type { ImageDataset } from "./types.ts";
import { checkIndices, requireFile, splitEntryOf } from "./read_util.ts";

/** A parsed idx array. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/**
 * Parses an (uncompressed) uint8 idx buffer.
 *
 * @example
 * ```ts
 * const { dims, data } = parseIdx(bytes, "t10k-labels-idx1-ubyte"); // dims [10000]
 * ```
 */
export function parseIdx(bytes: Uint8Array, where: string): IdxArray {
  const fail = (msg: string) =>
    new BenchError("data_corrupt", `not an idx file: ${msg}`, { location: where });
  if (bytes.length < 4) throw fail("too short");
  if (bytes[0] !== 0 || bytes[1] !== 0) throw fail("bad magic number");
  if (bytes[2] !== 0x08) throw fail(`element type 0x${bytes[2].toString(16)} is not uint8`);
  const nd = bytes[3];
  if (nd < 1 || bytes.length < 4 + 4 * nd) throw fail("bad dimension count");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * nd;
  if (bytes.length !== start + count) {
    throw fail(`holds ${bytes.length - start} data bytes, dims ${dims.join("x")} need ${count}`);
  }
  return { dims, data: bytes.subarray(start) };
}

/**
 * Reads and gunzips a file into memory.
 *
 * @example
 * ```ts
 * const bytes = await gunzipFile("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
 * ```
 */
export async function gunzipFile(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (cause) {
    throw new BenchError("data_corrupt", `cannot gunzip: ${(cause as Error).message}`, {
      location: path,
      cause,
    });
  }
}

/**
 * Opens a split of an idx-gzip dataset (Fashion-MNIST) from `root` (the folder holding the .gz
 * files). Images are 1-channel, held in memory.
 *
 * @example
 * ```ts
 * const ds = await openIdxGzip("fashion-mnist", "test", entry, "/usr/share/datasets/fashion-mnist");
 * ```
 */
export async function openIdxGzip(
  id: string,
  split: string,
  entry: DatasetEntry,
  root: string,
): Promise<ImageDataset> {
  const splitEntry = splitEntryOf(id, split, entry);
  const [imagesName, labelsName] = splitEntry.files;
  const imagesPath = join(root, imagesName);
  const labelsPath = join(root, labelsName);
  await requireFile(imagesPath);
  await requireFile(labelsPath);
  const images = parseIdx(await gunzipFile(imagesPath), imagesPath);
  const labelsIdx = parseIdx(await gunzipFile(labelsPath), labelsPath);
  if (images.dims.length !== 3 || labelsIdx.dims.length !== 1) {
    throw new BenchError("data_corrupt", "expected idx3 images and idx1 labels", {
      location: `${imagesPath}, ${labelsPath}`,
    });
  }
  const [n, h, w] = images.dims;
  if (labelsIdx.dims[0] !== n || (splitEntry.length !== null && n !== splitEntry.length)) {
    throw new BenchError(
      "data_corrupt",
      `${n} images, ${labelsIdx.dims[0]} labels, expected ${splitEntry.length}`,
      { location: `${imagesPath}, ${labelsPath}` },
    );
  }
  if (
    (entry.height !== null && h !== entry.height) || (entry.width !== null && w !== entry.width)
  ) {
    throw new BenchError("data_corrupt", `images are ${h}x${w}`, { location: imagesPath });
  }
  const labels = Int32Array.from(labelsIdx.data);
  for (let i = 0; i < n; i++) {
    if (labels[i] >= entry.numClasses!) {
      throw new BenchError("data_corrupt", `label ${labels[i]} at ${i}`, { location: labelsPath });
    }
  }
  const pixels = h * w;
  let data: Uint8Array | null = images.data;
  return {
    id,
    split,
    length: n,
    height: h,
    width: w,
    channels: 1,
    numClasses: entry.numClasses!,
    classNames: entry.classNames!,
    labels,
    sourceFiles: [imagesPath, labelsPath],
    root,
    readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
      if (!data) return Promise.reject(new Error(`${id}/${split} is closed`));
      checkIndices(indices, n, `${id}/${split}`);
      const out = new Uint8Array(indices.length * pixels);
      for (let i = 0; i < indices.length; i++) {
        out.set(data.subarray(indices[i] * pixels, (indices[i] + 1) * pixels), i * pixels);
      }
      return Promise.resolve(out);
    },
    close() {
      data = null;
    },
  };
}
