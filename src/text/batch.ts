// Right-padded batches of id rows: the layout the native models read (rows × cols int32, row-major).
import { MAX_INT32, checkArray, checkInt, checkString } from '../args';

/** Right-padded ids of several texts: `ids` is rows × cols, row-major; `lengths` says where each row ends. */
export interface TokenBatch {
  ids: Int32Array;
  rows: number;
  cols: number;
  lengths: Int32Array;
}

/** Pads id rows (each non-empty) into a batch, with `padId` after the end of each row. */
export function padBatch(rows: readonly (readonly number[])[], op = 'padBatch', padId = 0): TokenBatch {
  checkString('padBatch', 'op', op, { nonEmpty: true });
  checkInt(op, 'padId', padId, { min: 0, max: MAX_INT32 });
  // Each row copied once into checked ids (Int32Array.set would turn a bad id into 0 or wrap it silently).
  const list = checkArray(op, 'rows', rows, (r, name) => {
    const row = checkArray(op, name, r, (id, n) => checkInt(op, n, id, { min: 0, max: MAX_INT32 }), { what: 'an array of ids' });
    if (row.length === 0) throw new RangeError(`${op}: ${name} holds no ids (a text that encodes to no tokens)`);
    return row;
  }, { nonEmpty: true, what: 'an array of id arrays' });
  // A loop, not Math.max(...): spreading a long list of rows overflows the stack.
  const cols = list.reduce((m, r) => Math.max(m, r.length), 0);
  const ids = new Int32Array(list.length * cols);
  if (padId !== 0) ids.fill(padId);
  const lengths = new Int32Array(list.length);
  list.forEach((r, i) => {
    ids.set(r, i * cols);
    lengths[i] = r.length;
  });
  return { ids, rows: list.length, cols, lengths };
}
