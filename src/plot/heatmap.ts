// Heat maps as SVG: one cell per (row, column), labelled, with a colour bar; attention maps,
// similarity matrices and confusion matrices are three uses of it. Self-contained SVG 1.1 (no
// scripts, no external fonts, thumbnails as embedded PNG), so any browser or converter shows it.
import { checkArray, checkNumber, checkOptions, checkPath, checkString, optBool, optEnum, optNumber, optString, typeName, type Options } from '../args';
import { ioBinding } from '../io/native-io';
import { deflateSync } from 'node:zlib';
import { Tensor, liveTensor, tensorData } from '../tensor';

export interface HeatmapOptions {
  /** Row labels (the queries: output tokens for cross-attention). */
  rows?: readonly string[];
  /** Column labels (the keys: input tokens). */
  cols?: readonly string[];
  /** Where to write the SVG (written atomically); the SVG text is returned either way. */
  path?: string;
  title?: string;
  /** Cell size in pixels (default 22). */
  cellSize?: number;
  /** The value of the brightest colour (default: the largest weight). */
  vmax?: number;
  /** The value of the darkest colour (default 0). */
  vmin?: number;
  /** 'viridis' (default) or 'blues'. */
  colormap?: 'viridis' | 'blues';
  /** Print each weight in its cell (default: when cells are at least 28 px). */
  showValues?: boolean;
}

type RGB = [number, number, number];
const VIRIDIS: RGB[] = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];
const BLUES: RGB[] = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];

