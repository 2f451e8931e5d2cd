/**
 * The `native` tfjs backend: the `cpu` backend's data model and every `cpu` kernel, with the hot
 * kernels replaced by ones that call a CBLAS library (OpenBLAS by default) through Deno's FFI and
 * by tighter JavaScript loops. The library is found at run time; without it
 * {@linkcode loadNativeBackend} reports why and what to install instead of throwing.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BlasLibrary, INSTALL_HINT, openBlas } from "./blas_library.ts";
import { BLAS_KERNELS, fusedConv2dKernel } from "./blas_kernels.ts";
import { FAST_KERNELS } from "./fast_kernels.ts";
import { bindSgemm, sgemm } from "./gemm.ts";
import { PooledCpuBackend } from "./pooled_cpu_backend.ts";
import { installNativeGradients, NATIVE_ONLY_KERNELS } from "./native_gradients.ts";
import { adamL2Kernel } from "./adam_kernel.ts";
import { batchNormTrainGradKernel, batchNormTrainKernel } from "./batch_norm_kernels.ts";
import { nceScoresGradKernel, nceScoresKernel } from "./nce_kernels.ts";
import {
  activeThreads,
  setActiveThreads,
  startedWorkers,
  startWorkers,
  workersHaveDnnl,
} from "./thread_pool.ts";
import {
  bindDnnl,
  type DnnlLibrary,
  limitDnnlThreads,
  openDnnl,
  setDnnlEnabled,
} from "./dnnl_library.ts";
import { conv2dForward } from "./conv2d.ts";
import { envSwitch, readEnv } from "./env.ts";
import { releaseDnnlPrimitives } from "./dnnl_primitives.ts";

/** The tfjs backend name this module registers. */
export const NATIVE_BACKEND_NAME = "native";

/** Options of {@linkcode loadNativeBackend}. */
export interface NativeLoadOptions {
  /**
   * Threads; default env `AMDIM_NATIVE_THREADS`, else `navigator.hardwareConcurrency`. With more
   * than one, `threads - 1` helper workers run parts of the large kernels (GEMMs included, each
   * thread calling a one-thread BLAS); with env `AMDIM_NATIVE_WORKERS=0`, or where workers cannot
   * start, the BLAS library's own threads are used instead (GEMMs only).
   */
  threads?: number;
  /** One library path to use instead of searching (default env `AMDIM_BLAS_LIB`). */
  library?: string;
  /** Replaces the default search list (mainly for tests). */
  searchList?: string[];
}

/** What {@linkcode loadNativeBackend} returns. */
export type NativeLoadResult =
  | {
    ok: true;
    info: {
      library: string;
      version: string;
      /** Threads in effect: the kernel threads (main + workers), else BLAS's own threads. */
      threads: number;
      /** Helper workers running the parallel kernels (0: BLAS threads only). */
      workers: number;
      /**
       * What runs the convolutions: `oneDNN 2.6.3 (libdnnl.so.2)`, or `im2col + BLAS` with the
       * reason oneDNN is not used.
       */
      convolutions: string;
    };
  }
  | { ok: false; reason: string; hint: string };

let loaded: BlasLibrary | null = null;
let dnnl: DnnlLibrary | null = null;
let convolutions = "im2col + BLAS";

/** The kernels that exist only on this backend, by name. */
const OWN_KERNELS: Record<string, tf.KernelFunc> = {
  NativeAdamL2: adamL2Kernel as unknown as tf.KernelFunc,
  NativeBatchNormTrain: batchNormTrainKernel as unknown as tf.KernelFunc,
  NativeBatchNormTrainGrad: batchNormTrainGradKernel as unknown as tf.KernelFunc,
  NativeFusedConv2D: fusedConv2dKernel as unknown as tf.KernelFunc,
  NativeNceScores: nceScoresKernel as unknown as tf.KernelFunc,
  NativeNceScoresGrad: nceScoresGradKernel as unknown as tf.KernelFunc,
};

