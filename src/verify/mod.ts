/**
 * The submission checker (`deno task verify`): whether a run may enter a leaderboard.
 *
 * @module
 */
export { type Finding, formatFinding, type Severity } from "./finding.ts";
export {
  displayPath,
  loadVerifyContext,
  type LoadVerifyContextOptions,
  type ManifestDataset,
  manifestDatasets,
  type VerifyContext,
} from "./context.ts";
export {
  type LoadedText,
  loadSubmission,
  loadSubmissions,
  SAVED_SPEC_FILE,
  type SubmissionFiles,
} from "./load_submission.ts";
export { checkSubmission, describeMismatch, type SubmissionCheck } from "./checks.ts";
export {
  renderVerifyReport,
  type SubmissionVerdict,
  type Verdict,
  verifyExitCode,
  verifyPath,
  type VerifyReport,
  verifySubmissions,
} from "./verify.ts";
