/**
 * What spec validation needs from outside the spec: dataset facts from `datasets/manifest.json`
 * and the reference ids of `results/published.json`. Read once per path and cached.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { BenchError } from "../util/errors.ts";
import type { DatasetFacts } from "./validate.ts";

/** Repository root (two folders above this file). */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url)).replace(
  /\/$/,
  "",
);
/** Default folder of spec files. */
export const DEFAULT_SPECS_DIR = `${REPO_ROOT}/benchmarks`;
/** Default dataset manifest. */
export const DEFAULT_MANIFEST = `${REPO_ROOT}/datasets/manifest.json`;
/** Default published-numbers registry. */
export const DEFAULT_PUBLISHED = `${REPO_ROOT}/results/published.json`;

async function readJson(path: string, code: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new BenchError(code, "cannot read the file", { location: path, cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new BenchError(code, `not valid JSON: ${(cause as Error).message}`, { location: path });
  }
}

const manifestCache = new Map<string, Promise<Record<string, DatasetFacts>>>();

// deno-lint-ignore no-explicit-any
function factsOf(entry: any): DatasetFacts {
  const sources: string[] = (entry?.sources ?? []).map((s: { name: string }) => s.name);
  const members: string[] = (entry?.members ?? []).map((m: { path: string }) => m.path);
  const sha256: Record<string, string> = {};
  for (const s of entry?.sources ?? []) if (s.sha256) sha256[s.name] = s.sha256;
  for (const m of entry?.members ?? []) if (m.sha256) sha256[m.path] = m.sha256;
  return {
    splits: Object.keys(entry?.splits ?? {}),
    sources,
    files: [...sources, ...members],
    sha256,
    height: typeof entry?.height === "number" ? entry.height : undefined,
    width: typeof entry?.width === "number" ? entry.width : undefined,
    channels: typeof entry?.channels === "number" ? entry.channels : undefined,
  };
}

/**
 * Dataset facts by id from a dataset manifest.
 *
 * @example
 * ```ts
 * (await readDatasetFacts())["cifar10"].splits; // ["train", "test"]
 * ```
 */
export function readDatasetFacts(
  path: string = DEFAULT_MANIFEST,
): Promise<Record<string, DatasetFacts>> {
  let cached = manifestCache.get(path);
  if (!cached) {
    cached = readJson(path, "manifest_invalid").then((m) => {
      // deno-lint-ignore no-explicit-any
      const datasets = (m as any)?.datasets;
      if (!datasets || typeof datasets !== "object") {
        throw new BenchError("manifest_invalid", 'expected an object "datasets"', {
          location: path,
        });
      }
      const out: Record<string, DatasetFacts> = {};
      for (const [id, entry] of Object.entries(datasets)) out[id] = factsOf(entry);
      return out;
    });
    cached.catch(() => manifestCache.delete(path));
    manifestCache.set(path, cached);
  }
  return cached;
}

const publishedCache = new Map<string, Promise<string[]>>();

/**
 * Reference ids (keys of `entries`) of a published-numbers registry.
 *
 * @example
 * ```ts
 * await readPublishedIds(); // ["amdim-imagenet-linear", ...]
 * ```
 */
export function readPublishedIds(path: string = DEFAULT_PUBLISHED): Promise<string[]> {
  let cached = publishedCache.get(path);
  if (!cached) {
    cached = readJson(path, "published_invalid").then((p) =>
      // deno-lint-ignore no-explicit-any
      Object.keys((p as any)?.entries ?? {})
    );
    cached.catch(() => publishedCache.delete(path));
    publishedCache.set(path, cached);
  }
  return cached;
}
