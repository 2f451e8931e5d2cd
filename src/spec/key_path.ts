/**
 * Key paths: `pretrain.optimizer.lr`, `eval.1.k`, as shown in error messages and taken by `--set`.
 *
 * @module
 */

/** One step of a key path: an object key or an array index. */
export type PathSegment = string | number;

/**
 * Renders a key path with dots, e.g. `["eval", 1, "k"]` -> `eval.1.k`; the empty path is `(root)`.
 *
 * @example
 * ```ts
 * formatKeyPath(["pretrain", "optimizer", "lr"]); // "pretrain.optimizer.lr"
 * ```
 */
export function formatKeyPath(path: readonly PathSegment[]): string {
  return path.length === 0 ? "(root)" : path.join(".");
}

/**
 * Turns a JSON pointer (`/pretrain/optimizer/lr`) into path segments.
 *
 * @example
 * ```ts
 * pointerToPath("/eval/1/k"); // ["eval", 1, "k"]
 * ```
 */
export function pointerToPath(pointer: string): PathSegment[] {
  if (pointer === "") return [];
  return pointer.slice(1).split("/").map((part) => {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    return /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : key;
  });
}
