/**
 * `getDataset`: download, verify and install a dataset into the data folder.
 * Archives go to `<dataDir>/downloads/`, are verified (sha256 pin, else md5 then the sha256 is
 * recorded in `<dataDir>/pins.json`), extracted safely into a temporary folder beside the target
 * and moved into `<dataDir>/<id>/` only when every expected member is there with the right size
 * (and md5 where pinned). Existing files are never replaced.
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";
import {
  type DatasetEntry,
  datasetEntry,
  type DatasetManifest,
  loadManifest,
  type SourceFile,
} from "./manifest.ts";
import { datasetDir, downloadsDir, resolveDataDir, resolveUrlBase } from "./data_dir.ts";
import { type LocalPin, readLocalPins, recordLocalPins } from "./pins.ts";
import { downloadFile, type DownloadProgress, rejectCorrupt } from "./download.ts";
import { extractTarSafely } from "./extract_tar.ts";
import { gunzipDigest, hashFileDigests } from "./checksum.ts";
import { checkFile, sourcePins, verifyDataset } from "./verify.ts";
import { locateDataset } from "./locate.ts";

/** Options of {@linkcode getDataset}. */
export interface GetOptions {
  dataDir?: string;
  /** Mirror base: files are fetched from `<urlBase>/<file name>`. */
  urlBase?: string;
  manifest?: DatasetManifest;
  fetch?: typeof fetch;
  /** Progress sink per file (default: none). */
  progress?: (name: string) => DownloadProgress;
  /** One line of news (default: none). */
  log?: (line: string) => void;
  /** Delete each archive once it is extracted and verified (default: keep). */
  removeArchive?: boolean;
  retries?: number;
  retryDelayMs?: number;
}

