/**
 * Test assertions with the names and signatures of `@std/assert`, built on `node:assert/strict`
 * (part of Deno) because JSR is not reachable from every machine this project runs on. Moving to
 * `@std/assert` is a change to this one file.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Asserts that `expr` is truthy. */
export function assert(expr: unknown, msg?: string): asserts expr {
  if (msg === undefined) nodeAssert.ok(expr);
  else nodeAssert.ok(expr, msg);
}

/** Deep equality (structural, strict types). */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (msg === undefined) nodeAssert.deepStrictEqual(actual, expected);
  else nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (msg === undefined) nodeAssert.notDeepStrictEqual(actual, expected);
  else nodeAssert.notDeepStrictEqual(actual, expected, msg);
}

/** `Object.is` equality. */
export function assertStrictEquals<T>(actual: T, expected: T, msg?: string): void {
  if (msg === undefined) nodeAssert.strictEqual(actual, expected);
  else nodeAssert.strictEqual(actual, expected, msg);
}

/** `|actual - expected| <= tolerance` (default 1e-7). */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
  msg?: string,
): void {
  const delta = Math.abs(expected - actual);
  if (!(delta <= tolerance)) {
    throw new nodeAssert.AssertionError({
      message: msg ??
        `expected ${actual} to be close to ${expected}: delta ${delta} > tolerance ${tolerance}`,
      actual,
      expected,
    });
  }
}

/** Asserts `actual > expected`. */
export function assertGreater(actual: number, expected: number, msg?: string): void {
  assert(actual > expected, msg ?? `expected ${actual} > ${expected}`);
}

/** Asserts `actual < expected`. */
export function assertLess(actual: number, expected: number, msg?: string): void {
  assert(actual < expected, msg ?? `expected ${actual} < ${expected}`);
}

/** Asserts that `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  assert(
    actual.includes(expected),
    msg ?? `expected ${JSON.stringify(actual)} to include ${JSON.stringify(expected)}`,
  );
}

/** Asserts that `actual` matches `expected`. */
export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  if (msg === undefined) nodeAssert.match(actual, expected);
  else nodeAssert.match(actual, expected, msg);
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function checkError<E extends Error>(
  error: unknown,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): E {
  if (ErrorClass && !(error instanceof ErrorClass)) {
    throw new nodeAssert.AssertionError({
      message: `expected error to be instance of ${ErrorClass.name}, got ${String(error)}`,
    });
  }
  if (msgIncludes !== undefined) {
    const message = error instanceof Error ? error.message : String(error);
    assertStringIncludes(message, msgIncludes);
  }
  return error as E;
}

/** Asserts that `fn` throws; returns the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): E {
  try {
    fn();
  } catch (error) {
    return checkError(error, ErrorClass, msgIncludes);
  }
  throw new nodeAssert.AssertionError({ message: "expected function to throw" });
}

/** Asserts that `fn` rejects; returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    return checkError(error, ErrorClass, msgIncludes);
  }
  throw new nodeAssert.AssertionError({ message: "expected promise to reject" });
}
