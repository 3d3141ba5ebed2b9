// Image files (PNG, JPEG, WebP, GIF, TIFF, AVIF: whatever sharp decodes) as pixel tensors, through
// `sharp`, an optional peer dependency: qkv does not require it, and says so when it is missing.
// The result is qkv's 8-bit layout, int32 [N, C, H, W] holding 0..255, ready for
// qkv.image.clipPreprocess (or divide by 255 for [0, 1]).
import { checkArray, checkOptions, checkPath, optInt, typeName } from './args';
import { QkvError } from './errors';
import { concat } from './ops';
import { Tensor } from './tensor';
import { centerCrop, resize } from './image';

export interface LoadImagesOptions {
  /** 3 (RGB, the default; alpha dropped, grey expanded) or 1 (grey). */
  channels?: 1 | 3;
  /** Resize each image's shorter side to `size` (bicubic, antialiased) and center-crop it to size × size; then images may differ in size. */
  size?: number;
  signal?: AbortSignal;
}

type Sharp = (input: string | Buffer) => {
  removeAlpha(): ReturnType<Sharp>;
  greyscale(): ReturnType<Sharp>;
  toColourspace(space: string): ReturnType<Sharp>;
  raw(): ReturnType<Sharp>;
  toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
};

async function loadSharp(op: string): Promise<Sharp> {
  try {
    const m = (await import('sharp')) as unknown as { default?: Sharp };
    return (m.default ?? (m as unknown as Sharp));
  } catch (e) {
    throw new QkvError(`${op}: decoding image files needs the optional peer dependency 'sharp' (npm install sharp): ${(e as Error).message.split('\n')[0]}`, 'ERR_UNSUPPORTED');
  }
}

/** Decodes image files (paths) or encoded bytes (Buffers) into an int32 pixel tensor [N, C, H, W] (0..255). */
export async function load(sources: readonly (string | Buffer)[] | string | Buffer, options: LoadImagesOptions = {}): Promise<Tensor> {
  const op = 'image.load';
  const list = checkArray(op, 'sources', typeof sources === 'string' || Buffer.isBuffer(sources) ? [sources] : sources, (s, name) => {
    if (Buffer.isBuffer(s)) return s;
    if (typeof s === 'string') return checkPath(op, name, s);
    throw new TypeError(`${op}: ${name} must be a path or a Buffer, got ${typeName(s)}`);
  }, { nonEmpty: true, what: 'an array of paths or Buffers' });
  const o = checkOptions(op, options);
  const channels = optInt(op, o, 'channels', { min: 1, max: 3 }) ?? 3;
  if (channels === 2) throw new RangeError(`${op}: option channels must be 1 or 3, got 2`);
  const size = optInt(op, o, 'size', { min: 1, max: 1 << 15 });
  const signal = o.signal as AbortSignal | undefined;
  const sharp = await loadSharp(op);
  const images: Tensor[] = [];
  try {
    for (const [i, src] of list.entries()) {
      if (signal?.aborted) throw new QkvError(`${op}: aborted`, 'ERR_ABORTED');
      let img = sharp(src);
      img = channels === 1 ? img.greyscale() : img.removeAlpha().toColourspace('srgb');
      let decoded;
      try {
        decoded = await img.raw().toBuffer({ resolveWithObject: true });
      } catch (e) {
        throw new QkvError(`${op}: source ${i}${typeof src === 'string' ? ` (${src})` : ''} is not an image sharp can decode: ${(e as Error).message}`, typeof src === 'string' && /missing|no such file|not exist/i.test((e as Error).message) ? 'ERR_IO' : 'ERR_FORMAT');
      }
      const { data, info } = decoded;
      const C = info.channels, H = info.height, W = info.width;
      // Interleaved HWC bytes to planar CHW pixels.
      const px = new Int32Array(channels * H * W);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          for (let c = 0; c < channels; c++) px[(c * H + y) * W + x] = data[(y * W + x) * C + (C === 1 ? 0 : c)];
      let t = Tensor.from(px, [1, channels, H, W]);
      if (size !== undefined) {
        const r = resize(t, size, { mode: 'bicubic', antialias: true });
        t.dispose();
        t = centerCrop(r, size);
        r.dispose();
      }
      images.push(t);
    }
    const [h, w] = images[0].shape.slice(2);
    images.forEach((t, i) => {
      if (t.shape[2] !== h || t.shape[3] !== w)
        throw new RangeError(`${op}: source ${i} is ${t.shape[3]}x${t.shape[2]}, source 0 ${w}x${h}: give option size to resize and crop them to one size`);
    });
    return images.length === 1 ? images[0] : concat(images, 0);
  } finally {
    if (images.length > 1) for (const t of images) t.dispose();
  }
}
