// Hugging Face CLIP checkpoints: DualEncoder.fromPretrained on a tiny CLIPModel with random weights
// (test/fixtures/make_clip_parity.py, which also computes the embeddings with a plain PyTorch CLIP
// after transformers' modeling_clip), save(dir, { format: 'huggingface' }) and back, legacy
// pooling configs, the temperature clamp, and the errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-clip-hf-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const dir = path.join(__dirname, 'fixtures', 'clip-tiny');

// Word k is id k, as the fixture's captions use them; bos and eos are CLIP's last two ids, eos pads.
const tokenizer = new qkv.WordVocab([...Array.from({ length: 98 }, (_, i) => `w${i}`), '<|startoftext|>', '<|endoftext|>'],
  { specials: { bos: '<|startoftext|>', eos: '<|endoftext|>', pad: '<|endoftext|>' } });

const worstRelative = (got: qkv.Tensor, want: qkv.Tensor) => {
  expect(got.shape).toEqual(want.shape);
  const g = got.toTypedArray(), w = want.toTypedArray();
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]) / Math.max(1, Math.abs(w[i])));
  return worst;
};

async function fixture() {
  const { tensors } = await qkv.loadSafetensors(path.join(__dirname, 'fixtures', 'clip_parity.safetensors'));
  const ids = tensors.get('ids')!.toTypedArray(), lengths = Array.from(tensors.get('lengths')!.toTypedArray());
  const P = tensors.get('ids')!.shape[1];
  // The captions' words, without the bos and eos the model adds.
  const texts = lengths.map((n, r) => Array.from(ids.subarray(r * P + 1, r * P + n - 1), (id) => `w${id}`).join(' '));
  return { t: tensors, texts, ids, lengths, P };
}

async function expectParity(clip: qkv.DualEncoder) {
  const { t, texts } = await fixture();
  const images = t.get('images')!;
  const cases: [qkv.Tensor, string][] = [
    [await clip.encodeImages(images, { normalize: false }), 'image_embeds'],
    [await clip.encodeTexts(texts, { normalize: false }), 'text_embeds'],
    [await clip.encodeImages(images), 'image_embeds_normalized'],
    [await clip.encodeTexts(texts), 'text_embeds_normalized'],
  ];
  for (const [got, name] of cases) {
    expect(worstRelative(got, t.get(name)!), name).toBeLessThan(1e-4);
    got.dispose();
  }
  const sim = await clip.similarity(images, texts);
  const logits = qkv.mul(sim, clip.logitScale);
  expect(worstRelative(logits, t.get('logits_per_image')!)).toBeLessThan(1e-4);
  for (const x of [sim, logits, ...t.values()]) x.dispose();
}

