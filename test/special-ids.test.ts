// Models take their special ids from the tokenizer (none hard-coded): with the specials placed at
// the end of the vocabulary, a Seq2Seq still learns and stops at its own <eos>, and an encoder's
// masked-language modelling never masks or draws a special token.
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

describe('special ids come from the tokenizer', () => {
  it('Seq2Seq with specials at the end of the vocabulary learns to reverse and stops at its <eos>', async () => {
    const pairs = qkv.data.reversalPairs(3000, { seed: 4, maxLength: 6 });
    const vocab = qkv.CharVocab.build(pairs.map((p) => p.source), { specialsAt: 'end' });
    expect(vocab.padId).toBe(vocab.size - 5);
    const model = new qkv.Seq2Seq({ vocab, dim: 64, heads: 1, encoderLayers: 1, decoderLayers: 1, dropout: 0, maxLength: 10, positional: 'learned', seed: 3 });
    expect([model.padId, model.bosId, model.eosId]).toEqual([vocab.padId, vocab.bosId, vocab.eosId]);
    await model.fit(pairs, { maxSteps: 600, batchSize: 64, lr: 3e-3, seed: 1 });
    const test = qkv.data.reversalPairs(50, { seed: 5, maxLength: 6 });
    const out = await model.translate(test.map((p) => p.source));
    const exact = out.filter((o, i) => o.text === test[i].target).length;
    expect(exact).toBeGreaterThanOrEqual(40);
    expect(out.every((o) => o.finished)).toBe(true);
    model.dispose();
  }, 60_000);

  it('TransformerEncoder passes the tokenizer\'s special ids to the native model', () => {
    const vocab = qkv.CharVocab.build(['abcabc', 'bca'], { specialsAt: 'end' });
    const enc = new qkv.TransformerEncoder({ vocab, dim: 16, heads: 2, layers: 1 });
    const c = enc.config;
    expect(c.padId).toBe(vocab.padId);
    expect(c.maskId).toBe(vocab.maskId);
    expect(c.specialIds).toEqual(Object.values(vocab.specialTokens).sort((a, b) => a - b));
    expect(() => new qkv.TransformerEncoder({ vocab: qkv.CharVocab.build(['ab'], { specials: ['pad'] }), dim: 8, heads: 1 }))
      .toThrow(/mask special token/);
    enc.dispose();
  });
});
