// A confusion matrix: how often each true class (rows) was predicted as each class (columns).
import { checkArray, checkInt, checkOptions, checkString } from '../args';
import { heatmap, type HeatmapOptions } from './heatmap';

export interface ConfusionPlotOptions extends Omit<HeatmapOptions, 'rows' | 'cols' | 'vmin'> {
  /** Class names, in label order (default 0, 1, ...). */
  classNames?: readonly string[];
}

/** The counts [classes][classes] of (truth, prediction) pairs. */
export function confusionMatrix(truth: readonly number[], predicted: readonly number[], classes: number, op = 'plot.confusion'): number[][] {
  const t = checkArray(op, 'truth', truth, (v, n) => checkInt(op, n, v, { min: 0, max: classes - 1 }), { what: 'an array of labels' });
  const p = checkArray(op, 'predicted', predicted, (v, n) => checkInt(op, n, v, { min: 0, max: classes - 1 }), { what: 'an array of labels' });
  if (t.length !== p.length) throw new RangeError(`${op}: ${t.length} true labels and ${p.length} predictions`);
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  t.forEach((c, i) => m[c][p[i]]++);
  return m;
}

/** An SVG heat map of the confusion matrix of `predicted` against `truth`, with the counts in the cells. */
export function confusion(truth: readonly number[], predicted: readonly number[], options: ConfusionPlotOptions = {}): string {
  const op = 'plot.confusion';
  const o = checkOptions(op, options) as ConfusionPlotOptions;
  const names = o.classNames === undefined ? undefined : checkArray(op, 'option classNames', o.classNames, (s, n) => checkString(op, n, s), { nonEmpty: true, what: 'an array of strings' });
  const classes = names?.length ?? Math.max(1, ...Array.from(truth ?? []).map(Number), ...Array.from(predicted ?? []).map(Number)) + 1;
  const m = confusionMatrix(truth, predicted, Number.isInteger(classes) ? classes : 1, op);
  const labels = names ?? m.map((_, i) => String(i));
  const { classNames: _, ...rest } = o;
  return heatmap(m, { colormap: 'blues', showValues: true, cellSize: 28, ...rest, rows: labels, cols: labels, title: o.title ?? 'rows: truth, columns: prediction' }, op, undefined, String);
}
