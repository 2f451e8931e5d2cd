/**
 * Small helpers shared by the readers: checked index lists, exact reads at an offset, and a
 * queue that keeps reads on one file handle from interleaving.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import type { DatasetEntry } from "./manifest.ts";

/**
 * Throws unless every index is an integer in [0, length).
 *
 * @example
 * ```ts
 * checkIndices([0, 4], 5, "cifar10/train");
 * ```
 */
export function checkIndices(indices: ArrayLike<number>, length: number, where: string): void {
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    if (!Number.isInteger(k) || k < 0 || k >= length) {
      throw new BenchError("index_out_of_range", `image index ${k} is outside [0, ${length})`, {
        location: where,
      });
    }
  }
}

/**
 * Reads exactly `buf.length` bytes at `offset` (throws on a short file).
 *
 * @example
 * ```ts
 * await readExactAt(file, new Uint8Array(27648), 27648 * 10, "unlabeled_X.bin");
 * ```
 */
export async function readExactAt(
  file: Deno.FsFile,
  buf: Uint8Array,
  offset: number,
  where: string,
): Promise<void> {
  await file.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < buf.length) {
    const n = await file.read(buf.subarray(done));
    if (n === null) {
      throw new BenchError(
        "data_truncated",
        `file ends at ${offset + done}, wanted ${buf.length} bytes at ${offset}`,
        {
          location: where,
          hint: "run `deno task data verify` and download the dataset again",
        },
      );
    }
    done += n;
  }
}

/** Runs async jobs one at a time, in call order. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Queues `job`; resolves with its result. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(job, job);
    this.#tail = next.catch(() => {});
    return next;
  }
}

/**
 * Size of a file or a `data_missing` error naming it.
 *
 * @example
 * ```ts
 * const bytes = await requireFile("/data/stl10/stl10_binary/train_X.bin");
 * ```
 */
export async function requireFile(path: string, hint?: string): Promise<number> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new Deno.errors.NotFound();
    return info.size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new BenchError("data_missing", "file not found", {
        location: path,
        hint: hint ?? "run `deno task data get <id>` (see `deno task data where`)",
      });
    }
    throw error;
  }
}

/**
 * The manifest entry of `split`; an unknown split is `BenchError("split_unknown")` listing the
 * dataset's splits.
 *
 * @example
 * ```ts
 * const { files, length } = splitEntryOf("cifar10", "train", entry);
 * ```
 */
export function splitEntryOf(
  id: string,
  split: string,
  entry: DatasetEntry,
): DatasetEntry["splits"][string] {
  const splitEntry = entry.splits[split];
  if (!splitEntry) {
    throw new BenchError("split_unknown", `dataset ${id} has no split '${split}'`, {
      location: `${id}/${split}`,
      hint: `splits: ${Object.keys(entry.splits).join(", ")}`,
    });
  }
  return splitEntry;
}
