// Loss curves as SVG: the training loss of every step (light) with its moving average, and the
// validation losses where the run validated (points joined by a line), against steps. Takes what
// every fit returns (TrainResult.history). Self-contained SVG 1.1, like the attention maps.
import { checkArray, checkNumber, checkObject, checkOptions, checkPath, optInt, optString } from '../args';
import { ioBinding } from '../io/native-io';
import type { LossPoint } from '../training';

export interface LossCurveOptions {
  /** Where to write the SVG (atomically); the SVG text is returned either way. */
  path?: string;
  title?: string;
  width?: number;
  height?: number;
  /** Steps in the moving average of the training loss (default: about 2% of the steps, at least 1). */
  smooth?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, n = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** qkv.plot.lossCurve(result.history, { path }): the training and validation loss against steps, as SVG. */
export function lossCurve(history: readonly LossPoint[], options: LossCurveOptions = {}): string {
  const op = 'plot.lossCurve';
  const points = checkArray(op, 'history', history, (p, name) => {
    const o = checkObject(op, name, p, '{ step, loss, valLoss? }');
    return {
      step: checkNumber(op, `${name}.step`, o.step),
      loss: checkNumber(op, `${name}.loss`, o.loss, { any: true }),
      valLoss: o.valLoss === undefined ? undefined : checkNumber(op, `${name}.valLoss`, o.valLoss, { any: true }),
    };
  }, { nonEmpty: true, what: 'an array of { step, loss, valLoss? } (TrainResult.history)' });
  const o = checkOptions(op, options);
  const target = o.path === undefined ? undefined : checkPath(op, 'option path', o.path);
  const title = optString(op, o, 'title') ?? 'Loss';
  const W = optInt(op, o, 'width', { min: 200, max: 8000 }) ?? 640, H = optInt(op, o, 'height', { min: 150, max: 8000 }) ?? 400;
  const k = optInt(op, o, 'smooth', { min: 1 }) ?? Math.max(1, Math.round(points.length / 50));

  const train = points.filter((p) => Number.isFinite(p.loss));
  const val = points.filter((p) => p.valLoss !== undefined && Number.isFinite(p.valLoss)) as { step: number; valLoss: number }[];
  const smooth = train.map((p, i) => {
    const from = Math.max(0, i - k + 1);
    let s = 0;
    for (let j = from; j <= i; j++) s += train[j].loss;
    return { step: p.step, loss: s / (i - from + 1) };
  });
  const ys = [...train.map((p) => p.loss), ...val.map((p) => p.valLoss)];
  const x0 = Math.min(...points.map((p) => p.step)), x1 = Math.max(...points.map((p) => p.step));
  const y0 = ys.length ? Math.min(...ys) : 0, y1 = ys.length ? Math.max(...ys) : 1;
  const left = 56, right = 16, top = 34, bottom = 40;
  const px = (s: number) => left + ((s - x0) / (x1 - x0 || 1)) * (W - left - right);
  const py = (v: number) => top + (1 - (v - y0) / (y1 - y0 || 1)) * (H - top - bottom);
  const line = (pts: { step: number; v: number }[]) => pts.map((p, i) => `${i ? 'L' : 'M'}${px(p.step).toFixed(1)},${py(p.v).toFixed(1)}`).join('');

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`);
  out.push(`<g id="axes" stroke="#ccc" stroke-width="0.5">`);
  for (const t of ticks(y0, y1)) out.push(`<line x1="${left}" x2="${W - right}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}"/>`);
  out.push(`</g><g id="ticks" fill="#333">`);
  for (const t of ticks(y0, y1)) out.push(`<text x="${left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  for (const t of ticks(x0, x1)) out.push(`<text x="${px(t).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle">${t}</text>`);
  out.push(`<text x="${(left + W - right) / 2}" y="${H - 6}" text-anchor="middle">step</text>`);
  out.push(`</g>`);
  if (train.length) {
    out.push(`<path id="train-raw" d="${line(train.map((p) => ({ step: p.step, v: p.loss })))}" fill="none" stroke="#9ecae1" stroke-width="0.8"/>`);
    out.push(`<path id="train" d="${line(smooth.map((p) => ({ step: p.step, v: p.loss })))}" fill="none" stroke="#08519c" stroke-width="1.6"/>`);
  }
  if (val.length) {
    out.push(`<path id="validation" d="${line(val.map((p) => ({ step: p.step, v: p.valLoss })))}" fill="none" stroke="#e6550d" stroke-width="1.6"/>`);
    for (const p of val) out.push(`<circle cx="${px(p.step).toFixed(1)}" cy="${py(p.valLoss).toFixed(1)}" r="2.5" fill="#e6550d"/>`);
  }
  out.push(`<g id="legend"><rect x="${W - right - 130}" y="${top}" width="10" height="3" fill="#08519c"/><text x="${W - right - 116}" y="${top + 4}">train (mean of ${k})</text>`);
  if (val.length) out.push(`<rect x="${W - right - 130}" y="${top + 14}" width="10" height="3" fill="#e6550d"/><text x="${W - right - 116}" y="${top + 18}">validation</text>`);
  out.push(`</g></svg>`);
  const svg = out.join('\n') + '\n';
  if (target !== undefined) ioBinding.writeTextFile(target, svg, op);
  return svg;
}
