/**
 * Golden cases of the NCE objective (the format of `amdim-loss-cases.json`): parsing with
 * field-level errors, evaluation with {@linkcode amdimNceLoss} on the active tfjs backend, and
 * comparison under the file's tolerance rule `|got - expected| <= tol * max(1, |expected|)`.
 *
 * Inputs in the file are NCHW (`r5: [B, D, 5, 5]`); they are transposed to NHWC before the loss,
 * and the gradients are transposed back to NCHW before comparing them with `grad_total`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";
import { amdimNceLoss, NCE_COMPONENTS, type NceComponentName } from "./nce_loss.ts";

/** The six feature inputs of a case, in the file's order. */
export const LOSS_CASE_FEATURES = ["r1_x1", "r5_x1", "r7_x1", "r1_x2", "r5_x2", "r7_x2"] as const;

/** One feature input name. */
export type LossCaseFeature = typeof LOSS_CASE_FEATURES[number];

/** A flat array with its shape. */
export interface ShapedArray {
  /** Dimensions (row-major). */
  shape: number[];
  /** Row-major values. */
  data: number[];
}

/** One golden case. */
export interface LossCase {
  /** Unique case name. */
  name: string;
  /** Batch size. */
  B: number;
  /** Feature dimension D. */
  nRkhs: number;
  /** Soft clip. */
  tclip: number;
  /** Logit regulariser weight. */
  lgtRegWeight: number;
  /** Features (NCHW) and the 5x5 source locations. */
  inputs: Record<LossCaseFeature, ShapedArray> & { loc5_x1: Int32Array; loc5_x2: Int32Array };
  /** Expected value of every component (float64 reference). */
  expected: Record<NceComponentName, number>;
  /** Expected d(total)/d(input), NCHW, when the case has gradients. */
  gradTotal?: Record<LossCaseFeature, ShapedArray>;
}

/** A parsed golden file. */
export interface LossCaseFile {
  /** Tolerance factor of the rule `|got - exp| <= tol * max(1, |exp|)`. */
  tol: number;
  /** The cases. */
  cases: LossCase[];
}

/** What {@linkcode evaluateLossCase} computed for one case. */
export interface LossCaseResult {
  /** Every component, as numbers. */
  components: Record<NceComponentName, number>;
  /** d(total)/d(input), NCHW, when requested. */
  grads?: Record<LossCaseFeature, Float32Array>;
}

/** One compared value. */
export interface Deviation {
  /** Component name, or `grad.<input>[flat index]`. */
  what: string;
  /** Computed value. */
  got: number;
  /** Expected value. */
  expected: number;
  /** `|got - expected|`. */
  absDev: number;
  /** `tol * max(1, |expected|)`. */
  limit: number;
}

/** Result of comparing one case. */
export interface LossCaseReport {
  /** Case name. */
  name: string;
  /** Worst component (largest `absDev / limit`). */
  worstComponent: Deviation;
  /** Worst gradient element, if the case has gradients. */
  worstGrad?: Deviation;
  /** Number of values compared. */
  compared: number;
  /** Number of values outside the tolerance. */
  failed: number;
  /** True when every value is within tolerance. */
  pass: boolean;
}

