/**
 * The AMDIM objectives: the multi-scale NCE loss, the evaluation-classifier loss, and the golden
 * case checker behind `deno task verify-loss`.
 *
 * @module
 */
export * from "./nce_loss.ts";
export * from "./classifier_loss.ts";
export * from "./loss_cases.ts";
