/**
 * Loading a spec: read the JSONC file and what it `extends` (cycles detected), merge the layers,
 * apply `--set` overrides, validate (schema, then semantics), fill in defaults and hash.
 *
 * @module
 */
import { basename, dirname, isAbsolute, relative, resolve } from "node:path";
import { BenchError } from "../util/errors.ts";
import { comparableHash, specHash } from "./canonical.ts";
import {
  DEFAULT_MANIFEST,
  DEFAULT_PUBLISHED,
  DEFAULT_SPECS_DIR,
  readDatasetFacts,
  readPublishedIds,
} from "./context.ts";
import { parseJsonc } from "./jsonc.ts";
import { formatKeyPath, type PathSegment } from "./key_path.ts";
import { locateIn, mergeLayer, type Provenance } from "./merge.ts";
import { applyOverride, parseOverride } from "./overrides.ts";
import { fillDefaults, schemaAt } from "./schema.ts";
import { didYouMean } from "./suggest.ts";
import type { LoadedSpec, Spec } from "./types.ts";
import {
  checkSemantics,
  type Locator,
  validateAgainstSchema,
  type ValidationContext,
} from "./validate.ts";

/** Options of {@linkcode loadSpec}. */
export interface LoadSpecOptions {
  /** `--set key.path=value` overrides, applied in order after `extends`. */
  overrides?: readonly string[];
  /** Where spec ids are looked up (default `benchmarks/`). */
  specsDir?: string;
  /** Dataset manifest for split and pin checks (default `datasets/manifest.json`; null skips). */
  manifestPath?: string | null;
  /** Published numbers for the reference check (default `results/published.json`; null skips). */
  publishedPath?: string | null;
}

/** A spec layer: one file's parsed content. */
export interface SpecLayer {
  /** How errors name it (the path relative to the working folder when inside it). */
  label: string;
  /** Absolute path. */
  file: string;
  /** Parsed JSONC. */
  value: Record<string, unknown>;
}

/** How a file is named in messages: relative to the working folder when inside it. */
export function displayPath(file: string): string {
  const rel = relative(Deno.cwd(), file);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}

function looksLikePath(ref: string): boolean {
  return ref.includes("/") || ref.endsWith(".jsonc") || ref.endsWith(".json");
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function specIds(specsDir: string): Promise<string[]> {
  const ids: string[] = [];
  try {
    for await (const entry of Deno.readDir(specsDir)) {
      if (entry.isFile && entry.name.endsWith(".jsonc")) ids.push(entry.name.slice(0, -6));
    }
  } catch { /* no folder: no ids */ }
  return ids.sort();
}

/**
 * The absolute file of a spec id (`<specsDir>/<id>.jsonc`) or path; a missing one is a
 * `spec_not_found` error with the closest id suggested.
 *
 * @example
 * ```ts
 * await resolveSpecFile("smoke"); // "/…/benchmarks/smoke.jsonc"
 * ```
 */
export async function resolveSpecFile(
  pathOrId: string,
  options: { specsDir?: string; relativeTo?: string; location?: string } = {},
): Promise<string> {
  const specsDir = resolve(options.specsDir ?? DEFAULT_SPECS_DIR);
  const byPath = looksLikePath(pathOrId);
  const file = byPath
    ? resolve(options.relativeTo ?? Deno.cwd(), pathOrId)
    : resolve(specsDir, `${pathOrId}.jsonc`);
  if (await isFile(file)) return file;
  const ids = byPath ? [] : await specIds(specsDir);
  throw new BenchError(
    "spec_not_found",
    `cannot find spec "${pathOrId}" (looked for ${displayPath(file)})${didYouMean(pathOrId, ids)}`,
    {
      location: options.location,
      hint: ids.length ? `specs in ${displayPath(specsDir)}: ${ids.join(", ")}` : undefined,
    },
  );
}

/**
 * Reads a spec file and the chain of files it extends, the file itself first.
 *
 * @example
 * ```ts
 * const layers = await readSpecLayers("/…/benchmarks/cifar100-amdim.jsonc");
 * layers.map((l) => l.label); // ["benchmarks/cifar100-amdim.jsonc", "benchmarks/cifar10-amdim.jsonc"]
 * ```
 */
export async function readSpecLayers(file: string, specsDir?: string): Promise<SpecLayer[]> {
  const layers: SpecLayer[] = [];
  let current = resolve(file);
  while (true) {
    const label = displayPath(current);
    if (layers.some((l) => l.file === current)) {
      const cycle = [...layers.map((l) => l.label), label].join(" -> ");
      throw new BenchError("spec_cycle", `extends cycle: ${cycle}`, {
        location: `${layers[layers.length - 1].label}: extends`,
        hint: "a spec cannot extend itself, directly or through others",
      });
    }
    let text: string;
    try {
      text = await Deno.readTextFile(current);
    } catch (cause) {
      throw new BenchError("spec_not_found", "cannot read the spec file", {
        location: label,
        cause,
      });
    }
    const value = parseJsonc(text, label);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new BenchError("spec_invalid", "expected an object", { location: `${label}: (root)` });
    }
    const layer = { label, file: current, value: value as Record<string, unknown> };
    layers.push(layer);
    const ext = layer.value.extends;
    if (ext === undefined) break;
    if (typeof ext !== "string") {
      throw new BenchError(
        "spec_invalid",
        `expected a spec id or a relative path, got ${JSON.stringify(ext)}`,
        { location: `${label}: extends` },
      );
    }
    current = await resolveSpecFile(ext, {
      specsDir,
      relativeTo: dirname(current),
      location: `${label}: extends`,
    });
  }
  return layers;
}

