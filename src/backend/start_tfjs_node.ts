/**
 * Starts `tensorflow` (npm @tensorflow/tfjs-node) or `tensorflow-gpu` (@tensorflow/tfjs-node-gpu).
 * Both need libtensorflow 2.9.1 and a compiled addon, which their npm install script downloads;
 * without them loading fails, and this module says how to install them before importing anything
 * (a failed import would leave half-registered kernels behind).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRequire } from "node:module";
import { BenchError } from "../util/errors.ts";

/** Which tfjs-node flavour. */
export type TfjsNodeFlavour = "tensorflow" | "tensorflow-gpu";

const PACKAGES: Record<TfjsNodeFlavour, string> = {
  "tensorflow": "@tensorflow/tfjs-node",
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
};

/** The version pinned in deno.json. */
const VERSION = "4.22.0";

/**
 * The install instructions for a flavour, as one hint line.
 *
 * @example
 * ```ts
 * console.log(tfjsNodeInstallHint("tensorflow-gpu"));
 * ```
 */
export function tfjsNodeInstallHint(flavour: TfjsNodeFlavour): string {
  const pkg = PACKAGES[flavour];
  const archive = flavour === "tensorflow-gpu"
    ? "libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz"
    : "libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz";
  const gpu = flavour === "tensorflow-gpu"
    ? " The GPU build needs CUDA 11.2 and cuDNN 8.1 on the library path (LD_LIBRARY_PATH)."
    : "";
  return `install it with \`deno install --allow-scripts=npm:${pkg}@${VERSION}\` (its install ` +
    `script downloads libtensorflow 2.9.1 and the prebuilt addon from storage.googleapis.com). ` +
    `Offline: set TFJS_NODE_BASE_URI to a mirror holding ${archive} (and TFJS_NODE_CDN_STORAGE ` +
    `for the addon) before that command, or pre-place node_modules/${pkg}/deps/lib/` +
    `libtensorflow.so.2 and build the addon with \`npm rebuild ${pkg} ` +
    `--build-addon-from-source\` inside node_modules/${pkg}.${gpu}`;
}

/** Package folder of a flavour, or undefined when the package is not installed. */
function packageDir(pkg: string): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return require.resolve(`${pkg}/package.json`).replace(/\/package\.json$/, "");
  } catch {
    return undefined;
  }
}

/** What is missing for a flavour (empty when it looks loadable). */
function missingParts(dir: string): string[] {
  const missing: string[] = [];
  const exists = (p: string) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  };
  if (!exists(`${dir}/deps/lib/libtensorflow.so.2`)) {
    missing.push(`${dir}/deps/lib/libtensorflow.so.2`);
  }
  let addon = false;
  try {
    for (const entry of Deno.readDirSync(`${dir}/lib`)) {
      if (entry.isDirectory && exists(`${dir}/lib/${entry.name}/tfjs_binding.node`)) addon = true;
    }
  } catch {
    // no lib/ folder
  }
  if (!addon) missing.push(`${dir}/lib/napi-v*/tfjs_binding.node`);
  return missing;
}

/**
 * Loads tfjs-node(-gpu) and makes `tensorflow` the active tfjs backend; throws one
 * `backend_unavailable` BenchError with the install hint when it cannot.
 *
 * @example
 * ```ts
 * await startTfjsNode("tensorflow");
 * ```
 */
export async function startTfjsNode(
  flavour: TfjsNodeFlavour,
): Promise<{ device: string; details: Record<string, string> }> {
  const pkg = PACKAGES[flavour];
  const hint = tfjsNodeInstallHint(flavour);
  const dir = packageDir(pkg);
  if (!dir) {
    throw new BenchError("backend_unavailable", `${pkg} is not installed`, {
      location: `node_modules/${pkg}`,
      hint,
    });
  }
  const missing = missingParts(dir);
  if (missing.length > 0) {
    throw new BenchError(
      "backend_unavailable",
      `${flavour} needs libtensorflow 2.9.1 and the tfjs-node addon; missing: ${
        missing.join(", ")
      }`,
      { location: `node_modules/${pkg}`, hint },
    );
  }
  const other = flavour === "tensorflow" ? "tensorflow-gpu" : "tensorflow";
  if (loaded && loaded !== flavour) {
    throw new BenchError(
      "backend_unavailable",
      `${other} is already loaded in this process; ${flavour} cannot be loaded beside it`,
      { location: `node_modules/${pkg}`, hint: "start a new process for the other flavour" },
    );
  }
  try {
    if (!loaded) {
      if (flavour === "tensorflow") await import("@tensorflow/tfjs-node");
      else await import("@tensorflow/tfjs-node-gpu");
      loaded = flavour;
    }
    if (!(await tf.setBackend("tensorflow"))) throw new Error("tf.setBackend returned false");
  } catch (cause) {
    throw new BenchError("backend_unavailable", `${pkg} failed to load: ${String(cause)}`, {
      location: `node_modules/${pkg}`,
      hint,
      cause,
    });
  }
  const details: Record<string, string> = { backendPackage: `${pkg}@${VERSION}` };
  // deno-lint-ignore no-explicit-any
  const binding = (tf.backend() as any)?.binding;
  if (binding?.TF_Version) details.libtensorflow = String(binding.TF_Version);
  const device = flavour === "tensorflow-gpu"
    ? "CUDA GPU (libtensorflow-gpu)"
    : "CPU (libtensorflow)";
  return { device, details };
}

let loaded: TfjsNodeFlavour | undefined;
