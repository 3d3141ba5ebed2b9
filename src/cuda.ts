// The optional CUDA plugin. The CPU addon loads everywhere; the CUDA library (libqkv_cuda.so, next to
// the addon) is loaded only where a CUDA driver (libcuda.so.1) is present. See cpp/core/cuda_loader.h.
import { checkOptions, checkTypedArray, optInt } from './args';
import { binding } from './native';

/** One CUDA device, as the CUDA runtime describes it. */
export interface CudaDevice {
  index: number;
  name: string;
  /** Bytes of device memory. */
  totalMemory: number;
  /** Compute capability, e.g. `'9.0'` for H100/H200, `'8.0'` for A100. */
  computeCapability: string;
  multiprocessors: number;
}

/** What the CUDA loader found, in order: the driver, the plugin, then the devices. */
export interface CudaInfo {
  /** A driver, the plugin and at least one device: CUDA work can run. */
  available: boolean;
  /** Why CUDA is not available (absent when it is). */
  reason?: string;
  /** `dlopen("libcuda.so.1")` succeeded. */
  driverFound: boolean;
  /** The loader's error when the driver was not found. */
  driverError?: string;
  /** The native addon the loader lives in (`build/Release/qkv.node` or `prebuilds/linux-x64/qkv.node`). */
  addonPath: string | null;
  /** The plugin file next to the addon, when there is one (loaded or not); `null` when it was not built. */
  pluginPath: string | null;
  pluginLoaded: boolean;
  /** Why the plugin was not loaded (an ABI version mismatch names both versions). */
  pluginError?: string;
  /** The ABI version the plugin declares, once its table was read (this addon needs 2). */
  pluginAbi?: number;
  /** The GPU architectures the plugin was compiled for, e.g. `'800,900'` (only once loaded). */
  architectures?: string;
  deviceCount: number;
  /** The CUDA runtime's version, e.g. 13000 for 13.0 (only once the plugin is loaded). */
  runtimeVersion?: number;
  /** The newest CUDA version the driver supports, e.g. 13000 (only with a driver). */
  driverVersion?: number;
  /** The devices (only once the plugin is loaded). */
  devices?: CudaDevice[];
}

interface CudaBinding {
  cudaAvailable(): boolean;
  cudaInfo(): CudaInfo;
  cudaAddF32(a: Float32Array, b: Float32Array, device?: number): Float32Array;
}

const native = binding as unknown as CudaBinding;

export interface Cuda {
  /** True when CUDA work can run here (driver, plugin and a device). Never throws. */
  available(): boolean;
  /** What was found and, when CUDA is not available, why. A fresh object on each call. */
  info(): CudaInfo;
  /**
   * `a + b`, elementwise, computed on a CUDA device (copies to the device and back): a check that
   * the plugin and the device work. Throws `QkvError` with code `ERR_UNSUPPORTED` (naming the
   * reason) when CUDA is not available, `ERR_CUDA` when a CUDA call fails, `TypeError` for arguments
   * that are not Float32Arrays and `RangeError` for different lengths or a bad device index.
   */
  add(a: Float32Array, b: Float32Array, options?: { device?: number }): Float32Array;
}

export const cuda: Cuda = {
  available: () => native.cudaAvailable(),
  info: () => native.cudaInfo(),
  add: (a, b, options) => {
    const op = 'cuda.add';
    const x = checkTypedArray(op, 'a', a, [Float32Array]), y = checkTypedArray(op, 'b', b, [Float32Array]);
    return native.cudaAddF32(x, y, optInt(op, checkOptions(op, options), 'device') ?? 0);
  },
};