/**
 * The pure part of loading: merges layers (file first, then what it extends), applies
 * overrides, validates, fills defaults, checks semantics and hashes.
 *
 * @example
 * ```ts
 * const { spec, hash } = resolveSpecLayers(layers, ["pretrain.steps=10"], {});
 * ```
 */
export function resolveSpecLayers(
  layers: readonly SpecLayer[],
  overrides: readonly string[],
  context: ValidationContext,
): { spec: Spec; hash: string; comparableHash: string } {
  const provenance: Provenance = new Map();
  // Maps keyed by data (dataset.pins, gate.metrics) replace as a whole, like arrays.
  const replaces = (path: readonly PathSegment[]) => {
    const at = schemaAt(undefined, path);
    return at.ok && typeof at.node.additionalProperties === "object";
  };
  let merged: unknown = {};
  for (const layer of [...layers].reverse()) {
    merged = mergeLayer(merged, layer.value, layer.label, provenance, [], replaces);
  }
  const value = merged as Record<string, unknown>;
  delete value.extends;
  delete value.$schema;
  for (const text of overrides) {
    const override = parseOverride(text);
    const path = applyOverride(value, override);
    mergeLayer(undefined, override.value, `--set ${text}`, provenance, path);
  }
  const leaf = layers[0].label;
  const locate: Locator = (path) => locateIn(provenance, path, leaf);
  validateAgainstSchema(value, locate);
  const spec = fillDefaults(value) as Spec;
  checkSemantics(spec, locate, context);
  return { spec, hash: specHash(spec), comparableHash: comparableHash(spec) };
}

/**
 * Loads a spec by id (`benchmarks/<id>.jsonc`) or path: `extends`, overrides, validation,
 * defaults, hash. Every problem is a {@linkcode BenchError} naming the file, the key path and
 * what was expected.
 *
 * @example
 * ```ts
 * const { spec, hash, file } = await loadSpec("fmnist-tiny", { overrides: ["pretrain.steps=100"] });
 * ```
 */
export async function loadSpec(
  pathOrId: string,
  options: LoadSpecOptions = {},
): Promise<LoadedSpec> {
  const file = await resolveSpecFile(pathOrId, { specsDir: options.specsDir });
  const layers = await readSpecLayers(file, options.specsDir);
  const manifestPath = options.manifestPath === undefined ? DEFAULT_MANIFEST : options.manifestPath;
  const publishedPath = options.publishedPath === undefined
    ? DEFAULT_PUBLISHED
    : options.publishedPath;
  const context: ValidationContext = {
    expectedId: basename(file).replace(/\.jsonc?$/, ""),
    datasets: manifestPath === null ? undefined : await readDatasetFacts(manifestPath),
    publishedIds: publishedPath === null ? undefined : await readPublishedIds(publishedPath),
  };
  const overrides = [...(options.overrides ?? [])];
  const resolved = resolveSpecLayers(layers, overrides, context);
  return { ...resolved, file, chain: layers.map((l) => l.file), overrides };
}

/** Re-exported for messages that show key paths. */
export { formatKeyPath };