describe('DualEncoder: Hugging Face CLIP checkpoints', () => {
  it('fromPretrained: the batches carry the fixture\'s ids, and the embeddings are within 1e-4 (relative) of PyTorch', async () => {
    const { t, texts, ids, lengths, P } = await fixture();
    const clip = await qkv.DualEncoder.fromPretrained(dir, { tokenizer });
    const b = clip.batch(texts);
    lengths.forEach((n, r) => expect(Array.from(b.ids.subarray(r * b.cols, r * b.cols + n))).toEqual(Array.from(ids.subarray(r * P, r * P + n))));
    expect(clip.context).toBe(16);
    expect(clip.embedDim).toBe(24);
    expect(clip.imageSize).toBe(16);
    expect(clip.config).toMatchObject({
      text: { dim: 32, heads: 2, ffDim: 48, layers: 2, vocabSize: 100, eotId: 99, activation: 'gelu' },
      vision: { dim: 40, heads: 4, ffDim: 64, layers: 2, patchSize: 4, channels: 3, activation: 'quickGelu' },
    });
    // OpenAI's trained 4.6052 is above ln 100 in float32: the clamp is raised, not the weight lowered.
    expect(clip.parameter('logit_scale').item()).toBe(Math.fround(4.6052));
    expect(Number(clip.config.maxLogitScale)).toBeGreaterThanOrEqual(Math.fround(4.6052));
    await expectParity(clip);
    for (const x of t.values()) x.dispose();
    await clip.dispose();
  });

  it("save(dir, { format: 'huggingface' }) writes CLIPModel's names and shapes, and reloads to identical tensors", async () => {
    const clip = await qkv.DualEncoder.fromPretrained(dir, { tokenizer });
    const out = path.join(tmp, 'hf');
    await clip.save(out, { format: 'huggingface' });
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    const want = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ model_type: 'clip', projection_dim: 24, text_config: want.text_config, vision_config: want.vision_config });
    const [written, original] = await Promise.all([qkv.loadSafetensors(path.join(out, 'model.safetensors')), qkv.loadSafetensors(path.join(dir, 'model.safetensors'))]);
    // Everything but the position_ids buffers (which transformers ≥ 4.31 does not save), bit for bit.
    const names = [...original.tensors.keys()].filter((n) => !n.endsWith('position_ids')).sort();
    expect([...written.tensors.keys()].sort()).toEqual(names);
    for (const n of names) {
      expect(written.tensors.get(n)!.shape, n).toEqual(original.tensors.get(n)!.shape);
      expect(Array.from(written.tensors.get(n)!.toTypedArray()), n).toEqual(Array.from(original.tensors.get(n)!.toTypedArray()));
    }
    for (const x of [...written.tensors.values(), ...original.tensors.values()]) x.dispose();
    // WordVocab cannot save a tokenizer.json: none is written, and reloading needs the tokenizer option.
    expect(fs.existsSync(path.join(out, 'tokenizer.json'))).toBe(false);
    await expect(qkv.DualEncoder.fromPretrained(out)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    const back = await qkv.DualEncoder.fromPretrained(out, { tokenizer });
    const a = back.stateDict(), b = clip.stateDict();
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [n, x] of a) expect(Array.from(x.toTypedArray()), n).toEqual(Array.from(b.get(n)!.toTypedArray()));
    await expectParity(back);
    await Promise.all([clip.dispose(), back.dispose()]);
  });

  it('legacy configs (eos_token_id 2) pool at the largest id, vocab_size − 1; defaults fill absent fields', async () => {
    const legacy = path.join(tmp, 'legacy');
    fs.mkdirSync(legacy, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    cfg.text_config.eos_token_id = 2;
    delete cfg.text_config.layer_norm_eps;  // transformers' default, 1e-5
    fs.writeFileSync(path.join(legacy, 'config.json'), JSON.stringify(cfg));
    fs.copyFileSync(path.join(dir, 'model.safetensors'), path.join(legacy, 'model.safetensors'));
    const clip = await qkv.DualEncoder.fromPretrained(legacy, { tokenizer });
    expect((clip.config.text as { eotId: number }).eotId).toBe(99);
    await expectParity(clip);
    await clip.dispose();
  });

  it('refuses a tokenizer whose eos is not the end of text, broken CLIP tokenizer files, and what is not a CLIP checkpoint', async () => {
    const other = new qkv.WordVocab([...Array.from({ length: 98 }, (_, i) => `w${i}`), '<|startoftext|>', '<|endoftext|>'], { specials: { eos: "<|startoftext|>" } });
    await expect(qkv.DualEncoder.fromPretrained(dir, { tokenizer: other })).rejects.toThrow(/eos id 98 is not the checkpoint's end of text 99/);
    const withVocab = path.join(tmp, 'with-vocab');
    fs.mkdirSync(withVocab, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(dir, f), path.join(withVocab, f));
    fs.writeFileSync(path.join(withVocab, 'vocab.json'), JSON.stringify({ 'a</w>': 0, '<|endoftext|>': 1 }));
    fs.writeFileSync(path.join(withVocab, 'merges.txt'), '#version: 0.2\n');
    // CLIP's own vocab.json + merges.txt beside the weights are read in CLIP's flavour (this one lacks the byte tokens).
    await expect(qkv.DualEncoder.fromPretrained(withVocab)).rejects.toMatchObject({ code: 'ERR_FORMAT', message: expect.stringContaining('BPETokenizer.loadCLIP') });
    await expect(qkv.DualEncoder.fromPretrained(path.join(tmp, 'missing'), { tokenizer })).rejects.toMatchObject({ code: 'ERR_IO' });
    const gpt2 = path.join(__dirname, 'fixtures', 'gpt2-tiny');
    await expect(qkv.DualEncoder.fromPretrained(gpt2, { tokenizer })).rejects.toThrow(/model_type 'gpt2' is not clip/);
    const missing = path.join(tmp, 'missing-tensor');
    fs.mkdirSync(missing, { recursive: true });
    fs.copyFileSync(path.join(dir, 'config.json'), path.join(missing, 'config.json'));
    const { tensors } = await qkv.loadSafetensors(path.join(dir, 'model.safetensors'));
    tensors.delete('vision_model.encoder.layers.1.self_attn.k_proj.bias');
    await qkv.saveSafetensors(path.join(missing, 'model.safetensors'), tensors);
    for (const x of tensors.values()) x.dispose();
    await expect(qkv.DualEncoder.fromPretrained(missing, { tokenizer })).rejects.toThrow(/no tensor 'vision_model.encoder.layers.1.self_attn.k_proj.bias'/);
  });

  it("refuses to save what transformers would misread: eos id 2 (legacy pooling), SigLIP's bias", async () => {
    // dualEncoderConfig reads the towers' `width` (the option types name it `dim`): typed loosely here.
    const towers = { embedDim: 8, vision: { imageSize: 8, width: 8, layers: 1, heads: 2 }, text: { width: 8, layers: 1, heads: 2, context: 8 } };
    const vocab = qkv.WordVocab.build(['a red circle']);  // default specials: eos is id 2
    const clip = new qkv.DualEncoder({ tokenizer: vocab, ...towers });
    await expect(clip.save(path.join(tmp, 'eos2'), { format: 'huggingface' })).rejects.toThrow(/end-of-text id is 2/);
    const siglip = new qkv.DualEncoder({ tokenizer, loss: 'siglip', ...towers });
    await expect(siglip.save(path.join(tmp, 'siglip'), { format: 'huggingface' })).rejects.toThrow(/SigLIP/);
    await Promise.all([clip.dispose(), siglip.dispose()]);
  });
});
