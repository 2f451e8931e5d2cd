import { basename, join } from "node:path";
import { assert, assertEquals, assertRejects } from "../src/testing/asserts.ts";
import { readPublished } from "../src/report/published.ts";
import { checkpointHashes, writeRecord } from "../src/report/record.ts";
import { sha256Hex } from "../src/util/hash.ts";
import { BenchError } from "../src/util/errors.ts";
import { loadVerifyContext, type VerifyContext } from "../src/verify/context.ts";
import { type Finding, formatFinding } from "../src/verify/finding.ts";
import { loadSubmissions } from "../src/verify/load_submission.ts";
import {
  renderVerifyReport,
  verifyExitCode,
  type VerifyReport,
  verifySubmissions,
} from "../src/verify/verify.ts";
import {
  copyDir,
  editRecord,
  FMNIST_PINS,
  type RunFixture,
  type RunFixtureOptions,
  writeRunFixture,
} from "./helpers/record_fixtures.ts";
import { runCli } from "./helpers/run_cli.ts";

const published = await readPublished();
const ctx: VerifyContext = await loadVerifyContext();

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "amdim-verify-" });
}

async function run(options: RunFixtureOptions = {}, dir?: string): Promise<RunFixture> {
  return await writeRunFixture(join(dir ?? await tempDir(), "runs"), options, published);
}

async function verify(path: string): Promise<VerifyReport> {
  return await verifySubmissions(await loadSubmissions(path), ctx);
}

function errors(report: VerifyReport): Finding[] {
  return report.submissions.flatMap((s) => s.findings.filter((f) => f.severity === "error"));
}

/** Asserts one submission, rejected with a finding that prints exactly as `line`. */
function assertFinding(report: VerifyReport, line: string, verdict = "rejected"): void {
  const lines = report.submissions.flatMap((s) => s.findings.map(formatFinding));
  assert(
    lines.includes(line),
    `expected finding\n  ${line}\nin\n  ${lines.join("\n  ")}`,
  );
  assert(
    report.submissions.some((s) => s.verdict === verdict),
    `expected a ${verdict} run:\n${renderVerifyReport(report)}`,
  );
}

const rec = (r: RunFixture) => r.recordPath;
const events = (r: RunFixture) => join(r.runDir, "metrics.jsonl");

Deno.test("verify: well-formed runs are accepted (synthetic, fashion-mnist, multi-seed)", async () => {
  const dir = await tempDir();
  await run({ seed: 1 }, dir);
  await run({ seed: 2 }, dir);
  await run({ dataset: "fashion-mnist" }, dir);
  const report = await verify(dir);
  assertEquals(
    report.counts,
    { accepted: 3, rejected: 0, unreadable: 0 },
    renderVerifyReport(report),
  );
  assertEquals(errors(report), []);
  // No warning either: pinned data, checkpoints listed and present, no reference.
  assertEquals(report.submissions.flatMap((s) => s.findings), []);
  assertEquals(verifyExitCode(report), 0);
});

Deno.test("verify: a protocol mismatch is listed (warning), never silently compared", async () => {
  const r = await run({ dataset: "cifar10" });
  const report = await verify(r.runDir);
  assertEquals(report.counts.accepted, 1, renderVerifyReport(report));
  const mismatch = report.submissions[0].findings.find((f) => f.code === "protocol_mismatch")!;
  assertEquals(
    formatFinding(mismatch),
    `${rec(r)}: reference: warning: protocol mismatch with amdim-cifar10-linear: ` +
      "amdim-online.bnWarmup false != true; amdim-online.dropLast false != true; " +
      "encoder.ndf 16 != 256; encoder.nRkhs 64 != 2048; encoder.nDepth 1 != 10; " +
      "unknown: protocol (not stated by the source); unknown: pretrain.epochs; " +
      "unknown: pretrain.batchSize",
  );
  const unpinned = report.submissions[0].findings.find((f) => f.code === "dataset_unpinned")!;
  assertEquals(unpinned.severity, "warning");
});

Deno.test("verify: 1. edited metric", async () => {
  const r = await run();
  await editRecord(rec(r), (x) => (x.metrics["linear-probe.top1"].last = 0.91));
  assertFinding(
    await verify(r.runDir),
    `${
      rec(r)
    }: metrics.linear-probe.top1.last: 0.91 does not match metrics.jsonl eval_result (0.463)`,
  );
});

