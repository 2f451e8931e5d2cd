/**
 * Reads preprocessing parity files (the golden `augment-cases.json` format: one object with
 * `format_version: 1` and `cases[]`, each with `op`, `params`, `input`, `expected`, `tolerance`),
 * runs each case through this module's ops and measures the deviation from `expected`.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  colorJitter,
  grayscale,
} from "./color.ts";
import type { JitterOp } from "./color.ts";
import { JITTER_OPS } from "./color.ts";
import { hflip, translateReflect } from "./geometry.ts";
import { type ImageU8, makeImage } from "./image.ts";
import { toTensorNormalize } from "./normalize.ts";
import { resizeBicubic, resizeCenterCrop, resizedCrop } from "./resize.ts";

/** The operations a parity file may contain. */
export const GOLDEN_OPS = [
  "resize_bicubic",
  "resized_crop",
  "resize_center_crop",
  "translate_reflect",
  "hflip",
  "grayscale",
  "adjust_brightness",
  "adjust_contrast",
  "adjust_saturation",
  "adjust_hue",
  "color_jitter",
  "to_tensor_normalize",
] as const;

/** One parsed parity case. */
export interface GoldenCase {
  /** Unique case name. */
  name: string;
  /** Operation name (one of {@linkcode GOLDEN_OPS}). */
  op: typeof GOLDEN_OPS[number];
  /** Explicit parameters of the op. */
  params: Record<string, unknown>;
  /** Input image (HWC uint8). */
  input: ImageU8;
  /** Expected output shape as written in the file. */
  expectedShape: number[];
  /** Expected output values (uint8 HWC, or float32 CHW for `to_tensor_normalize`). */
  expected: Float64Array;
  /** Tolerance rule. */
  tolerance: { mode: "exact" | "max_abs_uint8" | "max_abs_float"; value: number };
  /** The file the case came from (for error messages). */
  file: string;
  /** The case's place in the file, `cases[k]` (for error messages). */
  at: string;
}

/** A parsed parity file. */
export interface GoldenFile {
  /** Path it was read from. */
  path: string;
  /** `set` field ("shared", "hidden", ...), if present. */
  set?: string;
  /** The cases in file order. */
  cases: GoldenCase[];
}

/** The outcome of one case. */
export interface CaseResult {
  /** Case name. */
  name: string;
  /** Operation. */
  op: string;
  /** Largest |got - expected| over all values. */
  maxAbs: number;
  /** Mean |got - expected|. */
  meanAbs: number;
  /** Fraction of values that differ at all. */
  fracDiffering: number;
  /** The tolerance applied. */
  tolerance: { mode: string; value: number };
  /** Whether the case is within its tolerance (and the shape matched). */
  pass: boolean;
  /** Why the case failed, when it did for a reason other than values (e.g. a shape mismatch). */
  error?: string;
}

