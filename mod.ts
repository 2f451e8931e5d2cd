/**
 * amdim-bench: a benchmark harness that reproduces AMDIM (Bachman, Hjelm and Buchwalter 2019)
 * self-supervised representation learning results with TensorFlow.js, from declarative specs to
 * verified run records, tables, a regression gate and a leaderboard.
 *
 * This module only re-exports: the shared utilities at the top level, and each area of `src/` as a
 * namespace (`backend`, `model`, `loss`, `train`, `evaluation`, `data`, `augment`, `spec`, `report`,
 * `verify`, `leaderboard`, `onnx`, `sweep`, `parity`), so names never collide across areas.
 *
 * @example
 * ```ts
 * import { backend, model } from "./mod.ts";
 * await backend.initBackend("auto");
 * const encoder = model.createEncoder(model.NAMED_ENCODERS.tiny, 1);
 * ```
 *
 * @module
 */
export * from "./src/util/errors.ts";
export * from "./src/util/rng.ts";
export * from "./src/util/atomic_write.ts";
export * from "./src/util/hash.ts";
export * as backend from "./src/backend/mod.ts";
export * as model from "./src/model/mod.ts";
export * as loss from "./src/loss/mod.ts";
export * as train from "./src/train/mod.ts";
export * as evaluation from "./src/eval/mod.ts";
export * as data from "./src/data/mod.ts";
export * as augment from "./src/augment/mod.ts";
export * as spec from "./src/spec/mod.ts";
export * as report from "./src/report/mod.ts";
export * as verify from "./src/verify/mod.ts";
export * as leaderboard from "./src/leaderboard/mod.ts";
export * as onnx from "./src/onnx/mod.ts";
export * as sweep from "./src/sweep/mod.ts";
export * as parity from "./src/parity/mod.ts";