/** The names of the kernels the native backend implements itself (the rest are the cpu ones). */
export function nativeKernelNames(): string[] {
  return [...Object.keys(BLAS_KERNELS), ...Object.keys(FAST_KERNELS), ...Object.keys(OWN_KERNELS)]
    .sort();
}

function threadsWanted(requested: number | undefined): number {
  if (requested !== undefined) return requested;
  const env = readEnv("AMDIM_NATIVE_THREADS");
  const parsed = env ? Number.parseInt(env, 10) : NaN;
  if (Number.isFinite(parsed) && parsed > 0) return parsed;
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** A 2x3 by 3x2 product with a known answer: guards against a library with another ABI. */
function selfTest(): string | null {
  const a = new Float32Array([1, 2, 3, 4, 5, 6]);
  const b = new Float32Array([7, 8, 9, 10, 11, 12]);
  // C starts as NaN: with beta = 0 the library must overwrite it, never read it.
  const c = new Float32Array([NaN, NaN, NaN, NaN]);
  sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
  const want = [58, 64, 139, 154];
  return want.every((v, i) => c[i] === v)
    ? null
    : `cblas_sgemm self-test gave [${[...c]}], expected [${want}]`;
}

/**
 * The kernels that replace a whole layer composition (the model composes tfjs ops when they are
 * absent); env `AMDIM_NATIVE_FUSED=0` leaves them unregistered, to compare or bisect.
 */
const FUSED_LAYER_KERNELS: readonly string[] = [
  "NativeBatchNormTrain",
  "NativeFusedConv2D",
  "NativeNceScores",
];

/** A 2x2 filter over a 3x3 image with a known answer: guards against a oneDNN with another ABI. */
function dnnlSelfTest(): string | null {
  const g = {
    batchSize: 1,
    inHeight: 3,
    inWidth: 3,
    inChannels: 1,
    outHeight: 2,
    outWidth: 2,
    outChannels: 1,
    filterHeight: 2,
    filterWidth: 2,
    strideHeight: 1,
    strideWidth: 1,
    padTop: 0,
    padLeft: 0,
  };
  const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const w = new Float32Array([1, 10, 100, 1000]);
  const y = new Float32Array(4).fill(NaN);
  try {
    conv2dForward(g, x, w, y);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const want = [5421, 6532, 8754, 9865];
  return want.every((v, i) => y[i] === v) ? null : `self-test gave [${[...y]}], expected [${want}]`;
}

/** Opens and binds oneDNN for the convolutions, unless disabled or absent (then says why). */
function loadDnnl(): void {
  if (!envSwitch("AMDIM_NATIVE_DNNL")) {
    convolutions = "im2col + BLAS (oneDNN off: AMDIM_NATIVE_DNNL=0)";
    return;
  }
  const r = openDnnl();
  if (!r.ok) {
    convolutions = `im2col + BLAS (${r.reason}; ${r.hint})`;
    return;
  }
  bindDnnl(r.library);
  setDnnlEnabled(true);
  const failed = dnnlSelfTest();
  if (failed) {
    setDnnlEnabled(false);
    releaseDnnlPrimitives();
    bindDnnl(null);
    convolutions = `im2col + BLAS (${r.library.path}: ${failed})`;
    return;
  }
  dnnl = r.library;
  convolutions = `${r.library.version} (${r.library.path})`;
}

function registerKernels(): void {
  const overrides: Record<string, tf.KernelFunc> = {
    ...(BLAS_KERNELS as Record<string, tf.KernelFunc>),
    ...(FAST_KERNELS as Record<string, tf.KernelFunc>),
    ...OWN_KERNELS,
  };
  for (const config of tf.getKernelsForBackend("cpu")) {
    if (tf.getKernel(config.kernelName, NATIVE_BACKEND_NAME)) continue;
    const own = overrides[config.kernelName];
    tf.registerKernel({
      ...config,
      backendName: NATIVE_BACKEND_NAME,
      kernelFunc: own ?? config.kernelFunc,
    });
  }
  const layerFusions = envSwitch("AMDIM_NATIVE_FUSED");
  for (const name of NATIVE_ONLY_KERNELS) {
    if (tf.getKernel(name, NATIVE_BACKEND_NAME)) continue;
    if (!layerFusions && FUSED_LAYER_KERNELS.includes(name)) continue;
    tf.registerKernel({
      kernelName: name,
      backendName: NATIVE_BACKEND_NAME,
      kernelFunc: overrides[name],
    });
  }
  installNativeGradients(NATIVE_BACKEND_NAME);
}

/**
 * Finds a BLAS library, registers the tfjs backend `native` (all cpu kernels plus the BLAS-backed
 * and hand-tuned ones) and sets the BLAS thread count. Calling it again only changes the thread
 * count. It does not make `native` the active backend: call `tf.setBackend("native")`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const r = await loadNativeBackend({ threads: 2 });
 * if (r.ok) await tf.setBackend("native");
 * else console.error(r.reason, r.hint);
 * ```
 */
export async function loadNativeBackend(opts: NativeLoadOptions = {}): Promise<NativeLoadResult> {
  await Promise.resolve();
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") {
    return { ok: false, reason: "Deno FFI (Deno.dlopen) is not available", hint: INSTALL_HINT };
  }
  if (!loaded) {
    let opened;
    try {
      opened = openBlas({ library: opts.library, searchList: opts.searchList });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const permission = /permission|--allow-ffi/i.test(reason);
      return {
        ok: false,
        reason: `cannot open a BLAS library: ${reason}`,
        hint: permission ? "run deno with --allow-ffi (or -A)" : INSTALL_HINT,
      };
    }
    if (!opened.ok) return opened;
    bindSgemm(opened.library.symbols);
    const failed = selfTest();
    if (failed) {
      bindSgemm(null);
      opened.library.close();
      return { ok: false, reason: `${opened.library.path}: ${failed}`, hint: INSTALL_HINT };
    }
    loaded = opened.library;
    loadDnnl();
    if (!tf.findBackendFactory(NATIVE_BACKEND_NAME)) {
      tf.registerBackend(NATIVE_BACKEND_NAME, () => new PooledCpuBackend(poolBytes()), 0);
    }
    registerKernels();
  }
  const wanted = threadsWanted(opts.threads);
  if (wanted > 1 && envSwitch("AMDIM_NATIVE_WORKERS")) {
    await startWorkers(wanted - 1, loaded.path, dnnl?.path);
  }
  if (dnnl && startedWorkers() > 0 && !workersHaveDnnl()) {
    setDnnlEnabled(false);
    dnnl = null;
    convolutions = "im2col + BLAS (a helper thread could not open oneDNN)";
  }
  let threads: number;
  if (wanted > 1 && startedWorkers() > 0 && envSwitch("AMDIM_NATIVE_WORKERS")) {
    loaded.setThreads(1);
    threads = setActiveThreads(wanted);
  } else {
    setActiveThreads(1);
    threads = loaded.setThreads(wanted);
  }
  // An OpenMP build of OpenBLAS sets this thread's OpenMP count too; oneDNN stays at one.
  limitDnnlThreads();
  return {
    ok: true,
    info: {
      library: loaded.path,
      version: loaded.version,
      threads,
      workers: activeThreads() - 1,
      convolutions,
    },
  };
}

/** Pool cap: env `AMDIM_NATIVE_POOL_MB`, else 1/8 of system memory, at most 2 GiB. */
function poolBytes(): number {
  const env = readEnv("AMDIM_NATIVE_POOL_MB");
  const mb = env ? Number.parseFloat(env) : NaN;
  if (Number.isFinite(mb) && mb >= 0) return mb * 2 ** 20;
  let total = 8 * 2 ** 30;
  try {
    total = Deno.systemMemoryInfo().total;
  } catch {
    // keep the default
  }
  return Math.min(2 * 2 ** 30, total / 8);
}

/**
 * The thread count now in effect (kernel threads when helper workers run, else BLAS threads), or
 * 0 when the backend is not loaded.
 */
export function nativeThreads(): number {
  if (!loaded) return 0;
  return activeThreads() > 1 ? activeThreads() : loaded.threads();
}
