/**
 * The checks on one submitted run: a pure function of the files {@linkcode loadSubmission} read
 * and of the {@linkcode VerifyContext} (no file system, no clock). Each problem becomes a
 * {@linkcode Finding} naming the file and the field.
 *
 * @module
 */
import { basename } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv";
import recordSchema from "../../results/record.schema.json" with { type: "json" };
import { BenchError } from "../util/errors.ts";
import { comparableHash, specHash } from "../spec/canonical.ts";
import { formatKeyPath, pointerToPath } from "../spec/key_path.ts";
import { checkSemantics, validateAgainstSchema } from "../spec/validate.ts";
import { metricProtocol, type Spec } from "../spec/types.ts";
import { checkEvent, EVENT, type LoggedEvent } from "../report/events.ts";
import { compareWithPublished } from "../report/published.ts";
import type { ReferenceComparison, RunRecord } from "../report/record_types.ts";
import { openSynthetic } from "../data/synthetic.ts";
import type { VerifyContext } from "./context.ts";
import { type Finding, type Severity, showNumber } from "./finding.ts";
import { isInsideRelative, type SubmissionFiles } from "./load_submission.ts";

/** What the checks found about one submission, with what they could parse. */
export interface SubmissionCheck {
  /** Every finding, in the order the checks ran. */
  findings: Finding[];
  /** The record, when it parsed and matched the record schema. */
  record: RunRecord | null;
  /** The events of metrics.jsonl, when it could be read (bad lines left out). */
  events: LoggedEvent[] | null;
  /** True when the record could not be read or parsed at all. */
  unreadable: boolean;
}

const RECORD_SCHEMA_NAME = "results/record.schema.json";

let recordValidator: ValidateFunction | undefined;

function validator(): ValidateFunction {
  recordValidator ??= new Ajv2020({ allErrors: true, verbose: true, strict: true })
    .compile(recordSchema as Record<string, unknown>);
  return recordValidator;
}

function show(value: unknown): string {
  const text = value === undefined ? "nothing" : JSON.stringify(value);
  return text.length > 70 ? `${text.slice(0, 67)}...` : text;
}

const short = (hash: string) => (typeof hash === "string" ? hash.slice(0, 12) : String(hash));

/** Collects findings for one submission. */
class Findings {
  readonly list: Finding[] = [];
  add(severity: Severity, code: string, file: string, field: string, message: string): void {
    this.list.push({ severity, code, file, field, message });
  }
  error(code: string, file: string, field: string, message: string): void {
    this.add("error", code, file, field, message);
  }
  warning(code: string, file: string, field: string, message: string): void {
    this.add("warning", code, file, field, message);
  }
}

function schemaFindings(errors: ErrorObject[], file: string, out: Findings): void {
  // One finding per place: the most telling error there (not the anyOf umbrella, not the null
  // branch of a nullable union).
  const byPath = new Map<string, ErrorObject>();
  for (const e of errors) {
    const path = [...pointerToPath(e.instancePath)];
    if (e.keyword === "required") path.push(String(e.params.missingProperty));
    if (e.keyword === "additionalProperties") path.push(String(e.params.additionalProperty));
    if (e.keyword === "propertyNames") path.push(String(e.params.propertyName));
    const key = formatKeyPath(path);
    const weak = e.keyword === "anyOf" || e.params?.type === "null";
    const before = byPath.get(key);
    if (!before || ((before.keyword === "anyOf" || before.params?.type === "null") && !weak)) {
      byPath.set(key, e);
    }
  }
  for (const [field, e] of byPath) {
    let message: string;
    if (e.keyword === "required") message = `missing (required by ${RECORD_SCHEMA_NAME})`;
    else if (e.keyword === "additionalProperties") {
      message = `unknown field (not in ${RECORD_SCHEMA_NAME})`;
    } else if (e.keyword === "propertyNames") {
      message = `not a metric name (${RECORD_SCHEMA_NAME})`;
    } else message = `${e.message}, got ${show(e.data)} (${RECORD_SCHEMA_NAME})`;
    out.error("schema", file, field, message);
  }
}

