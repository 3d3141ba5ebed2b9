// How saves treat what is already on disk: permissions kept, symbolic links written through,
// temporaries of killed writers cleaned up, a SIGKILL mid-save leaving the old or the new file,
// plot.attention on the same writer, loading that refuses a small file asking for a huge model,
// and JSON numbers that keep -0's sign.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const entry = JSON.stringify(path.join(__dirname, '../src/index.ts'));
const tensors = (value: number) => ({ w: qkv.full([4, 4], value) });
// The temporaries qkv's writer names `.<file>.qkv-tmp-<pid>-<random>`.
const temporariesOf = (file: string) => fs.readdirSync(path.dirname(file)).filter((n) => n.startsWith(`.${path.basename(file)}.qkv-tmp-`));
async function valueIn(file: string): Promise<number> {
  const loaded = await qkv.loadSafetensors(file);
  return loaded.tensors.get('w')!.toTypedArray()[0];
}
// The pid of a process that has exited.
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('saving over an existing file', () => {
  it('keeps a private file private (mode 0600 stays 0600), and gives a new file 0666 less the umask', async () => {
    const file = path.join(dir, 'private.safetensors');
    await qkv.saveSafetensors(file, tensors(1));
    expect(fs.statSync(file).mode & 0o777).toBe(0o666 & ~process.umask());
    fs.chmodSync(file, 0o600);
    await qkv.saveSafetensors(file, tensors(2));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(await valueIn(file)).toBe(2);
    fs.chmodSync(file, 0o640);
    await new qkv.nn.Linear(2, 2).save(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
  });

  it('writes through a symbolic link to its target, and the link stays a link (chains and dangling links too)', async () => {
    const target = path.join(dir, 'target.safetensors');
    const link = path.join(dir, 'link.safetensors');
    await qkv.saveSafetensors(target, tensors(1));
    fs.symlinkSync(target, link);
    await qkv.saveSafetensors(link, tensors(3));
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(await valueIn(target)).toBe(3);
    // A link to a link, relative, into another folder: the file at the end of the chain is replaced.
    const sub = fs.mkdtempSync(path.join(dir, 'chain-'));
    fs.symlinkSync('../link.safetensors', path.join(sub, 'second-link'));
    await qkv.saveSafetensors(path.join(sub, 'second-link'), tensors(4));
    expect(fs.lstatSync(path.join(sub, 'second-link')).isSymbolicLink()).toBe(true);
    expect(await valueIn(target)).toBe(4);
    expect(temporariesOf(target)).toEqual([]);
    // A dangling link: its target is created.
    const dangling = path.join(sub, 'dangling');
    fs.symlinkSync('made-by-the-save.safetensors', dangling);
    await qkv.saveSafetensors(dangling, tensors(5));
    expect(fs.lstatSync(dangling).isSymbolicLink()).toBe(true);
    expect(await valueIn(path.join(sub, 'made-by-the-save.safetensors'))).toBe(5);
  });

  it('refuses a directory, a path ending in / and a non-regular file with ERR_IO, and writes nothing', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'sub-'));
    await expect(qkv.saveSafetensors(sub, tensors(1))).rejects.toMatchObject({ code: 'ERR_IO', message: expect.stringMatching(/is a directory/) });
    await expect(qkv.saveSafetensors(sub + '/', tensors(1))).rejects.toMatchObject({ code: 'ERR_IO' });
    await expect(qkv.saveSafetensors(path.join(sub, 'new') + '/', tensors(1))).rejects.toMatchObject({ code: 'ERR_IO' });
    const fifo = path.join(sub, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      await expect(qkv.saveSafetensors(fifo, tensors(1))).rejects.toMatchObject({ code: 'ERR_IO', message: expect.stringMatching(/not a regular file/) });
      expect(fs.statSync(fifo).isFIFO()).toBe(true);
      fs.rmSync(fifo);
    }
    expect(fs.readdirSync(sub)).toEqual([]);
    expect(fs.readdirSync(dir).filter((n) => n.includes(path.basename(sub)) && n !== path.basename(sub))).toEqual([]);
  });
});

