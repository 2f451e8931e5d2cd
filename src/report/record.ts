/**
 * Run records: run ids, exclusive run folders, the atomic never-overwriting writer and the
 * validating reader.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import type { ValidateFunction } from "ajv";
import { BenchError } from "../util/errors.ts";
import { writeJsonAtomic } from "../util/atomic_write.ts";
import { sha256File } from "../util/hash.ts";
import { comparableHash, specHash } from "../spec/canonical.ts";
import { createAjv } from "../spec/schema.ts";
import { validateAgainstSchema } from "../spec/validate.ts";
import { formatKeyPath, pointerToPath } from "../spec/key_path.ts";
import recordSchema from "../../results/record.schema.json" with { type: "json" };
import type { RunRecord } from "./record_types.ts";

/** File name of a record inside its run folder. */
export const RECORD_FILE = "record.json";

/**
 * A run id: `<specId>-<UTC yyyymmddThhmmss>-<first 6 hex of the spec hash>`.
 *
 * @example
 * ```ts
 * makeRunId("smoke", "7258cd4f...", new Date("2025-01-02T03:04:05Z")); // "smoke-20250102T030405-7258cd"
 * ```
 */
export function makeRunId(specId: string, specHashHex: string, at: Date): string {
  const iso = at.toISOString(); // 2025-01-02T03:04:05.678Z
  const stamp = iso.slice(0, 19).replace(/[-:]/g, "");
  return `${specId}-${stamp}-${specHashHex.slice(0, 6)}`;
}

/**
 * Creates `<runsDir>/<runId>` exclusively; if that folder exists, `<runId>-2`, `-3`, ... are
 * tried. Returns the id and folder actually created.
 *
 * @example
 * ```ts
 * const { runId, dir } = await createRunDir("results/runs", makeRunId(id, hash, new Date()));
 * ```
 */
export async function createRunDir(
  runsDir: string,
  runId: string,
): Promise<{ runId: string; dir: string }> {
  await Deno.mkdir(runsDir, { recursive: true });
  for (let n = 1; n < 1000; n++) {
    const id = n === 1 ? runId : `${runId}-${n}`;
    const dir = join(runsDir, id);
    try {
      await Deno.mkdir(dir);
      return { runId: id, dir };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
  throw new BenchError("exists", "no free run folder name", { location: join(runsDir, runId) });
}

let validator: ValidateFunction | undefined;

function recordError(source: string, path: string, message: string, hint?: string): never {
  throw new BenchError("record_invalid", message, { location: `${source}: ${path}`, hint });
}

/**
 * Checks a record: the record schema, the spec inside it against the spec schema, and that
 * `specHash` and `comparableHash` are the hashes of that spec.
 *
 * @example
 * ```ts
 * validateRecord(JSON.parse(text), "results/runs/x/record.json");
 * ```
 */
export function validateRecord(value: unknown, source: string): RunRecord {
  validator ??= createAjv().compile(recordSchema as Record<string, unknown>);
  if (!validator(value)) {
    const e = validator.errors![0];
    const path = pointerToPath(e.instancePath);
    const extra = e.keyword === "additionalProperties"
      ? ` "${e.params.additionalProperty}"`
      : e.keyword === "required"
      ? ` "${e.params.missingProperty}"`
      : "";
    recordError(
      source,
      formatKeyPath(path),
      `${e.message}${extra}`,
      "records follow results/record.schema.json",
    );
  }
  const record = value as RunRecord;
  validateAgainstSchema(record.spec, () => `${source} (spec)`);
  const hash = specHash(record.spec);
  if (hash !== record.specHash) {
    recordError(
      source,
      "specHash",
      `specHash ${record.specHash} is not the hash of the stored spec (${hash})`,
      "the record was edited after it was written",
    );
  }
  if (comparableHash(record.spec) !== record.comparableHash) {
    recordError(source, "comparableHash", "comparableHash is not the hash of the stored spec");
  }
  if ((record.status === "failed" || record.status === "interrupted") && !record.reason) {
    recordError(source, "reason", `a ${record.status} record needs a reason`);
  }
  return record;
}

/**
 * sha256 of every file in `<runDir>/checkpoints/`, by path relative to the run folder, sorted
 * (`{}` when there is none).
 *
 * @example
 * ```ts
 * await checkpointHashes(runDir); // { "checkpoints/final.safetensors": "9f2c...", ... }
 * ```
 */
export async function checkpointHashes(runDir: string): Promise<Record<string, string>> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(join(runDir, "checkpoints"))) {
      if (entry.isFile && !entry.name.startsWith(".")) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    throw error;
  }
  const out: Record<string, string> = {};
  for (const name of names.sort()) {
    out[`checkpoints/${name}`] = await sha256File(join(runDir, "checkpoints", name));
  }
  return out;
}

/**
 * Validates and writes `<runDir>/record.json` atomically; an existing record is never replaced
 * (`exists` error). When the record has no `checkpoints`, the sha256 of the files in
 * `<runDir>/checkpoints/` are added (see {@linkcode checkpointHashes}).
 *
 * @example
 * ```ts
 * await writeRecord(dir, record);
 * ```
 */
export async function writeRecord(runDir: string, record: RunRecord): Promise<string> {
  const path = join(runDir, RECORD_FILE);
  if (record.checkpoints === undefined) {
    const checkpoints = await checkpointHashes(runDir);
    if (Object.keys(checkpoints).length > 0) record = { ...record, checkpoints };
  }
  validateRecord(structuredClone(record), path);
  if (basename(runDir) !== record.runId) {
    throw new BenchError(
      "record_invalid",
      `runId "${record.runId}" does not match the run folder "${basename(runDir)}"`,
      { location: path },
    );
  }
  await writeJsonAtomic(path, record, { noOverwrite: true, mkdir: false });
  return path;
}

/**
 * Reads and validates a record file.
 *
 * @example
 * ```ts
 * const record = await readRecord("results/runs/smoke-20250102T030405-7258cd/record.json");
 * ```
 */
export async function readRecord(path: string): Promise<RunRecord> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new BenchError("record_missing", "cannot read the record", { location: path, cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new BenchError("record_invalid", `not valid JSON: ${(cause as Error).message}`, {
      location: path,
    });
  }
  return validateRecord(value, path);
}

/**
 * Every `record.json` under a folder (recursively), or the file itself when `path` is a file.
 * Sorted by path. A folder with no record is an empty list.
 *
 * @example
 * ```ts
 * await findRecordFiles("results/runs"); // ["results/runs/a/record.json", ...]
 * ```
 */
export async function findRecordFiles(path: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (cause) {
    throw new BenchError("record_missing", "no such file or folder", { location: path, cause });
  }
  if (info.isFile) return [path];
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const child = join(dir, entry.name);
      if (entry.isDirectory && entry.name !== "checkpoints") await walk(child);
      else if (entry.isFile && entry.name === RECORD_FILE) out.push(child);
    }
  };
  await walk(path);
  return out.sort();
}

/**
 * Reads every record under a folder (or one file).
 *
 * @example
 * ```ts
 * const records = await readRecords("results/runs");
 * ```
 */
export async function readRecords(path: string): Promise<RunRecord[]> {
  const files = await findRecordFiles(path);
  const out: RunRecord[] = [];
  for (const file of files) out.push(await readRecord(file));
  return out;
}

/** The folder a record file lives in. */
export function runDirOf(recordPath: string): string {
  return dirname(recordPath);
}
