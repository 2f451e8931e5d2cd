/**
 * JSONC (JSON with comments and trailing commas) parsing with errors that give line and column.
 *
 * @module
 */
import { parse, type ParseError, printParseErrorCode } from "jsonc-parser";
import { BenchError } from "../util/errors.ts";

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function words(code: string): string {
  // "CommaExpected" -> "comma expected"
  return code.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

/**
 * Parses JSONC text; a syntax error is a `spec_syntax` {@linkcode BenchError} located at
 * `file:line:column`.
 *
 * @example
 * ```ts
 * parseJsonc('{ "a": 1, // note\n }', "x.jsonc"); // { a: 1 }
 * ```
 */
export function parseJsonc(text: string, file: string): unknown {
  const errors: ParseError[] = [];
  const value = parse(text, errors, {
    allowTrailingComma: true,
    disallowComments: false,
    allowEmptyContent: false,
  });
  if (errors.length > 0) {
    const first = errors[0];
    const { line, column } = lineColumn(text, first.offset);
    throw new BenchError(
      "spec_syntax",
      `invalid JSONC: ${words(printParseErrorCode(first.error))}`,
      {
        location: `${file}:${line}:${column}`,
        hint: "specs are JSON with comments (// and /* */) and trailing commas allowed",
      },
    );
  }
  return value;
}
