/**
 * SHA-256 of bytes, strings and files (streamed, so multi-gigabyte archives are hashed in constant
 * memory).
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * Lower-case hex SHA-256 of bytes or a UTF-8 string.
 *
 * @example
 * ```ts
 * sha256Hex("abc"); // "ba7816bf..."
 * ```
 */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Lower-case hex SHA-256 of a file, read in 1 MiB chunks.
 *
 * @example
 * ```ts
 * const digest = await sha256File("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
 * ```
 */
export async function sha256File(
  path: string,
  onProgress?: (bytesRead: number) => void,
): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(1 << 20);
    let total = 0;
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      hash.update(buf.subarray(0, n));
      total += n;
      onProgress?.(total);
    }
  } finally {
    file.close();
  }
  return hash.digest("hex");
}
