/**
 * The dataset manifest (`datasets/manifest.json`): typed, and validated against
 * `datasets/manifest.schema.json` with clear errors naming the key path.
 *
 * @module
 */
import { Ajv } from "ajv";
import schema from "../../datasets/manifest.schema.json" with { type: "json" };
import { BenchError } from "../util/errors.ts";

/** Where the manifest of this checkout lives. */
export const MANIFEST_PATH: string = new URL("../../datasets/manifest.json", import.meta.url)
  .pathname;

/** How a dataset is stored. */
export type DatasetFormat =
  | "cifar-binary"
  | "stl10-binary"
  | "idx-gzip"
  | "image-folder"
  | "synthetic";

/** A differently packaged copy of a source file with its own pinned bytes (e.g. Debian's). */
export interface SourceVariant {
  source: string;
  size: number;
  sha256: string;
  md5?: string;
}

/** A file to download: an archive, or a data file used as is. */
export interface SourceFile {
  /** File name, also the name under a mirror's `--url-base`. */
  name: string;
  /** Official URLs, tried in order. */
  urls: string[];
  /** `tar`/`tar.gz` are extracted into the dataset folder; `file` is stored as is. */
  kind: "tar" | "tar.gz" | "file";
  size: number | null;
  sizeStatus?: string;
  /** The pin. Null when not yet verified here; then `sha256Status` says why. */
  sha256: string | null;
  sha256Status?: string;
  /** A sha256 quoted elsewhere, not verified here; never used as a pin. */
  sha256ThirdParty?: string | null;
  sha256ThirdPartyNote?: string;
  /** Extra check; also what verifies a first download when sha256 is null. */
  md5: string | null;
  md5Source?: string;
  /** sha256 of the gunzipped content (source-independent pin of `.gz` files). */
  contentSha256?: string;
  contentSize?: number;
  /** Other packagings with their own pinned bytes. */
  variants?: SourceVariant[];
}

/** A file inside an extracted archive, path relative to the dataset folder. */
export interface MemberFile {
  path: string;
  size: number | null;
  sha256: string | null;
  md5: string | null;
  md5Status?: string;
  /** Not needed by the readers; missing is not a problem. */
  optional?: boolean;
}

/** One split: the files it reads and its length. */
export interface SplitEntry {
  files: string[];
  length: number | null;
  note?: string;
}

/** One dataset of the manifest. */
export interface DatasetEntry {
  title: string;
  homepage: string | null;
  format: DatasetFormat;
  height: number | null;
  width: number | null;
  channels: number | null;
  numClasses: number | null;
  classNames: string[] | null;
  labelMap: string;
  record?: { bytes: number; labelOffset: number; pixelOffset: number };
  localCopies?: { dir: string; package?: string; note?: string }[];
  userSupplied?: Record<string, unknown>;
  generator?: Record<string, unknown>;
  splits: Record<string, SplitEntry>;
  sources: SourceFile[];
  members: MemberFile[];
}

/** The whole manifest. */
export interface DatasetManifest {
  schemaVersion: 1;
  datasets: Record<string, DatasetEntry>;
}

let validator: ReturnType<Ajv["compile"]> | undefined;

/**
 * Validates a parsed manifest; errors name the file and key path.
 *
 * @example
 * ```ts
 * const manifest = parseManifest(JSON.parse(text), "datasets/manifest.json");
 * ```
 */
export function parseManifest(value: unknown, location = "manifest"): DatasetManifest {
  validator ??= new Ajv({ allErrors: true, strict: false }).compile(schema);
  if (!validator(value)) {
    const lines = (validator.errors ?? []).slice(0, 8).map((e) => {
      const path = e.instancePath.replace(/^\//, "").replaceAll("/", ".") || "(root)";
      const extra = e.params && "additionalProperty" in e.params
        ? ` '${e.params.additionalProperty}'`
        : e.params && "allowedValues" in e.params
        ? ` (${(e.params.allowedValues as unknown[]).join(", ")})`
        : "";
      return `${path}: ${e.message}${extra}`;
    });
    throw new BenchError("manifest_invalid", `invalid dataset manifest:\n  ${lines.join("\n  ")}`, {
      location,
      hint: "see datasets/manifest.schema.json",
    });
  }
  const manifest = value as DatasetManifest;
  for (const [id, ds] of Object.entries(manifest.datasets)) {
    if (ds.classNames && ds.numClasses !== null && ds.classNames.length !== ds.numClasses) {
      throw new BenchError(
        "manifest_invalid",
        `classNames has ${ds.classNames.length} entries but numClasses is ${ds.numClasses}`,
        { location: `${location}: datasets.${id}.classNames` },
      );
    }
  }
  return manifest;
}

/**
 * Reads and validates a manifest file (default: this checkout's `datasets/manifest.json`).
 *
 * @example
 * ```ts
 * const manifest = await loadManifest();
 * manifest.datasets.cifar10.sources[0].md5; // "c32a1d4a..."
 * ```
 */
export async function loadManifest(path: string = MANIFEST_PATH): Promise<DatasetManifest> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new BenchError("manifest_missing", "cannot read the dataset manifest", {
      location: path,
      cause,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new BenchError("manifest_invalid", `not JSON: ${(cause as Error).message}`, {
      location: path,
      cause,
    });
  }
  return parseManifest(value, path);
}

/**
 * The entry of dataset `id`, or a `dataset_unknown` error listing the known ids.
 *
 * @example
 * ```ts
 * const entry = datasetEntry(await loadManifest(), "stl10");
 * ```
 */
export function datasetEntry(manifest: DatasetManifest, id: string): DatasetEntry {
  const entry = manifest.datasets[id];
  if (!entry) {
    throw new BenchError("dataset_unknown", `unknown dataset '${id}'`, {
      location: id,
      hint: `known datasets: ${Object.keys(manifest.datasets).join(", ")}`,
    });
  }
  return entry;
}
