// safetensors checkpoints: bit-exact round trips, a file made by an independent (Python) writer,
// corrupt and truncated files rejected with ERR_FORMAT naming the problem, atomic writes.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { rng } from './helpers/reference';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-safetensors-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const file = (name: string) => path.join(dir, name);
const FIXTURE = path.join(__dirname, 'fixtures', 'python_reference.safetensors');

/** The bytes of a tensor's data, for bit-exact comparisons (NaN payloads, -0). */
function bytesOf(t: qkv.Tensor): Uint8Array {
  const a = t.toTypedArray();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function f32FromBits(bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}

function f64FromBits(words: bigint[]): Float64Array {
  return new Float64Array(new BigUint64Array(words).buffer);
}

/** A safetensors file from a header (object or raw JSON text) and a data section. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) while ((Buffer.byteLength(text) + 8) % 8 !== 0) text += ' ';
  const h = Buffer.from(text, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

async function expectFormat(source: string | Uint8Array, re: RegExp): Promise<void> {
  const e = await rejection(qkv.loadSafetensors(source));
  expect(e, `${e.message} should match ${re}`).toBeInstanceOf(qkv.QkvError);
  expect(e.code).toBe('ERR_FORMAT');
  expect(e.message).toMatch(/^loadSafetensors: /);
  expect(e.message).toMatch(re);
}

describe('safetensors round trips', () => {
  it('is bit-exact for float32, float64 and int32, NaN payloads and -0 included', async () => {
    const f32 = qkv.Tensor.from(
      f32FromBits([0x7fc00001, 0xffa00000, 0x7f800001, 0x80000000, 0x00000001, 0x7f800000, 0xff800000, 0x3f800000]),
      [2, 4],
    );
    const f64 = qkv.Tensor.from(
      f64FromBits([0x7ff8000000000001n, 0xfff4000000000000n, 0x8000000000000000n, 0x0000000000000001n, 0x400921fb54442d18n]),
      [5],
    );
    const i32 = qkv.Tensor.from(new Int32Array([-2147483648, -1, 0, 1, 2147483647, 123456]), [3, 2]);
    const big = qkv.randn([300, 257], { seed: 7 });
    const p = file('exact.safetensors');
    await qkv.saveSafetensors(p, { f32, f64, i32, big });
    const { tensors, metadata } = await qkv.loadSafetensors(p);
    expect([...tensors.keys()]).toEqual(['f32', 'f64', 'i32', 'big']);
    expect(metadata).toEqual({});
    for (const [name, src] of [['f32', f32], ['f64', f64], ['i32', i32], ['big', big]] as const) {
      const t = tensors.get(name)!;
      expect(t.dtype).toBe(src.dtype);
      expect(t.shape).toEqual(src.shape);
      expect(Buffer.from(bytesOf(t)).equals(Buffer.from(bytesOf(src))), name).toBe(true);
    }
  });

  it('keeps empty tensors, 0-d scalars and the given order, and gathers strided inputs', async () => {
    const m = qkv.Tensor.from(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    const tensors = new Map<string, qkv.Tensor>([
      ['z.last', qkv.Tensor.from([5], [], { dtype: 'float64' })],
      ['10', qkv.zeros([0, 3])],
      ['2', qkv.zeros([3, 0, 2], { dtype: 'int32' })],
      ['transposed', m.transpose(0, 1)],
      ['sliced', qkv.arange(20, undefined, 1, { dtype: 'int32' }).slice(0, 3, 17, 4)],
      ['a.first', qkv.Tensor.from([-7], [], { dtype: 'int32' })],
    ]);
    expect(tensors.get('transposed')!.strides).toEqual([1, 3]);
    const p = file('shapes.safetensors');
    await qkv.saveSafetensors(p, tensors);
    const r = await qkv.loadSafetensors(p);
    expect([...r.tensors.keys()]).toEqual(['z.last', '10', '2', 'transposed', 'sliced', 'a.first']);
    expect(r.tensors.get('z.last')!.shape).toEqual([]);
    expect(r.tensors.get('z.last')!.dtype).toBe('float64');
    expect(r.tensors.get('z.last')!.item()).toBe(5);
    expect(r.tensors.get('10')!.shape).toEqual([0, 3]);
    expect(r.tensors.get('2')!.shape).toEqual([3, 0, 2]);
    expect(r.tensors.get('2')!.dtype).toBe('int32');
    expect(r.tensors.get('transposed')!.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(r.tensors.get('transposed')!.strides).toEqual([2, 1]);
    expect(r.tensors.get('sliced')!.toArray()).toEqual([3, 7, 11, 15]);
    expect(r.tensors.get('a.first')!.item()).toBe(-7);
  });

  it('keeps unicode names and metadata, "__proto__" included', async () => {
    const tensors: Record<string, qkv.Tensor> = {};
    const names = ['emb.☃.😀', 'naïve/权重', 'quote"back\\slash\nnewline', '', 'tab\there'];
    names.forEach((n, i) => (tensors[n] = qkv.full([2], i)));
    Object.defineProperty(tensors, '__proto__', { value: qkv.full([1], 9), enumerable: true });
    const metadata: Record<string, string> = { config: JSON.stringify({ dModel: 8, name: 'ü' }), 'ключ': 'значение 😀', empty: '' };
    Object.defineProperty(metadata, '__proto__', { value: 'not a prototype', enumerable: true });
    const p = file('unicode.safetensors');
    await qkv.saveSafetensors(p, tensors, { metadata });
    const r = await qkv.loadSafetensors(p);
    expect([...r.tensors.keys()]).toEqual([...names, '__proto__']);
    names.forEach((n, i) => expect(r.tensors.get(n)!.toArray()).toEqual([i, i]));
    expect(r.tensors.get('__proto__')!.toArray()).toEqual([9]);
    expect(Object.keys(r.metadata).sort()).toEqual(['__proto__', 'config', 'empty', 'ключ'].sort());
    expect(r.metadata['ключ']).toBe('значение 😀');
    expect(JSON.parse(r.metadata.config)).toEqual({ dModel: 8, name: 'ü' });
    expect(Object.getOwnPropertyDescriptor(r.metadata, '__proto__')!.value).toBe('not a prototype');
    expect(Object.getPrototypeOf(r.metadata)).toBe(Object.prototype);
  });

  it('writes the layout of the format: 8-aligned data, header offsets tiling the data section', async () => {
    const p = file('layout.safetensors');
    await qkv.saveSafetensors(p, { b: qkv.zeros([3], { dtype: 'float64' }), a: qkv.ones([2, 2], { dtype: 'int32' }) }, { metadata: { k: 'v' } });
    const blob = fs.readFileSync(p);
    const n = Number(blob.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(blob.subarray(8, 8 + n).toString('utf8'));
    expect(Object.keys(header)).toEqual(['__metadata__', 'b', 'a']);
    expect(header.__metadata__).toEqual({ k: 'v' });
    expect(header.b).toEqual({ dtype: 'F64', shape: [3], data_offsets: [0, 24] });
    expect(header.a).toEqual({ dtype: 'I32', shape: [2, 2], data_offsets: [24, 40] });
    expect(blob.length).toBe(8 + n + 40);
    expect(Array.from(new Int32Array(blob.buffer.slice(blob.byteOffset + 8 + n + 24, blob.byteOffset + 8 + n + 40)))).toEqual([1, 1, 1, 1]);
  });

  it('loads from bytes in memory as from a file', async () => {
    const p = file('bytes.safetensors');
    await qkv.saveSafetensors(p, { w: qkv.randn([4, 5], { seed: 3 }) }, { metadata: { m: '1' } });
    const fromFile = await qkv.loadSafetensors(p);
    const fromBytes = await qkv.loadSafetensors(fs.readFileSync(p));
    expect(fromBytes.metadata).toEqual(fromFile.metadata);
    expect(fromBytes.tensors.get('w')!.toArray()).toEqual(fromFile.tensors.get('w')!.toArray());
  });

  it('snapshots tensors: disposing them while the save runs does not change the file', async () => {
    const t = qkv.Tensor.from(new Float32Array([1, 2, 3]));
    const p = file('dispose.safetensors');
    const saving = qkv.saveSafetensors(p, { t });
    t.dispose();
    await saving;
    expect((await qkv.loadSafetensors(p)).tensors.get('t')!.toArray()).toEqual([1, 2, 3]);
  });
});

describe('a file written by the Python reference layout (test/fixtures/make_safetensors.py)', () => {
  it('loads with the right names, order, dtypes, shapes, values and metadata', async () => {
    const { tensors, metadata } = await qkv.loadSafetensors(FIXTURE);
    // The reference writer orders entries by dtype alignment, then name.
    expect([...tensors.keys()]).toEqual(['f64', 'i64', 'emb.☃.😀', 'empty', 'f32', 'i32', 'scalar', 'bf16', 'f16']);
    expect(metadata).toEqual({ format: 'pt', note: 'héllo ✓ 😀', config: '{"d_model": 8, "layers": 2}' });
    const get = (n: string) => tensors.get(n)!;
    expect(get('f32').dtype).toBe('float32');
    expect(get('f32').shape).toEqual([2, 3]);
    expect(Array.from(get('f32').toTypedArray())).toEqual([0, 1.5, -2.25, 3.4028234663852886e38, 1.401298464324817e-45, -0]);
    expect(Object.is(get('f32').toTypedArray()[5], -0)).toBe(true);
    expect(get('f64').dtype).toBe('float64');
    expect(Array.from(get('f64').toTypedArray())).toEqual([Math.PI, -1e300, 5e-324]);
    expect(get('i32').toArray()).toEqual([[-2147483648, -1], [0, 2147483647]]);
    // F16 and BF16 load as float32, exactly.
    expect(get('f16').dtype).toBe('float32');
    expect(get('f16').shape).toEqual([2, 4]);
    const f16 = Array.from(get('f16').toTypedArray());
    expect(f16).toEqual([1, -2, 0.5, 65504, 6.103515625e-5, 5.960464477539063e-8, Infinity, -0]);
    expect(Object.is(f16[7], -0)).toBe(true);
    expect(get('bf16').dtype).toBe('float32');
    expect(Array.from(get('bf16').toTypedArray())).toEqual([1, -3.140625, 2 ** 100]);
    // I64 loads as int32.
    expect(get('i64').dtype).toBe('int32');
    expect(Array.from(get('i64').toTypedArray())).toEqual([-2147483648, 2147483647, 0, 12345]);
    expect(get('scalar').shape).toEqual([]);
    expect(get('scalar').item()).toBe(42);
    expect(get('empty').shape).toEqual([0, 4]);
    expect(get('emb.☃.😀').toArray()).toEqual([7, -7]);
  });
});

describe('dtype conversions', () => {
  // Independent decoders (arithmetic, not bit manipulation).
  function halfValue(h: number): number {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) return sign * m * 2 ** -24;
    if (e === 31) return m ? NaN : sign * Infinity;
    return sign * (1 + m / 1024) * 2 ** (e - 15);
  }

  it('converts every F16 bit pattern to float32 exactly (NaN payloads kept), across read chunks', async () => {
    const n = 65536 * 5; // more than one read chunk
    const half = new Uint16Array(n);
    for (let i = 0; i < n; i++) half[i] = i & 0xffff;
    const blob = build({ h: { dtype: 'F16', shape: [n], data_offsets: [0, 2 * n] } }, new Uint8Array(half.buffer));
    const t = (await qkv.loadSafetensors(blob)).tensors.get('h')!;
    expect(t.dtype).toBe('float32');
    const got = t.toTypedArray() as Float32Array;
    const bits = new Uint32Array(got.buffer, got.byteOffset, got.length);
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const h = half[i];
      const want = halfValue(h);
      if (Number.isNaN(want)) {
        // sign, all-ones exponent, the 10 payload bits moved to the top of the mantissa
        if (bits[i] !== ((((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0)) bad++;
      } else if (!Object.is(got[i], want)) bad++;
    }
    expect(bad).toBe(0);
  });

  it('converts every BF16 bit pattern to float32 exactly', async () => {
    const half = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) half[i] = i;
    const blob = build({ b: { dtype: 'BF16', shape: [256, 256], data_offsets: [0, 131072] } }, new Uint8Array(half.buffer));
    const t = (await qkv.loadSafetensors(blob)).tensors.get('b')!;
    expect(t.shape).toEqual([256, 256]);
    const got = t.toTypedArray();
    const bits = new Uint32Array(got.buffer, got.byteOffset, got.length);
    let bad = 0;
    for (let i = 0; i < 65536; i++) if (bits[i] !== (i << 16) >>> 0) bad++;
    expect(bad).toBe(0);
  });

  it('converts integer dtypes to int32 and rejects values outside int32', async () => {
    const i64 = new BigInt64Array([-2147483648n, 2147483647n, -5n]);
    const ok = build({ x: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, new Uint8Array(i64.buffer));
    expect((await qkv.loadSafetensors(ok)).tensors.get('x')!.toArray()).toEqual([-2147483648, 2147483647, -5]);
    const small = build(
      {
        u8: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
        i8: { dtype: 'I8', shape: [2], data_offsets: [2, 4] },
        bool: { dtype: 'BOOL', shape: [2], data_offsets: [4, 6] },
        i16: { dtype: 'I16', shape: [1], data_offsets: [6, 8] },
      },
      new Uint8Array([255, 0, 0x80, 0x7f, 1, 0, 0x00, 0x80]),
    );
    const r = (await qkv.loadSafetensors(small)).tensors;
    expect(r.get('u8')!.toArray()).toEqual([255, 0]);
    expect(r.get('i8')!.toArray()).toEqual([-128, 127]);
    expect(r.get('bool')!.toArray()).toEqual([1, 0]);
    expect(r.get('i16')!.toArray()).toEqual([-32768]);
    const big = new BigInt64Array([1n, 2n, 2147483648n]);
    await expectFormat(
      build({ ids: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, new Uint8Array(big.buffer)),
      /tensor 'ids': I64 value 2147483648 at element 2 does not fit in int32/,
    );
    await expectFormat(build({ m: { dtype: 'BOOL', shape: [1], data_offsets: [0, 1] } }, new Uint8Array([2])), /tensor 'm': BOOL value 2/);
  });
});

describe('corrupt files reject with ERR_FORMAT naming the problem', () => {
  let valid: Uint8Array;
  beforeAll(async () => {
    const p = file('valid.safetensors');
    await qkv.saveSafetensors(
      p,
      { a: qkv.randn([3, 4], { seed: 1 }), b: qkv.arange(5, undefined, 1, { dtype: 'int32' }), c: qkv.zeros([2], { dtype: 'float64' }) },
      { metadata: { note: 'x' } },
    );
    valid = new Uint8Array(fs.readFileSync(p));
  });

  it('a file truncated at any point', async () => {
    for (let cut = 0; cut < valid.length; cut++) await expectFormat(valid.subarray(0, cut), /file|header|tensor/);
    // through the file path too, at a few cut points
    for (const cut of [0, 5, 8, 9, 40, valid.length - 9, valid.length - 1]) {
      const p = file(`cut-${cut}.safetensors`);
      fs.writeFileSync(p, valid.subarray(0, cut));
      await expectFormat(p, new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    }
    await expectFormat(valid.subarray(0, 3), /the file has 3 bytes, fewer than the 8/);
    await expectFormat(valid.subarray(0, valid.length - 1), /tensor '\w': data_offsets \[\d+, \d+\] lie outside the data section/);
  });

  it('a header length beyond the file or the 100 MB limit', async () => {
    const bad = valid.slice();
    const dv = new DataView(bad.buffer);
    for (const n of [BigInt(valid.length - 7), 1n << 40n, (1n << 64n) - 1n]) {
      dv.setBigUint64(0, n, true);
      await expectFormat(bad, /header length \d+ exceeds the \d+ bytes after the length field/);
    }
    // A sparse 200 MB file whose header length claims 150 MB: rejected before anything is read.
    const p = file('huge-header.safetensors');
    const head = new Uint8Array(8);
    new DataView(head.buffer).setBigUint64(0, 150_000_000n, true);
    fs.writeFileSync(p, head);
    fs.truncateSync(p, 200_000_000);
    await expectFormat(p, /header length 150000000 exceeds the limit of 100000000 bytes/);
  });

  it('bad JSON or a header that is not an object', async () => {
    const cases: [string, RegExp][] = [
      ['', /header: invalid JSON at byte 0: unexpected end of input/],
      ['{"a":', /header: invalid JSON at byte 5/],
      ['{"a":1,}', /header: invalid JSON at byte 7: expected a string key/],
      ['{} garbage', /invalid JSON at byte 3: unexpected data after the value/],
      ['{"a":01}', /leading zeros/],
      ['{"\\ud800":1}', /unpaired high surrogate/],
      ['{"\\x":1}', /invalid escape/],
      ['\ufeff{}', /unexpected character/],
      ['[]', /the header must be a JSON object, got an array/],
      ['"text"', /the header must be a JSON object, got a string/],
      ['['.repeat(100000), /nesting deeper than 128/],
    ];
    for (const [text, re] of cases) await expectFormat(build(text, undefined, false), re);
    // invalid UTF-8 inside a string
    const raw = Buffer.concat([Buffer.from('{"a'), Buffer.from([0xc0, 0x80]), Buffer.from('":1}')]);
    const blob = new Uint8Array(8 + raw.length);
    new DataView(blob.buffer).setBigUint64(0, BigInt(raw.length), true);
    blob.set(raw, 8);
    await expectFormat(blob, /invalid UTF-8 in string/);
  });

  it('bad entries: dtype, shape, offsets, overlap, gaps, sizes, fields, metadata', async () => {
    const d8 = new Uint8Array(8);
    const e = (dtype: unknown, shape: unknown, offs: unknown) => ({ dtype, shape, data_offsets: offs });
    const cases: [unknown, Uint8Array, RegExp][] = [
      [{ a: e('Q7', [2], [0, 8]) }, d8, /tensor 'a': unknown dtype 'Q7'/],
      [{ a: e('F8_E4M3', [8], [0, 8]) }, d8, /tensor 'a': unsupported dtype 'F8_E4M3'/],
      [{ a: e(32, [2], [0, 8]) }, d8, /tensor 'a': dtype must be a string/],
      [{ a: e('F32', [2], [0, 1000]) }, d8, /tensor 'a': data_offsets \[0, 1000\] lie outside the data section of 8 bytes/],
      [{ a: e('F32', [2], [8, 0]) }, d8, /tensor 'a': data_offsets \[8, 0\] end before they begin/],
      [{ a: e('F32', [2], [0, -8]) }, d8, /tensor 'a': data_offsets must be two non-negative integers/],
      [{ a: e('F32', [2], [0]) }, d8, /tensor 'a': data_offsets must be two non-negative integers/],
      [{ a: e('F32', [2], [0, 8.5]) }, d8, /tensor 'a': data_offsets must be two non-negative integers/],
      [{ a: e('F32', [3], [0, 8]) }, d8, /tensor 'a': shape \[3\] of F32 needs 12 bytes, data_offsets \[0, 8\] hold 8/],
      [{ a: e('F32', [2, -1], [0, 8]) }, d8, /tensor 'a': shape must be an array of non-negative integers/],
      [{ a: e('F32', [2.5], [0, 8]) }, d8, /tensor 'a': shape must be an array of non-negative integers/],
      [{ a: e('F32', '2', [0, 8]) }, d8, /tensor 'a': shape must be an array/],
      [{ a: e('F32', [2 ** 30, 2 ** 30, 0], [0, 0]), p: e('U8', [8], [0, 8]) }, d8, /tensor 'a': shape .* is too large/],
      [{ a: e('F32', [1], [0, 4]), b: e('F32', [1], [2, 6]), c: e('U8', [2], [6, 8]) }, d8, /tensor 'b': data_offsets \[2, 6\] overlap tensor 'a' at \[0, 4\]/],
      [{ a: e('F32', [1], [0, 4]), b: e('U8', [2], [6, 8]) }, d8, /tensor 'b': data_offsets \[6, 8\] leave bytes \[4, 6\] of the data section unused/],
      [{ a: e('F32', [1], [0, 4]) }, d8, /the data section has 4 bytes after the last tensor/],
      [{}, d8, /the data section has 8 bytes after the last tensor/],
      [{ a: 5 }, d8, /tensor 'a': the entry must be an object, got a number/],
      [{ a: { dtype: 'F32', shape: [2] } }, d8, /tensor 'a': missing field 'data_offsets'/],
      [{ a: { ...e('F32', [2], [0, 8]), extra: 1 } }, d8, /tensor 'a': unknown field 'extra'/],
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', d8, /tensor 'a': appears twice/],
      ['{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', d8, /tensor 'a': field 'dtype' appears twice/],
      [{ __metadata__: { k: 1 }, a: e('F32', [2], [0, 8]) }, d8, /__metadata__: the value of 'k' must be a string, got a number/],
      [{ __metadata__: ['x'], a: e('F32', [2], [0, 8]) }, d8, /__metadata__ must be an object of strings, got an array/],
    ];
    for (const [header, data, re] of cases) await expectFormat(build(header, data), re);
  });

  it('survives random byte flips and truncations (fuzz)', async () => {
    const r = rng(2024);
    const headerEnd = 8 + Number(new DataView(valid.buffer, valid.byteOffset).getBigUint64(0, true));
    let rejected = 0;
    let loaded = 0;
    for (let i = 0; i < 400; i++) {
      const bad = valid.slice();
      const flips = 1 + r.int(4);
      for (let k = 0; k < flips; k++) {
        // mostly in the header (where the structure is), sometimes in the length field
        const pos = r.uniform() < 0.1 ? r.int(8) : 8 + r.int(headerEnd - 8);
        bad[pos] = r.uniform() < 0.5 ? r.int(256) : bad[pos] ^ (1 << r.int(8));
      }
      const input = r.uniform() < 0.2 ? bad.subarray(0, r.int(bad.length)) : bad;
      try {
        const res = await qkv.loadSafetensors(input);
        loaded++;
        for (const t of res.tensors.values()) t.toTypedArray();
      } catch (e) {
        const err = e as Error & { code?: string };
        expect(err, err.message).toBeInstanceOf(qkv.QkvError);
        expect(err.code, err.message).toBe('ERR_FORMAT');
        expect(err.message).toMatch(/^loadSafetensors: <buffer>: /);
        rejected++;
      }
    }
    expect(rejected + loaded).toBe(400);
    expect(rejected).toBeGreaterThan(300);
  });
});

describe('files and atomic writes', () => {
  it('a missing file, a directory or an empty path', async () => {
    const missing = await rejection(qkv.loadSafetensors(file('missing.safetensors')));
    expect(missing).toBeInstanceOf(qkv.QkvError);
    expect(missing.code).toBe('ERR_IO');
    expect(missing.message).toMatch(/loadSafetensors: .*missing\.safetensors: No such file or directory/);
    const d = await rejection(qkv.loadSafetensors(dir));
    expect(d.code).toBe('ERR_IO');
    expect(d.message).toMatch(/not a regular file/);
  });

  it('a failed save leaves the existing file untouched and no temporary files', async () => {
    const target = file('keep.safetensors');
    await qkv.saveSafetensors(target, { w: qkv.full([4], 1) });
    const before = fs.readFileSync(target);
    // The directory does not exist.
    const e1 = await rejection(qkv.saveSafetensors(path.join(dir, 'no-such-dir', 'keep.safetensors'), { w: qkv.full([4], 2) }));
    expect(e1).toBeInstanceOf(qkv.QkvError);
    expect(e1.code).toBe('ERR_IO');
    expect(e1.message).toMatch(/saveSafetensors: .*no-such-dir\/keep\.safetensors: .*No such file or directory/);
    // The target is a non-empty directory: refused before anything is written.
    const sub = file('a-directory');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'inside'), 'x');
    const e2 = await rejection(qkv.saveSafetensors(sub, { w: qkv.randn([1000], { seed: 1 }) }));
    expect(e2.code).toBe('ERR_IO');
    expect(e2.message).toMatch(/saveSafetensors: .*a-directory: is a directory/);
    expect(fs.readdirSync(sub)).toEqual(['inside']);
    // A disposed tensor: rejected before anything is written.
    const gone = qkv.full([4], 3);
    gone.dispose();
    const e3 = await rejection(qkv.saveSafetensors(target, { w: gone }));
    expect(e3.code).toBe('ERR_DISPOSED');
    expect(fs.readFileSync(target).equals(before)).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.qkv-tmp-'))).toEqual([]);
  });

  it('overwrites atomically: concurrent saves leave one complete file and no temporary files', async () => {
    const target = file('race.safetensors');
    await qkv.saveSafetensors(target, { w: qkv.full([10], -1) });
    const saves = [];
    for (let i = 0; i < 12; i++) saves.push(qkv.saveSafetensors(target, { w: qkv.full([1000 + i], i) }, { metadata: { i: String(i) } }));
    await Promise.all(saves);
    const { tensors, metadata } = await qkv.loadSafetensors(target);
    const i = Number(metadata.i);
    expect(tensors.get('w')!.shape).toEqual([1000 + i]);
    expect(tensors.get('w')!.max().item()).toBe(i);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.qkv-tmp-'))).toEqual([]);
  });

  it('bad arguments throw TypeError naming the call', async () => {
    const t = qkv.zeros([2]);
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => qkv.saveSafetensors(42 as never, { t }), /saveSafetensors: path must be a non-empty string/],
      [() => qkv.saveSafetensors('', { t }), /saveSafetensors: path must be a non-empty string/],
      [() => qkv.saveSafetensors(file('x\0y'), { t }), /saveSafetensors: path must not contain NUL/],
      [() => qkv.saveSafetensors(file('x'), [t] as never), /saveSafetensors: tensors must be a Map or an object of Tensors/],
      [() => qkv.saveSafetensors(file('x'), { t: [1, 2] as never }), /saveSafetensors: tensors\['t'\] must be a Tensor/],
      [() => qkv.saveSafetensors(file('x'), new Map([[1 as never, t]])), /saveSafetensors: tensor names must be strings/],
      [() => qkv.saveSafetensors(file('x'), { __metadata__: t }), /saveSafetensors: the tensor name '__metadata__' is reserved/],
      [() => qkv.saveSafetensors(file('x'), { t }, { metadata: { n: 1 as never } }), /saveSafetensors: options.metadata\['n'\] must be a string/],
      [() => qkv.saveSafetensors(file('x'), { t }, { metadata: 'x' as never }), /saveSafetensors: options.metadata must be an object/],
      [() => qkv.loadSafetensors(42 as never), /loadSafetensors: path must be a non-empty string/],
      [() => qkv.loadSafetensors(new Float32Array(4) as never), /loadSafetensors: path must be a non-empty string/],
    ];
    for (const [fn, re] of cases) {
      const e = await rejection(fn());
      expect(e, re.source).toBeInstanceOf(TypeError);
      expect(e.message).toMatch(re);
    }
    expect(fs.existsSync(file('x'))).toBe(false);
  });
});
