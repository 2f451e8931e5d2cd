/**
 * Memory-bound kernels on oneDNN's vectorised primitives, for one chunk of a parallel job on the
 * calling thread: elementwise add / subtract / multiply of two equal-length runs and the ReLU
 * gradient from a NaN-free ReLU output (IEEE float32 arithmetic, so bit-identical to the
 * JavaScript loops), and unpadded average pooling of whole images with its gradient.
 *
 * @module
 */
import { check, DNNL, dnnlThreadContext } from "./dnnl_library.ts";
import {
  at,
  type Built,
  cached,
  dims,
  makeStep,
  memoryDesc,
  primitiveDesc,
  ptr,
  reorderStep,
  runStep,
  type Step,
  trailingPad,
} from "./dnnl_primitives.ts";

/** The binary ops with a oneDNN path, by tfjs kernel name, to oneDNN algorithm. */
export const DNNL_BINARY_ALGS: Record<string, number> = {
  Add: DNNL.binaryAdd,
  Sub: DNNL.binarySub,
  Multiply: DNNL.binaryMul,
};

/**
 * `o[k] = a[k] op b[k]` for `k` in `[s, e)`, `op` a {@linkcode DNNL_BINARY_ALGS} value.
 *
 * @example
 * ```ts
 * dnnlBinary(DNNL_BINARY_ALGS.Add, a, b, out, 0, out.length);
 * ```
 */
export function dnnlBinary(
  alg: number,
  a: Float32Array,
  b: Float32Array,
  o: Float32Array,
  s: number,
  e: number,
): void {
  const len = e - s;
  if (len <= 0) return;
  const step = binaryStep(`binary${alg}:${len}`, alg, [len], [len]);
  runStep(step, [at(a, s), at(b, s), at(o, s)]);
}

/**
 * The cached binary primitive `dst = src0 op src1` of plain row-major shapes: `full` for `src0`
 * and `dst`, `small` (the same rank, 1 in every repeated dimension) for `src1`.
 */
function binaryStep(key: string, alg: number, full: number[], small: number[]): Step {
  return cached(key, () => {
    const { s } = dnnlThreadContext();
    const tag = full.length === 1 ? DNNL.tagX : DNNL.tagAb;
    const fullMd = memoryDesc(s, dims(...full), full.length, tag);
    const smallMd = memoryDesc(s, dims(...small), small.length, tag);
    const desc = new Uint8Array(DNNL.opDescBytes);
    check(s.dnnl_binary_desc_init(desc, alg, fullMd, smallMd, fullMd), "binary_desc_init");
    const pds: Deno.PointerValue[] = [];
    const pd = primitiveDesc(desc, pds, "binary");
    const step = makeStep(pd, [DNNL.argSrc, DNNL.argSrc1, DNNL.argDst], [
      ptr(fullMd),
      ptr(smallMd),
      ptr(fullMd),
    ]);
    return { steps: [step], pds, keep: [fullMd, smallMd] };
  }).steps[0];
}

/**
 * `o = a op b` over rows `[r0, r1)` of a row-major `[rows, cols]` matrix `a`, with `b` one row
 * of `cols` values repeated down the rows (`"row"`), one value per row repeated across it
 * (`"col"`, indexed from row 0 of the whole matrix) or one value for all (`"scalar"`). With
 * `swap`, `a` is the repeated operand and `b` the matrix (add and multiply only).
 *
 * @example
 * ```ts
 * dnnlBinaryBroadcast(DNNL_BINARY_ALGS.Add, x, bias, y, 0, rows, cols, "row", false);
 * ```
 */
export function dnnlBinaryBroadcast(
  alg: number,
  a: Float32Array,
  b: Float32Array,
  o: Float32Array,
  r0: number,
  r1: number,
  cols: number,
  repeat: "row" | "col" | "scalar",
  swap: boolean,
): void {
  const rows = r1 - r0;
  if (rows <= 0 || cols <= 0) return;
  const small = repeat === "row" ? [1, cols] : repeat === "col" ? [rows, 1] : [1, 1];
  const step = binaryStep(`binary${alg}:${repeat}:${rows}x${cols}`, alg, [rows, cols], small);
  const matrix = swap ? b : a, vector = swap ? a : b;
  runStep(step, [
    at(matrix, r0 * cols),
    repeat === "col" ? at(vector, r0) : Deno.UnsafePointer.of(vector),
    at(o, r0 * cols),
  ]);
}

/**
 * The ReLU gradient from the ReLU's output: `o[k] = dy[k] * (y[k] > 0 ? 1 : 0)` for `k` in
 * `[s, e)`; the same bits as the JavaScript loop wherever `y` is not NaN.
 *
 * @example
 * ```ts
 * dnnlReluBackward(dy, y, dx, 0, dx.length);
 * ```
 */
export function dnnlReluBackward(
  dy: Float32Array,
  y: Float32Array,
  o: Float32Array,
  s: number,
  e: number,
): void {
  const len = e - s;
  if (len <= 0) return;
  const built = cached(`relub:${len}`, () => {
    const { s: sym } = dnnlThreadContext();
    const md = memoryDesc(sym, dims(len), 1, DNNL.tagX);
    const pds: Deno.PointerValue[] = [];
    const fwd = new Uint8Array(DNNL.opDescBytes);
    check(
      sym.dnnl_eltwise_forward_desc_init(
        fwd,
        DNNL.forwardTraining,
        DNNL.eltwiseReluUseDst,
        md,
        0,
        0,
      ),
      "eltwise_forward_desc_init",
    );
    const fwdPd = primitiveDesc(fwd, pds, "relu");
    const bwd = new Uint8Array(DNNL.opDescBytes);
    check(
      sym.dnnl_eltwise_backward_desc_init(bwd, DNNL.eltwiseReluUseDst, md, md, 0, 0),
      "eltwise_backward_desc_init",
    );
    const pd = primitiveDesc(bwd, pds, "relu gradient", fwdPd);
    const step = makeStep(pd, [DNNL.argDiffDst, DNNL.argDst, DNNL.argDiffSrc], [
      ptr(md),
      ptr(md),
      ptr(md),
    ]);
    return { steps: [step], pds, keep: [md] };
  });
  runStep(built.steps[0], [at(dy, s), at(y, s), at(o, s)]);
}

