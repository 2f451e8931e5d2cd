/**
 * `datasetFingerprint`: the sha256 of every file a dataset split reads, for run records.
 *
 * @module
 */
import { relative } from "node:path";
import { sha256File } from "../util/hash.ts";
import type { ImageDataset } from "./types.ts";

const memo = new Map<string, Promise<string>>();

/**
 * sha256 of a file, computed once per (path, size, mtime) in this process.
 *
 * @example
 * ```ts
 * const digest = await cachedSha256("/data/cifar10/cifar-10-batches-bin/test_batch.bin");
 * ```
 */
export async function cachedSha256(path: string): Promise<string> {
  const info = await Deno.stat(path);
  const key = `${path}\0${info.size}\0${info.mtime?.getTime()}`;
  let p = memo.get(key);
  if (!p) {
    p = sha256File(path);
    memo.set(key, p);
    p.catch(() => memo.delete(key));
  }
  return await p;
}

/**
 * `{file: sha256}` for every file `ds` reads (names relative to the dataset folder, e.g.
 * `cifar-10-batches-bin/test_batch.bin` or `train-images-idx3-ubyte.gz`). The synthetic dataset
 * gives the hash of its parameters; ImageNet the hash of its file list with sizes.
 *
 * @example
 * ```ts
 * const hashes = await datasetFingerprint(await openDataset("fashion-mnist", "train"));
 * ```
 */
export async function datasetFingerprint(ds: ImageDataset): Promise<Record<string, string>> {
  if (ds.fingerprint) return await ds.fingerprint();
  const out: Record<string, string> = {};
  for (const path of ds.sourceFiles) {
    const name = ds.root ? relative(ds.root, path) : path;
    out[name] = await cachedSha256(path);
  }
  return out;
}
