/**
 * A download progress line on stderr: bytes, rate and ETA. On a terminal one line updates in place
 * (at most ten times a second); otherwise a line is printed every 10 % (or every 30 s when the total
 * is unknown), so logs stay short.
 *
 * @module
 */
import type { DownloadProgress } from "./download.ts";

/**
 * Formats a byte count with binary units, e.g. `162.2 MiB`.
 *
 * @example
 * ```ts
 * formatBytes(170052171); // "162.2 MiB"
 * ```
 */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * Formats seconds as `h:mm:ss` or `m:ss`.
 *
 * @example
 * ```ts
 * formatDuration(83); // "1:23"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Where and how a {@linkcode ProgressBar} writes. */
export interface ProgressOptions {
  /** Update one line in place (default: whether stderr is a terminal). */
  tty?: boolean;
  /** Sink for the text (default: stderr). */
  write?: (text: string) => void;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/**
 * Renders download progress.
 *
 * @example
 * ```ts
 * const bar = new ProgressBar("cifar-10-binary.tar.gz", 170052171);
 * bar.update(1 << 20);
 * bar.finish();
 * ```
 */
export class ProgressBar {
  #label: string;
  #total: number | null;
  #tty: boolean;
  #write: (text: string) => void;
  #now: () => number;
  #start: number;
  #startBytes = 0;
  #lastDraw = -Infinity;
  #lastStep = -1;
  #bytes = 0;

  constructor(label: string, total: number | null, options: ProgressOptions = {}) {
    this.#label = label;
    this.#total = total;
    this.#tty = options.tty ?? Deno.stderr.isTerminal();
    const enc = new TextEncoder();
    this.#write = options.write ?? ((t) => Deno.stderr.writeSync(enc.encode(t)));
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Starts timing the rate at `bytes` (the size of a resumed partial file). */
  resumeAt(bytes: number): void {
    this.#bytes = bytes;
    this.#startBytes = bytes;
    this.#start = this.#now();
  }

  /** The current line, e.g. `x.tar.gz  45.2 MiB / 162.2 MiB  27.9%  5.1 MiB/s  ETA 0:23`. */
  line(): string {
    const elapsed = (this.#now() - this.#start) / 1000;
    const rate = elapsed > 0 ? (this.#bytes - this.#startBytes) / elapsed : 0;
    const parts = [this.#label, formatBytes(this.#bytes)];
    if (this.#total !== null && this.#total > 0) {
      parts[1] += ` / ${formatBytes(this.#total)}`;
      parts.push(`${(100 * this.#bytes / this.#total).toFixed(1)}%`);
    }
    parts.push(`${formatBytes(Math.round(rate))}/s`);
    if (this.#total !== null && rate > 0) {
      parts.push(`ETA ${formatDuration((this.#total - this.#bytes) / rate)}`);
    }
    return parts.join("  ");
  }

  /** Records that `bytes` bytes (in all) are on disk and redraws when due. */
  update(bytes: number): void {
    this.#bytes = bytes;
    const t = this.#now();
    if (this.#tty) {
      if (t - this.#lastDraw >= 100) {
        this.#lastDraw = t;
        this.#write(`\r${this.line()}\x1b[K`);
      }
      return;
    }
    if (this.#total !== null && this.#total > 0) {
      const step = Math.floor((10 * bytes) / this.#total);
      if (step > this.#lastStep) {
        this.#lastStep = step;
        this.#write(this.line() + "\n");
      }
    } else if (t - this.#lastDraw >= 30_000) {
      this.#lastDraw = t;
      this.#write(this.line() + "\n");
    }
  }

  /** Draws the final line and ends it. */
  finish(): void {
    if (this.#tty) this.#write(`\r${this.line()}\x1b[K\n`);
    else if (this.#total === null || this.#lastStep < 10) this.#write(this.line() + "\n");
  }
}

/**
 * A {@linkcode DownloadProgress} that draws a {@linkcode ProgressBar} per file on stderr and
 * prints notes (retries, resumes) as lines.
 *
 * @example
 * ```ts
 * await getDataset("cifar10", { progress: stderrDownloadProgress });
 * ```
 */
export function stderrDownloadProgress(name: string): DownloadProgress {
  let bar: ProgressBar | null = null;
  return {
    start(offset, total) {
      bar = new ProgressBar(name, total);
      bar.resumeAt(offset);
      if (offset > 0) console.error(`resuming ${name} at ${formatBytes(offset)}`);
    },
    update(bytes) {
      bar?.update(bytes);
    },
    finish() {
      bar?.finish();
      bar = null;
    },
    note(message) {
      console.error(message);
    },
  };
}
