// How saves treat what is already on disk: permissions kept, symbolic links written through,
// temporaries of killed writers cleaned up, and a SIGKILL mid-save leaving the old or the new file.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const tensors = (value: number) => ({ w: qkv.full([4, 4], value) });
const temporaries = () => fs.readdirSync(dir).filter((n) => n.includes('.tmp-'));
async function valueIn(file: string): Promise<number> {
  const loaded = await qkv.loadSafetensors(file);
  return loaded.tensors.get('w')!.toTypedArray()[0];
}

describe('saving over an existing file', () => {
  it('keeps a private file private (mode 0600 stays 0600)', async () => {
    const file = path.join(dir, 'private.safetensors');
    await qkv.saveSafetensors(file, tensors(1));
    fs.chmodSync(file, 0o600);
    await qkv.saveSafetensors(file, tensors(2));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(await valueIn(file)).toBe(2);
  });

  it('writes through a symbolic link to its target, and the link stays a link', async () => {
    const target = path.join(dir, 'target.safetensors');
    const link = path.join(dir, 'link.safetensors');
    await qkv.saveSafetensors(target, tensors(1));
    fs.symlinkSync(target, link);
    await qkv.saveSafetensors(link, tensors(3));
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(await valueIn(target)).toBe(3);
  });

  it('refuses a directory as the destination with ERR_IO and writes nothing', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'sub-'));
    await expect(qkv.saveSafetensors(sub, tensors(1))).rejects.toMatchObject({ code: 'ERR_IO' });
    expect(fs.readdirSync(sub)).toEqual([]);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith(path.basename(sub) + '.tmp-'))).toEqual([]);
  });
});

describe('temporary files of killed writers', () => {
  it('are removed by the next save when their process is gone, and kept while it runs', async () => {
    const file = path.join(dir, 'stale.safetensors');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const staleName = `stale.safetensors.tmp-${deadPid}-0123456789ab`;
      const liveName = `stale.safetensors.tmp-${alive.pid}-0123456789ab`;
      fs.writeFileSync(path.join(dir, staleName), 'left by a killed save');
      fs.writeFileSync(path.join(dir, liveName), 'a save in progress elsewhere');
      await qkv.saveSafetensors(file, tensors(5));
      const left = temporaries().filter((n) => n.startsWith('stale.'));
      expect(left).toEqual([liveName]);
    } finally {
      alive.kill();
      fs.rmSync(path.join(dir, `stale.safetensors.tmp-${alive.pid}-0123456789ab`), { force: true });
    }
  });

  it('a SIGKILL during saves leaves the old file or the new one, and the next save leaves no temporary', async () => {
    const file = path.join(dir, 'killed.safetensors');
    await qkv.saveSafetensors(file, { w: qkv.full([1024, 1024], -1) });
    const entry = JSON.stringify(path.join(__dirname, '../src/index.ts'));
    const script = `
      const qkv = require(${entry});
      (async () => { for (let i = 0; ; i++) await qkv.saveSafetensors(${JSON.stringify(file)}, { w: qkv.full([1024, 1024], i) }); })();
    `;
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 700 + 97 * round));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // Whole: it loads, and every element is the one value that file was saved with.
      const loaded = await qkv.loadSafetensors(file);
      const values = loaded.tensors.get('w')!.toTypedArray();
      expect(values.length).toBe(1024 * 1024);
      expect(values.every((v) => v === values[0])).toBe(true);
    }
    await qkv.saveSafetensors(file, tensors(7));
    expect(temporaries().filter((n) => n.startsWith('killed.'))).toEqual([]);
  });
});

describe('a small checkpoint whose config asks for a huge model', () => {
  // Rewrites a saved MLP's config; the tensors stay those of the small model (a few hundred bytes).
  async function forgedCheckpoint(name: string, change: (config: Record<string, unknown>) => void): Promise<string> {
    const file = path.join(dir, name);
    const model = new qkv.nn.MLP(4, [8], 2);
    await model.save(file);
    const saved = await qkv.loadSafetensors(file);
    const config = JSON.parse(saved.metadata['qkv.config']);
    change(config);
    await qkv.saveSafetensors(file, saved.tensors, { metadata: { ...saved.metadata, 'qkv.config': JSON.stringify(config) } });
    return file;
  }

  it('is refused with ERR_FORMAT before the memory is taken (30,000 layers, or widths needing about 160 GB)', async () => {
    const deep = await forgedCheckpoint('deep.safetensors', (c) => {
      c.hidden = new Array(30000).fill(512);
    });
    await expect(qkv.nn.load(deep)).rejects.toMatchObject({ code: 'ERR_FORMAT', message: expect.stringMatching(/far larger than/) });
    const wide = await forgedCheckpoint('wide.safetensors', (c) => {
      c.in = 200000;
      c.hidden = [200000];
    });
    await expect(qkv.nn.load(wide)).rejects.toMatchObject({ code: 'ERR_FORMAT', message: expect.stringMatching(/far larger than/) });
    // The unforged file still loads.
    const fine = await forgedCheckpoint('fine.safetensors', () => {});
    const { module } = await qkv.nn.load(fine);
    expect(module.parameters().map((p) => p.shape)).toEqual([[8, 4], [8], [2, 8], [2]]);
  });
});

describe('plot.attention writes through the same atomic writer', () => {
  const weights = () => qkv.Tensor.from(new Float32Array([0.2, 0.8, 0.6, 0.4]), [2, 2]);

  it('writes the SVG it returns and leaves no temporary behind', () => {
    const file = path.join(dir, 'map.svg');
    const svg = qkv.plot.attention(weights(), { path: file });
    expect(fs.readFileSync(file, 'utf8')).toBe(svg);
    expect(fs.readdirSync(dir).filter((n) => n.includes('map.svg') && n !== 'map.svg')).toEqual([]);
  });

  it('throws QkvError ERR_IO naming the call for a directory or a missing folder, and writes nothing', () => {
    const sub = fs.mkdtempSync(path.join(dir, 'plots-'));
    expect(() => qkv.plot.attention(weights(), { path: sub })).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/^plot\.attention: .*is a directory/) }));
    expect(() => qkv.plot.attention(weights(), { path: path.join(sub, 'missing', 'map.svg') })).toThrow(
      expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/^plot\.attention: /) }),
    );
    expect(fs.readdirSync(sub)).toEqual([]);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith(path.basename(sub) + '.'))).toEqual([]);
  });
});