Deno.test("verify: 2. wrong spec hash", async () => {
  const r = await run();
  const forged = "ab".repeat(32);
  await editRecord(rec(r), (x) => (x.specHash = forged));
  const real = r.record.specHash;
  assertFinding(
    await verify(r.runDir),
    `${rec(r)}: specHash: abababababab... is not the hash of the stored spec (recomputed ${
      real.slice(0, 12)
    }...)`,
  );
});

Deno.test("verify: 3. spec edited after the run (hash no longer recomputes)", async () => {
  const r = await run();
  await editRecord(rec(r), (x) => (x.spec.encoder.ndf = 256));
  const report = await verify(r.runDir);
  const f = errors(report).find((e) => e.field === "specHash")!;
  assertEquals(f.code, "spec_hash");
  assert(
    f.message.startsWith(`${r.record.specHash.slice(0, 12)}... is not the hash of the stored spec`),
  );
  assert(errors(report).some((e) => e.field === "comparableHash"));
});

Deno.test("verify: 4. missing environment field (schema)", async () => {
  const r = await run();
  await editRecord(rec(r), (x) => delete (x.environment as unknown as Record<string, unknown>).cpu);
  assertFinding(
    await verify(r.runDir),
    `${rec(r)}: environment.cpu: missing (required by results/record.schema.json)`,
  );
});

Deno.test("verify: 5. incomplete environment (empty device, no commit)", async () => {
  const r = await run();
  await editRecord(rec(r), (x) => {
    x.environment.backend.device = "";
    x.code.commit = null;
  });
  const report = await verify(r.runDir);
  assertFinding(report, `${rec(r)}: environment.backend.device: empty (got "")`);
  assertFinding(report, `${rec(r)}: code.commit: unknown: a leaderboard run names its commit`);
});

Deno.test("verify: 6. duplicate seeds in a multi-seed submission", async () => {
  const dir = await tempDir();
  const a = await run({ seed: 3, day: "2025-04-01" }, dir);
  const b = await run({ seed: 3, day: "2025-04-02" }, dir);
  const report = await verify(dir);
  assertEquals(report.counts, { accepted: 1, rejected: 1, unreadable: 0 });
  assertFinding(
    report,
    `${rec(b)}: seeds.pretrain: 3 is also the pretrain seed of ${a.record.runId}, a run of the ` +
      `same comparable spec (${a.record.comparableHash.slice(0, 12)}...); ` +
      "the runs of a multi-seed submission need distinct seeds",
  );
  // Distinct seeds of the same comparable spec are fine.
  const ok = await tempDir();
  await run({ seed: 3 }, ok);
  await run({ seed: 4 }, ok);
  assertEquals((await verify(ok)).counts.accepted, 2);
});

Deno.test("verify: 7. protocol match claimed where the protocols differ", async () => {
  const r = await run({ dataset: "cifar10" });
  await editRecord(rec(r), (x) => {
    x.reference!.protocolMatch = true;
    x.reference!.mismatches = [];
    x.reference!.unknowns = [];
  });
  const report = await verify(r.runDir);
  const f = errors(report).find((e) => e.code === "protocol_claim")!;
  assertEquals(f.field, "reference.protocolMatch");
  assert(f.message.startsWith("true, but the protocol differs from amdim-cifar10-linear: "));
  assertEquals(report.submissions[0].verdict, "rejected");
});

Deno.test("verify: 8. truncated JSON is unreadable (exit 2)", async () => {
  const r = await run();
  const text = await Deno.readTextFile(rec(r));
  await Deno.writeTextFile(rec(r), text.slice(0, Math.floor(text.length / 2)));
  const report = await verify(r.runDir);
  assertEquals(report.counts.unreadable, 1);
  const f = report.submissions[0].findings[0];
  assertEquals(f.code, "unreadable");
  assertEquals(f.file, rec(r));
  assert(f.message.startsWith("not valid JSON: "), f.message);
  assertEquals(verifyExitCode(report), 2);
});

Deno.test("verify: 9. record not matching the schema", async () => {
  const r = await run();
  await editRecord(rec(r), (x) => {
    (x as unknown as Record<string, unknown>).status = "done";
    (x as unknown as Record<string, unknown>).score = 1;
  });
  const report = await verify(r.runDir);
  assertFinding(
    report,
    `${
      rec(r)
    }: status: must be equal to one of the allowed values, got "done" (results/record.schema.json)`,
  );
  assertFinding(report, `${rec(r)}: score: unknown field (not in results/record.schema.json)`);
});

Deno.test("verify: 10. missing metrics.jsonl", async () => {
  const r = await run();
  await Deno.remove(events(r));
  assertFinding(
    await verify(r.runDir),
    `${events(r)}: missing: the run's event log is needed to check its numbers`,
  );
});

