/**
 * Resumable, verified downloads with `fetch`. Bytes go to `<dest>.partial`; an interrupted
 * transfer continues from there with an HTTP `Range` request (a server that ignores `Range`
 * restarts the file). The finished file is checked against its pins (size, sha256, else md5);
 * on a mismatch it is kept apart as `<dest>.corrupt-<sha8>` and nothing is put in place.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import { type FileDigests, hashFileDigests } from "./checksum.ts";
import { formatBytes } from "./progress.ts";

/** What the downloaded bytes must be. */
export interface ExpectedFile {
  size: number | null;
  /** The pin; null when unknown (then md5 must be given). */
  sha256: string | null;
  md5: string | null;
}

/** Progress callbacks of {@linkcode downloadFile}. */
export interface DownloadProgress {
  /** A transfer starts at `offset` bytes (non-zero when resuming) of `total` (if known). */
  start?(offset: number, total: number | null): void;
  /** `bytes` are on disk in all. */
  update?(bytes: number): void;
  /** The transfer ended. */
  finish?(): void;
  /** Something worth a line: a retry, a restart. */
  note?(message: string): void;
}

/** Options of {@linkcode downloadFile}. */
export interface DownloadOptions {
  /** URL to fetch. */
  url: string;
  /** Final path; must not exist. */
  dest: string;
  /** Pins to check. */
  expected: ExpectedFile;
  /** How many times to resume after an interrupted transfer (default 5). */
  retries?: number;
  /** Wait before a retry, in ms (default 500 times the attempt number). */
  retryDelayMs?: number;
  /** Injected `fetch` (tests, proxies). */
  fetch?: typeof fetch;
  progress?: DownloadProgress;
}

/** What {@linkcode downloadFile} did. */
export interface DownloadResult extends FileDigests {
  path: string;
  /** Offsets each resumed request started at. */
  resumedFrom: number[];
  /** `sha256` when the pin matched, `md5` when only the md5 could be checked. */
  verifiedBy: "sha256" | "md5";
}

