// CLIP's and SigLIP's losses in float64 loops over the explicit N x N logits: the independent
// reference for qkv.infoNCE (normalise the rows, then the definitions of the two papers).
export interface ContrastiveRefOptions {
  loss?: 'clip' | 'siglip';
  bias?: number;
}

function normalised(x: Float64Array, N: number, D: number): Float64Array {
  const out = new Float64Array(N * D);
  for (let i = 0; i < N; i++) {
    let ss = 0;
    for (let c = 0; c < D; c++) ss += x[i * D + c] ** 2;
    const n = Math.max(Math.sqrt(ss), 1e-12);
    for (let c = 0; c < D; c++) out[i * D + c] = x[i * D + c] / n;
  }
  return out;
}

const logSumExp = (v: number[]) => {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
};

export function infoNCERef(image: Float64Array, text: Float64Array, N: number, D: number, logScale: number, o: ContrastiveRefOptions = {}): number {
  const a = normalised(image, N, D), b = normalised(text, N, D);
  const s = Math.exp(logScale), bias = o.bias ?? 0;
  const S: number[][] = [];
  for (let i = 0; i < N; i++) {
    S.push([]);
    for (let j = 0; j < N; j++) {
      let d = 0;
      for (let c = 0; c < D; c++) d += a[i * D + c] * b[j * D + c];
      S[i].push(s * d + bias);
    }
  }
  if (o.loss === 'siglip') {
    let total = 0;
    for (let i = 0; i < N; i++)
      for (let j = 0; j < N; j++) {
        const x = (i === j ? 1 : -1) * S[i][j];
        total += Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x)));  // -log σ(x)
      }
    return total / N;
  }
  let i2t = 0, t2i = 0;
  for (let i = 0; i < N; i++) {
    i2t += logSumExp(S[i]) - S[i][i];
    t2i += logSumExp(S.map((row) => row[i])) - S[i][i];
  }
  return (i2t / N + t2i / N) / 2;
}
