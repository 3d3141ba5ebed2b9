// Attention maps: weights of queries (rows) over keys (columns), from 0 to the largest weight.
import { heatmap, type HeatmapOptions, type Matrix } from './heatmap';

export type AttentionPlotOptions = Omit<HeatmapOptions, 'vmin'>;

/**
 * An SVG heat map of attention weights (rows × cols: queries × keys), with token labels and a
 * colour bar. Returns the SVG text and, with `path`, writes it there.
 */
export function attention(weights: Matrix, options: AttentionPlotOptions = {}): string {
  const o = (options ?? {}) as HeatmapOptions;
  if (o !== null && typeof o === 'object' && 'vmin' in o) throw new TypeError('plot.attention: attention weights start at 0 (no vmin option)');
  return heatmap(weights, o, 'plot.attention');
}
