/**
 * sha256 and md5 of a file in one streamed pass (constant memory for multi-gigabyte archives).
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Digests and size of a file. */
export interface FileDigests {
  size: number;
  sha256: string;
  md5: string;
}

/**
 * Hashes a file with sha256 and md5 at once, reading 4 MiB at a time.
 *
 * @example
 * ```ts
 * const { sha256, md5, size } = await hashFileDigests("cifar-10-binary.tar.gz");
 * ```
 */
export async function hashFileDigests(
  path: string,
  onProgress?: (bytesRead: number) => void,
): Promise<FileDigests> {
  const sha = createHash("sha256");
  const md5 = createHash("md5");
  const file = await Deno.open(path, { read: true });
  let size = 0;
  try {
    const buf = new Uint8Array(4 << 20);
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      const chunk = buf.subarray(0, n);
      sha.update(chunk);
      md5.update(chunk);
      size += n;
      onProgress?.(size);
    }
  } finally {
    file.close();
  }
  return { size, sha256: sha.digest("hex"), md5: md5.digest("hex") };
}

/**
 * sha256 of the gunzipped content of a `.gz` file, streamed.
 *
 * @example
 * ```ts
 * const { sha256, size } = await gunzipDigest("train-images-idx3-ubyte.gz");
 * ```
 */
export async function gunzipDigest(path: string): Promise<{ sha256: string; size: number }> {
  const sha = createHash("sha256");
  let size = 0;
  const file = await Deno.open(path, { read: true });
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
  for await (const chunk of stream) {
    sha.update(chunk);
    size += chunk.length;
  }
  return { sha256: sha.digest("hex"), size };
}
