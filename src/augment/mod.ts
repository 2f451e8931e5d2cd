/**
 * Data augmentation: PIL 9.4 / torchvision 0.14-exact uint8 image ops, the AMDIM policies
 * (`cifar`, `stl10`, `imagenet`, `fmnist`, `none`) with seeded, order-independent parameter draws,
 * and a batched (optionally multi-worker) pipeline producing normalised NHWC float32 views.
 *
 * @module
 */
export * from "./image.ts";
export * from "./round.ts";
export * from "./resize.ts";
export * from "./geometry.ts";
export * from "./color.ts";
export * from "./fused.ts";
export * from "./normalize.ts";
export * from "./policy.ts";
export * from "./batch.ts";
export * from "./pipeline.ts";
export * from "./golden.ts";
export * from "./perf_data.ts";
