// plot.attention, plot.similarity and plot.confusion: the SVG's structure and labels, and (where librsvg's rsvg-convert is installed)
// the rendered picture, decoded here and checked pixel by pixel at the cells.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-plot-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function hasRsvg(): boolean {
  try {
    execFileSync('rsvg-convert', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A minimal PNG decoder (8-bit RGB or RGBA, not interlaced): what rsvg-convert writes. */
function decodePng(buf: Buffer): { width: number; height: number; pixel(x: number, y: number): number[] } {
  expect(buf.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))).toBe(true);
  let off = 8, width = 0, height = 0, channels = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off), type = buf.toString('latin1', off + 4, off + 8), data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8);
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      expect(channels).toBeGreaterThan(0);
      expect(data[12]).toBe(0);
    } else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat)), stride = width * channels, px = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? px[y * stride + i - channels] : 0, b = y > 0 ? px[(y - 1) * stride + i] : 0;
      const c = i >= channels && y > 0 ? px[(y - 1) * stride + i - channels] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f];
      px[y * stride + i] = (line[i] + pred) & 255;
    }
  }
  return { width, height, pixel: (x, y) => Array.from(px.subarray(y * stride + x * channels, y * stride + x * channels + 3)) };
}

const cells = (svg: string) => [...svg.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="[\d.]+" fill="rgb\((\d+),(\d+),(\d+)\)"><title>/g)];

describe('plot.attention', () => {
  const weights = [
    [0.9, 0.1, 0],
    [0.2, 0.5, 0.3],
  ];

  it('draws one labelled cell per weight, brightest for the largest, with escaped, visible token labels', () => {
    const svg = qkv.plot.attention(weights, { rows: ['1', '<eos>'], cols: ['a', ' ', '&'], title: 'cross-attention' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    const c = cells(svg);
    expect(c.length).toBe(6);
    expect(c[0].slice(4, 7).map(Number)).toEqual([253, 231, 37]); // 0.9 = vmax: viridis' yellow
    expect(c[2].slice(4, 7).map(Number)).toEqual([68, 1, 84]); // 0: viridis' purple
    expect(svg).toContain('&lt;eos&gt;');
    expect(svg).toContain('>␣<');
    expect(svg).toContain('>&amp;<');
    expect(svg).toContain('cross-attention');
    expect(svg).toContain('<title>&lt;eos&gt; → ␣: 0.5000</title>');
    expect(svg).not.toMatch(/<script/);
  });

  it('takes a 2-D Tensor, a vmax, the blues colour map, and writes the file when given a path', () => {
    const t = qkv.Tensor.from([0, 1, 2, 4], [2, 2]);
    const file = path.join(tmp, 'map.svg');
    const svg = qkv.plot.attention(t, { vmax: 8, colormap: 'blues', path: file, showValues: true });
    expect(fs.readFileSync(file, 'utf8')).toBe(svg);
    expect(fs.readdirSync(tmp)).toEqual(['map.svg']); // no temporary left
    expect(cells(svg)[0].slice(4, 7).map(Number)).toEqual([247, 251, 255]); // 0 → the lightest blue
    expect(svg).toContain('>2.00<'); // values printed
    expect(svg).toContain('>.00<');
    expect(svg).toContain('>8.00<'); // the colour bar's top
  });

  it('refuses what it cannot draw', () => {
    expect(() => qkv.plot.attention([], {})).toThrow(RangeError);
    expect(() => qkv.plot.attention('x' as never, {})).toThrow(TypeError);
    expect(() => qkv.plot.attention([[1, 2], [3]])).toThrow(RangeError);
    expect(() => qkv.plot.attention(weights, { rows: ['a'] })).toThrow(/1 row labels for 2 rows/);
    expect(() => qkv.plot.attention(weights, { cols: ['a', 'b'] })).toThrow(RangeError);
    expect(() => qkv.plot.attention(qkv.zeros([2, 2, 2]))).toThrow(RangeError);
    expect(() => qkv.plot.attention(weights, { colormap: 'jet' as 'blues' })).toThrow(TypeError);
  });

  it.skipIf(!hasRsvg())('renders: the pixels at the cells have the cells\' colours (rsvg-convert)', () => {
    const svgFile = path.join(tmp, 'render.svg'), pngFile = path.join(tmp, 'render.png');
    const svg = qkv.plot.attention(weights, { rows: ['1', '<eos>'], cols: ['a', 'b', 'c'], path: svgFile, cellSize: 30 });
    execFileSync('rsvg-convert', [svgFile, '-o', pngFile]);
    const png = decodePng(fs.readFileSync(pngFile));
    expect(png.width).toBe(Number(/width="(\d+)"/.exec(svg)![1]));
    for (const c of cells(svg)) {
      const [x, y, w] = [Number(c[1]), Number(c[2]), Number(c[3])];
      const got = png.pixel(Math.floor(x + 3), Math.floor(y + 3)); // a corner, clear of the printed value
      const want = c.slice(4, 7).map(Number);
      got.forEach((v, k) => expect(Math.abs(v - want[k])).toBeLessThanOrEqual(2));
      expect(w).toBe(30);
    }
    // the background is white, the label area holds dark text somewhere
    expect(png.pixel(0, png.height - 1)).toEqual([255, 255, 255]);
  });
});

describe('plot.lossCurve', () => {
  const history: qkv.LossPoint[] = Array.from({ length: 100 }, (_, i) => ({ step: i + 1, loss: 4 - Math.log1p(i) * 0.5, ...(i % 25 === 24 ? { valLoss: 4.2 - Math.log1p(i) * 0.5 } : {}) }));

  it('draws the raw and smoothed training loss and the validation points, scaled to the plot', () => {
    const file = path.join(tmp, 'loss.svg');
    const svg = qkv.plot.lossCurve(history, { path: file, title: 'GPT <char>', smooth: 10 });
    expect(fs.readFileSync(file, 'utf8')).toBe(svg);
    expect(svg).toContain('GPT &lt;char&gt;');
    const path0 = /<path id="train-raw" d="([^"]+)"/.exec(svg)![1];
    expect(path0.split(/[ML]/).filter(Boolean)).toHaveLength(100);
    const dots = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(dots).toHaveLength(4);
    // later validation losses are lower: further down the picture (larger y), further right
    for (let i = 1; i < dots.length; i++) {
      expect(dots[i][0]).toBeGreaterThan(dots[i - 1][0]);
      expect(dots[i][1]).toBeGreaterThan(dots[i - 1][1]);
    }
    expect(svg).toContain('train (mean of 10)');
  });

  it('takes a fit result\'s history and refuses what is not one', async () => {
    const m = new qkv.nn.Linear(2, 1);
    const r = await m.fit({ inputs: qkv.randn([32, 2], { seed: 1 }), targets: qkv.randn([32, 1], { seed: 2 }) }, { epochs: 2, batchSize: 8, loss: 'mse' });
    expect(qkv.plot.lossCurve(r.history)).toContain('<path id="train"');
    expect(() => qkv.plot.lossCurve([])).toThrow(RangeError);
    expect(() => qkv.plot.lossCurve([{ step: 'a' } as never])).toThrow(TypeError);
    await m.dispose();
  });
});

