/**
 * Atomic file writes: data goes to a temporary file in the same folder, is flushed to disk and then
 * renamed over (or, with `noOverwrite`, linked to) the target, so a reader never sees a half-written
 * file and an interrupted write leaves the previous file intact.
 *
 * @module
 */
import { BenchError } from "./errors.ts";
import { basename, dirname, join } from "node:path";

/** Options for {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Fail with code `exists` instead of replacing an existing file. */
  noOverwrite?: boolean;
  /** Create the parent folder when missing (default true). */
  mkdir?: boolean;
}

let counter = 0;

/** A temporary path beside `path` that no other writer in this or another process will pick. */
export function tempPathBeside(path: string): string {
  counter += 1;
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return join(dirname(path), `.${basename(path)}.${Deno.pid}.${counter}.${rand}.tmp`);
}

/**
 * Writes `data` to `path` atomically.
 *
 * @example
 * ```ts
 * await writeFileAtomic("results/runs/x/record.json", JSON.stringify(record), { noOverwrite: true });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  if (options.mkdir ?? true) await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempPathBeside(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = await Deno.open(tmp, { write: true, createNew: true });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
  try {
    if (options.noOverwrite) {
      await Deno.link(tmp, path);
      await Deno.remove(tmp);
    } else {
      await Deno.rename(tmp, path);
    }
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new BenchError("exists", "refusing to overwrite an existing file", {
        location: path,
        hint: "records and downloads are never replaced; choose another name or remove it yourself",
      });
    }
    throw error;
  }
}

/**
 * Writes a value as pretty JSON (two-space indent, trailing newline) atomically.
 *
 * @example
 * ```ts
 * await writeJsonAtomic("out.json", { a: 1 });
 * ```
 */
export function writeJsonAtomic(
  path: string,
  value: unknown,
  options: AtomicWriteOptions = {},
): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n", options);
}
