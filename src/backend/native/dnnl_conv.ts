/**
 * One piece (a run of whole images) of a convolution or of either of its gradients, on oneDNN's
 * JIT convolution kernels. Activations stay NHWC and filters HWIO in the caller's buffers; the
 * filter (or filter gradient) goes through a small reorder to and from the layout oneDNN picks.
 * Primitives are built once per shape on each thread and kept (see `dnnl_primitives.ts`).
 * Every call runs on the calling thread only, so a piece's result depends only on its shapes.
 *
 * @module
 */
import type { ConvGeometry } from "./conv2d.ts";
import { check, DNNL, type DnnlSymbols, dnnlThreadContext, outPointer } from "./dnnl_library.ts";
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
  userScratchAttr,
} from "./dnnl_primitives.ts";

/** Which of the three computations a piece runs. */
export const DNNL_CONV = { forward: 0, backwardData: 1, backwardWeights: 2 } as const;

/** One of {@linkcode DNNL_CONV}'s values. */
export type DnnlConvKind = typeof DNNL_CONV[keyof typeof DNNL_CONV];

/**
 * Forward epilogue flags, applied in this order: add a per-channel bias, add a residual of the
 * output's shape, then ReLU (as `conv2d.ts`'s EPILOGUE).
 */
export const DNNL_POST = { bias: 1, relu: 2, residual: 4 } as const;

interface Plan extends Built {
  conv: Step;
  /** The filter reorder (HWIO to oneDNN's layout, or back for the filter gradient), if needed. */
  reorder: Step | null;
  /** Bytes of the filter in oneDNN's layout (0: HWIO is used as it is). */
  filterBytes: number;
}

let filterBuffer = new Float32Array(0);

function keyOf(kind: DnnlConvKind, g: ConvGeometry, images: number, post: number): string {
  return `conv${kind}:${images}:${post}:${g.inHeight}x${g.inWidth}x${g.inChannels}>` +
    `${g.outHeight}x${g.outWidth}x${g.outChannels}:${g.filterHeight}x${g.filterWidth}/` +
    `${g.strideHeight}x${g.strideWidth}+${g.padTop},${g.padLeft}`;
}

/**
 * Attaches the epilogue as post-ops (binary add of a `[1, C, 1, 1]` bias, binary add of a
 * residual shaped as `dst`, then ReLU); returns the descriptors of the added operands in order.
 */
function setPostOps(
  s: DnnlSymbols,
  attr: Deno.PointerValue,
  post: number,
  channels: number,
  dst: Uint8Array,
): Uint8Array[] {
  if (post === 0) return [];
  const cell = new BigUint64Array(1);
  check(s.dnnl_post_ops_create(cell), "post_ops_create");
  const ops = outPointer(cell);
  const operands: Uint8Array[] = [];
  try {
    if (post & DNNL_POST.bias) {
      const biasMd = memoryDesc(s, dims(1, channels, 1, 1), 4, DNNL.nchw);
      check(s.dnnl_post_ops_append_binary(ops, DNNL.binaryAdd, biasMd), "post_ops bias add");
      operands.push(biasMd);
    }
    if (post & DNNL_POST.residual) {
      check(s.dnnl_post_ops_append_binary(ops, DNNL.binaryAdd, dst), "post_ops residual add");
      operands.push(dst);
    }
    if (post & DNNL_POST.relu) {
      check(s.dnnl_post_ops_append_eltwise(ops, 1, DNNL.eltwiseRelu, 0, 0), "post_ops relu");
    }
    check(s.dnnl_primitive_attr_set_post_ops(attr, ops), "attr_set_post_ops");
  } finally {
    s.dnnl_post_ops_destroy(ops);
  }
  return operands;
}

