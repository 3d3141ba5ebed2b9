// GPTClassifier: GPT-1's fine-tuning formats measured against baselines. SpamAssassin
// classification (hard ham included) and seeded reasoning tasks (entailment, similarity, multiple
// choice over comparisons, templates held out for testing), each with the same architecture
// trained from scratch on the same labels; then a save → load round trip, the argument errors and
// fromGPT leaving its source as it was.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-gpt-finetune-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TRAIN_TEMPLATES = ['more', 'less', 'notAs', 'ofTwo'];
const TEST_TEMPLATES = ['notAsLess', 'ofTwoLess', 'compared'];

describe('GPTClassifier: save/load, argument errors, fromGPT', () => {
  const text = qkv.data.comparisonText(400, { seed: 7 });
  const vocab = qkv.WordVocab.build(text);
  let gpt: qkv.GPT;
  let clf: qkv.GPTClassifier;
  const examples = qkv.data.entailmentPairs(48, { seed: 8, templates: TRAIN_TEMPLATES });

  beforeAll(async () => {
    gpt = new qkv.GPT({ tokenizer: vocab, layers: 1, heads: 2, dim: 16, maxLength: 32, dropout: 0, seed: 3 });
    await gpt.fit(text, { maxSteps: 5, batchSize: 4, context: 16, seed: 3 });
    clf = await qkv.GPTClassifier.fromGPT(gpt, { format: 'entailment', seed: 4 });
    await clf.fit(examples, { epochs: 1, batchSize: 16, lr: 1e-3, seed: 4 });
  });
  afterAll(async () => {
    await clf.dispose();
    await gpt.dispose();
  });

  it('save → load gives the same predictions, format and token ids', async () => {
    const file = path.join(tmp, 'clf.safetensors');
    await clf.save(file);
    const back = await qkv.GPTClassifier.load(file);
    try {
      expect(back.format).toBe('entailment');
      expect([back.startId, back.delimiterId, back.extractId, back.numLabels]).toEqual([clf.startId, clf.delimiterId, clf.extractId, 3]);
      const [a, b] = [await clf.predict(examples), await back.predict(examples)];
      expect(b.map((p) => p.label)).toEqual(a.map((p) => p.label));
      for (let i = 0; i < a.length; i++) for (let k = 0; k < 3; k++) expect(b[i].probabilities[k]).toBeCloseTo(a[i].probabilities[k], 6);
      expect((await back.evaluate(examples)).accuracy).toBe((await clf.evaluate(examples)).accuracy);
    } finally {
      await back.dispose();
    }
    // A GPT checkpoint is not a classifier's.
    const lm = path.join(tmp, 'lm.safetensors');
    await gpt.save(lm);
    await expect(qkv.GPTClassifier.load(lm)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
  });

  it('argument errors have the right classes', async () => {
    await expect(qkv.GPTClassifier.fromGPT(gpt, { format: 'regression' as never })).rejects.toThrow(TypeError);
    await expect(qkv.GPTClassifier.fromGPT(gpt, { format: 'classification' })).rejects.toThrow(/numLabels is required/);
    await expect(qkv.GPTClassifier.fromGPT({} as qkv.GPT, { format: 'entailment' })).rejects.toThrow(TypeError);
    // A label is needed to fit and evaluate, not to predict.
    const unlabelled = { premise: 'alice is older than bob', hypothesis: 'bob is younger than alice' };
    await expect(clf.fit([unlabelled], { epochs: 1 })).rejects.toThrow(TypeError);
    await expect(clf.evaluate([unlabelled])).rejects.toThrow(/label/);
    expect((await clf.predict([unlabelled]))[0].probabilities).toHaveLength(3);
    await expect(clf.evaluate([{ ...unlabelled, label: 3 }])).rejects.toThrow(RangeError);
    // The fields of the format.
    await expect(clf.predict([{ text: 'alice is older than bob' }])).rejects.toThrow(/premise/);
    const mc = await qkv.GPTClassifier.fromGPT(gpt, { format: 'multipleChoice' });
    try {
      const ctx = 'alice is older than bob.';
      await expect(mc.fit([{ context: ctx, choices: ['so bob is younger than alice.', 'so alice is younger than bob.'], label: 0 },
        { context: ctx, choices: ['a', 'b', 'c'], label: 0 }], { epochs: 1 })).rejects.toThrow(RangeError);
      await expect(mc.predict([{ context: ctx, choices: ['only one'] }])).rejects.toThrow(RangeError);
      await expect(mc.evaluate([{ context: ctx, choices: ['a', 'b'], label: 2 }])).rejects.toThrow(RangeError);
      await expect(mc.fit([{ context: ctx, choices: ['a', 'b'], label: 0 }], {
        epochs: 1, validation: [{ context: ctx, choices: ['a', 'b', 'c'], label: 0 }],
      })).rejects.toThrow(RangeError);
    } finally {
      await mc.dispose();
    }
    await expect(clf.fit(examples, { lmWeight: -1 } as qkv.GPTClassifierFitOptions)).rejects.toThrow(RangeError);
  });

  it('fromGPT copies: fine-tuning leaves the source GPT as it was', async () => {
    const before = gpt.stateDict();
    const probe = await gpt.logits([vocab.encode('alice is older than')]);
    const copy = await qkv.GPTClassifier.fromGPT(gpt, { format: 'similarity', seed: 9 });
    try {
      await copy.fit(qkv.data.similarityPairs(32, { seed: 9 }), { epochs: 1, batchSize: 8, lr: 1e-2 });
      const after = gpt.stateDict();
      expect([...after.keys()]).toEqual([...before.keys()]);
      for (const [k, t] of before) expect(Array.from(after.get(k)!.toTypedArray())).toEqual(Array.from(t.toTypedArray()));
      expect(gpt.vocabSize).toBe(vocab.size);
      const again = await gpt.logits([vocab.encode('alice is older than')]);
      expect(Array.from(again.toTypedArray())).toEqual(Array.from(probe.toTypedArray()));
      again.dispose();
      // The copy's table is the GPT's with three rows added; its head is new.
      expect(copy.stateDict().get('wte.weight')!.shape).toEqual([vocab.size + 3, 16]);
      expect(copy.stateDict().has('clf.weight')).toBe(true);
      expect(before.has('clf.weight')).toBe(false);
    } finally {
      probe.dispose();
      await copy.dispose();
    }
  });
});
