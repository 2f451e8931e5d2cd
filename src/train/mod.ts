/**
 * Training: the AMDIM optimiser (Adam with L2 weight decay), the learning-rate schedule and the
 * self-supervised training step.
 *
 * @module
 */
export * from "./optimizer.ts";
export * from "./schedule.ts";
export * from "./train_step.ts";
export * from "./safetensors.ts";
export * from "./checkpoint.ts";
export * from "./metrics_log.ts";
export * from "./pretrain.ts";
export * from "./run_benchmark.ts";
export * from "./workload.ts";
