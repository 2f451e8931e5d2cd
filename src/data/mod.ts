/**
 * Datasets: the pinned manifest, readers returning uint8 HWC images and Int32 labels, verified
 * resumable downloads and safe extraction.
 *
 * @module
 */
export type { ImageDataset, OpenDatasetOptions, SyntheticParams } from "./types.ts";
export { openDataset } from "./open_dataset.ts";
export { cachedSha256, datasetFingerprint } from "./fingerprint.ts";
export {
  type DatasetEntry,
  datasetEntry,
  type DatasetFormat,
  type DatasetManifest,
  loadManifest,
  MANIFEST_PATH,
  type MemberFile,
  parseManifest,
  type SourceFile,
} from "./manifest.ts";
export { datasetDir, downloadsDir, resolveDataDir, resolveUrlBase } from "./data_dir.ts";
export { getDataset, type GetOptions, type GetResult } from "./get.ts";
export { type FileCheck, type FileStatus, verifyDataset, type VerifyReport } from "./verify.ts";
export { type DatasetLocation, locateDataset } from "./locate.ts";
export { downloadFile, type DownloadOptions, type DownloadResult } from "./download.ts";
export { type ExtractOptions, extractTarSafely } from "./extract_tar.ts";
export { type LocalPin, readLocalPins } from "./pins.ts";
export { subsetDataset } from "./subset.ts";
export { openSynthetic, renderSyntheticImage, resolveSyntheticParams } from "./synthetic.ts";
export { ProgressBar } from "./progress.ts";
