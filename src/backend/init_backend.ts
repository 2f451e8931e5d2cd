/**
 * `initBackend`: start a tfjs backend by name (or pick the fastest that starts) and describe it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";
import { type BackendInfo, cpuModel, setCurrentBackendInfo } from "./info.ts";
import { installKernelFixes } from "./kernel_fixes.ts";
import { type BackendName, type ConcreteBackendName, parseBackendName } from "./names.ts";
import { startNative } from "./start_native.ts";
import { startTfjsNode } from "./start_tfjs_node.ts";
import { startWasm } from "./start_wasm.ts";
import { probeWebGpuAdapter, startWebGpu } from "./start_webgpu.ts";

/** Options of {@linkcode initBackend}. */
export interface InitBackendOptions {
  /** Threads for `wasm` and `native` (default: logical CPUs, at most 8). */
  threads?: number;
  /** Where one-line notices go (default: stderr). */
  warn?: (line: string) => void;
}

/** `auto`'s order of preference. */
export const AUTO_ORDER: readonly ConcreteBackendName[] = [
  "tensorflow-gpu",
  "webgpu",
  "tensorflow",
  "native",
  "wasm",
  "cpu",
];

function defaultThreads(): number {
  return Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1));
}

function stderrLine(line: string): void {
  console.error(line);
}

/**
 * The cpu backend (and backends built on it) prints a "running TensorFlow.js in Node.js" banner
 * on first use under Deno; the record already names the backend, so it is switched off.
 */
function quietCpuBanner(): void {
  const backend = tf.backend() as { firstUse?: boolean };
  if (typeof backend.firstUse === "boolean") backend.firstUse = false;
}

/** Starts one concrete backend; `auto` says whether a software WebGPU adapter is refused. */
async function start(
  name: ConcreteBackendName,
  requested: BackendName,
  threads: number | undefined,
  warn: (line: string) => void,
): Promise<BackendInfo> {
  const base = { name, requested, tfjsVersion: tf.version_core };
  switch (name) {
    case "cpu": {
      if (!(await tf.setBackend("cpu"))) {
        throw new BenchError("backend_unavailable", "the cpu backend failed to start", {});
      }
      return {
        ...base,
        device: cpuModel(),
        threads: 1,
        details: {
          backendPackage: `@tensorflow/tfjs-backend-cpu@${tf.version_core}`,
          simd: "false",
        },
      };
    }
    case "wasm": {
      const { threads: n, details } = await startWasm(threads ?? defaultThreads());
      return { ...base, device: cpuModel(), threads: n, details };
    }
    case "webgpu": {
      const facts = await probeWebGpuAdapter();
      if (!facts) {
        throw new BenchError("backend_unavailable", "no WebGPU adapter (navigator.gpu)", {
          location: "navigator.gpu",
          hint: "this machine has no usable GPU driver; use --backend wasm",
        });
      }
      if (facts.software) {
        if (requested === "auto") {
          throw new BenchError(
            "backend_software",
            `WebGPU adapter is software (${facts.description})`,
            {
              location: "navigator.gpu",
            },
          );
        }
        warn(
          `warning: webgpu runs on a software adapter (${facts.description}); expect it to be much slower than wasm`,
        );
      }
      await startWebGpu(facts);
      return {
        ...base,
        device: facts.description,
        threads: 1,
        software: facts.software,
        details: {
          backendPackage: `@tensorflow/tfjs-backend-webgpu@${tf.version_core}`,
          ...facts.details,
        },
      };
    }
    case "tensorflow":
    case "tensorflow-gpu": {
      const { device, details } = await startTfjsNode(name);
      return { ...base, device, threads: navigator.hardwareConcurrency || 1, details };
    }
    case "native": {
      const info = await startNative(threads);
      return {
        ...base,
        device: cpuModel(),
        threads: info.threads,
        details: {
          library: info.library,
          libraryVersion: info.version,
          convolutions: info.convolutions,
        },
      };
    }
  }
}

/**
 * Sets the active tfjs backend and describes it. A named backend that cannot start is an error
 * (`backend_unavailable`, with a hint), never a silent fallback; `auto` tries, in order,
 * tensorflow-gpu, webgpu (hardware adapters only), tensorflow, native, wasm, cpu, and notes on
 * stderr why a preferred one was skipped where that is not obvious (software WebGPU adapter,
 * native unavailable). Unknown names throw `backend_unknown`.
 *
 * @example
 * ```ts
 * const info = await initBackend("auto", { threads: 2 });
 * console.log(info.name, info.device, info.threads);
 * ```
 */
export async function initBackend(
  name: BackendName | string,
  opts: InitBackendOptions = {},
): Promise<BackendInfo> {
  const requested = parseBackendName(name);
  const warn = opts.warn ?? stderrLine;
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1)) {
    throw new BenchError("usage", `threads must be a positive integer, got ${opts.threads}`, {
      location: "--threads",
    });
  }
  const candidates = requested === "auto" ? AUTO_ORDER : [requested];
  const skipped: string[] = [];
  for (const candidate of candidates) {
    let info: BackendInfo;
    try {
      info = await start(candidate, requested, opts.threads, warn);
    } catch (error) {
      if (requested !== "auto") throw error;
      const reason = error instanceof BenchError ? error.message : String(error);
      skipped.push(`${candidate}: ${reason}`);
      if (
        candidate === "webgpu" && error instanceof BenchError && error.code === "backend_software"
      ) {
        warn(`note: backend auto skipped webgpu: ${reason}`);
      } else if (candidate === "native") {
        warn(`note: backend auto skipped native: ${reason}`);
      }
      continue;
    }
    installKernelFixes(tf.getBackend());
    quietCpuBanner();
    if (skipped.length > 0) info.details.autoSkipped = skipped.join("; ");
    setCurrentBackendInfo(info);
    return info;
  }
  throw new BenchError("backend_unavailable", `no backend could start: ${skipped.join("; ")}`, {
    location: "--backend auto",
  });
}