function specFieldOf(error: BenchError): string {
  // Locations look like "<locator>: key.path"; the locator below is "spec".
  const location = error.location ?? "";
  const at = location.indexOf(": ");
  const path = at >= 0 ? location.slice(at + 2) : "";
  return path && path !== "(root)" ? `spec.${path}` : "spec";
}

function checkSpec(record: RunRecord, file: string, ctx: VerifyContext, out: Findings): boolean {
  try {
    validateAgainstSchema(record.spec, () => "spec");
  } catch (error) {
    if (!(error instanceof BenchError)) throw error;
    out.error("spec_schema", file, specFieldOf(error), `${error.message} (benchmarks/schema.json)`);
    return false;
  }
  try {
    checkSemantics(record.spec, () => "spec", { datasets: ctx.datasetFacts });
  } catch (error) {
    if (!(error instanceof BenchError)) throw error;
    out.error("spec_invalid", file, specFieldOf(error), error.message);
  }
  return true;
}

function checkHashes(files: SubmissionFiles, record: RunRecord, out: Findings): void {
  const file = files.recordPath;
  const hash = specHash(record.spec);
  if (hash !== record.specHash) {
    out.error(
      "spec_hash",
      file,
      "specHash",
      `${short(record.specHash)}... is not the hash of the stored spec (recomputed ${
        short(hash)
      }...)`,
    );
  }
  const comparable = comparableHash(record.spec);
  if (comparable !== record.comparableHash) {
    out.error(
      "spec_hash",
      file,
      "comparableHash",
      `${short(record.comparableHash)}... is not the comparable hash of the stored spec ` +
        `(recomputed ${short(comparable)}...)`,
    );
  }
  if (record.specId !== record.spec.id) {
    out.error("spec_id", file, "specId", `"${record.specId}" is not spec.id "${record.spec.id}"`);
  }
  const m = /^(.*)-[0-9]{8}T[0-9]{6}-([0-9a-f]{6})(-[0-9]+)?$/.exec(record.runId);
  if (m && (m[1] !== record.spec.id || m[2] !== hash.slice(0, 6))) {
    out.error(
      "run_id",
      file,
      "runId",
      `"${record.runId}" does not name spec "${record.spec.id}" and its hash ${hash.slice(0, 6)}`,
    );
  }
  const folder = basename(files.runDir);
  if (basename(file) === "record.json" && folder !== record.runId) {
    out.error(
      "run_id",
      file,
      "runId",
      `"${record.runId}" does not match the run folder "${folder}"`,
    );
  }
  if (files.savedSpec === null) return;
  const savedFile = files.savedSpecPath;
  if ("error" in files.savedSpec) {
    out.error("saved_spec", savedFile, "", files.savedSpec.error);
    return;
  }
  let saved: { spec?: Spec; specHash?: string };
  try {
    saved = JSON.parse(files.savedSpec.text);
  } catch (error) {
    out.error("saved_spec", savedFile, "", `not valid JSON: ${(error as Error).message}`);
    return;
  }
  if (!saved || typeof saved !== "object" || !saved.spec || typeof saved.specHash !== "string") {
    out.error("saved_spec", savedFile, "", 'expected {"spec", "specHash", ...}');
    return;
  }
  const savedHash = specHash(saved.spec);
  if (savedHash !== saved.specHash) {
    out.error(
      "spec_hash",
      savedFile,
      "specHash",
      `${short(saved.specHash)}... is not the hash of its spec (recomputed ${short(savedHash)}...)`,
    );
  } else if (savedHash !== record.specHash) {
    out.error(
      "spec_hash",
      savedFile,
      "spec",
      `the spec the run started with (${short(savedHash)}...) is not the record's (${
        short(record.specHash)
      }...)`,
    );
  }
}

