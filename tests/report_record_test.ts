/** Records: run ids, exclusive run folders, the never-overwriting writer, the reader, events. */
import { assert, assertEquals, assertRejects, assertThrows } from "../src/testing/asserts.ts";
import {
  createRunDir,
  makeRunId,
  readRecord,
  validateRecord,
  writeRecord,
} from "../src/report/record.ts";
import { appendEvent, openEventLog, readEvents } from "../src/report/events.ts";
import { captureCode, cpuModel } from "../src/report/environment.ts";
import { compareWithPublished, readPublished, referenceFor } from "../src/report/published.ts";
import { loadSpec } from "../src/spec/load.ts";
import { BenchError } from "../src/util/errors.ts";
import { makeRecord } from "./helpers/harness_fixtures.ts";

Deno.test("run ids and exclusive run folders", async () => {
  const id = makeRunId("smoke", "abcdef0123", new Date("2025-01-02T03:04:05.678Z"));
  assertEquals(id, "smoke-20250102T030405-abcdef");
  const dir = await Deno.makeTempDir();
  try {
    const first = await createRunDir(`${dir}/runs`, id);
    const second = await createRunDir(`${dir}/runs`, id);
    assertEquals([first.runId, second.runId], [id, `${id}-2`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeRecord writes once and refuses to overwrite; readRecord validates", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const record = makeRecord();
    const { dir: runDir } = await createRunDir(dir, record.runId);
    const path = await writeRecord(runDir, record);
    assertEquals(await readRecord(path), record);
    const again = await assertRejects(() => writeRecord(runDir, { ...record }), BenchError);
    assertEquals(again.code, "exists");
    assertEquals(await readRecord(path), record); // untouched
    // Tampering with the stored spec is caught by the hash check.
    const tampered = structuredClone(record);
    tampered.spec.pretrain.steps = 21;
    const e = assertThrows(() => validateRecord(tampered, "x.json"), BenchError);
    assertEquals(e.location, "x.json: specHash");
    // Schema violations name the key path.
    const bad = structuredClone(record) as unknown as Record<string, unknown>;
    bad.extra = 1;
    const e2 = assertThrows(() => validateRecord(bad, "x.json"), BenchError);
    assertEquals([e2.code, e2.location, e2.message], [
      "record_invalid",
      "x.json: (root)",
      'must NOT have additional properties "extra"',
    ]);
    const failed = makeRecord({ status: "failed" });
    delete failed.reason;
    assertEquals(
      assertThrows(() => validateRecord(failed, "f.json"), BenchError).location,
      "f.json: reason",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("events: fixed vocabulary, one line each, a torn last line is ignored", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const now = () => new Date("2025-01-01T00:00:00.000Z");
    await appendEvent(dir, { event: "run_start", runId: "r", specHash: "h" }, { now });
    const log = await openEventLog(dir, { now });
    await log.append({ event: "train_step", step: 0, epoch: 0, lr: 1e-4, total: 3.5 });
    await log.append({ event: "run_end", wallSeconds: 1 });
    log.close();
    await assertRejects(
      // deno-lint-ignore no-explicit-any
      () => appendEvent(dir, { event: "train_stop" } as any, { now }),
      BenchError,
      'unknown event "train_stop"',
    );
    await assertRejects(
      // deno-lint-ignore no-explicit-any
      () => appendEvent(dir, { event: "train_step", step: 1 } as any, { now }),
      BenchError,
      'train_step: "epoch" must be a finite number',
    );
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, '{"event":"train_st', { append: true });
    const events = await readEvents(dir);
    assertEquals(events.map((e) => e.event), ["run_start", "train_step", "run_end"]);
    assertEquals(events[1], {
      event: "train_step",
      step: 0,
      epoch: 0,
      lr: 1e-4,
      total: 3.5,
      time: "2025-01-01T00:00:00.000Z",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("environment helpers", async () => {
  assertEquals(cpuModel("processor\t: 0\nmodel name\t: Test CPU @ 2GHz\n"), "Test CPU @ 2GHz");
  const fake = (_cmd: string, args: string[]) =>
    Promise.resolve(args[0] === "rev-parse" ? "abc123\n" : " M src/x.ts\n");
  const code = await captureCode(".", fake);
  assertEquals([code.commit, code.dirty], ["abc123", true]);
  assert(code.lockHash === null || /^[0-9a-f]{64}$/.test(code.lockHash));
  const none = await captureCode(".", () => Promise.resolve(null));
  assertEquals([none.commit, none.dirty], [null, null]);
});

Deno.test("published registry validates and protocol mismatches are listed", async () => {
  const published = await readPublished();
  assertEquals(published.entries["amdim-imagenet-linear"].value, 0.681);
  assertEquals(published.entries["amdim-cifar100-linear"].status, "third-party");
  const c10 = (await loadSpec("cifar10-amdim")).spec;
  const ref = referenceFor(c10, published)!;
  assertEquals(ref.protocolMatch, false);
  assertEquals(ref.mismatches, [
    "encoder.ndf 128 != 256",
    "encoder.nRkhs 1024 != 2048",
    "encoder.nDepth 3 != 10",
  ]);
  assertEquals(ref.unknowns, [
    "protocol (not stated by the source)",
    "pretrain.epochs",
    "pretrain.batchSize",
  ]);
  const inet = (await loadSpec("imagenet128-amdim")).spec;
  const recipe = compareWithPublished(inet, "x", published.entries["amdim-imagenet128-recipe"]);
  assertEquals([recipe.protocolMatch, recipe.mismatches, recipe.unknowns], [true, [], []]);
});