function colour(t: number, map: RGB[]): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (map.length - 1);
  const i = Math.min(map.length - 2, Math.floor(x)), f = x - i;
  const c = map[i].map((v, k) => Math.round(v + (map[i + 1][k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function luminance(t: number, map: RGB[]): number {
  const m = /rgb\((\d+),(\d+),(\d+)\)/.exec(colour(t, map))!;
  return (0.299 * Number(m[1]) + 0.587 * Number(m[2]) + 0.114 * Number(m[3])) / 255;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A label as shown: a space becomes ␣ and control characters their escapes, so that every token is visible. */
function shown(s: string): string {
  if (s === ' ') return '␣';
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Rough text width in pixels for an 11 px sans-serif font. */
const textWidth = (s: string, px = 11) => Array.from(s).length * px * 0.62;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Image `i` of the thumbnails as an 8-bit PNG (grey or RGB). */
function pngOf(t: Thumbnails, i: number): Buffer {
  const { channels: C, height: H, width: W } = t;
  const raw = Buffer.alloc(H * (1 + W * C));
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < C; c++) {
        const v = t.pixels[((i * C + c) * H + y) * W + x];
        raw[y * (1 + W * C) + 1 + x * C + c] = Math.round(255 * Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)));
      }
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(W, 0);
  ihdr.writeUInt32BE(H, 4);
  ihdr[8] = 8;
  ihdr[9] = C === 1 ? 0 : 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** The rows of a 2-D Tensor or an array of rows of numbers, checked (errors naming op). */
export function matrix(weights: unknown, op: string): number[][] {
  if (weights instanceof Tensor) {
    const shape = liveTensor(weights, op, 'weights').shape;
    if (shape.length !== 2 || shape[0] === 0 || shape[1] === 0) throw new RangeError(`${op}: a weights tensor must be 2-D [rows, cols] and not empty, got [${shape.join(', ')}]`);
    const v = tensorData(weights, op, 'weights');
    return Array.from({ length: shape[0] }, (_, r) => Array.from(v.subarray(r * shape[1], (r + 1) * shape[1])));
  }
  const rows = checkArray(op, 'weights', weights, (r, name) => {
    if (!Array.isArray(r) && !(ArrayBuffer.isView(r) && !(r instanceof DataView))) throw new TypeError(`${op}: ${name} must be an array of numbers, got ${typeName(r)}`);
    return checkArray(op, name, Array.from(r as ArrayLike<unknown>), (x, n) => checkNumber(op, n, x, { any: true }));
  }, { nonEmpty: true, what: 'a 2-D Tensor or an array of rows' });
  const n = rows[0].length;
  if (n === 0 || rows.some((r) => r.length !== n)) throw new RangeError(`${op}: every row needs the same, non-zero number of columns`);
  return rows;
}

export type Matrix = Tensor | readonly (readonly number[] | Float32Array | Float64Array)[];

/** An image per row label: [rows, C, H, W] values in [0, 1] (C = 1 or 3), drawn left of the labels. */
export interface Thumbnails {
  pixels: Float32Array | Float64Array;
  channels: number;
  height: number;
  width: number;
}

/** The heat map of a matrix as SVG text (written to `path` when given, atomically). */
export function heatmap(weights: Matrix, options: HeatmapOptions, op: string, thumbnails?: Thumbnails,
  format: (v: number) => string = (v) => v.toFixed(2).replace(/^(-?)0\./, '$1.')): string {
  const o: Options = checkOptions(op, options);
  const w = matrix(weights, op);
  const R = w.length, C = w[0].length;
  const labels = (key: 'rows' | 'cols') => o[key] === undefined ? undefined
    : checkArray(op, `option ${key}`, o[key], (s, name) => checkString(op, name, s), { what: 'an array of strings' });
  const rowLabels = labels('rows') ?? Array.from({ length: R }, (_, i) => String(i));
  const colLabels = labels('cols') ?? Array.from({ length: C }, (_, i) => String(i));
  if (rowLabels.length !== R) throw new RangeError(`${op}: ${rowLabels.length} row labels for ${R} rows`);
  if (colLabels.length !== C) throw new RangeError(`${op}: ${colLabels.length} column labels for ${C} columns`);
  const target = o.path === undefined ? undefined : checkPath(op, 'option path', o.path);
  const title = optString(op, o, 'title');
  const cell = optNumber(op, o, 'cellSize', { min: 4, max: 200 }) ?? 22;
  const map = optEnum(op, o, 'colormap', ['viridis', 'blues'] as const) === 'blues' ? BLUES : VIRIDIS;
  const vmin = optNumber(op, o, 'vmin') ?? 0;
  let max = vmin;
  for (const r of w) for (const x of r) if (Number.isFinite(x) && x > max) max = x;
  const vmax = optNumber(op, o, 'vmax') ?? (max > vmin ? max : vmin + 1);
  if (!(vmax > vmin)) throw new RangeError(`${op}: vmax ${vmax} must be above vmin ${vmin}`);
  const showValues = optBool(op, o, 'showValues') ?? cell >= 28;

  const rowText = rowLabels.map(shown);
  const colText = colLabels.map(shown);
  const thumb = thumbnails ? cell - 2 : 0;
  const left = Math.ceil(Math.max(...rowText.map((s) => textWidth(s))) + 12 + (thumb ? thumb + 6 : 0));
  const colSpan = Math.max(...colText.map((s) => textWidth(s)));
  const titleH = title ? 24 : 8;
  const top = Math.ceil(titleH + colSpan * 0.75 + 14); // column labels at -45°
  const gridW = C * cell, gridH = R * cell;
  const barX = left + gridW + 16, barW = 12;
  const width = Math.ceil(Math.max(barX + barW + 44, title ? left + textWidth(title, 13) + 12 : 0)), height = Math.ceil(top + gridH + 12);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (title) out.push(`<text x="${left}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>`);
  out.push(`<g id="cells">`);
  for (let r = 0; r < R; r++)
    for (let c = 0; c < C; c++) {
      const t = (w[r][c] - vmin) / (vmax - vmin);
      const x = left + c * cell, y = top + r * cell;
      out.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${colour(t, map)}"><title>${esc(`${rowText[r]} → ${colText[c]}: ${w[r][c].toFixed(4)}`)}</title></rect>`);
      if (showValues) {
        const fg = luminance(t, map) > 0.5 ? 'black' : 'white';
        out.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 3.5}" text-anchor="middle" font-size="9" fill="${fg}">${format(w[r][c])}</text>`);
      }
    }
  out.push(`</g>`);
  out.push(`<rect x="${left}" y="${top}" width="${gridW}" height="${gridH}" fill="none" stroke="#444" stroke-width="0.5"/>`);
  out.push(`<g id="row-labels" text-anchor="end">`);
  rowText.forEach((s, r) => out.push(`<text x="${left - 6 - (thumb ? thumb + 6 : 0)}" y="${top + r * cell + cell / 2 + 4}">${esc(s)}</text>`));
  if (thumbnails) {
    out.push(`</g><g id="thumbnails">`);
    for (let r = 0; r < R; r++)
      out.push(`<image x="${left - 4 - thumb}" y="${top + r * cell + 1}" width="${thumb}" height="${thumb}" href="data:image/png;base64,${pngOf(thumbnails, r).toString('base64')}"/>`);
  }
  out.push(`</g><g id="col-labels">`);
  colText.forEach((s, c) => {
    const x = left + c * cell + cell / 2, y = top - 6;
    out.push(`<text x="${x}" y="${y}" transform="rotate(-45 ${x} ${y})">${esc(s)}</text>`);
  });
  out.push(`</g><g id="colorbar">`);
  const steps = 32;
  for (let i = 0; i < steps; i++) {
    const y = top + (gridH * i) / steps;
    out.push(`<rect x="${barX}" y="${y.toFixed(2)}" width="${barW}" height="${(gridH / steps + 0.5).toFixed(2)}" fill="${colour(1 - i / steps, map)}"/>`);
  }
  out.push(`<rect x="${barX}" y="${top}" width="${barW}" height="${gridH}" fill="none" stroke="#444" stroke-width="0.5"/>`);
  out.push(`<text x="${barX + barW + 4}" y="${top + 8}">${vmax.toFixed(2)}</text>`);
  out.push(`<text x="${barX + barW + 4}" y="${top + gridH}">${vmin === 0 ? '0' : vmin.toFixed(2)}</text>`);
  out.push(`</g></svg>`);
  const svg = out.join('\n') + '\n';

  if (target !== undefined) {
    ioBinding.writeTextFile(target, svg, op);
  }
  return svg;
}