describe('temporary files of killed writers', () => {
  it('are removed by the next save when their process is gone, and kept while it runs', async () => {
    const file = path.join(dir, 'stale.safetensors');
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const staleName = `.stale.safetensors.qkv-tmp-${deadPid()}-0123456789ab`;
    const liveName = `.stale.safetensors.qkv-tmp-${alive.pid}-0123456789ab`;
    const otherFile = `.other.safetensors.qkv-tmp-${deadPid()}-0123456789ab`; // another destination's
    try {
      for (const n of [staleName, liveName, otherFile]) fs.writeFileSync(path.join(dir, n), 'left by a save');
      await qkv.saveSafetensors(file, tensors(5));
      expect(temporariesOf(file)).toEqual([liveName]);
      expect(fs.existsSync(path.join(dir, otherFile))).toBe(true);
    } finally {
      alive.kill();
      for (const n of [liveName, otherFile]) fs.rmSync(path.join(dir, n), { force: true });
    }
  });

  it('are removed by a load too (safetensors, checkpoints, word2vec)', async () => {
    const st = path.join(dir, 'loaded.safetensors');
    await qkv.saveSafetensors(st, tensors(6));
    const model = path.join(dir, 'loaded-model.safetensors');
    await new qkv.nn.Linear(2, 3).save(model);
    const vectors = path.join(dir, 'loaded.vec');
    const w2v = await qkv.Word2Vec.train([['a', 'b', 'a']], { dim: 4, minCount: 1, epochs: 1, threads: 1 });
    await w2v.save(vectors, { format: 'word2vec-text' });
    for (const f of [st, model, vectors]) fs.writeFileSync(path.join(dir, `.${path.basename(f)}.qkv-tmp-${deadPid()}-0123456789ab`), 'x');
    await qkv.loadSafetensors(st);
    await qkv.nn.load(model);
    await qkv.Word2Vec.load(vectors);
    for (const f of [st, model, vectors]) expect(temporariesOf(f)).toEqual([]);
  });

  it('a SIGKILL during saves leaves the old file or the new one, and the next save leaves no temporary', async () => {
    const file = path.join(dir, 'killed.safetensors');
    const n = 1 << 22; // 16 MB a save
    await qkv.saveSafetensors(file, { w: qkv.full([n], -1) });
    // The child saves value i, i+1, ... and reports each save once it is complete.
    const script = `
      const qkv = require(${entry});
      (async () => {
        for (let i = 0; ; i++) {
          await qkv.saveSafetensors(${JSON.stringify(file)}, { w: qkv.full([${n}], i) });
          process.stdout.write(i + '\\n');
        }
      })();
    `;
    for (let round = 0; round < 10; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      const closed = new Promise((r) => child.once('close', r));
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d) => {
          if (!out) setTimeout(() => (child.kill('SIGKILL'), resolve()), Math.random() * 400);
          out += d;
        });
      });
      await closed;
      const reported = out.trim().split('\n').map(Number);
      const lastComplete = reported[reported.length - 1];
      // The file loads whole, and holds the last save the child completed or the one after it.
      const values = (await qkv.loadSafetensors(file)).tensors.get('w')!.toTypedArray();
      expect(values.length).toBe(n);
      expect([lastComplete, lastComplete + 1]).toContain(values[0]);
      expect(values.every((v) => v === values[0])).toBe(true);
    }
    await qkv.saveSafetensors(file, tensors(7));
    expect(temporariesOf(file)).toEqual([]);
    expect(fs.readdirSync(dir).filter((name) => name.includes('killed') && name !== 'killed.safetensors')).toEqual([]);
  }, 120_000);
});