function checkStatus(record: RunRecord, file: string, out: Findings): void {
  if (record.status !== "complete") {
    out.error(
      "status",
      file,
      "status",
      `"${record.status}"${
        record.reason ? ` (${record.reason})` : ""
      }: only complete runs can enter a leaderboard`,
    );
  } else if (record.finishedAt === null) {
    out.error("status", file, "finishedAt", "null in a complete record");
  }
  if (record.finishedAt !== null && record.finishedAt < record.startedAt) {
    out.error(
      "dates",
      file,
      "finishedAt",
      `${record.finishedAt} is before startedAt ${record.startedAt}`,
    );
  }
  if (record.seeds.pretrain !== record.spec.pretrain.seed) {
    out.error(
      "seeds",
      file,
      "seeds.pretrain",
      `${record.seeds.pretrain} is not spec.pretrain.seed (${record.spec.pretrain.seed})`,
    );
  }
  if (record.seeds.augment !== record.spec.augment.seed) {
    out.error(
      "seeds",
      file,
      "seeds.augment",
      `${record.seeds.augment} is not spec.augment.seed (${record.spec.augment.seed})`,
    );
  }
}

/** Fields of `environment` (and `code`) that a leaderboard entry must state. */
const ENV_STRINGS = ["deno", "v8", "typescript", "tfjs", "os", "cpu"] as const;
const BACKEND_STRINGS = ["name", "requested", "tfjsVersion", "device"] as const;

function checkEnvironment(record: RunRecord, file: string, out: Findings): void {
  const env = record.environment;
  const blank = (v: unknown) => typeof v !== "string" || v.trim() === "";
  for (const key of ENV_STRINGS) {
    if (blank(env[key])) {
      out.error("environment", file, `environment.${key}`, `empty (got ${show(env[key])})`);
    }
  }
  for (const key of BACKEND_STRINGS) {
    if (blank(env.backend[key])) {
      out.error(
        "environment",
        file,
        `environment.backend.${key}`,
        `empty (got ${show(env.backend[key])})`,
      );
    }
  }
  if (env.memoryBytes === null) {
    out.error("environment", file, "environment.memoryBytes", "unknown (null)");
  }
  if (record.code.commit === null || record.code.commit.trim() === "") {
    out.error("environment", file, "code.commit", "unknown: a leaderboard run names its commit");
  }
  if (record.code.dirty === true) {
    out.warning("code_dirty", file, "code.dirty", "the run used uncommitted changes");
  }
  if (record.code.lockHash === null) {
    out.warning("environment", file, "code.lockHash", "unknown (no deno.lock)");
  }
}

/** A split's file list from the manifest, `fold-N` standing for `fold-0`, `fold-1`, ... */
function splitFilesOf(splits: Record<string, string[]>, split: string): string[] | undefined {
  if (splits[split]) return splits[split];
  for (const [name, files] of Object.entries(splits)) {
    if (name.endsWith("-N") && new RegExp(`^${name.slice(0, -1)}\\d+$`).test(split)) return files;
  }
  return undefined;
}

/** The recorded hash of a file: by its exact name, or by base name. */
function hashOf(hashes: Record<string, string>, name: string): [string, string] | undefined {
  if (name.endsWith("/")) {
    const key = Object.keys(hashes).sort().find((k) => k.startsWith(name));
    return key === undefined ? undefined : [key, hashes[key]];
  }
  if (name in hashes) return [name, hashes[name]];
  const key = Object.keys(hashes).sort().find((k) => basename(k) === name);
  return key === undefined ? undefined : [key, hashes[key]];
}

