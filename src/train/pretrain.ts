/**
 * The pretraining loop, as one function you can read top to bottom.
 *
 * Data: the training split, visited each epoch in the order `Rng(seed, "shuffle", epoch)` with
 * drop_last; two augmented views per image keyed by `(augment.seed, epoch, index, view)`. Model:
 * the encoder and (optionally) the online heads, trained by the AMDIM train step (Adam with L2,
 * warm-up, multi-step schedule). Every random draw is keyed by what it is for and the step or
 * epoch, so continuing from a checkpoint reproduces the uninterrupted run bit for bit: resuming
 * mid-epoch recomputes that epoch's permutation and skips the steps already done.
 *
 * Side effects, all under the run folder: `metrics.jsonl` (a `train_step` event per update with
 * every loss term, lr and images/s; `epoch_end`; `checkpoint`), `checkpoints/last.safetensors`
 * every `checkpointEvery` updates and at the end, `checkpoints/final.safetensors` at the end.
 * A non-finite loss stops the run (`failed`, with the reason) without checkpointing the broken
 * weights; a stop request (SIGINT in the CLI) finishes the current update, checkpoints and
 * returns `interrupted`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AugmentPool, trainViews } from "../augment/pipeline.ts";
import type { ImageDataset } from "../data/types.ts";
import { type Classifiers, createClassifiers } from "../model/classifiers.ts";
import { createEncoder, type Encoder } from "../model/encoder.ts";
import type { Spec } from "../spec/types.ts";
import { BenchError } from "../util/errors.ts";
import { Rng } from "../util/rng.ts";
import {
  addGroup,
  groupTensors,
  readCheckpoint,
  restoreVariables,
  variablesOf,
  writeCheckpoint,
} from "./checkpoint.ts";
import { truncateEventsForResume } from "./metrics_log.ts";
import { EVENT, type EventLog, openEventLog } from "../report/events.ts";
import { createTrainer, type TrainLosses } from "./train_step.ts";

/** A flag the caller sets to ask the loop to stop after the current update. */
export interface StopSignal {
  /** Set to true to stop (e.g. from a SIGINT listener). */
  requested: boolean;
}

/** Deliberate faults for testing the failure paths. */
export interface FaultInjection {
  /** Feed NaN images at this 0-based update, so its loss is NaN. */
  nanAtStep?: number;
}

