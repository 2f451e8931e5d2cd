/**
 * The one shape every dataset reader returns: uint8 HWC images read on demand and Int32 labels.
 *
 * @module
 */

/** A split of a dataset, as typed arrays. Images are read on demand, so multi-gigabyte splits
 * (STL-10 unlabeled) never sit in memory whole. */
export interface ImageDataset {
  /** Dataset id from the manifest, e.g. `cifar10`. */
  readonly id: string;
  /** Split name, e.g. `train`, `test`, `unlabeled`, `train+unlabeled`, `fold-3`. */
  readonly split: string;
  /** Number of images. */
  readonly length: number;
  /** Image height in pixels. */
  readonly height: number;
  /** Image width in pixels. */
  readonly width: number;
  /** Channels per pixel (3 RGB, 1 gray). */
  readonly channels: number;
  /** Number of classes. */
  readonly numClasses: number;
  /** Class names, index = label. */
  readonly classNames: readonly string[];
  /** One label per image, 0-based; -1 = unlabeled. */
  readonly labels: Int32Array;
  /** Files the images and labels are read from (absolute paths), for checksums in records. */
  readonly sourceFiles: readonly string[];
  /** Folder that {@linkcode sourceFiles} are named relative to in fingerprints. */
  readonly root?: string;
  /** A custom fingerprint (`{name: sha256}`) for datasets that are not a few files. */
  fingerprint?(): Promise<Record<string, string>>;
  /**
   * Reads images `indices` (any order, repeats allowed) packed as N*H*W*C uint8, HWC, in the
   * order asked.
   */
  readImages(indices: ArrayLike<number>): Promise<Uint8Array>;
  /** Releases open files. Reading after close is an error. Safe to call twice. */
  close(): void;
}

/** Parameters of the generated `synthetic` dataset. */
export interface SyntheticParams {
  /** Images in the train split. */
  n: number;
  /** Images in the test split (default max(1, n/4)). */
  testN?: number;
  /** Image height (default 32). */
  height?: number;
  /** Image width (default 32). */
  width?: number;
  /** Channels, 1 or 3 (default 3). */
  channels?: number;
  /** Classes (default 10). */
  numClasses?: number;
  /** Seed; every pixel and label is a pure function of (seed, split, index). */
  seed: number;
}

/** Options of {@linkcode openDataset}. */
export interface OpenDatasetOptions {
  /** Data folder (default: `AMDIM_DATA_DIR`, then the user's cache folder). */
  dataDir?: string;
  /** Read this folder instead of the default location (a folder holding the files named in the
   * manifest: e.g. the one holding `cifar-10-batches-bin/` or the Fashion-MNIST `.gz` files, or the
   * ImageNet root). */
  root?: string;
  /** Keep only the first `limit` images of the split (after `indices`). */
  limit?: number | null;
  /** Keep only these images of the split, in this order. */
  indices?: ArrayLike<number>;
  /** Parameters of the `synthetic` dataset (required for it). */
  synthetic?: SyntheticParams;
  /** ImageNet: resize the shorter side to this many pixels, then centre-crop a square of that
   * side (default 146, the reference's test-time resize for 128 px inputs). Every image is
   * decoded on demand, so memory holds only the images of one `readImages` call. */
  imageSize?: number;
  /** ImageNet: how many JPEGs to decode at once (default 4). */
  decodeConcurrency?: number;
}
