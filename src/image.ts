// Image preprocessing as CLIP uses it, exported as `qkv.image`: resize, center crop, normalise, and
// the whole chain. Images are [N, C, H, W] or [C, H, W] tensors, float, or int32 holding 8-bit pixel
// values (qkv has no uint8 dtype). Computed natively on the image's device; not differentiable.
import { checkArray, checkInt, checkNumber, checkOptions, optBool, optEnum, optInt } from './args';
import { binding, type NativeTensor } from './native';
import { Tensor, handle } from './tensor';

interface ImageBinding {
  imageResize(x: NativeTensor, size: readonly number[], mode: string, antialias: boolean): NativeTensor;
  imageCenterCrop(x: NativeTensor, h: number, w: number): NativeTensor;
  imageNormalize(x: NativeTensor, mean: readonly number[], std: readonly number[]): NativeTensor;
  clipPreprocess(x: NativeTensor, size: number, antialias: boolean): NativeTensor;
}
const native = binding as unknown as ImageBinding;

export type ResizeMode = 'bilinear' | 'bicubic' | 'nearest';
const MODES: readonly ResizeMode[] = ['bilinear', 'bicubic', 'nearest'];

export interface ResizeOptions {
  /** The filter, 'bilinear' by default. */
  mode?: ResizeMode;
  /** Widen the filter when shrinking so that every pixel counts (PIL's resampling); bilinear and bicubic only. Default false. */
  antialias?: boolean;
}

/** [height, width], or one number for a square window (or, for resize, the shorter side). */
function sizeArg(op: string, size: unknown, oneMeans: 'square' | 'short side'): number[] {
  if (typeof size === 'number') {
    const s = checkInt(op, 'size', size, { min: 1 });
    return oneMeans === 'square' ? [s, s] : [s];
  }
  const hw = checkArray(op, 'size', size, (v, name) => checkInt(op, name, v, { min: 1 }), { what: 'a number or [height, width]' });
  if (hw.length !== 2) throw new RangeError(`${op}: size must be [height, width], got ${hw.length} entries`);
  return hw;
}

/**
 * Resamples an image to `size` = [height, width], or, for one number, so that its shorter side has
 * that length and the longer keeps the aspect ratio (torchvision's Resize rule: int(size · long / short)).
 * Matches torch.nn.functional.interpolate(x, size, mode, align_corners=False, antialias) (PyTorch 1.13).
 * int32 images come back as int32 rounded and clamped to 0..255, as torchvision does for uint8 ones.
 */
export function resize(x: Tensor, size: readonly [number, number] | number, options: ResizeOptions = {}): Tensor {
  const op = 'image.resize';
  const s = sizeArg(op, size, 'short side');
  const o = checkOptions(op, options);
  const mode = optEnum(op, o, 'mode', MODES) ?? 'bilinear';
  const antialias = optBool(op, o, 'antialias') ?? false;
  return new Tensor(native.imageResize(handle(x, op, 'image'), s, mode, antialias));
}

/**
 * The centred window of `size` = [height, width] (one number: square) of the last two dims, with
 * torchvision's rounding: top = round((H - height) / 2), halves to even. RangeError when the window
 * is larger than the image (torchvision pads instead).
 */
export function centerCrop(x: Tensor, size: readonly [number, number] | number): Tensor {
  const op = 'image.centerCrop';
  const [h, w] = sizeArg(op, size, 'square');
  return new Tensor(native.imageCenterCrop(handle(x, op, 'image'), h, w));
}

/** (x - mean[c]) / std[c] per channel of a float image (torchvision's Normalize). */
export function normalize(x: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  const op = 'image.normalize';
  const m = checkArray(op, 'mean', mean, (v, name) => checkNumber(op, name, v), { what: 'an array of numbers' });
  const s = checkArray(op, 'std', std, (v, name) => checkNumber(op, name, v, { min: 0 }), { what: 'an array of numbers' });
  return new Tensor(native.imageNormalize(handle(x, op, 'image'), m, s));
}

/** The mean and standard deviation CLIP normalises its RGB input with. */
export const CLIP_MEAN: readonly number[] = Object.freeze([0.48145466, 0.4578275, 0.40821073]);
export const CLIP_STD: readonly number[] = Object.freeze([0.26862954, 0.26130258, 0.27577711]);

/**
 * CLIP's image transform on [N, 3, H, W] (or [3, H, W]): resize the shorter side to `size` (224)
 * with bicubic filtering, center crop size × size, scale int32 pixels to [0, 1] (float input is taken
 * as already in [0, 1]), and normalise with {@link CLIP_MEAN} and {@link CLIP_STD}. Returns float32
 * for int32 input, else the input's dtype. `antialias` (default true) resamples as PIL does, which
 * CLIP's reference preprocessing uses.
 */
export function clipPreprocess(x: Tensor, options: { size?: number; antialias?: boolean } = {}): Tensor {
  const op = 'image.clipPreprocess';
  const o = checkOptions(op, options);
  const size = optInt(op, o, 'size', { min: 1 }) ?? 224;
  const antialias = optBool(op, o, 'antialias') ?? true;
  return new Tensor(native.clipPreprocess(handle(x, op, 'image'), size, antialias));
}

export { load, type LoadImagesOptions } from './image-files';