/** Inputs of {@linkcode pretrain}. */
export interface PretrainOptions {
  /** The resolved spec. */
  spec: Spec;
  /** Its hash (stored in checkpoints; a resume must match it). */
  specHash: string;
  /** Run id. */
  runId: string;
  /** Run folder (`metrics.jsonl`, `checkpoints/`). */
  runDir: string;
  /** The training split (limitTrain applied). */
  train: ImageDataset;
  /** Continue from `checkpoints/last.safetensors`. */
  resume?: boolean;
  /** Stop request flag. */
  stop?: StopSignal;
  /** Progress lines (the CLI writes them to stderr). */
  progress?: (line: string) => void;
  /** Augmentation worker pool. */
  pool?: AugmentPool;
  /** Fault injection (tests only; the CLI guards it behind an environment flag). */
  faults?: FaultInjection;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** What {@linkcode pretrain} returns. The caller disposes `encoder` and `heads`. */
export interface PretrainResult {
  /** How the loop ended. */
  status: "complete" | "failed" | "interrupted";
  /** Why it failed or stopped. */
  reason?: string;
  /** The trained encoder (state of the last update done). */
  encoder: Encoder;
  /** The online heads, or null. */
  heads: Classifiers | null;
  /** Updates done in total (including those before a resume). */
  steps: number;
  /** Updates the spec asks for. */
  totalSteps: number;
  /** Updates per epoch. */
  stepsPerEpoch: number;
  /** Update the loop started from (0, or the resumed checkpoint's). */
  startStep: number;
  /** Wall time of this session's loop. */
  wallSeconds: number;
  /** Training images (pairs of views) per second in this session. */
  imagesPerSecond: number;
  /** Path of the last good checkpoint, or null. */
  checkpoint: string | null;
  /** Largest resident set size seen. */
  peakRssBytes: number;
}

/** Checkpoint file names in `<runDir>/checkpoints/`. */
export const LAST_CHECKPOINT = "last.safetensors";
/** The checkpoint written when training completes. */
export const FINAL_CHECKPOINT = "final.safetensors";

/** Updates per epoch and in total for a spec and a training-set size. */
export function trainingLength(spec: Spec, trainSize: number): {
  stepsPerEpoch: number;
  totalSteps: number;
} {
  const stepsPerEpoch = Math.floor(trainSize / spec.pretrain.batchSize);
  if (stepsPerEpoch < 1) {
    throw new BenchError(
      "spec_invalid",
      `the training split has ${trainSize} images, fewer than one batch of ${spec.pretrain.batchSize}`,
      {
        location: "pretrain.batchSize",
        hint: "lower pretrain.batchSize or raise dataset.limitTrain",
      },
    );
  }
  const totalSteps = spec.pretrain.steps ?? (spec.pretrain.epochs ?? 0) * stepsPerEpoch;
  return { stepsPerEpoch, totalSteps };
}

function fmtTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(r).padStart(2, "0")}s`;
}

/**
 * Runs (or continues) pretraining as the spec says.
 *
 * @example
 * ```ts
 * const r = await pretrain({ spec, specHash, runId, runDir, train });
 * if (r.status === "complete") console.log(r.steps, r.imagesPerSecond);
 * ```
 */
export async function pretrain(options: PretrainOptions): Promise<PretrainResult> {
  const { spec, specHash, runId, runDir, train } = options;
  const now = options.now ?? (() => performance.now());
  const progress = options.progress ?? (() => {});
  const p = spec.pretrain;
  const seed = p.seed;
  const batchSize = p.batchSize;
  const { stepsPerEpoch, totalSteps } = trainingLength(spec, train.length);
  const ckptDir = `${runDir}/checkpoints`;
  const lastPath = `${ckptDir}/${LAST_CHECKPOINT}`;

  // Model, heads, optimiser + schedule.
  const encoder = createEncoder(spec.encoder, seed);
  const heads = p.onlineHeads
    ? createClassifiers({ nIn: spec.encoder.nRkhs, nClasses: train.numClasses, seed })
    : null;
  const trainer = createTrainer({
    encoder,
    heads,
    seed,
    schedule: {
      lr: p.optimizer.lr,
      warmupSteps: p.warmupSteps,
      milestones: p.schedule.milestones,
      gamma: p.schedule.gamma,
      unit: p.schedule.unit,
    },
    optimizer: {
      betas: p.optimizer.betas,
      eps: p.optimizer.eps,
      weightDecay: p.optimizer.weightDecay,
    },
    tclip: spec.loss.tclip,
    lgtRegWeight: spec.loss.lgtRegWeight,
  });

  const saveCheckpoint = async (step: number, status: "running" | "final", paths: string[]) => {
    const tensors = await addGroup(new Map(), "encoder", variablesOf(encoder.params));
    await addGroup(tensors, "encoderState", variablesOf(encoder.state));
    if (heads) {
      await addGroup(tensors, "heads", variablesOf(heads.params));
      await addGroup(tensors, "headsState", variablesOf(heads.state));
    }
    const opt = trainer.exportState();
    try {
      await addGroup(tensors, "optimizer", opt.map((o) => ({ name: o.name, tensor: o.tensor })));
    } finally {
      tf.dispose(opt.map((o) => o.tensor));
    }
    const meta = {
      runId,
      specHash,
      step,
      epoch: Math.floor(step / stepsPerEpoch),
      stepInEpoch: step % stepsPerEpoch,
      stepsPerEpoch,
      status,
    };
    for (const path of paths) {
      await writeCheckpoint(path, { tensors, meta });
      await log.append({
        event: EVENT.checkpoint,
        step,
        epoch: meta.epoch,
        path: path.slice(runDir.length + 1),
      });
    }
  };

  // Resume: restore every variable and the optimiser; drop log events past the checkpoint.
  let startStep = 0;
  let checkpoint: string | null = null;
  if (options.resume) {
    const ckpt = await readCheckpoint(lastPath);
    if (ckpt.meta.specHash !== specHash) {
      throw new BenchError("resume_mismatch", "the checkpoint was written for a different spec", {
        location: lastPath,
        hint: `checkpoint spec hash ${ckpt.meta.specHash}, this spec ${specHash}: resume with ` +
          "the same spec and overrides, or start a new run",
      });
    }
    restoreVariables(ckpt, "encoder", encoder.params, lastPath);
    restoreVariables(ckpt, "encoderState", encoder.state, lastPath);
    if (heads) {
      restoreVariables(ckpt, "heads", heads.params, lastPath);
      restoreVariables(ckpt, "headsState", heads.state, lastPath);
    }
    const opt = groupTensors(ckpt, "optimizer");
    try {
      await trainer.importState(opt);
    } finally {
      tf.dispose(opt.map((o) => o.tensor));
    }
    startStep = ckpt.meta.step;
    checkpoint = lastPath;
    await truncateEventsForResume(`${runDir}/metrics.jsonl`, startStep);
  }
  const log: EventLog = await openEventLog(runDir);
  await log.append({
    event: EVENT.runStart,
    runId,
    specId: spec.id,
    specHash,
    ...(options.resume ? { resumedFromStep: startStep } : {}),
  });

  // Data: epoch permutation (drop_last) and two views per image; the next batch is prefetched.
  let orderEpoch = -1;
  let order: Int32Array = new Int32Array(0);
  const batchAt = (step: number) => {
    const epoch = Math.floor(step / stepsPerEpoch);
    if (epoch !== orderEpoch) {
      order = new Rng(seed, "shuffle", epoch).permutation(train.length);
      orderEpoch = epoch;
    }
    const s = step % stepsPerEpoch;
    const indices = Array.from(order.subarray(s * batchSize, (s + 1) * batchSize));
    const labels = Int32Array.from(indices, (i) => train.labels[i]);
    const views = trainViews(train, {
      policy: spec.augment.policy,
      seed: spec.augment.seed,
      epoch,
      indices,
      pool: options.pool,
    });
    return { epoch, labels, views };
  };

  const t0 = now();
  let step = startStep;
  let status: PretrainResult["status"] = "complete";
  let reason: string | undefined;
  let peakRssBytes = 0;
  let rate = 0; // smoothed images/s
  let lastLine = 0;
  let epochStart = t0;
  let epochSteps = 0;
  let next = step < totalSteps ? batchAt(step) : null;
  while (step < totalSteps) {
    const stepStart = now();
    const { epoch, labels, views } = next!;
    const v = await views;
    next = step + 1 < totalSteps ? batchAt(step + 1) : null;
    if (options.faults?.nanAtStep === step) v.x1.fill(NaN);
    const shape: [number, number, number, number] = [v.n, v.height, v.width, 3];
    const r = await trainer.trainStep({
      x1: { data: v.x1, shape },
      x2: { data: v.x2, shape },
      labels,
      epoch,
    });
    const bad = Object.entries(r.losses).filter(([, value]) => !Number.isFinite(value));
    if (bad.length > 0) {
      status = "failed";
      reason = `non-finite loss at step ${step} (epoch ${epoch}): ` +
        bad.map(([k, value]) => `${k}=${value}`).join(", ");
      await log.append({ event: EVENT.runFailed, step, reason });
      break;
    }
    step++;
    epochSteps++;
    const stepSeconds = (now() - stepStart) / 1000;
    const imagesPerSecond = batchSize / Math.max(stepSeconds, 1e-9);
    rate = rate === 0 ? imagesPerSecond : 0.9 * rate + 0.1 * imagesPerSecond;
    const rss = Deno.memoryUsage().rss;
    if (rss > peakRssBytes) peakRssBytes = rss;
    const etaSeconds = ((totalSteps - step) * batchSize) / rate;
    await log.append({
      event: EVENT.trainStep,
      step: step - 1,
      epoch,
      lr: r.lr,
      losses: { ...r.losses as TrainLosses },
      imagesPerSecond,
    });
    if (now() - lastLine > 1000 || step === totalSteps) {
      lastLine = now();
      const l = r.losses;
      progress(
        `epoch ${epoch} step ${step}/${totalSteps} loss ${l.total.toFixed(4)} ` +
          `(1t5 ${l.loss_1t5.toFixed(3)} 1t7 ${l.loss_1t7.toFixed(3)} 5t5 ${
            l.loss_5t5.toFixed(3)
          } ` +
          `reg ${l.lgt_reg.toFixed(3)} cls ${l.loss_cls_linear.toFixed(3)}/${
            l.loss_cls_mlp.toFixed(3)
          }) lr ${r.lr.toExponential(2)} ${rate.toFixed(1)} img/s ETA ${fmtTime(etaSeconds)}`,
      );
    }
    if (step % stepsPerEpoch === 0) {
      const wallSeconds = (now() - epochStart) / 1000;
      await log.append({
        event: EVENT.epochEnd,
        step: step - 1,
        epoch,
        wallSeconds,
        imagesPerSecond: (epochSteps * batchSize) / Math.max(wallSeconds, 1e-9),
      });
      epochStart = now();
      epochSteps = 0;
    }
    const stopping = options.stop?.requested === true && step < totalSteps;
    if (step < totalSteps && (stopping || (p.checkpointEvery && step % p.checkpointEvery === 0))) {
      await saveCheckpoint(step, "running", [lastPath]);
      checkpoint = lastPath;
    }
    if (stopping) {
      status = "interrupted";
      reason = `stop requested; checkpoint at step ${step} of ${totalSteps}`;
      await log.append({ event: EVENT.runInterrupted, step, reason });
      break;
    }
  }
  if (next) await next.views.catch(() => {});
  if (status === "complete") {
    await saveCheckpoint(step, "final", [lastPath, `${ckptDir}/${FINAL_CHECKPOINT}`]);
    checkpoint = lastPath;
  }
  trainer.dispose();
  log.close();
  const wallSeconds = (now() - t0) / 1000;
  return {
    status,
    reason,
    encoder,
    heads,
    steps: step,
    totalSteps,
    stepsPerEpoch,
    startStep,
    wallSeconds,
    imagesPerSecond: ((step - startStep) * batchSize) / Math.max(wallSeconds, 1e-9),
    checkpoint,
    peakRssBytes,
  };
}