async function fileSize(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function parseContentRange(value: string | null): { start: number; total: number | null } | null {
  const m = value?.match(/^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i);
  if (!m) return null;
  return { start: Number(m[1]), total: m[3] === "*" ? null : Number(m[3]) };
}

/**
 * Checks digests against pins; returns what verified them or the first mismatch.
 *
 * @example
 * ```ts
 * checkDigests(digests, { size: 3, sha256: null, md5: "900150983cd24fb0d6963f7d28e17f72" });
 * ```
 */
export function checkDigests(
  got: FileDigests,
  expected: ExpectedFile,
): { ok: true; verifiedBy: "sha256" | "md5" } | {
  ok: false;
  what: "size" | "sha256" | "md5" | "unpinned";
  expected: string;
  actual: string;
} {
  if (expected.size !== null && got.size !== expected.size) {
    return { ok: false, what: "size", expected: String(expected.size), actual: String(got.size) };
  }
  if (expected.sha256 !== null && got.sha256 !== expected.sha256) {
    return { ok: false, what: "sha256", expected: expected.sha256, actual: got.sha256 };
  }
  if (expected.md5 !== null && got.md5 !== expected.md5) {
    return { ok: false, what: "md5", expected: expected.md5, actual: got.md5 };
  }
  if (expected.sha256 !== null) return { ok: true, verifiedBy: "sha256" };
  if (expected.md5 !== null) return { ok: true, verifiedBy: "md5" };
  return { ok: false, what: "unpinned", expected: "a sha256 or md5 pin", actual: got.sha256 };
}

/**
 * Moves a file that failed its check to `<dest>.corrupt-<sha8>` and throws the mismatch error.
 *
 * @example
 * ```ts
 * await rejectCorrupt(partial, dest, url, digests, mismatch);
 * ```
 */
export async function rejectCorrupt(
  file: string,
  dest: string,
  url: string,
  got: FileDigests,
  mismatch: { what: string; expected: string; actual: string },
): Promise<never> {
  const apart = `${dest}.corrupt-${got.sha256.slice(0, 8)}`;
  await Deno.rename(file, apart);
  const what = mismatch.what === "size" ? "size (bytes)" : mismatch.what;
  throw new BenchError(
    "checksum_mismatch",
    `${url}: downloaded file does not match its pin: expected ${what} ${mismatch.expected}, ` +
      `got ${mismatch.actual} (sha256 ${got.sha256}, ${got.size} bytes)`,
    {
      location: url,
      hint: `nothing was put in place; the downloaded bytes are kept at ${apart}. ` +
        "Try again or another mirror (--url-base); if the source changed, the manifest must be updated",
    },
  );
}

/**
 * Downloads `url` to `dest`, resuming `<dest>.partial`, and verifies it.
 *
 * @example
 * ```ts
 * await downloadFile({
 *   url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
 *   dest: "/data/downloads/cifar-10-binary.tar.gz",
 *   expected: { size: 170052171, sha256: null, md5: "c32a1d4ab5d03f1284b67883e8d87530" },
 * });
 * ```
 */
export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const { url, dest, expected } = options;
  const doFetch = options.fetch ?? fetch;
  const retries = options.retries ?? 5;
  const partial = `${dest}.partial`;
  const progress = options.progress ?? {};
  const resumedFrom: number[] = [];
  if ((await fileSize(dest)) !== null) {
    throw new BenchError("exists", "refusing to overwrite an existing file", {
      location: dest,
      hint: "verify it with `deno task data verify`, or move it away",
    });
  }
  let lastError: unknown;
  let complete = false;
  for (let attempt = 0; attempt <= retries && !complete; attempt++) {
    if (attempt > 0) {
      await new Promise((r) => setTimeout(r, (options.retryDelayMs ?? 500) * attempt));
    }
    let offset = (await fileSize(partial)) ?? 0;
    if (expected.size !== null && offset > expected.size) {
      progress.note?.(`${partial} is longer than expected; starting again`);
      await Deno.truncate(partial, 0);
      offset = 0;
    }
    if (expected.size !== null && offset === expected.size) {
      complete = true;
      break;
    }
    let response: Response;
    try {
      response = await doFetch(url, {
        headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
        redirect: "follow",
      });
    } catch (error) {
      lastError = error;
      progress.note?.(`cannot reach ${url}: ${(error as Error).message}`);
      continue;
    }
    if (response.status === 416 && offset > 0) {
      // The partial file already holds every byte the server has.
      await response.body?.cancel();
      complete = true;
      break;
    }
    let append = false;
    let total: number | null = null;
    const length = response.headers.get("content-length");
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get("content-range"));
      if (range && range.start === offset) {
        append = true;
        total = range.total;
        resumedFrom.push(offset);
      } else {
        // A range we did not ask for: start over with a plain request.
        await response.body?.cancel();
        await Deno.truncate(partial, 0).catch(() => {});
        progress.note?.(`${url}: unexpected Content-Range; starting again`);
        lastError = new Error("unexpected Content-Range");
        continue;
      }
    } else if (response.ok) {
      if (offset > 0) progress.note?.(`${url}: the server ignored Range; starting again`);
      total = length !== null ? Number(length) : null;
    } else {
      await response.body?.cancel();
      throw new BenchError("download_failed", `HTTP ${response.status} ${response.statusText}`, {
        location: url,
        hint: response.status === 404
          ? "the file is not at this address; try another mirror with --url-base"
          : "try again later or another mirror with --url-base",
      });
    }
    if (!response.body) {
      lastError = new Error("empty response body");
      continue;
    }
    const file = await Deno.open(partial, {
      write: true,
      create: true,
      append,
      truncate: !append,
    });
    let written = append ? offset : 0;
    progress.start?.(written, total ?? expected.size);
    try {
      for await (const chunk of response.body) {
        let done = 0;
        while (done < chunk.length) done += await file.write(chunk.subarray(done));
        written += chunk.length;
        progress.update?.(written);
      }
      const want = total ?? expected.size;
      if (want !== null && written < want) {
        throw new Error(`connection closed after ${written} of ${want} bytes`);
      }
      complete = true;
    } catch (error) {
      lastError = error;
      progress.note?.(
        `transfer interrupted at ${formatBytes(written)} (${(error as Error).message}); resuming`,
      );
    } finally {
      file.close();
      progress.finish?.();
    }
  }
  if (!complete) {
    throw new BenchError(
      "download_failed",
      `could not download ${url}: ${(lastError as Error)?.message ?? lastError}`,
      {
        location: url,
        cause: lastError,
        hint: `no network? Download it elsewhere and put the file at ${dest}` +
          `${expected.size !== null ? ` (${expected.size} bytes` : " ("}` +
          `${expected.sha256 ? `, sha256 ${expected.sha256}` : ""}` +
          `${expected.md5 ? `, md5 ${expected.md5}` : ""}), then run the command again. ` +
          `Bytes received so far are kept in ${partial}`,
      },
    );
  }
  const got = await hashFileDigests(partial);
  const check = checkDigests(got, expected);
  if (!check.ok) return await rejectCorrupt(partial, dest, url, got, check);
  try {
    await Deno.link(partial, dest);
    await Deno.remove(partial);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new BenchError("exists", "refusing to overwrite an existing file", {
        location: dest,
        hint: `the verified download is kept at ${partial}`,
      });
    }
    throw error;
  }
  return { ...got, path: dest, resumedFrom, verifiedBy: check.verifiedBy };
}
