/**
 * Encoder configurations: the knobs of the AMDIM encoder and the named presets.
 *
 * @module
 */

import { BenchError } from "../util/errors.ts";

/** Input sizes the AMDIM encoder has a layer list for. */
export const INPUT_SIZES = [32, 64, 128] as const;

/** The shape of an AMDIM encoder. */
export interface EncoderConfig {
  /** Input height = width in pixels: 32 (CIFAR), 64 (STL-10) or 128 (ImageNet). */
  inputSize: 32 | 64 | 128;
  /** Base width: channels after the stem. */
  ndf: number;
  /** Dimension of the r1, r5 and r7 embeddings. */
  nRkhs: number;
  /** Residual units per ConvResBlock. */
  nDepth: number;
  /** Activate the optional BatchNorms (trunk conv_a, MaybeBN at r7, FakeRKHS hidden). */
  useBn: boolean;
}

/**
 * Named encoder presets. `tiny` and `small` are harness sizes for quick runs; the others are
 * the configurations of the AMDIM code, README and issues.
 */
export const NAMED_ENCODERS: Readonly<Record<string, Readonly<EncoderConfig>>> = Object.freeze({
  /** Smoke-test size (32 px). */
  "tiny": Object.freeze({ inputSize: 32, ndf: 32, nRkhs: 256, nDepth: 3, useBn: false }),
  /** Small CPU-trainable size (32 px). */
  "small": Object.freeze({ inputSize: 32, ndf: 64, nRkhs: 512, nDepth: 3, useBn: false }),
  /** train.py defaults at 32 px (CIFAR-10). */
  "cifar10-amdim": Object.freeze({ inputSize: 32, ndf: 128, nRkhs: 1024, nDepth: 3, useBn: false }),
  /** CIFAR "AMDIM-large" (paper Table 2(b), issue #3). */
  "cifar-large": Object.freeze({ inputSize: 32, ndf: 256, nRkhs: 2048, nDepth: 10, useBn: false }),
  /** train.py defaults at 64 px (STL-10). */
  "stl10-amdim": Object.freeze({ inputSize: 64, ndf: 128, nRkhs: 1024, nDepth: 3, useBn: false }),
  /** README ImageNet recipe (128 px). */
  "imagenet128-amdim": Object.freeze({
    inputSize: 128,
    ndf: 192,
    nRkhs: 1536,
    nDepth: 8,
    useBn: false,
  }),
  /** "AMDIM-Medium" checkpoint (amdim_ndf256_rkhs2048_rd10.pth). */
  "amdim-medium": Object.freeze({
    inputSize: 128,
    ndf: 256,
    nRkhs: 2048,
    nDepth: 10,
    useBn: false,
  }),
  /** "AMDIM-Large" checkpoint (amdim_ndf320_rkhs2560_rd10.pth). */
  "amdim-large": Object.freeze({
    inputSize: 128,
    ndf: 320,
    nRkhs: 2560,
    nDepth: 10,
    useBn: false,
  }),
});

const KEYS = ["inputSize", "ndf", "nRkhs", "nDepth", "useBn"] as const;
const MAX_WIDTH = 65536;
const MAX_DEPTH = 1024;

/**
 * Checks an encoder config and returns it typed. Unknown keys, missing keys, wrong types and
 * out-of-range values are `encoder_config_invalid` errors naming the key.
 *
 * @param value the candidate config (e.g. the `encoder` object of a spec)
 * @param location where it came from, used in error messages (e.g. `smoke.jsonc: encoder`)
 * @example
 * ```ts
 * const cfg = validateEncoderConfig({ inputSize: 32, ndf: 32, nRkhs: 256, nDepth: 3, useBn: false });
 * ```
 */
export function validateEncoderConfig(value: unknown, location = "encoder"): EncoderConfig {
  const fail = (key: string | null, message: string, hint: string): never => {
    throw new BenchError("encoder_config_invalid", message, {
      location: key === null ? location : `${location}.${key}`,
      hint,
    });
  };
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(
      null,
      `expected an object, got ${describe(value)}`,
      "give {inputSize, ndf, nRkhs, nDepth, useBn}",
    );
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      fail(key, `unknown key "${key}"`, `allowed keys: ${KEYS.join(", ")}`);
    }
  }
  for (const key of KEYS) {
    if (!(key in obj)) fail(key, `missing key "${key}"`, `allowed keys: ${KEYS.join(", ")}`);
  }
  if (!(INPUT_SIZES as readonly unknown[]).includes(obj.inputSize)) {
    fail(
      "inputSize",
      `inputSize must be one of ${INPUT_SIZES.join(", ")}, got ${describe(obj.inputSize)}`,
      "the AMDIM encoder has layer lists for 32, 64 and 128 px only; resize the data",
    );
  }
  const posInt = (key: "ndf" | "nRkhs" | "nDepth", max: number) => {
    const v = obj[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) {
      fail(
        key,
        `${key} must be an integer in [1, ${max}], got ${describe(v)}`,
        "e.g. ndf 128, nRkhs 1024, nDepth 3",
      );
    }
  };
  posInt("ndf", MAX_WIDTH);
  posInt("nRkhs", MAX_WIDTH);
  posInt("nDepth", MAX_DEPTH);
  if (typeof obj.useBn !== "boolean") {
    fail(
      "useBn",
      `useBn must be a boolean, got ${describe(obj.useBn)}`,
      "AMDIM's default is false",
    );
  }
  const cfg = obj as unknown as EncoderConfig;
  // The residual shortcut pads channels with zeros; it cannot drop channels. The final unit goes
  // from the widest trunk width to nRkhs, so nRkhs must be at least that width.
  const trunkWidth = cfg.inputSize === 32 ? 4 * cfg.ndf : 8 * cfg.ndf;
  if (cfg.nRkhs < trunkWidth) {
    fail(
      "nRkhs",
      `nRkhs (${cfg.nRkhs}) must be >= the last trunk width (${trunkWidth} = ${
        cfg.inputSize === 32 ? 4 : 8
      }*ndf): the residual shortcut can only zero-pad channels`,
      `raise nRkhs to ${trunkWidth} or more, or lower ndf`,
    );
  }
  return {
    inputSize: cfg.inputSize,
    ndf: cfg.ndf,
    nRkhs: cfg.nRkhs,
    nDepth: cfg.nDepth,
    useBn: cfg.useBn,
  };
}

/**
 * Resolves a preset name (optionally with overrides) or a full config to a validated config.
 *
 * @example
 * ```ts
 * const cfg = resolveEncoderConfig("tiny");
 * const wide = resolveEncoderConfig("tiny", { ndf: 64, nRkhs: 512 });
 * ```
 */
export function resolveEncoderConfig(
  nameOrConfig: string | EncoderConfig,
  overrides: Partial<EncoderConfig> = {},
  location = "encoder",
): EncoderConfig {
  if (typeof nameOrConfig === "string") {
    const base = NAMED_ENCODERS[nameOrConfig];
    if (!Object.hasOwn(NAMED_ENCODERS, nameOrConfig) || base === undefined) {
      throw new BenchError("encoder_config_invalid", `unknown encoder preset "${nameOrConfig}"`, {
        location,
        hint: `known presets: ${Object.keys(NAMED_ENCODERS).join(", ")}`,
      });
    }
    return validateEncoderConfig({ ...base, ...overrides }, location);
  }
  return validateEncoderConfig({ ...nameOrConfig, ...overrides }, location);
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === undefined) return "undefined";
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