/** What {@linkcode getDataset} did. */
export interface GetResult {
  id: string;
  /** Folder the dataset is read from. */
  dir: string | null;
  /** Files downloaded now. */
  downloaded: string[];
  /** Nothing to do: the dataset was already complete and verified. */
  alreadyPresent: boolean;
  /** Keys of the local pins recorded now. */
  pinsRecorded: string[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

function sourceUrls(source: SourceFile, urlBase: string | undefined): string[] {
  return urlBase ? [`${urlBase}/${source.name}`] : source.urls;
}

/** Downloads one source file, trying its URLs in order; returns digests and what verified it. */
async function fetchSource(
  id: string,
  source: SourceFile,
  dest: string,
  localSha: string | null,
  opts: GetOptions,
): Promise<
  { sha256: string; md5: string; size: number; verifiedBy: "sha256" | "md5"; url: string }
> {
  const urls = sourceUrls(source, resolveUrlBase(opts));
  let lastError: unknown;
  for (const url of urls) {
    opts.log?.(`downloading ${url}`);
    try {
      const r = await downloadFile({
        url,
        dest,
        expected: { size: source.size, sha256: source.sha256 ?? localSha, md5: source.md5 },
        fetch: opts.fetch,
        retries: opts.retries,
        retryDelayMs: opts.retryDelayMs,
        progress: opts.progress?.(source.name),
      });
      return { ...r, url };
    } catch (error) {
      if (error instanceof BenchError && error.code === "download_failed") {
        lastError = error;
        continue;
      }
      throw error;
    }
  }
  const e = lastError as BenchError;
  throw new BenchError(
    "download_failed",
    `${id}: could not download ${source.name}: ${e.message}`,
    {
      location: urls.join(", "),
      cause: e,
      hint: `no network? Put ${source.name} (${source.size ?? "?"} bytes, ` +
        (source.sha256 ? `sha256 ${source.sha256}` : `md5 ${source.md5}`) +
        `) at ${dest} and run \`deno task data get ${id}\` again; or use a mirror with --url-base`,
    },
  );
}

/** Moves each top-level entry of `tmp` into `target`, refusing to replace anything. */
async function installExtracted(tmp: string, target: string): Promise<void> {
  const names: string[] = [];
  for await (const e of Deno.readDir(tmp)) names.push(e.name);
  for (const name of names) {
    if (await exists(join(target, name))) {
      throw new BenchError("exists", "refusing to overwrite an existing file or folder", {
        location: join(target, name),
        hint: "it fails verification (see `deno task data verify`); move it away and run get again",
      });
    }
  }
  for (const name of names) await Deno.rename(join(tmp, name), join(target, name));
}

/** Extracts a verified archive and checks its members before moving them into place. */
async function extractArchive(
  id: string,
  entry: DatasetEntry,
  archive: string,
  target: string,
  archiveVerifiedBy: string,
  opts: GetOptions,
): Promise<Record<string, LocalPin>> {
  await Deno.mkdir(target, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: target, prefix: ".extract-" });
  const pins: Record<string, LocalPin> = {};
  try {
    const known = entry.members.reduce((a, m) => a + (m.size ?? 0), 0);
    opts.log?.(`extracting ${archive}`);
    await extractTarSafely(archive, tmp, { maxBytes: known > 0 ? known + (64 << 20) : undefined });
    const local = await readLocalPins(resolveDataDir(opts).dir);
    for (const m of entry.members) {
      const path = join(tmp, m.path);
      if (!(await exists(path))) {
        if (m.optional) continue;
        throw new BenchError("archive_incomplete", `the archive has no member ${m.path}`, {
          location: archive,
        });
      }
      const digests = await hashFileDigests(path);
      const filePins = {
        sizes: m.size !== null ? [m.size] : [],
        sha256: [
          ...(m.sha256 ? [{ value: m.sha256, from: "manifest" }] : []),
          ...(local.pins[`${id}/${m.path}`]
            ? [{ value: local.pins[`${id}/${m.path}`].sha256, from: "local pin" }]
            : []),
        ],
        md5: m.md5 ? [{ value: m.md5, from: "manifest" }] : [],
      };
      const check = await checkFile(path, filePins, digests);
      if (check.status !== "ok" && check.status !== "unpinned") {
        throw new BenchError(
          "checksum_mismatch",
          `member ${m.path} is ${check.status}: expected ${check.checkedBy} ${check.expected}, got ${check.actual}`,
          { location: archive, hint: "nothing was put in place; download the archive again" },
        );
      }
      pins[`${id}/${m.path}`] = {
        sha256: digests.sha256,
        size: digests.size,
        md5: digests.md5,
        verifiedBy: `extracted from ${archiveVerifiedBy}`,
        recordedAt: new Date().toISOString(),
      };
    }
    await installExtracted(tmp, target);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return pins;
}

/**
 * Downloads (or finds), verifies and installs dataset `id`.
 *
 * @example
 * ```ts
 * await getDataset("cifar10", { dataDir: "/data", log: console.error });
 * ```
 */
export async function getDataset(id: string, opts: GetOptions = {}): Promise<GetResult> {
  const manifest = opts.manifest ?? await loadManifest();
  const entry = datasetEntry(manifest, id);
  const dataDir = resolveDataDir(opts).dir;
  const result: GetResult = {
    id,
    dir: null,
    downloaded: [],
    alreadyPresent: false,
    pinsRecorded: [],
  };
  if (entry.format === "synthetic") {
    result.alreadyPresent = true;
    opts.log?.("synthetic: generated from a seed, nothing to download");
    return result;
  }
  if (entry.format === "image-folder") {
    throw new BenchError("manual_download", `${id} cannot be downloaded automatically`, {
      location: id,
      hint: "register at image-net.org, then lay it out as <dir>/train/<wnid>/*.JPEG and " +
        "<dir>/val/<wnid>/*.JPEG (val sorted into class folders) and set AMDIM_IMAGENET_DIR=<dir>",
    });
  }
  // Already complete somewhere (the Debian copy, or a previous get)?
  const loc = await locateDataset(id, entry, { dataDir });
  if (loc.found) {
    const report = await verifyDataset(id, { dataDir, root: loc.found, manifest });
    if (report.problems.length === 0) {
      result.dir = loc.found;
      result.alreadyPresent = true;
      opts.log?.(`${id}: present and verified in ${loc.found}`);
      return result;
    }
    if (loc.found !== datasetDir(dataDir, id)) {
      opts.log?.(`${id}: the copy in ${loc.found} fails verification; using ${dataDir}`);
    } else {
      const p = report.problems[0];
      throw new BenchError("data_corrupt", `${p.path} is ${p.status}`, {
        location: p.path,
        hint: "nothing is replaced automatically: move the file away and run get again",
      });
    }
  }
  const target = datasetDir(dataDir, id);
  const local = await readLocalPins(dataDir);
  const newPins: Record<string, LocalPin> = {};
  for (const source of entry.sources) {
    const key = `${id}/${source.name}`;
    const isFile = source.kind === "file";
    const dest = isFile ? join(target, source.name) : join(downloadsDir(dataDir), source.name);
    await Deno.mkdir(isFile ? target : downloadsDir(dataDir), { recursive: true });
    let verifiedBy: string;
    if (await exists(dest)) {
      // Placed by the user (offline) or kept from an earlier run: check, never replace.
      const check = await checkFile(dest, sourcePins(id, source, local));
      if (check.status !== "ok") {
        throw new BenchError(
          "checksum_mismatch",
          `${dest} is ${check.status}: expected ${check.checkedBy} ${check.expected}, got ${check.actual}`,
          { location: dest, hint: "move it away and run get again" },
        );
      }
      verifiedBy = check.checkedBy!;
      if (!check.checkedBy!.startsWith("sha256")) {
        const d = await hashFileDigests(dest);
        newPins[key] = { ...d, verifiedBy, recordedAt: new Date().toISOString() };
      }
    } else {
      const got = await fetchSource(id, source, dest, local.pins[key]?.sha256 ?? null, opts);
      result.downloaded.push(dest);
      verifiedBy = `${got.verifiedBy} (manifest)`;
      if (source.contentSha256) {
        const content = await gunzipDigest(dest).catch(() => ({ sha256: "unreadable gzip" }));
        if (content.sha256 !== source.contentSha256) {
          await rejectCorrupt(dest, dest, got.url, { ...got }, {
            what: "contentSha256",
            expected: source.contentSha256,
            actual: content.sha256,
          });
        }
      }
      if (got.verifiedBy === "md5") {
        newPins[key] = {
          sha256: got.sha256,
          size: got.size,
          md5: got.md5,
          verifiedBy: "md5 (manifest)",
          recordedAt: new Date().toISOString(),
        };
      }
    }
    if (!isFile) {
      Object.assign(
        newPins,
        await extractArchive(id, entry, dest, target, `${source.name} (${verifiedBy})`, opts),
      );
      if (opts.removeArchive) await Deno.remove(dest);
    }
  }
  const fresh = Object.fromEntries(Object.entries(newPins).filter(([k]) => !local.pins[k]));
  if (Object.keys(fresh).length > 0) {
    await recordLocalPins(dataDir, fresh);
    result.pinsRecorded = Object.keys(fresh);
  }
  result.dir = target;
  return result;
}