function fail(path: string, field: string, message: string): never {
  throw new BenchError("augment_golden_input", message, {
    location: `${path}: ${field}`,
    hint: "the file must follow the golden augment-cases format (see shared/golden/README.md)",
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function intField(path: string, field: string, v: unknown, lo = -Infinity): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo) {
    fail(
      path,
      field,
      `expected an integer${lo > -Infinity ? ` >= ${lo}` : ""}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function numField(path: string, field: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    fail(path, field, `expected a finite number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function parseArray(
  path: string,
  field: string,
  v: unknown,
): { shape: number[]; dtype: string; data: unknown[] } {
  if (!isObject(v)) fail(path, field, "expected an object {shape, dtype, data}");
  const shape = v.shape;
  if (!Array.isArray(shape) || shape.length !== 3) {
    fail(path, `${field}.shape`, "expected [d0, d1, d2]");
  }
  shape.forEach((d, i) => intField(path, `${field}.shape[${i}]`, d, 1));
  if (typeof v.dtype !== "string") fail(path, `${field}.dtype`, "expected a string");
  if (!Array.isArray(v.data)) fail(path, `${field}.data`, "expected an array of numbers");
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (v.data.length !== n) {
    fail(
      path,
      `${field}.data`,
      `has ${v.data.length} values, shape ${JSON.stringify(shape)} needs ${n}`,
    );
  }
  return { shape: shape as number[], dtype: v.dtype, data: v.data };
}

/**
 * Validates and converts a parsed JSON value into a {@linkcode GoldenFile}; `path` names the file
 * in error messages (which give the field, e.g. `cases[3].input.data`).
 *
 * @example
 * ```ts
 * const file = parseGoldenFile(JSON.parse(text), "augment-cases.json");
 * ```
 */
export function parseGoldenFile(json: unknown, path: string): GoldenFile {
  if (!isObject(json)) fail(path, "(root)", "expected a JSON object");
  if (json.format_version !== 1) {
    fail(path, "format_version", `expected 1, got ${JSON.stringify(json.format_version)}`);
  }
  if (!Array.isArray(json.cases) || json.cases.length === 0) {
    fail(path, "cases", "expected a non-empty array");
  }
  const names = new Set<string>();
  const cases = json.cases.map((raw, k): GoldenCase => {
    const at = `cases[${k}]`;
    if (!isObject(raw)) fail(path, at, "expected an object");
    if (typeof raw.name !== "string" || raw.name === "") {
      fail(path, `${at}.name`, "expected a string");
    }
    if (names.has(raw.name)) fail(path, `${at}.name`, `duplicate case name "${raw.name}"`);
    names.add(raw.name);
    const op = raw.op;
    if (typeof op !== "string" || !(GOLDEN_OPS as readonly string[]).includes(op)) {
      fail(path, `${at}.op`, `unknown op ${JSON.stringify(op)} (known: ${GOLDEN_OPS.join(", ")})`);
    }
    const params = raw.params ?? {};
    if (!isObject(params)) fail(path, `${at}.params`, "expected an object");
    const input = parseArray(path, `${at}.input`, raw.input);
    if (input.shape[2] !== 3 && input.shape[2] !== 1) {
      fail(path, `${at}.input.shape`, "expected [H, W, 3] (or [H, W, 1])");
    }
    const inData = new Uint8Array(input.data.length);
    input.data.forEach((v, i) => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 255) {
        fail(path, `${at}.input.data[${i}]`, `expected a uint8 integer, got ${JSON.stringify(v)}`);
      }
      inData[i] = v;
    });
    const expected = parseArray(path, `${at}.expected`, raw.expected);
    const exp = new Float64Array(expected.data.length);
    const isFloat = op === "to_tensor_normalize";
    expected.data.forEach((v, i) => {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        fail(path, `${at}.expected.data[${i}]`, `expected a number, got ${JSON.stringify(v)}`);
      }
      exp[i] = isFloat ? Math.fround(v) : v;
    });
    const tol = raw.tolerance;
    if (!isObject(tol)) fail(path, `${at}.tolerance`, "expected an object {mode, value}");
    const mode = tol.mode;
    if (mode !== "exact" && mode !== "max_abs_uint8" && mode !== "max_abs_float") {
      fail(
        path,
        `${at}.tolerance.mode`,
        `expected exact | max_abs_uint8 | max_abs_float, got ${JSON.stringify(mode)}`,
      );
    }
    const value = mode === "exact" ? 0 : numField(path, `${at}.tolerance.value`, tol.value);
    return {
      name: raw.name,
      op: op as GoldenCase["op"],
      params,
      input: makeImage(inData, input.shape[0], input.shape[1], input.shape[2]),
      expectedShape: expected.shape,
      expected: exp,
      tolerance: { mode, value },
      file: path,
      at,
    };
  });
  return { path, set: typeof json.set === "string" ? json.set : undefined, cases };
}

/**
 * Reads and parses a parity file; errors name the file and the field.
 *
 * @example
 * ```ts
 * const file = await readGoldenFile("../shared/golden/augment-cases.json");
 * ```
 */
export async function readGoldenFile(path: string): Promise<GoldenFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new BenchError(
      "augment_golden_input",
      `cannot read the file: ${(error as Error).message}`,
      {
        location: path,
        hint: "pass the path of a JSON file in the golden augment-cases format",
        cause: error,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BenchError("augment_golden_input", `not valid JSON: ${(error as Error).message}`, {
      location: path,
      cause: error,
    });
  }
  return parseGoldenFile(json, path);
}

function caseFail(c: GoldenCase, field: string, message: string): never {
  throw new BenchError("augment_golden_input", message, {
    location: `${c.file}: ${c.at}.${field}`,
  });
}

function sizeParam(c: GoldenCase, key: string): [number, number] {
  const v = c.params[key];
  if (!Array.isArray(v) || v.length !== 2) {
    caseFail(c, `params.${key}`, "expected [H, W]");
  }
  return [
    intField(c.file, `${c.at}.params.${key}[0]`, v[0], 1),
    intField(c.file, `${c.at}.params.${key}[1]`, v[1], 1),
  ];
}

function p(c: GoldenCase, key: string): number {
  return numField(c.file, `${c.at}.params.${key}`, c.params[key]);
}

function jitterFromParams(c: GoldenCase) {
  const order = c.params.order;
  const factors = c.params.factors;
  if (!Array.isArray(order) || !order.every((o) => (JITTER_OPS as readonly string[]).includes(o))) {
    caseFail(c, `params.order`, `expected a list of ${JITTER_OPS.join(", ")}`);
  }
  if (!isObject(factors)) caseFail(c, `params.factors`, "expected an object");
  const f = (k: string) => numField(c.file, `${c.at}.params.factors.${k}`, factors[k] ?? 1);
  return {
    order: order as JitterOp[],
    brightness: f("brightness"),
    contrast: f("contrast"),
    saturation: f("saturation"),
    hue: order.includes("hue") ? numField(c.file, `${c.at}.params.factors.hue`, factors.hue) : 0,
  };
}

/**
 * Runs one case's op on its input and returns the output values in the layout of `expected`.
 *
 * @example
 * ```ts
 * const { values, shape } = runGoldenCase(file.cases[0]);
 * ```
 */
export function runGoldenCase(c: GoldenCase): { values: ArrayLike<number>; shape: number[] } {
  const img = c.input;
  let out: ImageU8;
  switch (c.op) {
    case "resize_bicubic": {
      const [h, w] = sizeParam(c, "size");
      out = resizeBicubic(img, h, w);
      break;
    }
    case "resized_crop": {
      const [h, w] = sizeParam(c, "size");
      out = resizedCrop(
        img,
        {
          top: intField(c.file, `${c.at}.params.top`, c.params.top, 0),
          left: intField(c.file, `${c.at}.params.left`, c.params.left, 0),
          height: intField(c.file, `${c.at}.params.height`, c.params.height, 1),
          width: intField(c.file, `${c.at}.params.width`, c.params.width, 1),
        },
        h,
        w,
      );
      break;
    }
    case "resize_center_crop":
      out = resizeCenterCrop(
        img,
        intField(c.file, `${c.at}.params.resize`, c.params.resize, 1),
        intField(c.file, `${c.at}.params.crop`, c.params.crop, 1),
      );
      break;
    case "translate_reflect":
      out = translateReflect(
        img,
        intField(c.file, `${c.at}.params.dx`, c.params.dx),
        intField(c.file, `${c.at}.params.dy`, c.params.dy),
      );
      break;
    case "hflip":
      out = hflip(img);
      break;
    case "grayscale":
      out = grayscale(img);
      break;
    case "adjust_brightness":
      out = adjustBrightness(img, p(c, "factor"));
      break;
    case "adjust_contrast":
      out = adjustContrast(img, p(c, "factor"));
      break;
    case "adjust_saturation":
      out = adjustSaturation(img, p(c, "factor"));
      break;
    case "adjust_hue":
      out = adjustHue(img, p(c, "factor"));
      break;
    case "color_jitter":
      out = colorJitter(img, jitterFromParams(c));
      break;
    case "to_tensor_normalize": {
      const mean = c.params.mean, std = c.params.std;
      if (!Array.isArray(mean) || !Array.isArray(std)) {
        caseFail(c, `params.mean/std`, "expected arrays of numbers");
      }
      const values = toTensorNormalize(img, { mean: mean as number[], std: std as number[] });
      return { values, shape: [img.channels, img.height, img.width] };
    }
  }
  return { values: out.data, shape: [out.height, out.width, out.channels] };
}

/**
 * Runs a case and compares it with `expected` under its tolerance. Never throws for a wrong
 * result: the failure is in the returned record.
 *
 * @example
 * ```ts
 * const r = checkGoldenCase(file.cases[0]);
 * console.log(r.name, r.maxAbs, r.pass);
 * ```
 */
export function checkGoldenCase(c: GoldenCase): CaseResult {
  const base = { name: c.name, op: c.op, tolerance: c.tolerance };
  let got: { values: ArrayLike<number>; shape: number[] };
  try {
    got = runGoldenCase(c);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      ...base,
      maxAbs: Infinity,
      meanAbs: Infinity,
      fracDiffering: 1,
      pass: false,
      error: message,
    };
  }
  if (got.shape.join("x") !== c.expectedShape.join("x")) {
    return {
      ...base,
      maxAbs: Infinity,
      meanAbs: Infinity,
      fracDiffering: 1,
      pass: false,
      error: `output shape [${got.shape}] differs from expected [${c.expectedShape}]`,
    };
  }
  let maxAbs = 0, sum = 0, differing = 0;
  const n = c.expected.length;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(got.values[i] - c.expected[i]);
    if (d > maxAbs) maxAbs = d;
    sum += d;
    if (d !== 0) differing++;
  }
  return {
    ...base,
    maxAbs,
    meanAbs: sum / n,
    fracDiffering: differing / n,
    pass: maxAbs <= c.tolerance.value,
  };
}