/**
 * Copies `rows` runs of `len` floats: run `r` from `src[srcOffset + r * srcStride]` to
 * `dst[dstOffset + r * dstStride]` (a slice or a padding of the last dimension).
 *
 * @example
 * ```ts
 * // the first 32 of 64 channels of every pixel
 * dnnlStridedCopy(x, 0, 64, out, 0, 32, pixels, 32);
 * ```
 */
export function dnnlStridedCopy(
  src: Float32Array,
  srcOffset: number,
  srcStride: number,
  dst: Float32Array,
  dstOffset: number,
  dstStride: number,
  rows: number,
  len: number,
): void {
  if (rows <= 0 || len <= 0) return;
  const built = cached(`copy:${rows}x${len}:${srcStride}>${dstStride}`, () => {
    const { s: sym } = dnnlThreadContext();
    const strided = (stride: number) => {
      const md = new Uint8Array(DNNL.memoryDescBytes);
      check(
        sym.dnnl_memory_desc_init_by_strides(md, 2, dims(rows, len), DNNL.f32, dims(stride, 1)),
        "memory_desc_init_by_strides",
      );
      return md;
    };
    const from = strided(srcStride), to = strided(dstStride);
    const pds: Deno.PointerValue[] = [];
    const step = reorderStep(ptr(from), ptr(to), pds);
    return { steps: [step], pds, keep: [from, to] };
  });
  runStep(built.steps[0], [at(src, srcOffset), at(dst, dstOffset)]);
}

/** Shapes of an unpadded average pooling: `[N, H, W, C, OH, OW, KH, KW, sh, sw]`. */
export type PoolShape = readonly number[];

function poolKey(kind: string, p: PoolShape, images: number): string {
  return `${kind}:${images}:${p.slice(1).join(",")}`;
}

function buildPool(p: PoolShape, images: number, backward: boolean): Built {
  const { s } = dnnlThreadContext();
  const [, H, W, C, OH, OW, KH, KW, sh, sw] = p;
  const src = memoryDesc(s, dims(images, C, H, W), 4, DNNL.nhwc);
  const dst = memoryDesc(s, dims(images, C, OH, OW), 4, DNNL.nhwc);
  const strides = dims(sh, sw), kernel = dims(KH, KW), dilation = dims(0, 0);
  const padL = dims(0, 0);
  const padR = dims(trailingPad(OH, sh, KH, H, 0), trailingPad(OW, sw, KW, W, 0));
  const pds: Deno.PointerValue[] = [];
  const fwd = new Uint8Array(DNNL.opDescBytes);
  check(
    s.dnnl_pooling_v2_forward_desc_init(
      fwd,
      DNNL.forwardTraining,
      DNNL.poolingAvg,
      src,
      dst,
      strides,
      kernel,
      dilation,
      padL,
      padR,
    ),
    "pooling_forward_desc_init",
  );
  const fwdPd = primitiveDesc(fwd, pds, "average pooling");
  if (!backward) {
    const step = makeStep(fwdPd, [DNNL.argSrc, DNNL.argDst], [ptr(src), ptr(dst)]);
    return { steps: [step], pds, keep: [src, dst] };
  }
  const bwd = new Uint8Array(DNNL.opDescBytes);
  check(
    s.dnnl_pooling_v2_backward_desc_init(
      bwd,
      DNNL.poolingAvg,
      src,
      dst,
      strides,
      kernel,
      dilation,
      padL,
      padR,
    ),
    "pooling_backward_desc_init",
  );
  const pd = primitiveDesc(bwd, pds, "average pooling gradient", fwdPd);
  const step = makeStep(pd, [DNNL.argDiffDst, DNNL.argDiffSrc], [ptr(dst), ptr(src)]);
  return { steps: [step], pds, keep: [src, dst] };
}

/**
 * Average pooling of images `[n0, n1)` (NHWC, every window inside the input): `out` gets their
 * outputs. With `backward`, `x` is `dy` and `out` is `dx` (fully written for those images).
 *
 * @example
 * ```ts
 * dnnlAvgPool([64, 30, 30, 32, 14, 14, 4, 4, 2, 2], x, y, 0, 64, false);
 * ```
 */
export function dnnlAvgPool(
  p: PoolShape,
  x: Float32Array,
  out: Float32Array,
  n0: number,
  n1: number,
  backward: boolean,
): void {
  const images = n1 - n0;
  if (images <= 0) return;
  const built = cached(
    poolKey(backward ? "poolb" : "poolf", p, images),
    () => buildPool(p, images, backward),
  );
  const inImage = p[1] * p[2] * p[3], outImage = p[4] * p[5] * p[3];
  if (backward) runStep(built.steps[0], [at(x, n0 * outImage), at(out, n0 * inImage)]);
  else runStep(built.steps[0], [at(x, n0 * inImage), at(out, n0 * outImage)]);
}
