/**
 * A few steps of the project's real training step on generated images, for determinism tests.
 */
import { createEncoder, type EncoderConfig } from "../../src/model/mod.ts";
import { AMDIM_SCHEDULE, createTrainer } from "../../src/train/mod.ts";
import { Rng } from "../../src/util/rng.ts";

/** What {@linkcode runTrainSteps} trains. */
export interface TrainStepsOptions {
  cfg: EncoderConfig;
  seed: number;
  batch: number;
  steps: number;
  classes: number;
  /** Name of the image stream (images come from `Rng(seed, stream, view)`). */
  stream: string;
}

/** Runs `steps` training steps (no warm-up) on the active backend; returns losses and weights. */
export async function runTrainSteps(o: TrainStepsOptions): Promise<{
  losses: Record<string, number>[];
  weights: Float32Array[];
}> {
  const encoder = createEncoder(o.cfg, o.seed);
  const trainer = createTrainer({
    encoder,
    seed: o.seed,
    schedule: { ...AMDIM_SCHEDULE, warmupSteps: 0 },
  });
  const size = o.cfg.inputSize;
  const view = (v: number) =>
    new Rng(o.seed, o.stream, v).fillUniform(new Float32Array(o.batch * size * size * 3), -2, 2);
  const labels = Int32Array.from({ length: o.batch }, (_, i) => i % o.classes);
  const losses = [];
  for (let i = 0; i < o.steps; i++) {
    losses.push(
      (await trainer.trainStep({
        x1: { data: view(2 * i), shape: [o.batch, size, size, 3] },
        x2: { data: view(2 * i + 1), shape: [o.batch, size, size, 3] },
        labels,
        epoch: 0,
      })).losses,
    );
  }
  const weights = await Promise.all(
    encoder.params.map(async (p) => (await p.variable.data()).slice() as Float32Array),
  );
  trainer.dispose();
  encoder.dispose();
  return { losses, weights };
}