async function checkDatasets(
  record: RunRecord,
  file: string,
  ctx: VerifyContext,
  out: Findings,
): Promise<void> {
  const d = record.spec.dataset;
  const hashes = record.datasetHashes;
  if (d.id === "synthetic" && d.synthetic) {
    for (const split of [...new Set([d.trainSplit, d.testSplit])]) {
      let expected: Record<string, string>;
      try {
        expected = await openSynthetic(split, d.synthetic).fingerprint!();
      } catch (error) {
        out.error("dataset_hash", file, "spec.dataset", (error as Error).message);
        continue;
      }
      for (const [name, sha] of Object.entries(expected)) {
        if (!(name in hashes)) {
          out.error("dataset_hash", file, `datasetHashes.${name}`, "missing");
        } else if (hashes[name] !== sha) {
          out.error(
            "dataset_hash",
            file,
            `datasetHashes.${name}`,
            `${short(hashes[name])}... is not the fingerprint of spec.dataset.synthetic (${
              short(sha)
            }...)`,
          );
        }
      }
    }
    return;
  }
  const manifest = ctx.manifest[d.id];
  if (manifest) {
    for (const split of [...new Set([d.trainSplit, d.testSplit])]) {
      for (const name of splitFilesOf(manifest.splitFiles, split) ?? []) {
        if (!hashOf(hashes, name)) {
          out.error(
            "dataset_hash",
            file,
            "datasetHashes",
            `no sha256 for "${name}", which split "${split}" reads`,
          );
        }
      }
    }
  }
  if (Object.keys(hashes).length === 0) {
    out.error("dataset_hash", file, "datasetHashes", "empty: the run recorded no data file");
  }
  for (const [name, pin] of Object.entries(d.pins)) {
    if (pin === null) {
      out.warning(
        "dataset_unpinned",
        file,
        `spec.dataset.pins.${name}`,
        "not pinned (null): the data is recorded, not checked against a pin",
      );
      continue;
    }
    const got = hashOf(hashes, name);
    if (!got) {
      out.error("dataset_pin", file, "datasetHashes", `no sha256 for pinned file "${name}"`);
    } else if (got[1] !== pin) {
      out.error(
        "dataset_pin",
        file,
        `datasetHashes.${got[0]}`,
        `${short(got[1])}... does not match the pin spec.dataset.pins.${name} (${short(pin)}...)`,
      );
    }
  }
  if (manifest) {
    for (const [name, sha] of Object.entries(hashes).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const known = manifest.sha256[name] ?? manifest.sha256[basename(name)];
      if (known && !known.includes(sha)) {
        out.error(
          "dataset_manifest",
          file,
          `datasetHashes.${name}`,
          `${short(sha)}... is none of the sha256 ${ctx.manifestPath} knows for it (${
            known.map((k) => `${short(k)}...`).join(", ")
          })`,
        );
      }
    }
  }
}

function parseEvents(files: SubmissionFiles, out: Findings): LoggedEvent[] | null {
  const file = files.eventsPath;
  if ("error" in files.events) {
    out.error(
      "events_missing",
      file,
      "",
      `${files.events.error}: the run's event log is needed to check its numbers`,
    );
    return null;
  }
  const text = files.events.text;
  const lines = text.split("\n");
  const events: LoggedEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      const torn = i === lines.length - 1 && !text.endsWith("\n");
      out.error(
        "events_invalid",
        file,
        `line ${i + 1}`,
        torn ? "cut short (the log does not end with a complete line)" : "not valid JSON",
      );
      continue;
    }
    try {
      events.push(checkEvent(value, `${file}:${i + 1}`));
    } catch (error) {
      if (!(error instanceof BenchError)) throw error;
      out.error("events_invalid", file, `line ${i + 1}`, error.message);
    }
  }
  return events;
}

