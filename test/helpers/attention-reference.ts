// softmax(Q Kᵀ / sqrt(Dh) + mask) V in float64 loops: the independent reference for attention.
export interface AttnRefOptions {
  causal?: boolean;
  keyLengths?: number[];
}

export function attentionRef(
  q: Float64Array, k: Float64Array, v: Float64Array,
  [B, H, T, S, Dh, Dv]: [number, number, number, number, number, number],
  o: AttnRefOptions = {},
): Float64Array {
  const out = new Float64Array(B * H * T * Dv);
  const scale = 1 / Math.sqrt(Dh);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      for (let i = 0; i < T; i++) {
        const w: number[] = [];
        for (let j = 0; j < S; j++) {
          const masked = (o.causal && j > i + (S - T)) || (o.keyLengths && j >= o.keyLengths[b]);
          if (masked) { w.push(-Infinity); continue; }
          let s = 0;
          for (let c = 0; c < Dh; c++) s += q[(bh * T + i) * Dh + c] * k[(bh * S + j) * Dh + c];
          w.push(s * scale);
        }
        const m = Math.max(...w);
        if (m === -Infinity) continue;  // fully masked: zeros
        const e = w.map((x) => Math.exp(x - m));
        const sum = e.reduce((p, x) => p + x, 0);
        for (let j = 0; j < S; j++) {
          if (e[j] === 0) continue;
          for (let c = 0; c < Dv; c++) out[(bh * T + i) * Dv + c] += (e[j] / sum) * v[(bh * S + j) * Dv + c];
        }
      }
    }
  return out;
}