describe('plot.similarity and plot.confusion', () => {
  it('similarity colours run from the smallest value to the largest, with captions and embedded thumbnails', () => {
    const m = [[0.9, -0.2, 0.1], [0.0, 0.8, -0.4], [0.3, 0.2, 0.7]];
    // Three 2x2 RGB thumbnails: image r is a solid colour (r/2, 1 - r/2, 0.25).
    const px = new Float32Array(3 * 3 * 4);
    for (let r = 0; r < 3; r++) for (let i = 0; i < 4; i++) [r / 2, 1 - r / 2, 0.25].forEach((v, c) => (px[(r * 3 + c) * 4 + i] = v));
    const svg = qkv.plot.similarity(m, { rows: ['a', 'b', 'c'], cols: ['x', 'y', 'z'], thumbnails: qkv.Tensor.from(px, [3, 3, 2, 2]) });
    const c = cells(svg);
    expect(c.length).toBe(9);
    expect(c[5].slice(4, 7).map(Number)).toEqual([68, 1, 84]);      // -0.4, the smallest: viridis' first colour
    expect(c[0].slice(4, 7).map(Number)).toEqual([253, 231, 37]);   // 0.9, the largest: its last
    const images = [...svg.matchAll(/href="data:image\/png;base64,([A-Za-z0-9+/=]+)"/g)].map((g) => decodePng(Buffer.from(g[1], 'base64')));
    expect(images.length).toBe(3);
    images.forEach((img, r) => {
      expect([img.width, img.height]).toEqual([2, 2]);
      expect(img.pixel(1, 1)).toEqual([Math.round(255 * r / 2), Math.round(255 * (1 - r / 2)), 64]);
    });
    expect(svg).toContain('>-0.40</text>');
    expect(() => qkv.plot.similarity(m, { thumbnails: qkv.zeros([2, 3, 2, 2]) })).toThrow(/2 thumbnails for 3 rows/);
    expect(() => qkv.plot.similarity(m, { vmin: 1, vmax: 0 })).toThrow(/vmax 0 must be above vmin 1/);
  });

  it('confusion counts (truth, prediction) pairs and prints them in the cells', () => {
    const truth = [0, 0, 1, 2, 2, 2], predicted = [0, 1, 1, 2, 0, 2];
    expect(qkv.plot.confusionMatrix(truth, predicted, 3)).toEqual([[1, 1, 0], [0, 1, 0], [1, 0, 2]]);
    const svg = qkv.plot.confusion(truth, predicted, { classNames: ['cat', 'dog', 'eel'] });
    expect(cells(svg).length).toBe(9);
    expect(svg).toContain('eel → eel: 2.0000');
    expect(svg).toContain('cat → dog: 1.0000');
    expect(() => qkv.plot.confusion([0, 3], [0, 1], { classNames: ['a', 'b'] })).toThrow(RangeError);
    expect(() => qkv.plot.confusion([0], [0, 1])).toThrow(/1 true labels and 2 predictions/);
  });
});