function checkEvents(
  files: SubmissionFiles,
  record: RunRecord,
  events: LoggedEvent[],
  out: Findings,
): void {
  const file = files.eventsPath;
  const starts = events.filter((e) => e.event === EVENT.runStart);
  if (starts.length === 0) out.error("events", file, "run_start", "no run_start event");
  for (const s of starts) {
    if (s.event !== EVENT.runStart) continue;
    if (s.runId !== record.runId) {
      out.error("events", file, "run_start.runId", `"${s.runId}" is not the record's runId`);
    }
    if (s.specHash !== record.specHash) {
      out.error(
        "events",
        file,
        "run_start.specHash",
        `${short(s.specHash)}... is not the record's specHash (${short(record.specHash)}...)`,
      );
    }
  }
  if (record.status === "complete" && !events.some((e) => e.event === EVENT.runEnd)) {
    out.error("events", file, "run_end", "no run_end event in a complete run's log");
  }

  // Final metrics against the eval_result events (the last test-split value of each metric).
  const logged = new Map<string, number>();
  for (const e of events) {
    if (e.event === EVENT.evalResult && e.split === "test") logged.set(e.metric, e.value);
  }
  const recordFile = files.recordPath;
  for (const [name, m] of Object.entries(record.metrics)) {
    const value = logged.get(name);
    if (value === undefined) {
      out.error(
        "metric_unlogged",
        recordFile,
        `metrics.${name}.last`,
        `${showNumber(m.last)} has no eval_result in metrics.jsonl`,
      );
    } else if (value !== m.last) {
      out.error(
        "metric_mismatch",
        recordFile,
        `metrics.${name}.last`,
        `${showNumber(m.last)} does not match metrics.jsonl eval_result (${showNumber(value)})`,
      );
    }
  }
  for (const [name, value] of logged) {
    if (!(name in record.metrics)) {
      out.error(
        "metric_missing",
        recordFile,
        `metrics.${name}`,
        `missing, though metrics.jsonl has an eval_result (${showNumber(value)})`,
      );
    }
  }

  // Pretraining length against the train_step events.
  const steps = record.phases.pretrain.steps;
  if (record.status === "complete" && !record.encoder) {
    const trainSteps = events.filter((e) => e.event === EVENT.trainStep);
    const last = trainSteps.length
      ? Math.max(...trainSteps.map((e) => (e as { step: number }).step))
      : -1;
    if (last + 1 !== steps) {
      out.error(
        "steps",
        recordFile,
        "phases.pretrain.steps",
        `${steps} but metrics.jsonl logs ${last + 1} updates (train_step events)`,
      );
    }
    const budget = record.spec.pretrain.steps;
    if (budget !== null && steps !== budget) {
      out.error(
        "steps",
        recordFile,
        "phases.pretrain.steps",
        `${steps} is not the budget spec.pretrain.steps (${budget})`,
      );
    }
  }
}

