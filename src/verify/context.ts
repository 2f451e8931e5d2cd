/**
 * What the checker compares a submission with, besides its own files: the published-numbers
 * registry and the dataset manifest (split files, known sha256 of every file and its variants).
 *
 * @module
 */
import { isAbsolute, relative } from "node:path";
import { BenchError } from "../util/errors.ts";
import { type Published, readPublished } from "../report/published.ts";
import { DEFAULT_MANIFEST, DEFAULT_PUBLISHED, readDatasetFacts } from "../spec/context.ts";
import type { DatasetFacts } from "../spec/validate.ts";

/** What one dataset of the manifest says about its files. */
export interface ManifestDataset {
  /** Files each split reads, by split name (`fold-N` style names stand for `fold-0`, ...). */
  splitFiles: Record<string, string[]>;
  /** Every sha256 the manifest knows for a file (the source, its variants, archive members). */
  sha256: Record<string, string[]>;
}

/** Inputs of the checker other than the submission. */
export interface VerifyContext {
  /** The published-numbers registry. */
  published: Published;
  /** Where it was read from, as shown in messages. */
  publishedPath: string;
  /** Dataset facts the spec validator uses (splits, sources, pins). */
  datasetFacts: Record<string, DatasetFacts>;
  /** File facts by dataset id. */
  manifest: Record<string, ManifestDataset>;
  /** Where the manifest was read from, as shown in messages. */
  manifestPath: string;
}

interface RawFile {
  name?: string;
  path?: string;
  sha256?: string | null;
  sha256ThirdParty?: string | null;
  variants?: { sha256?: string | null }[];
}

/**
 * File facts of a parsed `datasets/manifest.json`.
 *
 * @example
 * ```ts
 * const facts = manifestDatasets(JSON.parse(await Deno.readTextFile("datasets/manifest.json")));
 * facts["fashion-mnist"].splitFiles.test; // ["t10k-images-idx3-ubyte.gz", ...]
 * ```
 */
export function manifestDatasets(manifest: unknown): Record<string, ManifestDataset> {
  const datasets = (manifest as { datasets?: Record<string, unknown> })?.datasets;
  if (!datasets || typeof datasets !== "object") {
    throw new BenchError("manifest_invalid", 'expected an object "datasets"');
  }
  const out: Record<string, ManifestDataset> = {};
  for (const [id, raw] of Object.entries(datasets)) {
    const entry = raw as {
      splits?: Record<string, { files?: string[] }>;
      sources?: RawFile[];
      members?: RawFile[];
    };
    const splitFiles: Record<string, string[]> = {};
    for (const [split, s] of Object.entries(entry.splits ?? {})) splitFiles[split] = s.files ?? [];
    const sha256: Record<string, string[]> = {};
    for (const file of [...(entry.sources ?? []), ...(entry.members ?? [])]) {
      const name = file.name ?? file.path;
      if (!name) continue;
      const known = [file.sha256, ...(file.variants ?? []).map((v) => v.sha256)]
        .filter((h): h is string => typeof h === "string");
      if (known.length) sha256[name] = [...new Set([...(sha256[name] ?? []), ...known])];
    }
    out[id] = { splitFiles, sha256 };
  }
  return out;
}

/** Options of {@linkcode loadVerifyContext}. */
export interface LoadVerifyContextOptions {
  /** Published-numbers registry (default `results/published.json` of the repository). */
  publishedPath?: string;
  /** Dataset manifest (default `datasets/manifest.json` of the repository). */
  manifestPath?: string;
}

/**
 * Reads the registry and the manifest the checker needs.
 *
 * @example
 * ```ts
 * const ctx = await loadVerifyContext();
 * ```
 */
export async function loadVerifyContext(
  options: LoadVerifyContextOptions = {},
): Promise<VerifyContext> {
  const publishedPath = options.publishedPath ?? DEFAULT_PUBLISHED;
  const manifestPath = options.manifestPath ?? DEFAULT_MANIFEST;
  let manifestValue: unknown;
  try {
    manifestValue = JSON.parse(await Deno.readTextFile(manifestPath));
  } catch (cause) {
    throw new BenchError("manifest_invalid", "cannot read the dataset manifest", {
      location: manifestPath,
      cause,
    });
  }
  return {
    published: await readPublished(publishedPath),
    publishedPath: displayPath(publishedPath),
    datasetFacts: await readDatasetFacts(manifestPath),
    manifest: manifestDatasets(manifestValue),
    manifestPath: displayPath(manifestPath),
  };
}

/**
 * A path as messages show it: relative to the working folder when it lies inside it.
 *
 * @example
 * ```ts
 * displayPath(`${Deno.cwd()}/results/published.json`); // "results/published.json"
 * ```
 */
export function displayPath(path: string): string {
  const rel = relative(Deno.cwd(), path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
