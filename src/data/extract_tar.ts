/**
 * Safe tar / tar.gz extraction. Parsing is `tar-stream` (streaming, ustar + pax + GNU long names);
 * every check and every write is here:
 * - entry names must be relative, without `..` components, NUL or backslashes;
 * - symbolic links must have a relative target without `..` (so they can only point down, inside
 *   the folder); hard links must name an already extracted regular file inside the folder;
 * - device files, FIFOs and unknown entry types are rejected;
 * - nothing is written through a symbolic link, and no file is replaced (files are created with
 *   `createNew`), so a user's file is never overwritten;
 * - the archive must end with the end-of-archive marker and the gzip stream must be complete, so a
 *   truncated archive is an error, not a silently short dataset;
 * - an optional byte limit guards against archive bombs.
 * Extract into a fresh temporary folder and move the result into place only when this succeeded
 * (see `installExtracted` in get.ts).
 *
 * @module
 */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { Transform, type TransformCallback } from "node:stream";
import { join, posix } from "node:path";
import tarStream from "tar-stream";
import { BenchError } from "../util/errors.ts";

/** Options of {@linkcode extractTarSafely}. */
export interface ExtractOptions {
  /** Gunzip first (default: detected from the gzip magic bytes). */
  gzip?: boolean;
  /** Stop with an error when the entries hold more than this many bytes. */
  maxBytes?: number;
}

/** What was extracted. */
export interface ExtractResult {
  /** Relative paths of the regular files written, in archive order. */
  files: string[];
  /** Bytes written. */
  bytes: number;
}

/** The fields of a tar-stream header this module reads. */
interface TarHeader {
  name: string;
  type: string | null;
  size?: number;
  linkname?: string | null;
}

/** A tar-stream entry: a readable of the entry's bytes with its header. */
interface TarEntry extends AsyncIterable<Uint8Array> {
  header: TarHeader;
  resume(): void;
}

/** Keeps the last 1024 bytes that flow through, to check the end-of-archive marker. */
class TailKeeper extends Transform {
  tail = new Uint8Array(0);
  override _transform(chunk: Uint8Array, _enc: string, cb: TransformCallback): void {
    const joined = new Uint8Array(this.tail.length + chunk.length);
    joined.set(this.tail);
    joined.set(chunk, this.tail.length);
    this.tail = joined.slice(Math.max(0, joined.length - 1024));
    cb(null, chunk);
  }
}

/**
 * Checks an entry name and returns it normalised (no leading `./`, no trailing `/`), or `""`
 * for the archive root. Throws on unsafe names.
 *
 * @example
 * ```ts
 * safeEntryName("./cifar-10-batches-bin/data_batch_1.bin"); // "cifar-10-batches-bin/data_batch_1.bin"
 * safeEntryName("../evil"); // throws
 * ```
 */
export function safeEntryName(name: string): string {
  if (name.includes("\0") || name.includes("\\")) throw new Error("name contains NUL or '\\'");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) throw new Error("absolute path");
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new Error("path contains '..'");
  return parts.join("/");
}