function checkProtocols(record: RunRecord, file: string, out: Findings): void {
  const run = new Set(record.spec.eval.map((e) => e.protocol));
  const skipped = new Set((record.encoder?.skipped ?? []).map((s) => s.protocol));
  for (const name of Object.keys(record.metrics)) {
    const protocol = metricProtocol(name);
    if (protocol && !run.has(protocol)) {
      out.error(
        "protocol_unrun",
        file,
        `metrics.${name}`,
        `protocol "${protocol}" is not in spec.eval`,
      );
    }
  }
  for (const protocol of run) {
    if (skipped.has(protocol)) continue;
    if (!Object.keys(record.metrics).some((m) => metricProtocol(m) === protocol)) {
      out.error(
        "protocol_missing",
        file,
        "metrics",
        `no metric of protocol "${protocol}", which spec.eval runs`,
      );
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkReference(record: RunRecord, file: string, ctx: VerifyContext, out: Findings): void {
  const ref = record.spec.reference;
  if (ref === null) {
    if (record.reference !== null) {
      out.error("reference", file, "reference", "set, but spec.reference is null");
    }
    return;
  }
  const entry = ctx.published.entries[ref.id];
  if (!entry) {
    out.error(
      "reference_unknown",
      file,
      "spec.reference.id",
      `unknown published reference "${ref.id}" (not in ${ctx.publishedPath})`,
    );
    return;
  }
  const expected = compareWithPublished(record.spec, ref.id, entry);
  const got = record.reference;
  if (got === null) {
    out.error("reference", file, "reference", `null, but the spec claims "${ref.id}"`);
    return;
  }
  const fields: (keyof ReferenceComparison)[] = ["id", "value", "bound", "metric", "protocol"];
  fields.push("status");
  for (const key of fields) {
    if (got[key] !== expected[key]) {
      out.error(
        "reference",
        file,
        `reference.${key}`,
        `${show(got[key])} does not match ${ctx.publishedPath} ${ref.id} (${show(expected[key])})`,
      );
    }
  }
  if (got.protocolMatch && !expected.protocolMatch) {
    out.error(
      "protocol_claim",
      file,
      "reference.protocolMatch",
      `true, but the protocol differs from ${ref.id}: ${describeMismatch(expected)}`,
    );
  } else if (
    got.protocolMatch !== expected.protocolMatch ||
    !sameList(got.mismatches, expected.mismatches) ||
    !sameList(got.unknowns, expected.unknowns)
  ) {
    out.error(
      "reference",
      file,
      "reference.mismatches",
      `the recorded protocol comparison is not the one the spec gives against ${ref.id} ` +
        `(${describeMismatch(expected) || "match"})`,
    );
  }
  if (!expected.protocolMatch) {
    out.warning(
      "protocol_mismatch",
      file,
      "reference",
      `protocol mismatch with ${ref.id}: ${describeMismatch(expected)}`,
    );
  }
  if (!(expected.metric in record.metrics)) {
    out.error(
      "reference",
      file,
      `metrics.${expected.metric}`,
      `missing: the published reference ${ref.id} is compared with it`,
    );
  }
}

/**
 * Mismatches and unknowns of a reference comparison in one line.
 *
 * @example
 * ```ts
 * describeMismatch(record.reference!); // "encoder.ndf 16 != 256; unknown: pretrain.epochs"
 * ```
 */
export function describeMismatch(ref: ReferenceComparison): string {
  return [...ref.mismatches, ...ref.unknowns.map((u) => `unknown: ${u}`)].join("; ");
}

function checkCheckpoints(files: SubmissionFiles, record: RunRecord, out: Findings): void {
  const file = files.recordPath;
  const listed = record.checkpoints;
  if (listed === undefined) {
    if (!record.encoder && record.status === "complete") {
      out.warning(
        "checkpoints_unlisted",
        file,
        "checkpoints",
        "the record lists no checkpoint sha256, so the weights cannot be checked",
      );
    }
    return;
  }
  for (const [rel, sha] of Object.entries(listed)) {
    if (!isInsideRelative(rel)) {
      out.error("checkpoint_path", file, `checkpoints.${rel}`, "not a path inside the run folder");
      continue;
    }
    const present = files.checkpointHashes[rel];
    if (present === undefined) {
      out.warning(
        "checkpoint_absent",
        file,
        `checkpoints.${rel}`,
        "file not present, sha256 not checked",
      );
    } else if (present !== sha) {
      out.error(
        "checkpoint_hash",
        file,
        `checkpoints.${rel}`,
        `${short(sha)}... does not match the sha256 of the file (${short(present)}...)`,
      );
    }
  }
}

/**
 * Checks one submitted run: its record against the record and spec schemas, the spec hash, the
 * status and seeds, the environment, the dataset hashes against the pins and the manifest, the
 * final metrics against metrics.jsonl, the protocols run, the published reference and the
 * checkpoint hashes. Pure: reads only `files` and `ctx`.
 *
 * @example
 * ```ts
 * const { findings } = await checkSubmission(await loadSubmission(dir), await loadVerifyContext());
 * ```
 */
export async function checkSubmission(
  files: SubmissionFiles,
  ctx: VerifyContext,
): Promise<SubmissionCheck> {
  const out = new Findings();
  const file = files.recordPath;
  if ("error" in files.record) {
    out.error("unreadable", file, "", files.record.error);
    return { findings: out.list, record: null, events: null, unreadable: true };
  }
  let value: unknown;
  try {
    value = JSON.parse(files.record.text);
  } catch (error) {
    out.error("unreadable", file, "", `not valid JSON: ${(error as Error).message}`);
    return { findings: out.list, record: null, events: null, unreadable: true };
  }
  const events = parseEvents(files, out);
  const validate = validator();
  if (!validate(value)) {
    schemaFindings(validate.errors ?? [], file, out);
    return { findings: out.list, record: null, events, unreadable: false };
  }
  const record = value as RunRecord;
  const specOk = checkSpec(record, file, ctx, out);
  checkHashes(files, record, out);
  if (!specOk) return { findings: out.list, record, events, unreadable: false };
  checkStatus(record, file, out);
  checkEnvironment(record, file, out);
  await checkDatasets(record, file, ctx, out);
  if (events) checkEvents(files, record, events, out);
  checkProtocols(record, file, out);
  checkReference(record, file, ctx, out);
  checkCheckpoints(files, record, out);
  return { findings: out.list, record, events, unreadable: false };
}
