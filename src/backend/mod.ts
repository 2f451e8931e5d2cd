/**
 * Backends: start a tfjs backend by name (`initBackend`), describe it (`describeBackend`), and the
 * kernel replacements the backends need for AMDIM training.
 *
 * @module
 */
export * from "./names.ts";
export * from "./info.ts";
export * from "./init_backend.ts";
export * from "./conv_grad_kernels.ts";
export * from "./kernel_fixes.ts";
export { isSoftwareAdapter, probeWebGpuAdapter } from "./start_webgpu.ts";
export type { AdapterFacts } from "./start_webgpu.ts";
export { tfjsNodeInstallHint } from "./start_tfjs_node.ts";
export type { NativeLoadResult } from "./start_native.ts";
