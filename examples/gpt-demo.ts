// The GPT part of `npm start`: a small decoder-only transformer pretrained on Shakespeare (bundled in
// data/) by causal language modelling in well under a minute, a sample streamed from a prompt, the loss
// curve drawn, and the same pretrained model fine-tuned GPT-1 style on a multiple-choice task
// (which ending follows from an ordering) with a handful of labels.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as qkv from '../src/index';

const NAMES = ['ann', 'bob', 'cid', 'dee', 'eve', 'fay', 'gus', 'hal'];

/** "x is older than y." and what follows from it, from a seeded generator. */
function orderings(n: number, seed: number) {
  let s = seed;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)];
  return Array.from({ length: n }, () => {
    const a = pick(NAMES), b = pick(NAMES.filter((x) => x !== a));
    const right = `${b} is younger than ${a}.`, wrong = `${a} is younger than ${b}.`;
    const label = rnd() < 0.5 ? 0 : 1;
    return { context: `${a} is older than ${b}.`, choices: label === 0 ? [right, wrong] : [wrong, right], label };
  });
}

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

  // GPT-1 fine-tuning: the same kind of model, pretrained on unlabelled statements, then a head on <e>.
  const statements = orderings(4000, 3).flatMap((e) => [`${e.context} so ${e.choices[e.label]}`]);
  const words = qkv.CharVocab.build(statements);
  const lm = new qkv.GPT({ tokenizer: words, layers: 2, heads: 4, dim: 64, maxLength: 48, dropout: 0, seed: 2 });
  await lm.fit(statements, { maxSteps: 300, batchSize: 32, lr: 3e-3 });
  const clf = await qkv.GPTClassifier.fromGPT(lm, { format: 'multipleChoice' });
  const train = orderings(300, 5), test = orderings(300, 7);
  await clf.fit(train, { epochs: 8, lr: 1e-3, batchSize: 16 });
  const acc = (await clf.evaluate(test)).accuracy!;
  const [p] = await clf.predict([test[0]]);
  console.log(`\nGPT-1 fine-tuning (multiple choice: which ending follows?), ${train.length} labelled examples: held-out accuracy ${(100 * acc).toFixed(1)}%`);
  console.log(`  "${test[0].context}" → "${test[0].choices[p.label]}" (p = ${p.probabilities[p.label].toFixed(2)})`);
  await Promise.all([gpt.dispose(), lm.dispose(), clf.dispose()]);
}