function isInside(rel: string): boolean {
  const norm = posix.normalize(rel);
  return norm !== ".." && !norm.startsWith("../") && !posix.isAbsolute(norm);
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Creates the parent folders of `rel` under `root`, refusing to pass through symlinks. */
async function ensureParents(root: string, rel: string): Promise<void> {
  const parts = rel.split("/").slice(0, -1);
  let cur = root;
  for (const part of parts) {
    cur = join(cur, part);
    const info = await lstatOrNull(cur);
    if (info === null) await Deno.mkdir(cur);
    else if (info.isSymlink) throw new Error(`path passes through the symbolic link '${part}'`);
    else if (!info.isDirectory) throw new Error(`'${part}' is not a folder`);
  }
}

/**
 * Extracts `archive` into the existing folder `destDir` with the checks listed above.
 *
 * @example
 * ```ts
 * const tmp = await Deno.makeTempDir({ dir: "/data/cifar10", prefix: ".extract-" });
 * await extractTarSafely("/data/downloads/cifar-10-binary.tar.gz", tmp);
 * ```
 */
export async function extractTarSafely(
  archive: string,
  destDir: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const unsafe = (name: string, reason: string) =>
    new BenchError("archive_unsafe", `entry '${name}' rejected: ${reason}`, {
      location: archive,
      hint:
        "the archive was not extracted; it may be corrupt or malicious. Do not extract it by hand",
    });
  let gzip = options.gzip;
  if (gzip === undefined) {
    const f = await Deno.open(archive);
    const magic = new Uint8Array(2);
    const n = await f.read(magic);
    f.close();
    gzip = n === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  }
  const extract = tarStream.extract();
  const input = createReadStream(archive);
  const tail = new TailKeeper();
  const fail = (e: Error) => extract.destroy(e);
  input.on("error", fail);
  tail.on("error", fail);
  if (gzip) {
    const gunzip = createGunzip();
    gunzip.on("error", fail);
    input.pipe(gunzip).pipe(tail).pipe(extract);
  } else {
    input.pipe(tail).pipe(extract);
  }
  const files: string[] = [];
  const regular = new Set<string>();
  const seen = new Set<string>();
  let bytes = 0;
  try {
    for await (const entry of extract as unknown as AsyncIterable<TarEntry>) {
      const h = entry.header;
      let rel: string;
      try {
        rel = safeEntryName(h.name);
      } catch (e) {
        throw unsafe(h.name, (e as Error).message);
      }
      if (rel === "") {
        if (h.type !== "directory") throw unsafe(h.name, "empty name");
        entry.resume();
        continue;
      }
      if (seen.has(rel) && h.type !== "directory") throw unsafe(h.name, "duplicate entry");
      seen.add(rel);
      const target = join(destDir, rel);
      try {
        await ensureParents(destDir, rel);
      } catch (e) {
        throw unsafe(h.name, (e as Error).message);
      }
      switch (h.type) {
        case "directory": {
          const info = await lstatOrNull(target);
          if (info === null) await Deno.mkdir(target);
          else if (!info.isDirectory || info.isSymlink) throw unsafe(h.name, "not a folder");
          entry.resume();
          break;
        }
        case "file":
        case "contiguous-file": {
          let file: Deno.FsFile;
          try {
            file = await Deno.open(target, { write: true, createNew: true, mode: 0o644 });
          } catch (e) {
            if (e instanceof Deno.errors.AlreadyExists) throw unsafe(h.name, "file exists");
            throw e;
          }
          try {
            for await (const chunk of entry) {
              bytes += chunk.length;
              if (options.maxBytes !== undefined && bytes > options.maxBytes) {
                throw unsafe(
                  h.name,
                  `archive holds more than the expected ${options.maxBytes} bytes`,
                );
              }
              let done = 0;
              while (done < chunk.length) done += await file.write(chunk.subarray(done));
            }
          } finally {
            file.close();
          }
          files.push(rel);
          regular.add(rel);
          break;
        }
        case "symlink": {
          const link = h.linkname ?? "";
          let linkRel: string;
          try {
            if (link === "" || link.startsWith("/")) throw new Error("absolute or empty target");
            if (link.split("/").includes("..")) {
              throw new Error("target contains '..', which could leave the extraction folder");
            }
            linkRel = safeEntryName(link);
          } catch (e) {
            throw unsafe(h.name, `symbolic link to '${link}': ${(e as Error).message}`);
          }
          const resolved = posix.join(posix.dirname(rel), linkRel);
          if (!isInside(resolved)) {
            throw unsafe(h.name, `symbolic link to '${link}' leaves the extraction folder`);
          }
          await Deno.symlink(linkRel, target);
          entry.resume();
          break;
        }
        case "link": {
          const link = h.linkname ?? "";
          let linkRel: string;
          try {
            linkRel = safeEntryName(link);
          } catch (e) {
            throw unsafe(h.name, `hard link to '${link}': ${(e as Error).message}`);
          }
          if (!regular.has(linkRel)) {
            throw unsafe(h.name, `hard link to '${link}', which is not a file extracted before it`);
          }
          await Deno.link(join(destDir, linkRel), target);
          files.push(rel);
          regular.add(rel);
          entry.resume();
          break;
        }
        default:
          throw unsafe(h.name, `entry type '${h.type ?? "unknown"}' is not allowed`);
      }
    }
  } catch (error) {
    input.destroy();
    if (error instanceof BenchError) throw error;
    const message = (error as Error).message ?? String(error);
    throw new BenchError("archive_corrupt", `cannot read the archive: ${message}`, {
      location: archive,
      hint: /end of (data|file)|truncated|destroyed|premature/i.test(message)
        ? "the archive is truncated; download it again"
        : "the archive is damaged; download it again",
      cause: error,
    });
  }
  if (tail.tail.length < 1024 || tail.tail.some((b) => b !== 0)) {
    throw new BenchError("archive_corrupt", "the archive has no end-of-archive marker", {
      location: archive,
      hint: "the archive is truncated; download it again",
    });
  }
  return { files, bytes };
}
