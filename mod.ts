/**
 * amdim-bench: a benchmark harness that reproduces AMDIM self-supervised representation learning
 * results. This module re-exports the public API.
 *
 * @module
 */
export { BenchError, formatError } from "./src/util/errors.ts";
export { Rng } from "./src/util/rng.ts";
export { writeFileAtomic, writeJsonAtomic } from "./src/util/atomic_write.ts";
export { sha256File, sha256Hex } from "./src/util/hash.ts";
