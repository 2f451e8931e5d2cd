/**
 * `verifyDataset`: re-checks every pinned file of a dataset and says exactly which one is
 * missing, truncated (too short), the wrong size, or corrupt (hash mismatch). Nothing is deleted
 * or moved.
 *
 * @module
 */
import { join } from "node:path";
import { datasetEntry, type DatasetManifest, loadManifest, type SourceFile } from "./manifest.ts";
import { datasetDir, downloadsDir, resolveDataDir } from "./data_dir.ts";
import { type LocalPins, readLocalPins } from "./pins.ts";
import { type FileDigests, gunzipDigest, hashFileDigests } from "./checksum.ts";
import { locateDataset } from "./locate.ts";

/** The verdict on one file. */
export type FileStatus = "ok" | "unpinned" | "missing" | "truncated" | "size" | "corrupt";

/** One checked file. */
export interface FileCheck {
  path: string;
  status: FileStatus;
  /** What was compared, e.g. `sha256 (manifest)`, `md5 (manifest)`, `sha256 (local pin)`. */
  checkedBy?: string;
  expected?: string;
  actual?: string;
  sha256?: string;
  size?: number;
}

/** What {@linkcode verifyDataset} found. */
export interface VerifyReport {
  id: string;
  /** Folder the dataset was found in, or null. */
  dir: string | null;
  files: FileCheck[];
  /** The files whose status is missing, truncated, size or corrupt. */
  problems: FileCheck[];
  /** Notes (e.g. "user-supplied: no checksums"). */
  notes: string[];
}

/** Pins a file is checked against. */
export interface FilePins {
  /** Accepted sizes (any of). Empty = unknown. */
  sizes: number[];
  /** Accepted sha256 values with where they come from. */
  sha256: { value: string; from: string }[];
  /** Accepted md5 values with where they come from. */
  md5: { value: string; from: string }[];
  /** sha256 of the gunzipped content, when the file is a .gz. */
  contentSha256?: string;
}

/**
 * Checks one file against its pins without changing anything.
 *
 * @example
 * ```ts
 * const c = await checkFile("/data/stl10/stl10_binary/train_y.bin", { sizes: [5000], sha256: [], md5: [{ value: "5a34...", from: "manifest" }] });
 * ```
 */
export async function checkFile(
  path: string,
  pins: FilePins,
  precomputed?: FileDigests,
): Promise<FileCheck> {
  let size: number;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) return { path, status: "missing", expected: "a file" };
    size = info.size;
  } catch {
    return { path, status: "missing" };
  }
  if (pins.sizes.length > 0 && !pins.sizes.includes(size)) {
    const min = Math.min(...pins.sizes);
    return {
      path,
      status: size < min ? "truncated" : "size",
      checkedBy: "size",
      expected: pins.sizes.join(" or "),
      actual: String(size),
      size,
    };
  }
  if (pins.sha256.length === 0 && pins.md5.length === 0) return { path, status: "unpinned", size };
  const got = precomputed ?? await hashFileDigests(path);
  const sha = pins.sha256.find((p) => p.value === got.sha256);
  const md5 = pins.md5.find((p) => p.value === got.md5);
  let result: FileCheck;
  if (sha) {
    result = { path, status: "ok", checkedBy: `sha256 (${sha.from})`, sha256: got.sha256, size };
  } else if (pins.sha256.length > 0 && !md5) {
    result = {
      path,
      status: "corrupt",
      checkedBy: "sha256",
      expected: pins.sha256.map((p) => p.value).join(" or "),
      actual: got.sha256,
      sha256: got.sha256,
      size,
    };
  } else if (md5) {
    result = { path, status: "ok", checkedBy: `md5 (${md5.from})`, sha256: got.sha256, size };
  } else {
    result = {
      path,
      status: "corrupt",
      checkedBy: "md5",
      expected: pins.md5.map((p) => p.value).join(" or "),
      actual: got.md5,
      sha256: got.sha256,
      size,
    };
  }
  if (result.status === "ok" && pins.contentSha256) {
    let content: string;
    try {
      content = (await gunzipDigest(path)).sha256;
    } catch (error) {
      content = `unreadable gzip (${(error as Error).message})`;
    }
    if (content !== pins.contentSha256) {
      return {
        path,
        status: "corrupt",
        checkedBy: "contentSha256 (manifest)",
        expected: pins.contentSha256,
        actual: content,
        sha256: got.sha256,
        size,
      };
    }
    result.checkedBy += " + contentSha256";
  }
  return result;
}

