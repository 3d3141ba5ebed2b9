// qkv.image.load decodes image files through sharp (an optional peer dependency) into qkv's 8-bit
// layout, int32 [N, C, H, W]; the dual encoder takes files wherever it takes image tensors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const dir = mkdtempSync(join(tmpdir(), 'qkv-images-'));

/** A W x H RGB image whose pixel (x, y) is (10 x, 20 y, 7), as PNG (lossless) and JPEG. */
async function gradient(W: number, H: number): Promise<{ png: string; jpeg: string; pixel: (x: number, y: number) => number[] }> {
  const raw = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) raw.set([10 * x, 20 * y, 7], (y * W + x) * 3);
  const png = join(dir, `g${W}x${H}.png`), jpeg = join(dir, `g${W}x${H}.jpg`);
  await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).png().toFile(png);
  await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 95 }).toFile(jpeg);
  return { png, jpeg, pixel: (x, y) => [10 * x, 20 * y, 7] };
}

describe('image.load', () => {
  it('decodes PNG exactly and JPEG closely into int32 [N, 3, H, W] planes', async () => {
    const g = await gradient(6, 4);
    const t = await qkv.image.load([g.png, g.png]);
    expect(t.shape).toEqual([2, 3, 4, 6]);
    expect(t.dtype).toBe('int32');
    const v = t.toTypedArray();
    for (let c = 0; c < 3; c++) for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) expect(v[((3 + c) * 4 + y) * 6 + x]).toBe(g.pixel(x, y)[c]);
    const j = (await qkv.image.load(g.jpeg)).toTypedArray();
    let worst = 0;
    for (let c = 0; c < 3; c++) for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) worst = Math.max(worst, Math.abs(j[(c * 4 + y) * 6 + x] - g.pixel(x, y)[c]));
    expect(worst).toBeLessThan(24);
    // Grey: one plane; a Buffer works like a path.
    const grey = await qkv.image.load([await sharp(g.png).toBuffer()], { channels: 1 });
    expect(grey.shape).toEqual([1, 1, 4, 6]);
  });

  it('size resizes the shorter side and center-crops, so images of different sizes stack', async () => {
    const a = await gradient(6, 4), b = await gradient(5, 9);
    await expect(qkv.image.load([a.png, b.png])).rejects.toThrow(/source 1 is 5x9, source 0 6x4/);
    const t = await qkv.image.load([a.png, b.png], { size: 4 });
    expect(t.shape).toEqual([2, 3, 4, 4]);
    const want = qkv.image.centerCrop(qkv.image.resize(await qkv.image.load(b.png), 4, { mode: 'bicubic', antialias: true }), 4);
    expect(Array.from(t.toTypedArray().slice(48))).toEqual(Array.from(want.toTypedArray()));
  });

  it('names the file that is missing or not an image', async () => {
    const bad = join(dir, 'not-an-image.png');
    writeFileSync(bad, 'hello');
    await expect(qkv.image.load([bad])).rejects.toMatchObject({ code: 'ERR_FORMAT', message: expect.stringContaining('not-an-image.png') });
    await expect(qkv.image.load([join(dir, 'missing.png')])).rejects.toMatchObject({ code: 'ERR_IO' });
    await expect(qkv.image.load([42 as never])).rejects.toThrow(TypeError);
    await expect(qkv.image.load([])).rejects.toThrow(RangeError);
    await expect(qkv.image.load([bad], { channels: 2 as never })).rejects.toThrow(/channels must be 1 or 3/);
  });

  it('the dual encoder takes files: they are preprocessed as CLIP does', async () => {
    const a = await gradient(20, 16), b = await gradient(16, 24);
    const vocab = qkv.WordVocab.build(['a picture']);
    const m = new qkv.DualEncoder({ tokenizer: vocab, embedDim: 8, vision: { imageSize: 16, patchSize: 8, width: 16, layers: 1 }, text: { width: 16, layers: 1, context: 6 } });
    const fromFiles = await m.encodeImages([a.png, b.png]);
    const pre = qkv.image.clipPreprocess(await qkv.image.load([a.png, b.png], { size: 16 }), { size: 16 });
    expect(Array.from(fromFiles.toTypedArray())).toEqual(Array.from((await m.encodeImages(pre)).toTypedArray()));
    const r = await m.fit({ images: [a.png, b.png], texts: ['a picture', 'a picture'] }, { epochs: 1, batchSize: 2 });
    expect(r.steps).toBe(1);
    await m.dispose();
  });
});
