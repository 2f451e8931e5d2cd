/**
 * `deno task data <get|verify|where|list> [id...] [--data-dir DIR] [--url-base URL]`
 *
 * - get: download, verify and install datasets (progress on stderr; resumes partial downloads).
 * - verify: re-check every pinned file; exit 1 naming each missing, truncated or corrupt file.
 * - where: where each dataset is looked for, and which file to put where when offline.
 * - list: datasets and their status.
 *
 * @module
 */
import { join } from "node:path";
import { runMain } from "./main.ts";
import { parseFlags } from "./args.ts";
import { BenchError } from "../util/errors.ts";
import { datasetEntry, loadManifest } from "../data/manifest.ts";
import { datasetDir, downloadsDir, resolveDataDir, resolveUrlBase } from "../data/data_dir.ts";
import { getDataset } from "../data/get.ts";
import { verifyDataset } from "../data/verify.ts";
import { locateDataset } from "../data/locate.ts";
import { readLocalPins } from "../data/pins.ts";
import { stderrDownloadProgress } from "../data/progress.ts";

const USAGE =
  `usage: deno task data <get|verify|where|list> [id...] [--data-dir DIR] [--url-base URL]
  get ID...     download, verify (sha256, md5) and install; resumes partial downloads
                --remove-archive  delete archives after a verified extraction
  verify [ID]   re-check every pinned file; exit 1 if any is missing, truncated or corrupt
  where [ID]    where datasets are looked for; which file to put where when offline
  list          datasets and their status
data folder: --data-dir, then $AMDIM_DATA_DIR, then $XDG_CACHE_HOME/amdim-bench or ~/.cache/amdim-bench
mirror: --url-base URL or $AMDIM_DATA_URL_BASE (files are fetched from URL/<file name>)`;

/** Runs the `data` command; returns the exit code. */
export async function dataCommand(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, {
    string: ["data-dir", "url-base"],
    boolean: ["help", "remove-archive"],
    alias: { h: "help" },
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const [command, ...ids] = flags._;
  const dataDirFlag = flags["data-dir"] as string | undefined;
  const urlBase = flags["url-base"] as string | undefined;
  const manifest = await loadManifest();
  const resolved = resolveDataDir({ dataDir: dataDirFlag });
  const dataDir = resolved.dir;
  const all = Object.keys(manifest.datasets);
  for (const id of ids) {
    try {
      datasetEntry(manifest, id);
    } catch (error) {
      const e = error as BenchError;
      throw new BenchError("usage", e.message, { location: e.location, hint: e.hint });
    }
  }
  switch (command) {
    case "get": {
      if (ids.length === 0) {
        throw new BenchError("usage", "name the datasets to get", {
          hint: `deno task data get ${
            all.filter((i) => i !== "synthetic" && i !== "imagenet").join(" | ")
          }`,
        });
      }
      for (const id of ids) {
        const r = await getDataset(id, {
          dataDir,
          urlBase,
          manifest,
          removeArchive: flags["remove-archive"] === true,
          progress: stderrDownloadProgress,
          log: (line) => console.error(line),
        });
        if (r.pinsRecorded.length > 0) {
          console.error(
            `recorded sha256 pins in ${join(dataDir, "pins.json")}: ${r.pinsRecorded.join(", ")}`,
          );
        }
        console.log(
          `${id}: ${r.alreadyPresent ? "already present" : "installed"}${
            r.dir ? ` in ${r.dir}` : ""
          }`,
        );
      }
      return 0;
    }
    case "verify": {
      const targets = ids.length > 0 ? ids : all;
      let failed = false;
      for (const id of targets) {
        const entry = manifest.datasets[id];
        if (ids.length === 0) {
          const loc = entry.format === "synthetic"
            ? null
            : await locateDataset(id, entry, { dataDir });
          if (loc && !loc.found && !(await anyPresent(id, dataDir))) {
            console.log(`${id}: not installed`);
            continue;
          }
        }
        const report = await verifyDataset(id, { dataDir, manifest });
        for (const f of report.files) {
          const detail = f.status === "ok"
            ? `(${f.checkedBy})`
            : f.expected !== undefined
            ? `expected ${f.checkedBy ?? ""} ${f.expected}, got ${f.actual ?? "nothing"}`
            : "";
          console.log(`${id}: ${f.status.padEnd(9)} ${f.path} ${detail}`.trimEnd());
        }
        for (const n of report.notes) console.log(`${id}: note: ${n}`);
        if (report.problems.length > 0) {
          failed = true;
          console.log(`${id}: ${report.problems.length} problem(s)`);
        } else if (report.files.length > 0) console.log(`${id}: ok`);
      }
      return failed ? 1 : 0;
    }
    case "where": {
      console.log(
        `data folder: ${dataDir} (from ${
          resolved.source === "flag"
            ? "--data-dir"
            : resolved.source === "env"
            ? "$AMDIM_DATA_DIR"
            : "the user cache folder"
        })`,
      );
      const base = resolveUrlBase({ urlBase });
      console.log(`mirror: ${base ?? "(none: official URLs)"}`);
      for (const id of ids.length > 0 ? ids : all) {
        const entry = manifest.datasets[id];
        console.log(`\n${id} — ${entry.title}`);
        if (entry.format === "synthetic") {
          console.log("  generated from a seed; nothing on disk");
          continue;
        }
        const loc = await locateDataset(id, entry, { dataDir });
        for (const c of loc.candidates) {
          console.log(
            `  ${c.dir === loc.found ? "*" : " "} ${c.dir} [${c.kind}] ${
              c.complete ? "complete" : "not there"
            }`,
          );
        }
        if (entry.format === "image-folder") {
          console.log(
            "  not downloadable: put <dir>/train/<wnid>/*.JPEG and <dir>/val/<wnid>/*.JPEG there (or set AMDIM_IMAGENET_DIR)",
          );
          continue;
        }
        const pins = await readLocalPins(dataDir);
        for (const s of entry.sources) {
          const dest = s.kind === "file"
            ? join(datasetDir(dataDir, id), s.name)
            : join(downloadsDir(dataDir), s.name);
          const sha = s.sha256 ?? pins.pins[`${id}/${s.name}`]?.sha256;
          console.log(
            `  offline: put ${s.name} (${s.size ?? "?"} bytes, ${
              sha ? `sha256 ${sha}` : `md5 ${s.md5}`
            }) at ${dest}, then run \`deno task data get ${id}\``,
          );
          console.log(`           from ${base ? `${base}/${s.name}` : s.urls.join(" or ")}`);
        }
      }
      return 0;
    }
    case "list": {
      for (const id of all) {
        const entry = manifest.datasets[id];
        let status: string;
        if (entry.format === "synthetic") status = "generated from a seed";
        else {
          const loc = await locateDataset(id, entry, { dataDir });
          status = loc.found
            ? `installed (${loc.found})`
            : entry.format === "image-folder"
            ? "user-supplied, not found"
            : "not installed";
        }
        const splits = Object.keys(entry.splits).join(", ");
        console.log(
          `${id.padEnd(14)} ${status}\n${" ".repeat(15)}${entry.title}; splits: ${splits}`,
        );
      }
      return 0;
    }
    default:
      throw new BenchError("usage", command ? `unknown command '${command}'` : "no command given", {
        hint: USAGE,
      });
  }
}

async function anyPresent(id: string, dataDir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(datasetDir(dataDir, id))) return true;
  } catch {
    // not there
  }
  return false;
}

if (import.meta.main) runMain(dataCommand);