Deno.test("verify: 11. checkpoint hash mismatch", async () => {
  const r = await run();
  const file = join(r.runDir, "checkpoints", "final.safetensors");
  await Deno.writeTextFile(file, "other weights\n");
  const listed = r.record.checkpoints!["checkpoints/final.safetensors"];
  assertFinding(
    await verify(r.runDir),
    `${rec(r)}: checkpoints.checkpoints/final.safetensors: ${
      listed.slice(0, 12)
    }... does not match the sha256 of the file (${sha256Hex("other weights\n").slice(0, 12)}...)`,
  );
});

Deno.test("verify: 12. dataset pin mismatch (and not a hash the manifest knows)", async () => {
  const r = await run({ dataset: "fashion-mnist" });
  const other = sha256Hex("other data");
  await editRecord(rec(r), (x) => (x.datasetHashes["t10k-images-idx3-ubyte.gz"] = other));
  const pin = FMNIST_PINS["t10k-images-idx3-ubyte.gz"];
  const report = await verify(r.runDir);
  assertFinding(
    report,
    `${rec(r)}: datasetHashes.t10k-images-idx3-ubyte.gz: ${other.slice(0, 12)}... does not match ` +
      `the pin spec.dataset.pins.t10k-images-idx3-ubyte.gz (${pin.slice(0, 12)}...)`,
  );
  assertFinding(
    report,
    `${rec(r)}: datasetHashes.t10k-images-idx3-ubyte.gz: ${other.slice(0, 12)}... is none of the ` +
      `sha256 datasets/manifest.json knows for it (${pin.slice(0, 12)}...)`,
  );
});

Deno.test("verify: 13. dataset hashes missing", async () => {
  const r = await run({ dataset: "fashion-mnist" });
  await editRecord(rec(r), (x) => delete x.datasetHashes["train-labels-idx1-ubyte.gz"]);
  const report = await verify(r.runDir);
  assertFinding(
    report,
    `${
      rec(r)
    }: datasetHashes: no sha256 for "train-labels-idx1-ubyte.gz", which split "train" reads`,
  );
  assertFinding(
    report,
    `${rec(r)}: datasetHashes: no sha256 for pinned file "train-labels-idx1-ubyte.gz"`,
  );
});

Deno.test("verify: 14. synthetic data fingerprint edited", async () => {
  const r = await run();
  const forged = sha256Hex("forged");
  await editRecord(rec(r), (x) => (x.datasetHashes["synthetic/test"] = forged));
  const report = await verify(r.runDir);
  const f = errors(report).find((e) => e.field === "datasetHashes.synthetic/test")!;
  assertEquals(
    f.message,
    `${forged.slice(0, 12)}... is not the fingerprint of spec.dataset.synthetic (${
      r.record.datasetHashes["synthetic/test"].slice(0, 12)
    }...)`,
  );
});

Deno.test("verify: 15. status not complete", async () => {
  const r = await run();
  await editRecord(rec(r), (x) => {
    x.status = "interrupted";
    x.reason = "stop requested; checkpoint at step 8 of 12";
  });
  assertFinding(
    await verify(r.runDir),
    `${rec(r)}: status: "interrupted" (stop requested; checkpoint at step 8 of 12): ` +
      "only complete runs can enter a leaderboard",
  );
});

Deno.test("verify: 16. unknown published reference id", async () => {
  const r = await run({ reference: "amdim-cifar10-nope" });
  assertFinding(
    await verify(r.runDir),
    `${rec(r)}: spec.reference.id: unknown published reference "amdim-cifar10-nope" ` +
      "(not in results/published.json)",
  );
});

Deno.test("verify: 17. reference value edited", async () => {
  const r = await run({ dataset: "cifar10" });
  await editRecord(rec(r), (x) => (x.reference!.value = 0.5));
  assertFinding(
    await verify(r.runDir),
    `${
      rec(r)
    }: reference.value: 0.5 does not match results/published.json amdim-cifar10-linear (0.912)`,
  );
});

Deno.test("verify: 18. metric without its eval_result event", async () => {
  const r = await run();
  const lines = (await Deno.readTextFile(events(r))).split("\n")
    .filter((l) => !l.includes('"metric":"knn.top1"'));
  await Deno.writeTextFile(events(r), lines.join("\n"));
  assertFinding(
    await verify(r.runDir),
    `${rec(r)}: metrics.knn.top1.last: 0.387 has no eval_result in metrics.jsonl`,
  );
});