function fail(location: string, message: string): never {
  throw new BenchError("loss_cases_input", message, {
    location,
    hint: "expected the format of amdim-loss-cases.json (see golden/README.md)",
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function field(obj: Record<string, unknown>, key: string, where: string): unknown {
  if (!(key in obj)) fail(`${where}.${key}`, "missing field");
  return obj[key];
}

function num(obj: Record<string, unknown>, key: string, where: string): number {
  const v = field(obj, key, where);
  if (typeof v !== "number" || !Number.isFinite(v)) {
    fail(`${where}.${key}`, "expected a finite number");
  }
  return v;
}

function shaped(v: unknown, where: string, shape: number[], integer = false): ShapedArray {
  if (!isObject(v)) fail(where, "expected an object {shape, data}");
  const s = field(v, "shape", where);
  if (!Array.isArray(s) || s.length !== shape.length || s.some((x, i) => x !== shape[i])) {
    fail(`${where}.shape`, `expected [${shape}], got ${JSON.stringify(s)}`);
  }
  const data = field(v, "data", where);
  const n = shape.reduce((a, b) => a * b, 1);
  if (!Array.isArray(data) || data.length !== n) {
    fail(
      `${where}.data`,
      `expected ${n} values, got ${Array.isArray(data) ? data.length : typeof data}`,
    );
  }
  for (let i = 0; i < n; i++) {
    const x = data[i];
    if (typeof x !== "number" || !Number.isFinite(x) || (integer && !Number.isInteger(x))) {
      fail(`${where}.data[${i}]`, `expected a finite ${integer ? "integer" : "number"}, got ${x}`);
    }
  }
  return { shape: [...shape], data: data as number[] };
}

/**
 * Reads and parses a golden file; an unreadable file is a `loss_cases_input` error naming it.
 *
 * @example
 * ```ts
 * const file = await readLossCases("golden/amdim-loss-cases.json");
 * ```
 */
export async function readLossCases(path: string): Promise<LossCaseFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new BenchError("loss_cases_input", `cannot read file: ${(cause as Error).message}`, {
      location: path,
      cause,
    });
  }
  return parseLossCases(text, path);
}

/**
 * Parses and checks a golden file's text. Any problem is a `loss_cases_input` error naming the
 * file and the field (e.g. `cases.json: cases[1].inputs.r5_x1.shape`).
 *
 * @example
 * ```ts
 * const file = parseLossCases(await Deno.readTextFile(path), path);
 * ```
 */
export function parseLossCases(text: string, fileName: string): LossCaseFile {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (error) {
    fail(fileName, `not valid JSON: ${error instanceof Error ? error.message : error}`);
  }
  if (!isObject(root)) fail(fileName, "expected a JSON object");
  const tolObj = field(root, "tolerance", fileName);
  if (!isObject(tolObj)) fail(`${fileName}: tolerance`, "expected an object {rule, tol}");
  const tol = num(tolObj, "tol", `${fileName}: tolerance`);
  if (!(tol > 0)) fail(`${fileName}: tolerance.tol`, "must be > 0");
  const rawCases = field(root, "cases", fileName);
  if (!Array.isArray(rawCases) || rawCases.length === 0) {
    fail(`${fileName}: cases`, "expected a non-empty array");
  }
  const names = new Set<string>();
  const cases = rawCases.map((c, ci): LossCase => {
    const where = `${fileName}: cases[${ci}]`;
    if (!isObject(c)) fail(where, "expected an object");
    const name = field(c, "name", where);
    if (typeof name !== "string" || name === "") fail(`${where}.name`, "expected a string");
    if (names.has(name)) fail(`${where}.name`, `duplicate case name ${name}`);
    names.add(name);
    const b = num(c, "B", where);
    const d = num(c, "n_rkhs", where);
    if (!Number.isInteger(b) || b < 2) fail(`${where}.B`, "expected an integer >= 2");
    if (!Number.isInteger(d) || d < 1) fail(`${where}.n_rkhs`, "expected a positive integer");
    const tclip = num(c, "tclip", where);
    if (!(tclip > 0)) fail(`${where}.tclip`, "must be > 0");
    const lgtRegWeight = "lgt_reg_weight" in c ? num(c, "lgt_reg_weight", where) : 0.05;
    const inputsRaw = field(c, "inputs", where);
    if (!isObject(inputsRaw)) fail(`${where}.inputs`, "expected an object");
    const shapeOf = (f: LossCaseFeature) =>
      f.startsWith("r1") ? [b, d] : f.startsWith("r5") ? [b, d, 5, 5] : [b, d, 7, 7];
    const feats = {} as Record<LossCaseFeature, ShapedArray>;
    for (const f of LOSS_CASE_FEATURES) {
      feats[f] = shaped(field(inputsRaw, f, `${where}.inputs`), `${where}.inputs.${f}`, shapeOf(f));
    }
    const locOf = (k: string) => {
      const a = shaped(field(inputsRaw, k, `${where}.inputs`), `${where}.inputs.${k}`, [b], true);
      a.data.forEach((x, i) => {
        if (x < 0 || x >= 25) {
          fail(`${where}.inputs.${k}.data[${i}]`, `location ${x} outside [0, 25)`);
        }
      });
      return Int32Array.from(a.data);
    };
    const inputs = { ...feats, loc5_x1: locOf("loc5_x1"), loc5_x2: locOf("loc5_x2") };
    const expRaw = field(c, "expected", where);
    if (!isObject(expRaw)) fail(`${where}.expected`, "expected an object");
    const expected = {} as Record<NceComponentName, number>;
    for (const k of NCE_COMPONENTS) expected[k] = num(expRaw, k, `${where}.expected`);
    let gradTotal: Record<LossCaseFeature, ShapedArray> | undefined;
    if ("grad_total" in c && c.grad_total !== null) {
      const g = c.grad_total;
      if (!isObject(g)) fail(`${where}.grad_total`, "expected an object");
      gradTotal = {} as Record<LossCaseFeature, ShapedArray>;
      for (const f of LOSS_CASE_FEATURES) {
        gradTotal[f] = shaped(
          field(g, f, `${where}.grad_total`),
          `${where}.grad_total.${f}`,
          shapeOf(f),
        );
      }
    }
    return { name, B: b, nRkhs: d, tclip, lgtRegWeight, inputs, expected, gradTotal };
  });
  return { tol, cases };
}

function toNhwc(a: ShapedArray): tf.Tensor {
  if (a.shape.length === 2) return tf.tensor2d(a.data, a.shape as [number, number], "float32");
  return tf.tidy(() =>
    tf.transpose(tf.tensor4d(a.data, a.shape as [number, number, number, number], "float32"), [
      0,
      2,
      3,
      1,
    ])
  );
}

/**
 * Computes every component (and, with `withGrads`, d(total)/d(input) in NCHW) of a case on the
 * active tfjs backend. Leaves no tensors behind.
 *
 * @example
 * ```ts
 * const result = await evaluateLossCase(file.cases[0], true);
 * console.log(result.components.total);
 * ```
 */
export async function evaluateLossCase(c: LossCase, withGrads = false): Promise<LossCaseResult> {
  const xs = LOSS_CASE_FEATURES.map((f) => toNhwc(c.inputs[f]));
  try {
    const opts = {
      tclip: c.tclip,
      lgtRegWeight: c.lgtRegWeight,
      loc5V1: c.inputs.loc5_x1,
      loc5V2: c.inputs.loc5_x2,
    };
    const split = (t: tf.Tensor[]) => [
      { r1: t[0] as tf.Tensor2D, r5: t[1] as tf.Tensor4D, r7: t[2] as tf.Tensor4D },
      { r1: t[3] as tf.Tensor2D, r5: t[4] as tf.Tensor4D, r7: t[5] as tf.Tensor4D },
    ];
    const parts = tf.tidy(() => {
      const [v1, v2] = split(xs);
      return amdimNceLoss(v1, v2, opts);
    });
    const components = {} as Record<NceComponentName, number>;
    try {
      const values = await Promise.all(NCE_COMPONENTS.map((k) => parts[k].data()));
      NCE_COMPONENTS.forEach((k, i) => components[k] = values[i][0]);
    } finally {
      tf.dispose(parts);
    }
    if (!withGrads) return { components };
    const gradTensors = tf.tidy(() => {
      const f = (...t: tf.Tensor[]) => {
        const [v1, v2] = split(t);
        const all = amdimNceLoss(v1, v2, opts);
        return all.total;
      };
      return tf.grads(f)(xs).map((g) => g.rank === 4 ? tf.transpose(g, [0, 3, 1, 2]) : g);
    });
    const grads = {} as Record<LossCaseFeature, Float32Array>;
    try {
      const values = await Promise.all(gradTensors.map((g) => g.data()));
      LOSS_CASE_FEATURES.forEach((f, i) => grads[f] = values[i].slice() as Float32Array);
    } finally {
      tf.dispose(gradTensors);
    }
    return { components, grads };
  } finally {
    tf.dispose(xs);
  }
}

function deviation(what: string, got: number, expected: number, tol: number): Deviation {
  const absDev = Number.isNaN(got) ? Infinity : Math.abs(got - expected);
  return { what, got, expected, absDev, limit: tol * Math.max(1, Math.abs(expected)) };
}

function worse(a: Deviation | undefined, b: Deviation): Deviation {
  return a === undefined || b.absDev / b.limit > a.absDev / a.limit ? b : a;
}

/**
 * Evaluates a case (with gradients when it has them) and compares every value under the rule
 * `|got - expected| <= tol * max(1, |expected|)`.
 *
 * @example
 * ```ts
 * const report = await checkLossCase(file.cases[0], file.tol);
 * if (!report.pass) console.log(report.worstComponent);
 * ```
 */
export async function checkLossCase(c: LossCase, tol: number): Promise<LossCaseReport> {
  const result = await evaluateLossCase(c, c.gradTotal !== undefined);
  let worstComponent: Deviation | undefined;
  let worstGrad: Deviation | undefined;
  let compared = 0, failed = 0;
  const count = (d: Deviation) => {
    compared++;
    if (!(d.absDev <= d.limit)) failed++;
    return d;
  };
  for (const k of NCE_COMPONENTS) {
    worstComponent = worse(
      worstComponent,
      count(deviation(k, result.components[k], c.expected[k], tol)),
    );
  }
  if (c.gradTotal && result.grads) {
    for (const f of LOSS_CASE_FEATURES) {
      const exp = c.gradTotal[f].data;
      const got = result.grads[f];
      for (let i = 0; i < exp.length; i++) {
        worstGrad = worse(worstGrad, count(deviation(`grad.${f}[${i}]`, got[i], exp[i], tol)));
      }
    }
  }
  return {
    name: c.name,
    worstComponent: worstComponent!,
    worstGrad,
    compared,
    failed,
    pass: failed === 0,
  };
}
