/**
 * Finds a CBLAS library (OpenBLAS, a `libblas.so.3` that exports `cblas_sgemm`, or Apple's
 * Accelerate framework) at run time and opens it through Deno's FFI. Nothing is linked at build
 * time: when no library is found the caller gets a reason and a hint instead of an exception.
 *
 * @module
 */
import { openFirst, readEnv } from "./env.ts";

/** CBLAS enum values (`CblasRowMajor`, `CblasNoTrans`, `CblasTrans`). */
export const CBLAS = { rowMajor: 101, noTrans: 111, trans: 112 } as const;

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // order
      "i32", // transA
      "i32", // transB
      "i32", // M
      "i32", // N
      "i32", // K
      "f32", // alpha
      "buffer", // A
      "i32", // lda
      "buffer", // B
      "i32", // ldb
      "f32", // beta
      "buffer", // C
      "i32", // ldc
    ],
    result: "void",
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
  openblas_get_config: { parameters: [], result: "pointer", optional: true },
  openblas_get_corename: { parameters: [], result: "pointer", optional: true },
} as const;

/** The opened symbol table (optional symbols are `null` when the library lacks them). */
export type BlasSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The Debian package that provides the preferred library. */
export const DEBIAN_PACKAGE = "libopenblas0-pthread";

/** Where macOS keeps Accelerate; its `cblas_sgemm` has the standard CBLAS ABI. */
export const ACCELERATE_PATH = "/System/Library/Frameworks/Accelerate.framework/Accelerate";

/** What to install, per platform, when no library is found. */
export const INSTALL_HINT =
  `install OpenBLAS: on Debian/Ubuntu \`apt-get install ${DEBIAN_PACKAGE}\`; on macOS the ` +
  `Accelerate framework (${ACCELERATE_PATH}) is used when present; or point AMDIM_BLAS_LIB at a ` +
  `shared library that exports cblas_sgemm`;

/**
 * The default search list, most preferred first: OpenBLAS (pthread build) under its usual names
 * and Debian paths, then `libblas.so.3` (kept only if it exports `cblas_sgemm`), then macOS.
 *
 * @example
 * ```ts
 * console.log(defaultBlasSearchList().slice(0, 3));
 * ```
 */
export function defaultBlasSearchList(): string[] {
  const deb = "/usr/lib/x86_64-linux-gnu";
  const debArm = "/usr/lib/aarch64-linux-gnu";
  const list = [
    "libopenblas.so.0",
    `${deb}/openblas-pthread/libopenblas.so.0`,
    `${deb}/libopenblas.so.0`,
    `${debArm}/openblas-pthread/libopenblas.so.0`,
    `${debArm}/libopenblas.so.0`,
  ];
  for (const dir of [`${deb}/openblas-pthread`, deb, "/usr/lib64", "/usr/lib", "/usr/local/lib"]) {
    list.push(...listMatching(dir, /^libopenblasp.*\.so(\.\d+)*$/));
  }
  list.push(
    "libopenblas.so",
    `${deb}/openblas-openmp/libopenblas.so.0`,
    `${deb}/openblas-serial/libopenblas.so.0`,
    "libblas.so.3",
    `${deb}/libblas.so.3`,
    ACCELERATE_PATH,
    "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
    "/usr/local/opt/openblas/lib/libopenblas.dylib",
  );
  return [...new Set(list)];
}

function listMatching(dir: string, pattern: RegExp): string[] {
  try {
    const names: string[] = [];
    for (const entry of Deno.readDirSync(dir)) {
      if (pattern.test(entry.name)) names.push(`${dir}/${entry.name}`);
    }
    return names.sort();
  } catch {
    return [];
  }
}

/** An opened BLAS library. */
export interface BlasLibrary {
  /** The path or name it was opened by. */
  path: string;
  /** `OpenBLAS 0.3.21 ... Zen` when the library says, otherwise a short description. */
  version: string;
  /** The symbols; `cblas_sgemm` is always present. */
  symbols: BlasSymbols;
  /** Sets the thread count where the library allows it; returns the count now in effect. */
  setThreads(n: number): number;
  /** Thread count now in effect (from the library where it says, else the last request). */
  threads(): number;
  /** Closes the library. */
  close(): void;
}

/** Where {@linkcode openBlas} looks and what it reports. */
export interface OpenBlasOptions {
  /** Paths or sonames to try in order; default {@linkcode defaultBlasSearchList}. */
  searchList?: string[];
  /** A single library to use instead of searching (also read from env `AMDIM_BLAS_LIB`). */
  library?: string;
}

/** The outcome of {@linkcode openBlas}. */
export type OpenBlasResult =
  | { ok: true; library: BlasLibrary }
  | { ok: false; reason: string; hint: string };

/**
 * Opens the first library that exports `cblas_sgemm`. An explicit `library` (or env
 * `AMDIM_BLAS_LIB`) is the only candidate when given; env `AMDIM_BLAS_SEARCH=0` empties the
 * default search list.
 *
 * @example
 * ```ts
 * const r = openBlas();
 * if (r.ok) console.log(r.library.path, r.library.version);
 * ```
 */
export function openBlas(options: OpenBlasOptions = {}): OpenBlasResult {
  const explicit = options.library ?? readEnv("AMDIM_BLAS_LIB");
  let candidates: string[];
  if (explicit) candidates = [explicit];
  else if (options.searchList) candidates = options.searchList;
  else if (readEnv("AMDIM_BLAS_SEARCH") === "0") candidates = [];
  else candidates = defaultBlasSearchList();
  const opened = openFirst(candidates, SYMBOLS, (lib, path) => wrap(path, lib));
  if (opened.ok) return { ok: true, library: opened.value };
  const failures = opened.failures;
  const tried = candidates.length === 0
    ? "the search list is empty (AMDIM_BLAS_SEARCH=0 and no AMDIM_BLAS_LIB)"
    : `tried ${candidates.length} location(s): ${failures.slice(0, 4).join("; ")}` +
      (failures.length > 4 ? `; ... (${failures.length - 4} more)` : "");
  return {
    ok: false,
    reason: `no CBLAS library with cblas_sgemm found: ${tried}`,
    hint: INSTALL_HINT,
  };
}

function wrap(path: string, lib: Deno.DynamicLibrary<typeof SYMBOLS>): BlasLibrary {
  const s = lib.symbols;
  let requested = 1;
  const cString = (p: Deno.PointerValue): string =>
    p === null ? "" : new Deno.UnsafePointerView(p).getCString();
  let version = "unknown CBLAS";
  if (s.openblas_get_config) {
    version = cString(s.openblas_get_config());
    if (s.openblas_get_corename) version += ` core=${cString(s.openblas_get_corename())}`;
  } else if (path.includes("Accelerate")) {
    version = "Apple Accelerate (vecLib)";
  }
  const threads = () => s.openblas_get_num_threads ? s.openblas_get_num_threads() : requested;
  return {
    path,
    version,
    symbols: s,
    setThreads(n: number) {
      requested = Math.max(1, Math.floor(n));
      if (s.openblas_set_num_threads) s.openblas_set_num_threads(requested);
      return threads();
    },
    threads,
    close: () => lib.close(),
  };
}