Deno.test("verify: 19. corrupt event line", async () => {
  const r = await run();
  const lines = (await Deno.readTextFile(events(r))).split("\n");
  lines.splice(2, 0, '{"event":"train_step","step":');
  await Deno.writeTextFile(events(r), lines.join("\n"));
  assertFinding(await verify(r.runDir), `${events(r)}: line 3: not valid JSON`);
});

Deno.test("verify: 20. seeds that are not the spec's", async () => {
  const r = await run();
  await editRecord(rec(r), (x) => (x.seeds.pretrain = 5));
  assertFinding(
    await verify(r.runDir),
    `${rec(r)}: seeds.pretrain: 5 is not spec.pretrain.seed (1)`,
  );
});

Deno.test("verify: 21. pretraining length not what the log shows", async () => {
  const r = await run();
  await editRecord(rec(r), (x) => (x.phases.pretrain.steps = 13));
  const report = await verify(r.runDir);
  assertFinding(
    report,
    `${rec(r)}: phases.pretrain.steps: 13 but metrics.jsonl logs 12 updates (train_step events)`,
  );
  assertFinding(
    report,
    `${rec(r)}: phases.pretrain.steps: 13 is not the budget spec.pretrain.steps (12)`,
  );
});

Deno.test("verify: 22. saved spec.json disagrees with the record", async () => {
  const r = await run();
  const path = join(r.runDir, "spec.json");
  const saved = JSON.parse(await Deno.readTextFile(path));
  saved.specHash = "cd".repeat(32);
  await Deno.writeTextFile(path, JSON.stringify(saved));
  const report = await verify(r.runDir);
  const f = errors(report).find((e) => e.file === path)!;
  assertEquals(f.field, "specHash");
  assert(f.message.startsWith("cdcdcdcdcdcd... is not the hash of its spec"));
});

Deno.test("verify: 23. the same run submitted twice", async () => {
  const dir = await tempDir();
  const a = await run({}, dir);
  const copy = join(dir, "copies", basename(a.runDir));
  await copyDir(a.runDir, copy);
  const report = await verify(dir);
  // Sorted by path: copies/ comes before runs/.
  assertFinding(
    report,
    `${rec(a)}: runId: "${a.record.runId}" is also the run id of ${join(copy, "record.json")}`,
  );
  assertEquals(errors(report).length, 1, renderVerifyReport(report));
});

Deno.test("verify: unreadable input and the writer's checkpoint hashes", async () => {
  await assertRejects(
    () => loadSubmissions("/nonexistent/amdim-verify"),
    BenchError,
    "no such file or folder",
  );
  const empty = await tempDir();
  await assertRejects(() => loadSubmissions(empty), BenchError, "no record.json");
  // writeRecord lists the sha256 of every checkpoint file.
  const r = await run();
  assertEquals(r.record.checkpoints, await checkpointHashes(r.runDir));
  assertEquals(Object.keys(r.record.checkpoints!), [
    "checkpoints/final.safetensors",
    "checkpoints/last.safetensors",
  ]);
  // A record without checkpoints is accepted with a warning.
  const bare = join(await tempDir(), r.record.runId);
  await Deno.mkdir(bare);
  await Deno.copyFile(events(r), join(bare, "metrics.jsonl"));
  const { checkpoints: _, ...rest } = r.record;
  await writeRecord(bare, rest);
  const report = await verify(bare);
  assertEquals(report.counts.accepted, 1);
  assertEquals(
    report.submissions[0].findings.map((f) => `${f.severity} ${f.code}`),
    ["warning checkpoints_unlisted"],
  );
});

async function cli(path: string): Promise<{ code: number; stdout: string }> {
  const out = await runCli("verify", [path]);
  return { code: out.code, stdout: out.stdout + out.stderr };
}

Deno.test("verify CLI: exit 0 accepted, 1 rejected, 2 unreadable", async () => {
  const dir = await tempDir();
  const good = await run({}, dir);
  let r = await cli(good.runDir);
  assertEquals(r.code, 0, r.stdout);
  assert(r.stdout.includes(`ACCEPTED ${good.runDir}`), r.stdout);

  await editRecord(rec(good), (x) => (x.metrics["knn.top1"].last = 0.5));
  r = await cli(dir);
  assertEquals(r.code, 1, r.stdout);
  assert(
    r.stdout.includes(
      `${rec(good)}: metrics.knn.top1.last: 0.5 does not match metrics.jsonl eval_result (0.387)`,
    ),
    r.stdout,
  );

  r = await cli(join(dir, "nothing-here"));
  assertEquals(r.code, 2, r.stdout);
  await Deno.writeTextFile(rec(good), "{");
  r = await cli(rec(good));
  assertEquals(r.code, 2, r.stdout);
});
