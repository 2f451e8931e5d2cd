/**
 * `openDataset(id, split, opts)`: the one entry point to every dataset of the manifest.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import { datasetEntry, type DatasetManifest, loadManifest } from "./manifest.ts";
import type { ImageDataset, OpenDatasetOptions } from "./types.ts";
import { locateDataset } from "./locate.ts";
import { openCifarBinary } from "./cifar.ts";
import { openStl10 } from "./stl10.ts";
import { openIdxGzip } from "./idx.ts";
import { openImageFolder } from "./image_folder.ts";
import { openSynthetic } from "./synthetic.ts";
import { applySubsetOptions } from "./subset.ts";

/**
 * Opens split `split` of dataset `id` (`cifar10`, `cifar100`, `stl10`, `fashion-mnist`,
 * `imagenet`, `synthetic`), then applies `indices` and `limit`.
 *
 * @example
 * ```ts
 * const train = await openDataset("cifar10", "train", { dataDir: "/data", limit: 5000 });
 * const x = await train.readImages([0, 1, 2]); // 3*32*32*3 bytes, HWC
 * const syn = await openDataset("synthetic", "train", { synthetic: { n: 256, seed: 1 } });
 * ```
 */
export async function openDataset(
  id: string,
  split: string,
  opts: OpenDatasetOptions & { manifest?: DatasetManifest } = {},
): Promise<ImageDataset> {
  const manifest = opts.manifest ?? await loadManifest();
  const entry = datasetEntry(manifest, id);
  let ds: ImageDataset;
  if (entry.format === "synthetic") {
    if (!opts.synthetic) {
      throw new BenchError("usage", "the synthetic dataset needs its parameters", {
        location: "synthetic",
        hint: "pass { synthetic: { n, testN, height, width, channels, numClasses, seed } }",
      });
    }
    ds = openSynthetic(split, opts.synthetic);
  } else {
    const loc = await locateDataset(id, entry, opts);
    if (!loc.found) {
      const looked = loc.candidates.map((c) => c.dir).join(", ");
      throw new BenchError("data_missing", `dataset ${id} is not installed (looked in ${looked})`, {
        location: id,
        hint: entry.format === "image-folder"
          ? "ImageNet is not downloadable: put it at <dir>/train/<wnid>/*.JPEG and " +
            "<dir>/val/<wnid>/*.JPEG and pass its folder (AMDIM_IMAGENET_DIR)"
          : `run \`deno task data get ${id}\` (offline: \`deno task data where ${id}\`)`,
      });
    }
    switch (entry.format) {
      case "cifar-binary":
        ds = await openCifarBinary(id, split, entry, loc.found);
        break;
      case "stl10-binary":
        ds = await openStl10(split, entry, loc.found);
        break;
      case "idx-gzip":
        ds = await openIdxGzip(id, split, entry, loc.found);
        break;
      case "image-folder":
        ds = await openImageFolder(id, split, loc.found, opts);
        break;
    }
  }
  try {
    return applySubsetOptions(ds, opts);
  } catch (error) {
    ds.close();
    throw error;
  }
}
