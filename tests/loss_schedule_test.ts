import { assertAlmostEquals, assertEquals, assertThrows } from "../src/testing/asserts.ts";
import { AMDIM_SCHEDULE, learningRate } from "../src/train/schedule.ts";

Deno.test("schedule: linear warm-up over the first 500 updates", () => {
  assertAlmostEquals(learningRate(AMDIM_SCHEDULE, 0, 0), 2e-4 / 500, 1e-15);
  assertAlmostEquals(learningRate(AMDIM_SCHEDULE, 249, 0), 2e-4 * 250 / 500, 1e-15);
  assertAlmostEquals(learningRate(AMDIM_SCHEDULE, 498, 0), 2e-4 * 499 / 500, 1e-15);
  assertEquals(learningRate(AMDIM_SCHEDULE, 499, 0), 2e-4);
  assertEquals(learningRate(AMDIM_SCHEDULE, 500, 1), 2e-4);
  assertEquals(learningRate({ ...AMDIM_SCHEDULE, warmupSteps: 0 }, 0, 0), 2e-4);
});

Deno.test("schedule: official milestones take effect one epoch late; pytorch convention on time", () => {
  const at = (epoch: number, conv?: "official" | "pytorch") =>
    learningRate({ ...AMDIM_SCHEDULE, milestoneConvention: conv }, 100000, epoch);
  assertEquals(at(249), 2e-4);
  assertEquals(at(250), 2e-4);
  assertAlmostEquals(at(251), 2e-4 * 0.2, 1e-18);
  assertAlmostEquals(at(280), 2e-4 * 0.2, 1e-18);
  assertAlmostEquals(at(281), 2e-4 * 0.04, 1e-18);
  assertAlmostEquals(at(299), 2e-4 * 0.04, 1e-18);
  assertEquals(at(249, "pytorch"), 2e-4);
  assertAlmostEquals(at(250, "pytorch"), 2e-4 * 0.2, 1e-18);
  assertAlmostEquals(at(280, "pytorch"), 2e-4 * 0.04, 1e-18);
});

Deno.test("schedule: step-unit milestones and warm-up precedence", () => {
  const cfg = { lr: 1e-3, warmupSteps: 10, milestones: [5, 20], gamma: 0.5, unit: "step" as const };
  assertAlmostEquals(learningRate(cfg, 6, 0), 1e-3 * 7 / 10, 1e-15); // warm-up ignores decay
  assertAlmostEquals(learningRate(cfg, 10, 0), 1e-3 * 0.5, 1e-15);
  assertAlmostEquals(learningRate(cfg, 19, 0), 1e-3 * 0.5, 1e-15);
  assertAlmostEquals(learningRate(cfg, 20, 0), 1e-3 * 0.25, 1e-15);
  assertThrows(() => learningRate(cfg, -1, 0));
  assertThrows(() => learningRate(cfg, 0, 1.5));
});
