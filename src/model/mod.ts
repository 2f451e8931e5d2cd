/**
 * The AMDIM encoder, its layer plan and the online classifier heads.
 *
 * @module
 */

export * from "./config.ts";
export * from "./plan.ts";
export * from "./types.ts";
export * from "./batch_norm.ts";
export * from "./init.ts";
export * from "./encoder.ts";
export * from "./classifiers.ts";
export * from "./named_tensors.ts";
export * from "./variable_store.ts";