describe('a small checkpoint whose config asks for a huge model', () => {
  // Rewrites a saved model's config; the tensors stay those of the small model.
  async function forged(name: string, model: { save(p: string): Promise<void> }, change: (config: Record<string, unknown>) => void) {
    const file = path.join(dir, name);
    await model.save(file);
    const saved = await qkv.loadSafetensors(file);
    const config = JSON.parse(saved.metadata['qkv.config']);
    change(config);
    await qkv.saveSafetensors(file, saved.tensors, { metadata: { ...saved.metadata, 'qkv.config': JSON.stringify(config) } });
    expect(fs.statSync(file).size).toBeLessThan(200_000);
    return file;
  }
  const refused = { code: 'ERR_FORMAT', message: expect.stringMatching(/qkv\.config describes a model far larger than the \d+ bytes of tensors in the file/) };

  // Each forged config needs tens of GB (30,000 layers of 1 MB; widths of 160 GB): only a loader
  // that bounds the model by the file before taking the memory can refuse it in the test's time.
  it('an MLP: 30,000 layers, or widths needing about 160 GB, are refused with ERR_FORMAT', async () => {
    const mlp = () => new qkv.nn.MLP(4, [8], 2);
    const deep = await forged('deep.safetensors', mlp(), (c) => (c.hidden = new Array(30000).fill(512)));
    await expect(qkv.nn.load(deep)).rejects.toMatchObject(refused);
    const wide = await forged('wide.safetensors', mlp(), (c) => ((c.in = 200000), (c.hidden = [200000])));
    await expect(qkv.nn.load(wide)).rejects.toMatchObject(refused);
    const { module } = await qkv.nn.load(await forged('fine.safetensors', mlp(), () => {}));
    expect(module.parameters().map((p) => p.shape)).toEqual([[8, 4], [8], [2, 8], [2]]);
  });

  it('a TransformerEncoder: layers: 30000, dim: 30000 or maxLength: 2^30 are refused with ERR_FORMAT', async () => {
    const vocab = qkv.CharVocab.build(['abcdef']);
    const small = () => new qkv.TransformerEncoder({ vocab, dim: 16, heads: 2, layers: 1, maxLength: 16, seed: 1 });
    const cases: Array<(c: Record<string, unknown>) => void> = [
      (c) => ((c.layers = 30000), (c.dim = 512)), // ~100 GB of layers
      (c) => (c.dim = 30000), // ~90 GB
      (c) => (c.maxLength = 2 ** 30), // a 128 GB positional table
    ];
    for (const [i, change] of cases.entries()) {
      const file = await forged(`encoder-${i}.safetensors`, small(), change);
      await expect(qkv.TransformerEncoder.load(file)).rejects.toMatchObject(refused);
    }
    const fine = await qkv.TransformerEncoder.load(await forged('encoder-fine.safetensors', small(), () => {}));
    expect(fine.config.layers).toBe(1);
  });
});

describe('plot.attention writes through the same atomic writer', () => {
  const weights = () => qkv.Tensor.from(new Float32Array([0.2, 0.8, 0.6, 0.4]), [2, 2]);

  it('writes the SVG it returns, keeps a file mode, and leaves no temporary behind', () => {
    const sub = fs.mkdtempSync(path.join(dir, 'plot-'));
    const file = path.join(sub, 'map.svg');
    const svg = qkv.plot.attention(weights(), { path: file });
    expect(fs.readFileSync(file, 'utf8')).toBe(svg);
    fs.chmodSync(file, 0o600);
    qkv.plot.attention(weights(), { path: file, title: 'again' });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(sub)).toEqual(['map.svg']);
  });

  it('throws QkvError ERR_IO naming the call for a directory (also /tmp) or a missing folder, and writes nothing', () => {
    const sub = fs.mkdtempSync(path.join(dir, 'plots-'));
    const tmpBefore = fs.readdirSync(os.tmpdir()).filter((n) => n.includes('qkv-tmp')).length;
    for (const target of [sub, os.tmpdir()]) {
      expect(() => qkv.plot.attention(weights(), { path: target })).toThrow(
        expect.objectContaining({ name: 'QkvError', code: 'ERR_IO', message: expect.stringMatching(/^plot\.attention: .*is a directory/) }),
      );
    }
    expect(() => qkv.plot.attention(weights(), { path: path.join(sub, 'missing', 'map.svg') })).toThrow(
      expect.objectContaining({ name: 'QkvError', code: 'ERR_IO', message: expect.stringMatching(/^plot\.attention: .*missing/) }),
    );
    expect(fs.readdirSync(sub)).toEqual([]);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith(`.${path.basename(sub)}.`))).toEqual([]);
    expect(fs.readdirSync(os.tmpdir()).filter((n) => n.includes('qkv-tmp')).length).toBe(tmpBefore);
    expect(fs.readdirSync('/').filter((n) => n.includes('qkv-tmp'))).toEqual([]);
  });
});

describe('JSON numbers in checkpoints', () => {
  it('-0.0 keeps its sign through a save and a load (it is written as -0.0, not as the integer -0)', async () => {
    const file = path.join(dir, 'negative-zero.safetensors');
    const dropout = new qkv.nn.Dropout(-0);
    expect(Object.is(dropout.p, -0)).toBe(true);
    await dropout.save(file);
    expect((await qkv.loadSafetensors(file)).metadata['qkv.config']).toContain('"p":-0.0');
    const { module } = await qkv.nn.load(file);
    expect(Object.is(module.config.p, -0)).toBe(true);
  });
});
