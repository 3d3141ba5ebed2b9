// Float64 reference loops for the image ops (NCHW), written from PyTorch's definitions; nothing
// here calls qkv. Each [h, w] option is a pair.
import { type Ref } from './reference';

type Pair = [number, number];
const out = (size: number, k: number, s: number, p: number, d: number) => Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;

export interface ConvOpts {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/** y[n, o, i, j] = b[o] + sum over the group's c, ki, kj of w[o, c, ki, kj] x[n, g·Cg + c, i·s − p + ki·d, j·s − p + kj·d]. */
export function conv2dRef(x: Ref, w: Ref, b: Ref | null, o: ConvOpts = {}): Ref {
  const [N, C, H, W] = x.shape, [O, Cg, KH, KW] = w.shape;
  const [sh, sw] = o.stride ?? [1, 1], [ph, pw] = o.padding ?? [0, 0], [dh, dw] = o.dilation ?? [1, 1], G = o.groups ?? 1;
  const OH = out(H, KH, sh, ph, dh), OW = out(W, KW, sw, pw, dw), Og = O / G;
  const y = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < O; oc++) {
      const g = Math.floor(oc / Og);
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = b ? b.data[oc] : 0;
          for (let c = 0; c < Cg; c++)
            for (let ki = 0; ki < KH; ki++)
              for (let kj = 0; kj < KW; kj++) {
                const ih = i * sh - ph + ki * dh, iw = j * sw - pw + kj * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += w.data[((oc * Cg + c) * KH + ki) * KW + kj] * x.data[((n * C + g * Cg + c) * H + ih) * W + iw];
              }
          y[((n * O + oc) * OH + i) * OW + j] = s;
        }
    }
  return { data: y, shape: [N, O, OH, OW] };
}

/** Applies f to the in-bounds values of each window of each plane. */
function poolRef(x: Ref, [OH, OW]: Pair, window: (i: number, j: number) => { rows: number[]; cols: number[] }, f: (v: number[], i: number, j: number) => number): Ref {
  const [N, C, H, W] = x.shape;
  const y = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        const { rows, cols } = window(i, j);
        const v: number[] = [];
        for (const r of rows) for (const c of cols) if (r >= 0 && r < H && c >= 0 && c < W) v.push(x.data[(p * H + r) * W + c]);
        y[(p * OH + i) * OW + j] = f(v, i, j);
      }
  return { data: y, shape: [N, C, OH, OW] };
}

const taps = (start: number, k: number, d: number) => Array.from({ length: k }, (_, t) => start + t * d);

export function maxPool2dRef(x: Ref, [kh, kw]: Pair, [sh, sw]: Pair, [ph, pw]: Pair = [0, 0], [dh, dw]: Pair = [1, 1]): Ref {
  const OH = out(x.shape[2], kh, sh, ph, dh), OW = out(x.shape[3], kw, sw, pw, dw);
  return poolRef(x, [OH, OW], (i, j) => ({ rows: taps(i * sh - ph, kh, dh), cols: taps(j * sw - pw, kw, dw) }), (v) => Math.max(...v));
}

/** The divisor counts the padding (not beyond it) when countIncludePad, else only the input pixels. */
export function avgPool2dRef(x: Ref, [kh, kw]: Pair, [sh, sw]: Pair, [ph, pw]: Pair = [0, 0], countIncludePad = true): Ref {
  const [, , H, W] = x.shape;
  const OH = out(H, kh, sh, ph, 1), OW = out(W, kw, sw, pw, 1);
  return poolRef(x, [OH, OW], (i, j) => ({ rows: taps(i * sh - ph, kh, 1), cols: taps(j * sw - pw, kw, 1) }), (v, i, j) => {
    const padded = (Math.min(i * sh - ph + kh, H + ph) - (i * sh - ph)) * (Math.min(j * sw - pw + kw, W + pw) - (j * sw - pw));
    return v.reduce((a, b) => a + b, 0) / (countIncludePad ? padded : v.length);
  });
}

export function adaptiveAvgPool2dRef(x: Ref, [OH, OW]: Pair): Ref {
  const [, , H, W] = x.shape;
  const bin = (i: number, n: number, size: number) => {
    const lo = Math.floor((i * size) / n), hi = Math.ceil(((i + 1) * size) / n);
    return Array.from({ length: hi - lo }, (_, t) => lo + t);
  };
  return poolRef(x, [OH, OW], (i, j) => ({ rows: bin(i, OH, H), cols: bin(j, OW, W) }), (v) => v.reduce((a, b) => a + b, 0) / v.length);
}
