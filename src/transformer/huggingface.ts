// What Hugging Face checkpoint directories share, whatever the model: config.json (read, and its
// integers checked), model.safetensors, transformers' activation names, the tokenizer beside the
// weights, and the atomic writing of the three. The name and layout mappings are per model
// (gpt-huggingface.ts, clip/huggingface.ts).
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QkvError } from '../errors';
import { ioBinding } from '../io/native-io';
import { loadSafetensors, saveSafetensors } from '../io/safetensors';
import { BPETokenizer } from '../text/bpe';
import type { Tensor } from '../tensor';
import type { Tokenizer } from '../text/tokenizer';

/** transformers' activation names → ours. */
export const HF_ACTIVATIONS: Record<string, string> = { gelu_new: 'geluTanh', gelu_pytorch_tanh: 'geluTanh', gelu: 'gelu', relu: 'relu', quick_gelu: 'quickGelu', tanh: 'tanh' };

export function formatError(op: string, msg: string): QkvError {
  return new QkvError(`${op}: ${msg}`, 'ERR_FORMAT');
}

/** A positive integer field of a config object (`where` names it in errors). */
export function hfInt(c: Record<string, unknown>, key: string, op: string, fallback?: number, where = 'config.json'): number {
  const v = c[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw formatError(op, `${where}: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Our activation name for transformers' (`fallback` when the field is absent). */
export function hfActivation(c: Record<string, unknown>, key: string, fallback: string, op: string, where = 'config.json'): string {
  const act = typeof c[key] === 'string' ? HF_ACTIVATIONS[c[key] as string] : HF_ACTIVATIONS[fallback];
  if (!act) throw formatError(op, `${where}: ${key} '${String(c[key])}' is not supported`);
  return act;
}

/** transformers' name for our activation. */
export function hfActivationName(ours: unknown, fallback: string): string {
  return Object.entries(HF_ACTIVATIONS).find(([, a]) => a === ours)?.[0] ?? fallback;
}

/** Reads config.json (whose model_type, when present, must be `modelType`) and every tensor of model.safetensors. */
export async function readHFFiles(dir: string, modelType: string, op: string): Promise<{ config: Record<string, unknown>; tensors: Map<string, Tensor> }> {
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code) throw new QkvError(`${op}: cannot read ${join(dir, 'config.json')}: ${(e as Error).message}`, 'ERR_IO');
    throw formatError(op, `config.json is not JSON: ${(e as Error).message}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw formatError(op, 'config.json must hold an object');
  if (config.model_type !== undefined && config.model_type !== modelType) throw formatError(op, `config.json: model_type '${String(config.model_type)}' is not ${modelType}`);
  const { tensors } = await loadSafetensors(join(dir, 'model.safetensors'));
  return { config, tensors };
}

/**
 * Takes tensors out of a checkpoint's by name: take() fails naming the one missing, finish()
 * fails naming those no mapping took (after disposing of them).
 */
export class HFTensors {
  constructor(private readonly found: Map<string, Tensor>, private readonly op: string, private readonly model: string) {}

  take(name: string): Tensor {
    const t = this.found.get(name);
    if (!t) throw formatError(this.op, `model.safetensors has no tensor '${name}'`);
    this.found.delete(name);
    return t;
  }

  /** Disposes of the tensors (buffers the model recomputes) whose names match. */
  skip(pattern: RegExp): void {
    for (const [n, t] of this.found) if (pattern.test(n)) {
      t.dispose();
      this.found.delete(n);
    }
  }

  finish(): void {
    const rest = [...this.found.keys()];
    for (const t of this.found.values()) t.dispose();
    if (rest.length > 0) throw formatError(this.op, `model.safetensors has tensors a ${this.model} does not: ${rest.slice(0, 5).join(', ')}`);
  }
}

/** Writes model.safetensors and config.json, each atomically, and tokenizer.json where the tokenizer can save itself. */
export async function writeHFFiles(dir: string, config: Record<string, unknown>, tensors: Map<string, Tensor>, tokenizer: Tokenizer, op: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveSafetensors(join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  ioBinding.writeTextFile(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n', op);
  const save = (tokenizer as unknown as { save?: (path: string) => Promise<void> }).save;
  if (typeof save === 'function') await save.call(tokenizer, join(dir, 'tokenizer.json'));
}

/**
 * The tokenizer saved beside a checkpoint: tokenizer.json, or vocab.json + merges.txt: GPT-2's
 * byte-level BPE, or CLIP's flavour of it when the vocabulary's words end in `</w>`.
 */
export async function tokenizerBeside(dir: string, op: string): Promise<Tokenizer> {
  const at = (f: string) => join(dir, f);
  if (existsSync(at('tokenizer.json'))) {
    try {
      return await BPETokenizer.fromFile(at('tokenizer.json'));
    } catch (e) {
      throw new QkvError(`${op}: cannot load ${at('tokenizer.json')} (${(e as Error).message}): pass options.tokenizer`, 'ERR_FORMAT');
    }
  }
  if (existsSync(at('vocab.json')) && existsSync(at('merges.txt'))) {
    if ((await readFile(at('vocab.json'), 'utf8')).includes('</w>"')) return BPETokenizer.loadCLIP(at('vocab.json'), at('merges.txt'));
    return BPETokenizer.fromGPT2(at('vocab.json'), at('merges.txt'));
  }
  throw new QkvError(`${op}: ${dir} holds no tokenizer.json nor vocab.json + merges.txt: pass options.tokenizer`, 'ERR_FORMAT');
}
