/**
 * The one BLAS entry point the kernels use: row-major single-precision GEMM on `Float32Array`
 * views (`C = alpha * op(A) * op(B) + beta * C`). The library is bound once by
 * {@linkcode bindSgemm}; kernels call {@linkcode sgemm}.
 *
 * @module
 */
import { type BlasSymbols, CBLAS } from "./blas_library.ts";

let bound: BlasSymbols["cblas_sgemm"] | null = null;

/**
 * Binds the `cblas_sgemm` every kernel calls (or unbinds with `null`).
 *
 * @example
 * ```ts
 * import { openBlas } from "./blas_library.ts";
 * const r = openBlas();
 * if (r.ok) bindSgemm(r.library.symbols);
 * ```
 */
export function bindSgemm(symbols: BlasSymbols | null): void {
  bound = symbols ? symbols.cblas_sgemm : null;
}

/** Whether a library is bound. */
export function sgemmBound(): boolean {
  return bound !== null;
}

/**
 * Row-major SGEMM: `C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C`. `A`, `B`, `C` may be
 * views into larger arrays (their byte offset is honoured); `lda`, `ldb`, `ldc` are the row
 * strides of the arrays as stored.
 *
 * @example
 * ```ts
 * const a = new Float32Array([1, 2, 3, 4]), b = new Float32Array([1, 0, 0, 1]);
 * const c = new Float32Array(4);
 * sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2); // c = a
 * ```
 */
export function sgemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
): void {
  if (m === 0 || n === 0) return;
  if (k === 0) {
    // BLAS leaves C untouched only when beta is 1; make the k = 0 case explicit.
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) c[i * ldc + j] = beta === 0 ? 0 : beta * c[i * ldc + j];
    }
    return;
  }
  if (bound === null) throw new Error("native backend: no BLAS library is bound");
  bound(
    CBLAS.rowMajor,
    transA ? CBLAS.trans : CBLAS.noTrans,
    transB ? CBLAS.trans : CBLAS.noTrans,
    m,
    n,
    k,
    alpha,
    a,
    lda,
    b,
    ldb,
    beta,
    c,
    ldc,
  );
}
