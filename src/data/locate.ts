/**
 * Where a dataset's files are looked for, in order: an explicit folder; for Fashion-MNIST the
 * Debian package's copy (/usr/share/datasets/fashion-mnist); then `<dataDir>/<id>`. ImageNet:
 * `--imagenet-dir`, `$AMDIM_IMAGENET_DIR`, then `<dataDir>/imagenet`.
 *
 * @module
 */
import { join } from "node:path";
import type { DatasetEntry } from "./manifest.ts";
import { datasetDir, resolveDataDir } from "./data_dir.ts";
import { imageFolderSplitDir } from "./image_folder.ts";

/** One place a dataset may be. */
export interface LocationCandidate {
  dir: string;
  /** Why it is looked at. */
  kind: "flag" | "local-copy" | "data-dir" | "env";
  /** Every file the splits need is there. */
  complete: boolean;
}

/** Where a dataset is looked for and where it was found. */
export interface DatasetLocation {
  id: string;
  candidates: LocationCandidate[];
  /** The first complete candidate, or null. */
  found: string | null;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Files every split of a dataset needs (relative to its folder). */
export function requiredFiles(entry: DatasetEntry): string[] {
  const set = new Set<string>();
  for (const s of Object.values(entry.splits)) for (const f of s.files) set.add(f);
  return [...set];
}

/**
 * Lists the candidate folders of dataset `id` and picks the first complete one.
 *
 * @example
 * ```ts
 * const loc = await locateDataset("fashion-mnist", manifest.datasets["fashion-mnist"]);
 * loc.found; // "/usr/share/datasets/fashion-mnist" when the Debian package is installed
 * ```
 */
export async function locateDataset(
  id: string,
  entry: DatasetEntry,
  opts: { dataDir?: string; root?: string } = {},
): Promise<DatasetLocation> {
  const dirs: { dir: string; kind: LocationCandidate["kind"] }[] = [];
  if (opts.root) dirs.push({ dir: opts.root, kind: "flag" });
  else if (entry.format === "image-folder") {
    const env = Deno.env.get("AMDIM_IMAGENET_DIR");
    if (env) dirs.push({ dir: env, kind: "env" });
    dirs.push({ dir: datasetDir(resolveDataDir(opts).dir, id), kind: "data-dir" });
  } else if (entry.format !== "synthetic") {
    for (const c of entry.localCopies ?? []) dirs.push({ dir: c.dir, kind: "local-copy" });
    dirs.push({ dir: datasetDir(resolveDataDir(opts).dir, id), kind: "data-dir" });
  }
  const candidates: LocationCandidate[] = [];
  for (const { dir, kind } of dirs) {
    let complete: boolean;
    if (entry.format === "image-folder") {
      complete = (await imageFolderSplitDir(dir, "train")) !== null ||
        (await imageFolderSplitDir(dir, "val")) !== null;
    } else {
      complete = true;
      for (const f of requiredFiles(entry)) {
        if (!(await exists(join(dir, f)))) {
          complete = false;
          break;
        }
      }
    }
    candidates.push({ dir, kind, complete });
  }
  return { id, candidates, found: candidates.find((c) => c.complete)?.dir ?? null };
}
