/**
 * Benchmark specs: load (JSONC, `extends`, `--set` overrides), validate, resolve defaults, hash;
 * suites.
 *
 * @module
 */
export * from "./types.ts";
export {
  displayPath,
  loadSpec,
  type LoadSpecOptions,
  readSpecLayers,
  resolveSpecFile,
  resolveSpecLayers,
  type SpecLayer,
} from "./load.ts";
export { canonicalJson, comparableHash, comparablePart, specHash } from "./canonical.ts";
export { parseJsonc } from "./jsonc.ts";
export { applyOverride, type Override, parseOverride } from "./overrides.ts";
export { loadSuites, resolveTarget, type Suites } from "./suites.ts";
export {
  checkSemantics,
  type DatasetFacts,
  validateAgainstSchema,
  type ValidationContext,
} from "./validate.ts";
export { createAjv, describeExpected, fillDefaults, SPEC_SCHEMA } from "./schema.ts";
export { DEFAULT_MANIFEST, DEFAULT_PUBLISHED, DEFAULT_SPECS_DIR, REPO_ROOT } from "./context.ts";
