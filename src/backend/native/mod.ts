/**
 * The `native` tfjs backend: cpu kernels plus BLAS (OpenBLAS / Accelerate) and oneDNN through Deno
 * FFI.
 *
 * @module
 */
export {
  loadNativeBackend,
  NATIVE_BACKEND_NAME,
  nativeKernelNames,
  type NativeLoadOptions,
  type NativeLoadResult,
  nativeThreads,
} from "./native_backend.ts";
export {
  ACCELERATE_PATH,
  DEBIAN_PACKAGE,
  defaultBlasSearchList,
  INSTALL_HINT,
  openBlas,
} from "./blas_library.ts";
export {
  defaultDnnlSearchList,
  DNNL_DEBIAN_PACKAGE,
  DNNL_INSTALL_HINT,
  openDnnl,
} from "./dnnl_library.ts";
export {
  formatKernelProfile,
  type KernelProfile,
  type KernelTime,
  profileKernels,
  type ProfileKernelsOptions,
} from "./profile_kernels.ts";
