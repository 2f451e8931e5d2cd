/**
 * The AMDIM learning-rate schedule (task_self_supervised.py): a linear warm-up over the first
 * `warmupSteps` updates, `lr * min(1, (t + 1) / warmupSteps)` for update index t = 0, 1, ..., then
 * a multi-step decay by `gamma` at each milestone.
 *
 * **The official off-by-one.** The official loop calls `scheduler.step(epoch)` at the *end* of
 * epoch `epoch` (0-based), the deprecated closed-form API: the learning rate of the next epoch is
 * `lr * gamma^(number of milestones <= epoch)`. So epoch index e trains with
 * `lr * gamma^(number of milestones < e)`: a milestone m takes effect from epoch index **m + 1**
 * (251 for milestone 250), one epoch later than the usual `scheduler.step()`-per-epoch reading
 * (decay from epoch index m). This module reproduces the official behaviour by default
 * (`milestoneConvention: "official"`); `"pytorch"` gives the usual one (decay from index m).
 * With `unit: "step"` milestones count updates and decay applies from update index m (there is
 * no official step-unit schedule to copy).
 *
 * **Warm-up and decay.** During warm-up (t < warmupSteps) the official code writes
 * `lr * (t + 1) / warmupSteps` straight into the optimiser, ignoring any decay; this module does
 * the same. After warm-up the decayed value applies at once. (The official code would keep the
 * undecayed `lr` until the end of the epoch in which warm-up ends, which only differs when a
 * milestone falls inside warm-up, i.e. never in the published schedules.)
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";

/** How epoch milestones are counted (see the module doc). */
export type MilestoneConvention = "official" | "pytorch";

/** The schedule knobs (spec `pretrain.optimizer.lr`, `pretrain.warmupSteps`, `pretrain.schedule`). */
export interface LrScheduleConfig {
  /** Base learning rate (AMDIM: 2e-4). */
  lr: number;
  /** Linear warm-up length in updates (AMDIM: 500); 0 disables it. */
  warmupSteps: number;
  /** Decay points, in `unit`s (AMDIM CIFAR/STL: [250, 280] epochs). */
  milestones: readonly number[];
  /** Decay factor per milestone (AMDIM: 0.2). */
  gamma: number;
  /** Whether milestones count epochs or updates. */
  unit: "epoch" | "step";
  /** Epoch-milestone convention; default `"official"` (decay from epoch index m + 1). */
  milestoneConvention?: MilestoneConvention;
}

/** AMDIM's CIFAR-10 / STL-10 schedule. */
export const AMDIM_SCHEDULE: Readonly<LrScheduleConfig> = Object.freeze({
  lr: 2e-4,
  warmupSteps: 500,
  milestones: Object.freeze([250, 280]),
  gamma: 0.2,
  unit: "epoch" as const,
  milestoneConvention: "official" as const,
});

/**
 * Learning rate of the update with 0-based global index `step`, taken during 0-based epoch
 * `epoch`.
 *
 * @example
 * ```ts
 * learningRate(AMDIM_SCHEDULE, 0, 0); // 2e-4 / 500
 * learningRate(AMDIM_SCHEDULE, 99999, 250); // 2e-4 (official: decay starts at epoch 251)
 * learningRate(AMDIM_SCHEDULE, 99999, 251); // 2e-4 * 0.2
 * ```
 */
export function learningRate(cfg: LrScheduleConfig, step: number, epoch: number): number {
  if (!Number.isInteger(step) || step < 0) {
    throw new BenchError("schedule_input", `step must be an integer >= 0, got ${step}`);
  }
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new BenchError("schedule_input", `epoch must be an integer >= 0, got ${epoch}`);
  }
  if (cfg.warmupSteps > 0 && step < cfg.warmupSteps) {
    return cfg.lr * Math.min(1, (step + 1) / cfg.warmupSteps);
  }
  let k = 0;
  if (cfg.unit === "step") {
    for (const m of cfg.milestones) if (m <= step) k++;
  } else {
    const official = (cfg.milestoneConvention ?? "official") === "official";
    for (const m of cfg.milestones) if (official ? m < epoch : m <= epoch) k++;
  }
  return cfg.lr * Math.pow(cfg.gamma, k);
}
