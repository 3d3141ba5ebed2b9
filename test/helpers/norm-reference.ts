// Float64 reference loops for batch norm and group norm over [N, C, ...], written from the
// definitions (PyTorch's documentation), sharing no code with what they check.
import { numel, type Ref } from './reference';

const spatial = (shape: number[]) => numel(shape.slice(2));

/** Batch norm per channel; in training mode also the running statistics after PyTorch's update. */
export function batchNormRef(x: Ref, o: { gamma?: number[]; beta?: number[]; runningMean: number[]; runningVar: number[]; training: boolean; momentum: number; eps: number }): { out: Ref; runningMean: number[]; runningVar: number[] } {
  const [N, C] = x.shape, S = spatial(x.shape);
  const out = new Float64Array(x.data.length);
  const runningMean = [...o.runningMean], runningVar = [...o.runningVar];
  for (let c = 0; c < C; c++) {
    const vals: number[] = [];
    for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) vals.push(x.data[(n * C + c) * S + s]);
    let mean = runningMean[c], variance = runningVar[c];
    if (o.training) {
      mean = vals.reduce((a, b) => a + b, 0) / vals.length;
      const squares = vals.reduce((a, b) => a + (b - mean) ** 2, 0);
      variance = squares / vals.length;
      runningMean[c] = (1 - o.momentum) * runningMean[c] + o.momentum * mean;
      runningVar[c] = (1 - o.momentum) * runningVar[c] + o.momentum * (squares / (vals.length - 1));
    }
    for (let n = 0; n < N; n++)
      for (let s = 0; s < S; s++) {
        const i = (n * C + c) * S + s;
        out[i] = ((x.data[i] - mean) / Math.sqrt(variance + o.eps)) * (o.gamma?.[c] ?? 1) + (o.beta?.[c] ?? 0);
      }
  }
  return { out: { data: out, shape: [...x.shape] }, runningMean, runningVar };
}

/** Group norm: each sample's `groups` channel groups normalised over their channels and positions. */
export function groupNormRef(x: Ref, groups: number, o: { gamma?: number[]; beta?: number[]; eps: number }): Ref {
  const [N, C] = x.shape, S = spatial(x.shape), per = C / groups;
  const out = new Float64Array(x.data.length);
  for (let n = 0; n < N; n++)
    for (let g = 0; g < groups; g++) {
      const idx: number[] = [];
      for (let c = g * per; c < (g + 1) * per; c++) for (let s = 0; s < S; s++) idx.push((n * C + c) * S + s);
      const mean = idx.reduce((a, i) => a + x.data[i], 0) / idx.length;
      const variance = idx.reduce((a, i) => a + (x.data[i] - mean) ** 2, 0) / idx.length;
      for (const i of idx) {
        const c = Math.floor(i / S) % C;
        out[i] = ((x.data[i] - mean) / Math.sqrt(variance + o.eps)) * (o.gamma?.[c] ?? 1) + (o.beta?.[c] ?? 0);
      }
    }
  return { data: out, shape: [...x.shape] };
}
