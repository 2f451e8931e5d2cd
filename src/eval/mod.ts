/**
 * Evaluation protocols: `linear-probe` and `knn` on cached frozen features, `amdim-online` (the
 * heads trained during pretraining) and `amdim-offline` (the official classifier re-training).
 *
 * @module
 */
export * from "./types.ts";
export * from "./accuracy.ts";
export * from "./val_split.ts";
export * from "./logistic_regression.ts";
export * from "./linear_probe.ts";
export * from "./knn.ts";
export * from "./features.ts";
export * from "./r1_source.ts";
export * from "./heads_eval.ts";
export * from "./amdim_online.ts";
export * from "./amdim_offline.ts";
export * from "./run_protocols.ts";
