// A confusion matrix: how often each true class (rows) was predicted as each class (columns).
import { checkArray, checkInt, checkOptions, checkString } from '../args';
import { heatmap, type HeatmapOptions } from './heatmap';

export interface ConfusionPlotOptions extends Omit<HeatmapOptions, 'rows' | 'cols' | 'vmin'> {
  /** Class names, in label order (default 0, 1, ...). */
  classNames?: readonly string[];
}

/** The counts [classes][classes] of (truth, prediction) pairs. */
export function confusionMatrix(truth: readonly number[], predicted: readonly number[], classes?: number): number[][] {
  return counts(truth, predicted, classes, 'plot.confusionMatrix');
}

// The labels checked (integers in [0, classes), classes defaulting to the largest label + 1), counted.
function counts(truth: unknown, predicted: unknown, classes: unknown, op: string): number[][] {
  const labels = (v: unknown, name: string) => checkArray(op, name, v, (x, n) => checkInt(op, n, x, { min: 0, max: 1 << 20 }), { what: 'an array of labels' });
  const t = labels(truth, 'truth'), p = labels(predicted, 'predicted');
  if (t.length !== p.length) throw new RangeError(`${op}: ${t.length} true labels and ${p.length} predictions`);
  const seen = t.concat(p).reduce((m, x) => Math.max(m, x + 1), 1);
  const k = classes === undefined ? seen : checkInt(op, 'classes', classes, { min: 1, max: 1 << 20 });
  if (seen > k) throw new RangeError(`${op}: label ${seen - 1} is outside the ${k} classes`);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  t.forEach((c, i) => m[c][p[i]]++);
  return m;
}

/** An SVG heat map of the confusion matrix of `predicted` against `truth`, with the counts in the cells. */
export function confusion(truth: readonly number[], predicted: readonly number[], options: ConfusionPlotOptions = {}): string {
  const op = 'plot.confusion';
  const o = checkOptions(op, options) as ConfusionPlotOptions;
  const names = o.classNames === undefined ? undefined : checkArray(op, 'option classNames', o.classNames, (s, n) => checkString(op, n, s), { nonEmpty: true, what: 'an array of strings' });
  const m = counts(truth, predicted, names?.length, op);
  const labels = names ?? m.map((_, i) => String(i));
  const { classNames: _, ...rest } = o;
  return heatmap(m, { colormap: 'blues', showValues: true, cellSize: 28, ...rest, rows: labels, cols: labels, title: o.title ?? 'rows: truth, columns: prediction' }, op, undefined, String);
}
