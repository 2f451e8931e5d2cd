/**
 * Where datasets live: `--data-dir`, then `$AMDIM_DATA_DIR`, then the user's cache folder
 * (`$XDG_CACHE_HOME/amdim-bench`, else `~/.cache/amdim-bench`). Downloads go to
 * `<dataDir>/downloads/`, extracted files to `<dataDir>/<id>/`.
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";

/** Reads an environment variable; undefined when unset or not permitted. */
function env(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === undefined || v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

/** Where the data folder came from. */
export type DataDirSource = "flag" | "env" | "cache";

/**
 * Resolves the data folder and says which rule chose it.
 *
 * @example
 * ```ts
 * resolveDataDir({ dataDir: "/data" }); // { dir: "/data", source: "flag" }
 * ```
 */
export function resolveDataDir(opts: { dataDir?: string } = {}): {
  dir: string;
  source: DataDirSource;
} {
  if (opts.dataDir) return { dir: opts.dataDir, source: "flag" };
  const fromEnv = env("AMDIM_DATA_DIR");
  if (fromEnv) return { dir: fromEnv, source: "env" };
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return { dir: join(xdg, "amdim-bench"), source: "cache" };
  const home = env("HOME") ?? env("USERPROFILE");
  if (!home) {
    throw new BenchError("data_dir_unknown", "cannot find a folder for datasets", {
      hint: "pass --data-dir DIR or set AMDIM_DATA_DIR",
    });
  }
  return { dir: join(home, ".cache", "amdim-bench"), source: "cache" };
}

/**
 * The mirror base URL: `--url-base`, then `$AMDIM_DATA_URL_BASE`, else none (official URLs).
 *
 * @example
 * ```ts
 * resolveUrlBase({ urlBase: "http://127.0.0.1:8000/" }); // "http://127.0.0.1:8000"
 * ```
 */
export function resolveUrlBase(opts: { urlBase?: string } = {}): string | undefined {
  const base = opts.urlBase ?? env("AMDIM_DATA_URL_BASE");
  return base ? base.replace(/\/+$/, "") : undefined;
}

/** `<dataDir>/downloads`: archives and their `.partial` / `.corrupt-*` siblings. */
export function downloadsDir(dataDir: string): string {
  return join(dataDir, "downloads");
}

/** `<dataDir>/<id>`: the extracted files of dataset `id`. */
export function datasetDir(dataDir: string, id: string): string {
  return join(dataDir, id);
}
