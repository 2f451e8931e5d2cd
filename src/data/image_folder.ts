/**
 * Image-folder reader (ImageNet ILSVRC2012 layout): `<root>/train/<wnid>/*.JPEG` and
 * `<root>/val/<wnid>/*.JPEG` (or `ILSVRC2012_img_train` / `ILSVRC2012_img_val`). Labels are the
 * position of the class folder in the sorted list of the train class folders. Images are decoded
 * on demand with sharp to uint8 RGB and resized so the shorter side is `imageSize`, then
 * centre-cropped to `imageSize` x `imageSize`, so every image of a split has the same shape and
 * only the images of one `readImages` call are ever in memory.
 *
 * @module
 */
import { join, relative } from "node:path";
import sharp from "sharp";
import { BenchError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import type { ImageDataset } from "./types.ts";
import { checkIndices } from "./read_util.ts";

const IMAGE_EXT = /\.(jpe?g|png)$/i;

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * The folder of a split under an ImageNet root (`train`, `val`; `test` means `val`), or null.
 *
 * @example
 * ```ts
 * await imageFolderSplitDir("/data/imagenet", "val"); // "/data/imagenet/ILSVRC2012_img_val"
 * ```
 */
export async function imageFolderSplitDir(root: string, split: string): Promise<string | null> {
  const name = split === "test" ? "val" : split;
  for (const dir of [name, `ILSVRC2012_img_${name}`]) {
    if (await isDir(join(root, dir))) return join(root, dir);
  }
  return null;
}

async function sortedEntries(dir: string, want: "dir" | "file"): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (want === "dir" ? e.isDirectory : e.isFile && IMAGE_EXT.test(e.name)) names.push(e.name);
  }
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Decodes one image file to `size` x `size` RGB uint8 (shorter side resized to `size` with a
 * bicubic kernel, then centre crop).
 *
 * @example
 * ```ts
 * const rgb = await decodeImageSquare("n01440764/n01440764_10026.JPEG", 146);
 * ```
 */
export async function decodeImageSquare(path: string, size: number): Promise<Uint8Array> {
  try {
    const { data, info } = await sharp(path)
      .resize(size, size, { fit: "cover", position: "centre", kernel: "cubic" })
      .toColourspace("srgb")
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size) throw new Error("unexpected output size");
    if (info.channels === 3) return new Uint8Array(data.buffer, data.byteOffset, data.length);
    const out = new Uint8Array(size * size * 3);
    for (let i = 0; i < size * size; i++) {
      for (let c = 0; c < 3; c++) {
        out[i * 3 + c] = data[i * info.channels + Math.min(c, info.channels - 1)];
      }
    }
    return out;
  } catch (cause) {
    throw new BenchError("image_decode_failed", `cannot decode: ${(cause as Error).message}`, {
      location: path,
      cause,
    });
  }
}

/**
 * Opens a split of an image folder dataset.
 *
 * @example
 * ```ts
 * const ds = await openImageFolder("imagenet", "val", "/data/imagenet", { imageSize: 146 });
 * ```
 */
export async function openImageFolder(
  id: string,
  split: string,
  root: string,
  opts: { imageSize?: number; decodeConcurrency?: number } = {},
): Promise<ImageDataset> {
  const size = opts.imageSize ?? 146;
  const concurrency = Math.max(1, opts.decodeConcurrency ?? 4);
  const hint = "expected <dir>/train/<wnid>/*.JPEG and <dir>/val/<wnid>/*.JPEG " +
    "(or ILSVRC2012_img_train / ILSVRC2012_img_val); pass --imagenet-dir or set AMDIM_IMAGENET_DIR";
  if (split !== "train" && split !== "val" && split !== "test") {
    throw new BenchError("split_unknown", `dataset ${id} has no split '${split}'`, {
      location: `${id}/${split}`,
      hint: "splits: train, val (test = val)",
    });
  }
  const splitDir = await imageFolderSplitDir(root, split);
  if (!splitDir) {
    throw new BenchError("data_missing", `no ${split} folder`, { location: root, hint });
  }
  const trainDir = await imageFolderSplitDir(root, "train");
  const classes = await sortedEntries(trainDir ?? splitDir, "dir");
  if (classes.length === 0) {
    throw new BenchError("data_missing", "no class folders", {
      location: trainDir ?? splitDir,
      hint,
    });
  }
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const files: string[] = [];
  const labelList: number[] = [];
  for (const wnid of await sortedEntries(splitDir, "dir")) {
    const label = classIndex.get(wnid);
    if (label === undefined) {
      throw new BenchError("data_corrupt", `class folder '${wnid}' is not a train class`, {
        location: join(splitDir, wnid),
        hint: "val must be sorted into the same wnid folders as train",
      });
    }
    for (const f of await sortedEntries(join(splitDir, wnid), "file")) {
      files.push(join(splitDir, wnid, f));
      labelList.push(label);
    }
  }
  if (files.length === 0) {
    throw new BenchError("data_missing", "no images", { location: splitDir, hint });
  }
  const labels = Int32Array.from(labelList);
  const pixels = size * size * 3;
  return {
    id,
    split,
    length: files.length,
    height: size,
    width: size,
    channels: 3,
    numClasses: classes.length,
    classNames: classes,
    labels,
    sourceFiles: [splitDir],
    root,
    async fingerprint() {
      // Names and sizes of every image (hashing 140 GB of JPEGs per run would take hours).
      const lines: string[] = [];
      for (const f of files) lines.push(`${relative(root, f)}\t${(await Deno.stat(f)).size}\n`);
      return { [`${relative(root, splitDir)}/listing`]: sha256Hex(lines.join("")) };
    },
    async readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
      checkIndices(indices, files.length, `${id}/${split}`);
      const out = new Uint8Array(indices.length * pixels);
      let next = 0;
      const worker = async () => {
        while (next < indices.length) {
          const i = next++;
          out.set(await decodeImageSquare(files[indices[i]], size), i * pixels);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, indices.length) }, worker));
      return out;
    },
    close() {},
  };
}
