/**
 * Local pins: sha256 values computed here from files whose md5 matched the manifest (the first
 * verified download), kept in `<dataDir>/pins.json`. Later checks use them as the pin, so a file
 * that changes after its first verified download is caught by sha256, not only by md5.
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";
import { writeJsonAtomic } from "../util/atomic_write.ts";

/** One recorded pin. */
export interface LocalPin {
  sha256: string;
  size: number;
  md5: string;
  /** What verified the file before its sha256 was recorded, e.g. `md5 (manifest)`. */
  verifiedBy: string;
  recordedAt: string;
}

/** `<dataDir>/pins.json`: key `<datasetId>/<file>` (archive name or member path). */
export interface LocalPins {
  schemaVersion: 1;
  pins: Record<string, LocalPin>;
}

/** Path of the pins file in a data folder. */
export function pinsPath(dataDir: string): string {
  return join(dataDir, "pins.json");
}

/**
 * Reads the local pins (empty when the file does not exist).
 *
 * @example
 * ```ts
 * const pins = await readLocalPins("/data");
 * pins.pins["stl10/stl10_binary.tar.gz"]?.sha256;
 * ```
 */
export async function readLocalPins(dataDir: string): Promise<LocalPins> {
  const path = pinsPath(dataDir);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { schemaVersion: 1, pins: {} };
    throw error;
  }
  try {
    const value = JSON.parse(text);
    if (value?.schemaVersion !== 1 || typeof value.pins !== "object") throw new Error("bad shape");
    return value as LocalPins;
  } catch (cause) {
    throw new BenchError("pins_invalid", "the local pins file is not valid", {
      location: path,
      hint: "move it away; pins are recorded again on the next verified download",
      cause,
    });
  }
}

/**
 * Records pins (merged with the existing ones; an existing different pin is an error, never
 * replaced).
 *
 * @example
 * ```ts
 * await recordLocalPins("/data", { "cifar10/cifar-10-binary.tar.gz": pin });
 * ```
 */
export async function recordLocalPins(
  dataDir: string,
  add: Record<string, LocalPin>,
): Promise<void> {
  const current = await readLocalPins(dataDir);
  for (const [key, pin] of Object.entries(add)) {
    const old = current.pins[key];
    if (old && old.sha256 !== pin.sha256) {
      throw new BenchError(
        "pin_conflict",
        `a different sha256 is already recorded for ${key}: ${old.sha256} (new ${pin.sha256})`,
        { location: pinsPath(dataDir), hint: "the file changed since its first verified download" },
      );
    }
    current.pins[key] = old ?? pin;
  }
  await writeJsonAtomic(pinsPath(dataDir), current);
}