/**
 * The pins of a source file (archive or data file): manifest sha256, variants, local pin, md5.
 *
 * @example
 * ```ts
 * const pins = sourcePins("cifar10", entry.sources[0], await readLocalPins(dataDir));
 * ```
 */
export function sourcePins(id: string, source: SourceFile, local: LocalPins): FilePins {
  const pins: FilePins = { sizes: [], sha256: [], md5: [], contentSha256: source.contentSha256 };
  if (source.size !== null) pins.sizes.push(source.size);
  if (source.sha256) pins.sha256.push({ value: source.sha256, from: "manifest" });
  if (source.md5) pins.md5.push({ value: source.md5, from: "manifest" });
  for (const v of source.variants ?? []) {
    pins.sizes.push(v.size);
    pins.sha256.push({ value: v.sha256, from: `manifest, ${v.source}` });
    if (v.md5) pins.md5.push({ value: v.md5, from: `manifest, ${v.source}` });
  }
  const lp = local.pins[`${id}/${source.name}`];
  if (lp) pins.sha256.push({ value: lp.sha256, from: "local pin" });
  return pins;
}

/**
 * Verifies dataset `id` in the data folder (or `root`): extracted members, data files and any
 * downloaded archives that are still there.
 *
 * @example
 * ```ts
 * const report = await verifyDataset("stl10", { dataDir: "/data" });
 * for (const p of report.problems) console.log(p.status, p.path);
 * ```
 */
export async function verifyDataset(
  id: string,
  opts: { dataDir?: string; root?: string; manifest?: DatasetManifest } = {},
): Promise<VerifyReport> {
  const manifest = opts.manifest ?? await loadManifest();
  const entry = datasetEntry(manifest, id);
  const dataDir = resolveDataDir(opts).dir;
  const report: VerifyReport = { id, dir: null, files: [], problems: [], notes: [] };
  if (entry.format === "synthetic") {
    report.notes.push("generated from a seed: nothing to verify");
    return report;
  }
  const loc = await locateDataset(id, entry, opts);
  if (entry.format === "image-folder") {
    report.dir = loc.found;
    if (!loc.found) {
      report.problems.push({
        path: loc.candidates.map((c) => c.dir).join(" or "),
        status: "missing",
      });
    }
    report.notes.push("user-supplied folder: layout checked, no checksums");
    report.files.push(...report.problems);
    return report;
  }
  const local = await readLocalPins(dataDir);
  // Use the first complete location, else the data folder (so missing files are named there).
  const dir = loc.found ?? (opts.root ?? datasetDir(dataDir, id));
  report.dir = dir;
  for (const source of entry.sources) {
    const pins = sourcePins(id, source, local);
    if (source.kind === "file") {
      report.files.push(await checkFile(join(dir, source.name), pins));
    } else {
      const archive = join(downloadsDir(dataDir), source.name);
      const check = await checkFile(archive, pins);
      if (check.status === "missing") report.notes.push(`archive ${archive} not kept (optional)`);
      else report.files.push(check);
    }
  }
  for (const m of entry.members) {
    const pins: FilePins = { sizes: m.size !== null ? [m.size] : [], sha256: [], md5: [] };
    if (m.sha256) pins.sha256.push({ value: m.sha256, from: "manifest" });
    const lp = local.pins[`${id}/${m.path}`];
    if (lp) pins.sha256.push({ value: lp.sha256, from: "local pin" });
    if (m.md5) pins.md5.push({ value: m.md5, from: "manifest" });
    const check = await checkFile(join(dir, m.path), pins);
    if (check.status === "missing" && m.optional) continue;
    report.files.push(check);
  }
  report.problems = report.files.filter((f) =>
    f.status === "missing" || f.status === "truncated" || f.status === "size" ||
    f.status === "corrupt"
  );
  return report;
}
