/**
 * Errors as values: every failure the harness reports carries a stable code, the place it refers
 * to (a file, a key path, a URL) and a hint on what to do. The library throws {@linkcode BenchError};
 * only the command-line entry points print it and choose an exit code.
 *
 * @module
 */

/** Options that locate and explain a {@linkcode BenchError}. */
export interface BenchErrorOptions {
  /** What the error refers to: a file path, `file: key.path`, a URL, a flag. */
  location?: string;
  /** What the user can do about it. */
  hint?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * An error with a machine-readable code, a location and a hint.
 *
 * @example
 * ```ts
 * throw new BenchError("spec_invalid", "expected a number", { location: "smoke.jsonc: pretrain.lr" });
 * ```
 */
export class BenchError extends Error {
  /** Stable machine-readable code, e.g. `spec_invalid`, `backend_unavailable`. */
  readonly code: string;
  /** File, key path, URL or flag the error refers to. */
  readonly location?: string;
  /** What to do about it. */
  readonly hint?: string;

  constructor(code: string, message: string, options: BenchErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BenchError";
    this.code = code;
    this.location = options.location;
    this.hint = options.hint;
  }
}

/**
 * Renders any thrown value as the text a command prints: `error[code] location: message`, then
 * the hint on its own line.
 *
 * @example
 * ```ts
 * console.error(formatError(new BenchError("usage", "unknown flag --foo")));
 * ```
 */
export function formatError(error: unknown): string {
  if (error instanceof BenchError) {
    const where = error.location ? `${error.location}: ` : "";
    const hint = error.hint ? `\n  hint: ${error.hint}` : "";
    return `error[${error.code}] ${where}${error.message}${hint}`;
  }
  if (error instanceof Error) return `error: ${error.stack ?? error.message}`;
  return `error: ${String(error)}`;
}
