/**
 * Starts the `webgpu` backend on Deno's `navigator.gpu` and tells hardware adapters from
 * software ones (llvmpipe, lavapipe, SwiftShader, WARP: correct but far slower than `wasm`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { BenchError } from "../util/errors.ts";

/** What the WebGPU adapter says about itself. */
export interface AdapterFacts {
  /** Adapter description (or vendor/architecture when there is none). */
  description: string;
  /** True for fallback/software adapters. */
  software: boolean;
  /** Raw adapter info fields. */
  details: Record<string, string>;
}

const SOFTWARE_PATTERN =
  /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render|warp/i;

/**
 * Classifies adapter info: software when `isFallbackAdapter` is set or a vendor, device or
 * description string names a software rasteriser.
 *
 * @example
 * ```ts
 * isSoftwareAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" }); // true
 * ```
 */
export function isSoftwareAdapter(info: Record<string, unknown>, isFallback = false): boolean {
  if (isFallback || info.isFallbackAdapter === true) return true;
  return ["vendor", "architecture", "device", "description"].some((k) =>
    typeof info[k] === "string" && SOFTWARE_PATTERN.test(info[k] as string)
  );
}

/**
 * Asks `navigator.gpu` for the adapter tfjs will get (same power preference); undefined when there
 * is none.
 *
 * @example
 * ```ts
 * const facts = await probeWebGpuAdapter();
 * if (facts?.software) console.error("software WebGPU adapter");
 * ```
 */
export async function probeWebGpuAdapter(): Promise<AdapterFacts | undefined> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  if (!gpu) return undefined;
  const lowPower = tf.env().getBool("WEBGPU_USE_LOW_POWER_GPU");
  const adapter = await gpu.requestAdapter({
    powerPreference: lowPower ? "low-power" : "high-performance",
  });
  if (!adapter) return undefined;
  const raw = ((adapter as unknown as { info?: unknown }).info ?? {}) as Record<string, unknown>;
  const details: Record<string, string> = {};
  for (const key of ["vendor", "architecture", "device", "description", "isFallbackAdapter"]) {
    if (raw[key] !== undefined && raw[key] !== "") details[key] = String(raw[key]);
  }
  const isFallback =
    (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const description = details.description ||
    [details.vendor, details.architecture, details.device].filter(Boolean).join(" ") ||
    "unknown WebGPU adapter";
  return { description, software: isSoftwareAdapter(raw, isFallback), details };
}

/**
 * Starts `webgpu` on the given adapter facts (from {@linkcode probeWebGpuAdapter}).
 *
 * @example
 * ```ts
 * const facts = await probeWebGpuAdapter();
 * if (facts) await startWebGpu(facts);
 * ```
 */
export async function startWebGpu(facts: AdapterFacts): Promise<void> {
  let ok = false;
  let cause: unknown;
  try {
    ok = await tf.setBackend("webgpu");
  } catch (e) {
    cause = e;
  }
  if (!ok) {
    throw new BenchError("backend_unavailable", "the webgpu backend failed to start", {
      location: facts.description,
      hint: "check the GPU driver (Vulkan/Metal/DX12), or use --backend wasm",
      cause,
    });
  }
}
