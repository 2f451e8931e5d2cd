/**
 * Records and what is built from them: the record schema, writer and reader, the metrics.jsonl
 * event vocabulary, environment capture, published references, result tables and the gate.
 *
 * @module
 */
export * from "./record_types.ts";
export {
  createRunDir,
  findRecordFiles,
  makeRunId,
  readRecord,
  readRecords,
  RECORD_FILE,
  validateRecord,
  writeRecord,
} from "./record.ts";
export * from "./events.ts";
export {
  captureCode,
  captureEnvironment,
  type CommandRunner,
  cpuModel,
  runCommand,
} from "./environment.ts";
export {
  compareWithPublished,
  type Published,
  type PublishedEntry,
  readPublished,
  referenceFor,
} from "./published.ts";
export { renderCsv, renderMarkdown, type ResultRow, resultRows, writeReport } from "./tables.ts";
export {
  gate,
  GATE_EPSILON,
  gateExitCode,
  type GateInput,
  type GateReport,
  type GateRow,
  type MetricVerdict,
  renderGateReport,
  type SampleSummary,
} from "./gate.ts";
export { newestComplete, runGate, type RunGateOptions, type SpecRunner } from "./gate_inputs.ts";
export { mean, sampleVariance, studentTCdf, welchLess, type WelchResult } from "./stats.ts";
