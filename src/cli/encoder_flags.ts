/**
 * Encoder and integer flags shared by the commands that build an encoder from the command line
 * (`perf`, `parity`): `--config NAME` or the knobs `--ndf`, `--n-rkhs`, `--n-depth`,
 * `--input-size`.
 *
 * @module
 */
import type { ParsedFlags } from "./args.ts";
import { BenchError } from "../util/errors.ts";
import { type EncoderConfig, NAMED_ENCODERS, validateEncoderConfig } from "../model/mod.ts";

/** The flags {@linkcode encoderFromFlags} reads (to list among a command's string flags). */
export const ENCODER_FLAGS = ["config", "ndf", "n-rkhs", "n-depth", "input-size"] as const;

/**
 * An integer flag of at least `min` (`dflt` when absent); a usage error naming the flag otherwise.
 *
 * @example
 * ```ts
 * const batch = intFlag(flags, "batch", 64, 2);
 * ```
 */
export function intFlag(flags: ParsedFlags, name: string, dflt: number, min: number): number {
  const v = flags[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new BenchError("usage", `--${name} must be an integer >= ${min}, got ${v}`, {
      location: `--${name}`,
    });
  }
  return n;
}

/**
 * The encoder a command line asks for: a named config (`--config`, default `tiny`) or a custom one
 * from the knobs (missing knobs from `tiny`), with a printable name.
 *
 * @example
 * ```ts
 * const { name, cfg } = encoderFromFlags(parseFlags(["--config", "small"], { string: [...ENCODER_FLAGS] }));
 * ```
 */
export function encoderFromFlags(flags: ParsedFlags): { name: string; cfg: EncoderConfig } {
  const custom = ["ndf", "n-rkhs", "n-depth", "input-size"].filter((k) => flags[k] !== undefined);
  const name = String(flags.config ?? "tiny");
  if (custom.length > 0 && flags.config !== undefined) {
    throw new BenchError("usage", "give either --config or the encoder knobs, not both", {
      location: "--config",
    });
  }
  const base = NAMED_ENCODERS[name];
  if (!base) {
    throw new BenchError("usage", `unknown encoder config ${name}`, {
      location: "--config",
      hint: `known: ${Object.keys(NAMED_ENCODERS).join(", ")}`,
    });
  }
  if (custom.length === 0) return { name, cfg: { ...base } };
  const cfg = validateEncoderConfig({
    inputSize: intFlag(flags, "input-size", base.inputSize, 1),
    ndf: intFlag(flags, "ndf", base.ndf, 1),
    nRkhs: intFlag(flags, "n-rkhs", base.nRkhs, 1),
    nDepth: intFlag(flags, "n-depth", base.nDepth, 1),
    useBn: false,
  }, "perf flags");
  return {
    name: `custom(ndf ${cfg.ndf}, nRkhs ${cfg.nRkhs}, nDepth ${cfg.nDepth}, ${cfg.inputSize}px)`,
    cfg,
  };
}
