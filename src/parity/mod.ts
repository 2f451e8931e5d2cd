/**
 * Backend parity: the same model, inputs and seed on two tfjs backends, compared quantity by
 * quantity (`deno task parity`).
 *
 * @module
 */
export * from "./probe.ts";
export * from "./compare.ts";
