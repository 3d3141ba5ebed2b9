// A batch's similarity matrix (a dual encoder's images × captions): true pairs on the diagonal.
// Rows may carry image thumbnails beside their labels; colours run from the smallest value to the
// largest unless vmin / vmax are given.
import { checkOptions } from '../args';
import { type Tensor, liveTensor, tensorData } from '../tensor';
import { heatmap, matrix, type HeatmapOptions, type Matrix, type Thumbnails } from './heatmap';

export interface SimilarityPlotOptions extends HeatmapOptions {
  /** Images [rows, C, H, W] (C = 1 or 3) drawn beside the row labels; values are clipped to [0, 1]. */
  thumbnails?: Tensor;
}

/** An SVG heat map of a similarity matrix (e.g. DualEncoder.similarity), with captions or thumbnails as labels. */
export function similarity(values: Matrix, options: SimilarityPlotOptions = {}): string {
  const op = 'plot.similarity';
  const w = matrix(values, op);
  const { thumbnails, ...rest } = checkOptions(op, options) as SimilarityPlotOptions;
  let thumbs: Thumbnails | undefined;
  if (thumbnails !== undefined) {
    const shape = liveTensor(thumbnails, op, 'option thumbnails').shape;
    if (shape.length !== 4 || (shape[1] !== 1 && shape[1] !== 3))
      throw new RangeError(`${op}: option thumbnails must be [rows, 1 or 3, H, W], got [${shape.join(', ')}]`);
    if (shape[0] !== w.length) throw new RangeError(`${op}: ${shape[0]} thumbnails for ${w.length} rows`);
    thumbs = { pixels: tensorData(thumbnails, op, 'option thumbnails') as Float32Array, channels: shape[1], height: shape[2], width: shape[3] };
  }
  let lo = Infinity;
  for (const r of w) for (const v of r) if (Number.isFinite(v) && v < lo) lo = v;
  return heatmap(w, { ...rest, vmin: rest.vmin ?? (Number.isFinite(lo) ? lo : 0) }, op, thumbs);
}
