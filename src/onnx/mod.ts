/**
 * ONNX interchange: exporting AMDIM encoders to ONNX, running ONNX image encoders with ONNX
 * Runtime (feature extraction, r1 for `amdim-offline`, `bench --encoder`), and the tfjs-vs-ONNX
 * Runtime feature path choice and throughput.
 *
 * @module
 */
export * from "./onnx_graph.ts";
export * from "./pre_bn.ts";
export * from "./export_encoder.ts";
export * from "./export_run.ts";
export * from "./ort_session.ts";
export * from "./ort_features.ts";
export * from "./ort_r1_source.ts";
export * from "./throughput.ts";
export * from "./select_extractor.ts";
export * from "./onnx_bench.ts";
export * from "./bench_onnx_cli.ts";
export * from "./perf_features.ts";
