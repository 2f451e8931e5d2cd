/**
 * Multi-threaded `wasm` backend under Deno. The threaded build of tfjs-backend-wasm starts its
 * Emscripten pthread workers with `new Worker(<blob: URL>)`, using Node's `worker_threads`
 * because Deno presents itself as Node to npm packages; Deno's `worker_threads` refuses blob URLs
 * (`ERR_WORKER_PATH`). The package also switches threads off whenever it runs under Node, and the
 * C++ side caps the pool at half of `os.cpus().length`.
 *
 * {@linkcode preparePthreadWorkers} makes the threaded build start:
 * - `Worker` (which the Emscripten glue overwrites with `worker_threads.Worker`) is replaced, for
 *   blob URLs only, by a `worker_threads` worker that evaluates the package's own pthread worker
 *   script (read from the installed package) with a small prelude defining the bundle's CommonJS
 *   names (`require$$0`, `commonjsGlobal`, ...) and letting `importScripts` read `data:` URLs;
 * - the main-script Blob each worker is asked to load is converted to such a `data:` URL;
 * - `os.cpus()` reports `2 × threads` while the module initialises, so the pool gets `threads`.
 *
 * @module
 */
import { Worker as NodeWorker } from "node:worker_threads";
import os from "node:os";

/** Reads the pthread worker script embedded in the installed tfjs-backend-wasm bundle. */
function readWorkerScript(distDir: URL): string {
  const bundle = Deno.readTextFileSync(new URL("tf-backend-wasm.node.js", distDir));
  const match = bundle.match(/\nvar wasmWorkerContents = ("(?:[^"\\]|\\.)*");\n/);
  if (!match) throw new Error("wasmWorkerContents not found in tf-backend-wasm.node.js");
  // The bundle escapes newlines in the same way before turning the text into a Blob.
  return (JSON.parse(match[1]) as string).replace(/\n/g, "\\n");
}

/** Code run at the start of each pthread worker, before the package's worker script. */
function workerSource(distDir: URL): string {
  const prelude = `
globalThis.__tfjsRealRequire = require;
const __fs = require("fs");
const __fsData = new Proxy(__fs, { get(target, key) {
  if (key !== "readFileSync") return target[key];
  return (file, enc) => {
    const s = String(file);
    if (!s.startsWith("data:")) return __fs.readFileSync(file, enc);
    const text = decodeURIComponent(s.slice(s.indexOf(",") + 1));
    return enc ? text : new TextEncoder().encode(text);
  };
} });
for (const k of ["self", "location", "postMessage", "Worker", "importScripts", "performance", "require", "Module"]) {
  Object.defineProperty(globalThis, k, { value: globalThis[k], writable: true, configurable: true, enumerable: true });
}
globalThis.require$$0 = __fsData;
globalThis.require$$1 = require("path");
globalThis.require$$3 = require("perf_hooks");
globalThis.require$$4 = require("os");
globalThis.commonjsGlobal = globalThis;
globalThis.__dirname = ${JSON.stringify(decodeURIComponent(distDir.pathname))};
globalThis._scriptDir = undefined;
`;
  const wrappedRequire = `(name) => name === "fs" ? __fsData : globalThis.__tfjsRealRequire(name)`;
  return `${prelude}\n(function (require) {\n${readWorkerScript(distDir)}\n})(${wrappedRequire});`;
}

/** Creates the `worker_threads` worker class used for the pthread pool. */
function pthreadWorkerClass(source: string) {
  return class PthreadWorker extends NodeWorker {
    #pending: Promise<void> = Promise.resolve();
    #loading = false;
    constructor() {
      super(source, { eval: true });
    }
    /**
     * Keeps the process alive only until the worker has loaded (Emscripten unrefs it then): once
     * a pool thread runs it idles between kernels, and every kernel is fork-join from the main
     * thread, so the process may end whenever the main thread is done.
     */
    override ref(): void {}
    // deno-lint-ignore no-explicit-any
    override postMessage(message: any, transfer?: any): void {
      if (message?.cmd === "load" && message.urlOrBlob instanceof Blob) {
        // Emscripten waits for this worker's "loaded" reply before using it, so the load message
        // may go out a little later, once the Blob's text is read.
        this.#loading = true;
        this.#pending = (message.urlOrBlob as Blob).text().then((text) => {
          this.#loading = false;
          super.postMessage(
            { ...message, urlOrBlob: `data:text/javascript,${encodeURIComponent(text)}` },
            transfer,
          );
        });
        return;
      }
      // Messages after "load" must go out synchronously: the main thread may block in
      // pthread_create waiting for the worker.
      if (this.#loading) {
        this.#pending = this.#pending.then(() => super.postMessage(message, transfer));
        return;
      }
      super.postMessage(message, transfer);
    }
  };
}

let installed = false;

/**
 * Installs the pthread worker shims (idempotent) and returns a function that runs `init` with
 * `os.cpus()` reporting `2 × threads` (the wasm module caps its pool at half the CPU count).
 *
 * @example
 * ```ts
 * const withCpus = preparePthreadWorkers(distDir);
 * await withCpus(4, () => tf.setBackend("wasm"));
 * ```
 */
export function preparePthreadWorkers(
  distDir: URL,
): <T>(threads: number, init: () => Promise<T>) => Promise<T> {
  if (!installed) {
    const PthreadWorker = pthreadWorkerClass(workerSource(distDir));
    const WebWorker = globalThis.Worker;
    // A constructor that hands blob: URLs (only the wasm pthread workers use them here) to the
    // pthread worker class and everything else to Deno's Worker. Assignments are ignored, because
    // the Emscripten glue assigns worker_threads.Worker to the global.
    const DispatchWorker = function (url: string | URL, options?: WorkerOptions): unknown {
      if (typeof url === "string" && url.startsWith("blob:")) return new PthreadWorker();
      return new WebWorker(url, options);
    };
    DispatchWorker.prototype = WebWorker.prototype;
    Object.defineProperty(globalThis, "Worker", {
      configurable: true,
      enumerable: false,
      get: () => DispatchWorker,
      set: () => {},
    });
    installed = true;
  }
  return async (threads, init) => {
    const cpus = os.cpus;
    const fake = () => {
      const real = cpus.call(os);
      return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]);
    };
    (os as { cpus: typeof os.cpus }).cpus = fake;
    try {
      return await init();
    } finally {
      (os as { cpus: typeof os.cpus }).cpus = cpus;
    }
  };
}
