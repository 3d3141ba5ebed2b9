// Right-padded batches of id rows: the layout the native models read (rows × cols int32, row-major).

/** Right-padded ids of several texts: `ids` is rows × cols, row-major; `lengths` says where each row ends. */
export interface TokenBatch {
  ids: Int32Array;
  rows: number;
  cols: number;
  lengths: Int32Array;
}

/** Pads id rows (each non-empty) into a batch, with `padId` after the end of each row. */
export function padBatch(rows: readonly (readonly number[])[], op = 'padBatch', padId = 0): TokenBatch {
  if (!Array.isArray(rows) || !rows.every((r) => Array.isArray(r))) throw new TypeError(`${op}: rows must be an array of id arrays`);
  if (!Number.isInteger(padId) || padId < 0 || padId > 0x7fffffff) throw new RangeError(`${op}: padId ${padId} is not a non-negative int32`);
  if (rows.length === 0) throw new RangeError(`${op}: no rows`);
  // A loop, not Math.max(...): spreading a long list of rows overflows the stack.
  const cols = rows.reduce((m, r) => Math.max(m, r.length), 0);
  if (rows.some((r) => r.length === 0)) throw new RangeError(`${op}: a row encodes to no tokens`);
  const ids = new Int32Array(rows.length * cols);
  if (padId !== 0) ids.fill(padId);
  const lengths = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    // Int32Array.set would turn a bad id into 0 or wrap it silently.
    for (let j = 0; j < r.length; j++) {
      if (!Number.isInteger(r[j]) || r[j] < 0 || r[j] > 0x7fffffff) throw new RangeError(`${op}: id ${r[j]} in row ${i} is not a non-negative int32`);
    }
    ids.set(r, i * cols);
    lengths[i] = r.length;
  });
  return { ids, rows: rows.length, cols, lengths };
}