function buildPlan(kind: DnnlConvKind, g: ConvGeometry, images: number, post: number): Plan {
  const { s } = dnnlThreadContext();
  const pds: Deno.PointerValue[] = [];
  const src = memoryDesc(s, dims(images, g.inChannels, g.inHeight, g.inWidth), 4, DNNL.nhwc);
  const dst = memoryDesc(s, dims(images, g.outChannels, g.outHeight, g.outWidth), 4, DNNL.nhwc);
  const wDims = dims(g.outChannels, g.inChannels, g.filterHeight, g.filterWidth);
  const wAny = memoryDesc(s, wDims, 4, DNNL.tagAny);
  const hwio = memoryDesc(s, wDims, 4, DNNL.hwio);
  const padBottom = trailingPad(g.outHeight, g.strideHeight, g.filterHeight, g.inHeight, g.padTop);
  const padRight = trailingPad(g.outWidth, g.strideWidth, g.filterWidth, g.inWidth, g.padLeft);
  const strides = dims(g.strideHeight, g.strideWidth);
  const padL = dims(g.padTop, g.padLeft), padR = dims(padBottom, padRight);
  const keep = [src, dst, wAny, hwio];
  const fwd = new Uint8Array(DNNL.opDescBytes);
  check(
    s.dnnl_convolution_forward_desc_init(
      fwd,
      DNNL.forwardTraining,
      DNNL.convolutionDirect,
      src,
      wAny,
      null,
      dst,
      strides,
      padL,
      padR,
    ),
    "convolution_forward_desc_init",
  );
  // The forward primitive a backward one is hinted with carries no epilogue.
  const attr = userScratchAttr(s);
  let operands: Uint8Array[] = [];
  let fwdPd: Deno.PointerValue;
  try {
    if (kind === DNNL_CONV.forward) operands = setPostOps(s, attr, post, g.outChannels, dst);
    fwdPd = primitiveDesc(fwd, pds, "convolution forward", null, attr);
  } finally {
    s.dnnl_primitive_attr_destroy(attr);
  }
  let pd = fwdPd;
  if (kind === DNNL_CONV.backwardData) {
    const desc = new Uint8Array(DNNL.opDescBytes);
    check(
      s.dnnl_convolution_backward_data_desc_init(
        desc,
        DNNL.convolutionDirect,
        src,
        wAny,
        dst,
        strides,
        padL,
        padR,
      ),
      "convolution_backward_data_desc_init",
    );
    pd = primitiveDesc(desc, pds, "convolution backward data", fwdPd);
  } else if (kind === DNNL_CONV.backwardWeights) {
    const desc = new Uint8Array(DNNL.opDescBytes);
    check(
      s.dnnl_convolution_backward_weights_desc_init(
        desc,
        DNNL.convolutionDirect,
        src,
        wAny,
        null,
        dst,
        strides,
        padL,
        padR,
      ),
      "convolution_backward_weights_desc_init",
    );
    pd = primitiveDesc(desc, pds, "convolution backward weights", fwdPd);
  }
  const weightsMd = s.dnnl_primitive_desc_query_md(
    pd,
    kind === DNNL_CONV.backwardWeights ? DNNL.queryDiffWeightsMd : DNNL.queryWeightsMd,
    0,
  );
  const plain = s.dnnl_memory_desc_equal(weightsMd, ptr(hwio)) === 1;
  const filterBytes = plain ? 0 : Number(s.dnnl_memory_desc_get_size(weightsMd));
  let reorder: Step | null = null;
  if (!plain) {
    reorder = kind === DNNL_CONV.backwardWeights
      ? reorderStep(weightsMd, ptr(hwio), pds)
      : reorderStep(ptr(hwio), weightsMd, pds);
  }
  const mds = [ptr(src), weightsMd, ptr(dst)];
  let conv: Step;
  if (kind === DNNL_CONV.forward) {
    const args: number[] = [DNNL.argSrc, DNNL.argWeights, DNNL.argDst];
    operands.forEach((md, i) => {
      keep.push(md);
      args.push(DNNL.argPostOpSrc1(i));
      mds.push(ptr(md));
    });
    conv = makeStep(pd, args, mds);
  } else if (kind === DNNL_CONV.backwardData) {
    conv = makeStep(pd, [DNNL.argDiffSrc, DNNL.argWeights, DNNL.argDiffDst], mds);
  } else {
    conv = makeStep(pd, [DNNL.argSrc, DNNL.argDiffWeights, DNNL.argDiffDst], mds);
  }
  return { conv, reorder, filterBytes, steps: reorder ? [conv, reorder] : [conv], pds, keep };
}

function filterScratch(bytes: number): Deno.PointerValue {
  if (filterBuffer.byteLength < bytes) filterBuffer = new Float32Array(Math.ceil(bytes / 4));
  return Deno.UnsafePointer.of(filterBuffer);
}

/**
 * Runs images `[n0, n1)` of one convolution computation on this thread:
 * - `forward`: `a` = x (NHWC), `b` = w (HWIO), `out` = y (NHWC), written for those images,
 *   then `post` ({@linkcode DNNL_POST} flags) applied in registers: `+ bias[c]`, then
 *   `+ residual` (same layout as y), each rounded to float32 as a separate Add, then ReLU as
 *   `max(v, +0)` (negative and -0 give +0, NaN gives 0);
 * - `backwardData`: `a` = dy, `b` = w, `out` = dx, written for those images;
 * - `backwardWeights`: `a` = x, `b` = dy, `out` = dw (HWIO), the images' sum, fully written.
 *
 * @example
 * ```ts
 * dnnlConvPiece(DNNL_CONV.forward, g, 0, g.batchSize, x, w, y);
 * ```
 */
export function dnnlConvPiece(
  kind: DnnlConvKind,
  g: ConvGeometry,
  n0: number,
  n1: number,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  post = 0,
  bias?: Float32Array,
  residual?: Float32Array,
): void {
  const images = n1 - n0;
  if (images <= 0) return;
  const p = kind === DNNL_CONV.forward ? post : 0;
  const plan = cached(keyOf(kind, g, images, p), () => buildPlan(kind, g, images, p));
  const inImage = g.inHeight * g.inWidth * g.inChannels;
  const outImage = g.outHeight * g.outWidth * g.outChannels;
  if (kind === DNNL_CONV.backwardWeights) {
    const target = plan.reorder ? filterScratch(plan.filterBytes) : Deno.UnsafePointer.of(out);
    runStep(plan.conv, [at(a, n0 * inImage), target, at(b, n0 * outImage)]);
    if (plan.reorder) runStep(plan.reorder, [target, Deno.UnsafePointer.of(out)]);
    return;
  }
  let filter = Deno.UnsafePointer.of(b);
  if (plan.reorder) {
    const to = filterScratch(plan.filterBytes);
    runStep(plan.reorder, [filter, to]);
    filter = to;
  }
  if (kind === DNNL_CONV.forward) {
    const handles = [at(a, n0 * inImage), filter, at(out, n0 * outImage)];
    if (p & DNNL_POST.bias) handles.push(Deno.UnsafePointer.of(bias!));
    if (p & DNNL_POST.residual) handles.push(at(residual!, n0 * outImage));
    runStep(plan.conv, handles);
  } else {
    runStep(plan.conv, [at(out, n0 * inImage), filter, at(a, n0 * outImage)]);
  }
}
