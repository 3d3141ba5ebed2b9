// Pretrains the two small GPTs that test/gpt-finetune.test.ts fine-tunes, offline, once:
//   test/fixtures/gpt-reasoning.safetensors  language model of qkv.data.comparisonText in the
//                                            training templates only (more, less, notAs, ofTwo)
//   test/fixtures/gpt-spam.safetensors       language model of the unlabelled SpamAssassin mails
//                                            of spamSplit({ seed: 1, ... }) (no test mail in it)
// Regenerate with  npx tsx scripts/pretrain-fixtures.ts [reasoning|spam]  (both by default); the
// run is seeded, but floating-point sums on other CPUs and thread counts may differ in the last
// bits, so a regenerated checkpoint need not be byte-identical (the test's bounds have margins).
// Each run prints its wall and CPU time. Measured on 2 cores of an AMD EPYC (shared, load ~10):
//   spam       2 layers, 4 heads, dim 64, 1500 words, 3000 steps of 32 x 64 tokens: 688 s wall,
//              254 s CPU; LM loss 3.33 train, 3.39 on the 5% of the mails held back; 819 KB.
//   reasoning  2 layers, 4 heads, dim 64, 52 words, 8000 steps of 32 x 64 tokens over 40000
//              paragraphs: 803 s wall, 292 s CPU; LM loss 0.707 train, 0.701 held back; 434 KB.
//              A 3000-step run (loss 0.97) still named the last-mentioned person ("x is older
//              than y. so y is younger than" → y, 0 of 30); at 8000 it names x in 30 of 30.
import * as path from 'node:path';
import * as qkv from '../src/index';
import { spamSplit } from '../test/helpers/spam';

export const FIXTURES = path.join(__dirname, '..', 'test', 'fixtures');
export const TRAIN_TEMPLATES = ['more', 'less', 'notAs', 'ofTwo'];

/** The spam split the test uses: the unlabelled mails are every mail but the labelled ones. */
export const SPAM_SPLIT = { seed: 1, perClass: 150, testPerClass: 200, maxWords: 48 } as const;
export const SPAM_VOCAB = 1500;

const env = (k: string, d: number) => (process.env[k] === undefined ? d : Number(process.env[k]));

async function pretrain(name: string, texts: string[], tokenizer: qkv.Tokenizer, arch: { layers: number; heads: number; dim: number; maxLength: number },
  fit: { steps: number; lr: number; batchSize: number; context: number; dropout: number }, probe?: (gpt: qkv.GPT) => Promise<string>) {
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const gpt = new qkv.GPT({ tokenizer, ...arch, dropout: fit.dropout, seed: 1 });
  const cut = Math.floor(texts.length * 0.95);
  // One uninterrupted run: a fit per chunk would restart AdamW's moments each time.
  const r = await gpt.fit(texts.slice(0, cut), { maxSteps: fit.steps, batchSize: fit.batchSize, lr: fit.lr, warmupSteps: 100,
    schedule: 'warmupCosine', minLr: fit.lr / 10, context: fit.context, seed: 1,
    onProgress: (p) => {
      if (p.step % 250 === 0) console.log(`${name} step ${p.step}: loss ${p.loss.toFixed(3)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    } });
  const val = await gpt.evaluate(texts.slice(cut), { context: fit.context });
  console.log(`${name}: train ${r.history[r.history.length - 1].loss.toFixed(3)} val ${val.loss.toFixed(3)} ${probe ? await probe(gpt) : ''}`);
  const out = process.env.OUT ? path.join(process.env.OUT, `gpt-${name}.safetensors`) : path.join(FIXTURES, `gpt-${name}.safetensors`);
  await gpt.save(out);
  const cpu = process.cpuUsage(cpu0);
  console.log(`${name}: saved ${out}, ${((Date.now() - t0) / 1000).toFixed(0)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s CPU`);
  await gpt.dispose();
}

/** Share of the copy probes whose next word is right: "x is older than y. so y is younger than" → x. */
async function copyProbe(gpt: qkv.GPT): Promise<string> {
  const facts = qkv.data.entailmentPairs(60, { seed: 99, templates: ['more'] }).filter((e) => e.label === 0);
  let right = 0;
  for (const e of facts) {
    const [x, , more, , y] = e.premise.split(' ');
    const rel = qkv.data.COMPARISON_RELATIONS.find((r) => r.more === more)!;
    const g = await gpt.generate(`${e.premise}. so ${y} is ${rel.less} than`, { maxNewTokens: 1 });
    if (g.text.trim() === x) right++;
  }
  return `copy ${(right / facts.length).toFixed(2)}`;
}

async function reasoning() {
  const texts = qkv.data.comparisonText(env('DOCS', 40000), { seed: 1, templates: TRAIN_TEMPLATES });
  const vocab = qkv.WordVocab.build(texts);
  console.log(`reasoning: ${texts.length} paragraphs, ${vocab.size} words`);
  await pretrain('reasoning', texts, vocab, { layers: env('LAYERS', 2), heads: 4, dim: env('DIM', 64), maxLength: 64 },
    { steps: env('STEPS', 8000), lr: env('LR', 1e-3), batchSize: 32, context: 64, dropout: env('DROPOUT', 0) }, copyProbe);
}

async function spam() {
  const split = spamSplit(SPAM_SPLIT);
  const vocab = qkv.WordVocab.build(split.unlabelled, { maxSize: SPAM_VOCAB });
  console.log(`spam: ${split.unlabelled.length} mails, ${vocab.size} words`);
  await pretrain('spam', split.unlabelled, vocab, { layers: env('LAYERS', 2), heads: 4, dim: env('DIM', 64), maxLength: 64 },
    { steps: env('STEPS', 3000), lr: env('LR', 2e-3), batchSize: 32, context: 64, dropout: env('DROPOUT', 0.1) });
}

async function main() {
  const which = process.argv[2];
  if (which === undefined || which === 'reasoning') await reasoning();
  if (which === undefined || which === 'spam') await spam();
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
