// The GPT part of `npm start`: a small decoder-only transformer pretrained on Shakespeare (bundled in
// data/) by causal language modelling in well under a minute, a sample streamed from a prompt, the loss
// curve drawn, and a GPT pretrained on unlabelled mails fine-tuned GPT-1 style into a spam filter
// with 300 labels.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as qkv from '../src/index';
// The mail preparation and the bag-of-words baseline the fine-tuning test uses too.
import { bagOfWordsAccuracy, spamSplit } from '../test/helpers/spam';
import { SPAM_SPLIT } from '../scripts/pretrain-fixtures';

export async function gptDemo(options: { outDir?: string; steps?: number } = {}): Promise<void> {
  const text = readFileSync(path.join(__dirname, '..', 'data', 'tinyshakespeare.txt'), 'utf8');
  const vocab = qkv.CharVocab.build([text]);
  const gpt = new qkv.GPT({ tokenizer: vocab, layers: 4, heads: 4, dim: 128, maxLength: 64, dropout: 0, seed: 1 });
  console.log(`\nGPT: ${gpt.parameterCount.toLocaleString('en')} parameters, characters of Shakespeare (${(text.length / 1e6).toFixed(1)} MB), context ${gpt.maxLength}`);
  let last = 0;
  const result = await gpt.fit(text, {
    maxSteps: options.steps ?? 300, batchSize: 12, lr: 3e-3, minLr: 3e-4, warmupSteps: 30, beta2: 0.99, weightDecay: 0.1,
    validationSplit: 0.1, evalEvery: 50, valBatches: 20,
    onProgress: (p) => {
      if (p.seconds - last > 8) {
        last = p.seconds;
        console.log(`  step ${p.step}/${p.totalSteps}: loss ${p.loss.toFixed(3)}, validation ${p.valLoss?.toFixed(3) ?? '-'} (perplexity ${p.valPerplexity?.toFixed(2) ?? '-'}), ${p.tokensPerSec.toFixed(0)} tokens/s`);
      }
    },
  });
  console.log(`  trained ${result.steps} steps in ${result.seconds.toFixed(1)} s`);
  const ev = await gpt.evaluate(text.slice(-100_000), { context: 64 });
  console.log(`  held-out loss ${ev.loss.toFixed(3)} nats per character (perplexity ${ev.perplexity.toFixed(2)})`);
  process.stdout.write('  sample: ROMEO:');
  for await (const piece of gpt.stream('ROMEO:', { maxNewTokens: 200, temperature: 0.8, topK: 20, seed: 1, stop: '\n\n' })) process.stdout.write(piece.replace(/\n/g, '\n          '));
  process.stdout.write('\n');
  const outDir = options.outDir ?? mkdtempSync(path.join(tmpdir(), 'qkv-gpt-'));
  const file = path.join(outDir, 'gpt-loss.svg');
  qkv.plot.lossCurve(result.history, { path: file, title: 'GPT on Shakespeare: loss per step' });
  console.log(`  loss curve: ${file}`);

  // GPT-1 fine-tuning: a GPT pretrained (by scripts/pretrain-fixtures.ts) on unlabelled SpamAssassin
  // mails, a head on <e>, 300 labelled mails; against bag-of-words logistic regression on the same labels.
  const split = spamSplit(SPAM_SPLIT);
  const lm = await qkv.GPT.load(path.join(__dirname, '..', 'test', 'fixtures', 'gpt-spam.safetensors'));
  const clf = await qkv.GPTClassifier.fromGPT(lm, { format: 'classification', numLabels: 2, seed: 1 });
  await clf.fit(split.train, { epochs: 4, lr: 1e-3, batchSize: 16, lmWeight: 0.5, warmupSteps: 5, seed: 1 });
  const acc = (await clf.evaluate(split.test)).accuracy!;
  const bow = bagOfWordsAccuracy(split.train, split.test, { l2: 1e-2, steps: 300, lr: 1 });
  console.log(`\nGPT-1 fine-tuning on SpamAssassin (${split.train.length} labelled mails, hard ham included): held-out accuracy ${(100 * acc).toFixed(1)}%, bag-of-words logistic regression ${(100 * bow).toFixed(1)}%`);
  const [p] = await clf.predict([split.test[0]]);
  console.log(`  "${split.test[0].text.slice(0, 70)}…" → ${p.label ? 'spam' : 'ham'} (p = ${p.probabilities[p.label].toFixed(2)}; it is ${split.test[0].label ? 'spam' : 'ham'})`);
  await Promise.all([gpt.dispose(), lm.dispose(), clf.dispose()]);
}
