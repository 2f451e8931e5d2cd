/**
 * The published leaderboard (`deno task leaderboard`): a self-contained HTML page with plots and a
 * Markdown version, built from verified records only.
 *
 * @module
 */
export {
  buildLeaderboard,
  LEADERBOARD_HTML,
  LEADERBOARD_MD,
  LEADERBOARD_TITLE,
  type LeaderboardInput,
  type LeaderboardResult,
  type LeaderboardRun,
  refreshLeaderboard,
  writeLeaderboard,
  type WriteLeaderboardOptions,
} from "./build.ts";
export { type BoardRow, boardRows, datasetsOf, runFiles } from "./rows.ts";
export {
  accuracyChartSpec,
  type AccuracyPoint,
  accuracyPoints,
  CHART_SIZE,
  computeChartSpec,
  type ComputePoint,
  computePoints,
  lossChartSpec,
  type LossPoint,
  lossPoints,
  MAX_POINTS_PER_SERIES,
  type PublishedLine,
  renderChart,
  renumberIds,
} from "./charts.ts";
export {
  type DatasetSection,
  type LeaderboardModel,
  type RejectedEntry,
  renderHtml,
  type RunCurves,
} from "./html.ts";
export { plotFiles, renderLeaderboardMarkdown } from "./markdown.ts";
