/**
 * CPU-time clocks for measuring on a shared machine, where wall time depends on other jobs:
 * the process clock (all threads, BLAS workers included) and the calling thread's clock, read
 * with `clock_gettime` through Deno's FFI (about 1 µs a call). Without FFI or libc they fall back
 * to `/proc/self/stat` (10 ms resolution; process only) and finally to wall time.
 *
 * @module
 */

/** Which clock a reading came from. */
export type CpuClockSource = "clock_gettime" | "proc" | "wall";

const CLOCK_PROCESS_CPUTIME_ID = 2;
const CLOCK_THREAD_CPUTIME_ID = 3;

let reader: ((id: number) => number) | null = null;
let source: CpuClockSource | null = null;

function init(): void {
  if (source) return;
  try {
    const lib = Deno.dlopen("libc.so.6", {
      clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
    });
    const ts = new BigInt64Array(2);
    const fn = lib.symbols.clock_gettime;
    const read = (id: number) => {
      if (fn(id, ts) !== 0) return NaN;
      return Number(ts[0]) * 1e3 + Number(ts[1]) / 1e6;
    };
    if (Number.isFinite(read(CLOCK_PROCESS_CPUTIME_ID))) {
      reader = read;
      source = "clock_gettime";
      return;
    }
    lib.close();
  } catch {
    // no FFI permission or no glibc: fall through
  }
  try {
    procMs();
    source = "proc";
  } catch {
    source = "wall";
  }
}

function procMs(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[11], fields[12] = utime, stime (fields 14, 15 of proc(5)), in clock ticks (100 Hz).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Milliseconds of CPU time used by the whole process (every thread) so far.
 *
 * @example
 * ```ts
 * const c0 = processCpuMs();
 * work();
 * console.log(`${processCpuMs() - c0} CPU-ms`);
 * ```
 */
export function processCpuMs(): number {
  init();
  if (reader) return reader(CLOCK_PROCESS_CPUTIME_ID);
  if (source === "proc") return procMs();
  return performance.now();
}

/**
 * Milliseconds of CPU time used by the calling thread so far (process time without
 * `clock_gettime`, wall time without either).
 *
 * @example
 * ```ts
 * const t0 = threadCpuMs();
 * kernel();
 * const dt = threadCpuMs() - t0;
 * ```
 */
export function threadCpuMs(): number {
  init();
  if (reader) return reader(CLOCK_THREAD_CPUTIME_ID);
  return processCpuMs();
}

/**
 * The clock {@linkcode processCpuMs} and {@linkcode threadCpuMs} read.
 *
 * @example
 * ```ts
 * if (cpuClockSource() === "wall") console.warn("no CPU clock: timings are wall time");
 * ```
 */
export function cpuClockSource(): CpuClockSource {
  init();
  return source!;
}
