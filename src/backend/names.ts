/**
 * The names `--backend` accepts.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";

/** Every accepted backend name, `auto` first, then in `auto`'s order of preference. */
export const BACKEND_NAMES = [
  "auto",
  "tensorflow-gpu",
  "webgpu",
  "tensorflow",
  "native",
  "wasm",
  "cpu",
] as const;

/** A backend name: `auto` or one concrete backend. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** A concrete backend (everything but `auto`). */
export type ConcreteBackendName = Exclude<BackendName, "auto">;

/**
 * Checks a user-supplied name; throws `backend_unknown` listing the valid names otherwise.
 *
 * @example
 * ```ts
 * const name = parseBackendName("wasm"); // "wasm"
 * ```
 */
export function parseBackendName(name: string, location = "--backend"): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new BenchError("backend_unknown", `unknown backend "${name}"`, {
    location,
    hint: `use one of: ${BACKEND_NAMES.join(", ")}`,
  });
}
