// Hugging Face GPT-2 checkpoints ↔ GPT: config.json's fields ↔ GPT's config, and the tensor names
// and layouts of GPT2Model / GPT2LMHeadModel (an optional `transformer.` prefix; Conv1D weights
// stored [in, out], ours [out, in]; the causal-mask buffers `attn.bias` / `attn.masked_bias` of
// older checkpoints skipped; the head tied to wte).
import { transpose } from '../ops';
import { Tensor } from '../tensor';
import type { Tokenizer } from '../text/tokenizer';
import { HFTensors, formatError, hfActivation, hfActivationName, hfInt as int, readHFFiles, writeHFFiles } from './huggingface';

// Per block: Hugging Face's name → ours, and whether the tensor is a Conv1D weight (transposed).
const BLOCK_NAMES: [string, string, boolean][] = [
  ['ln_1.weight', 'norm1.weight', false], ['ln_1.bias', 'norm1.bias', false],
  ['attn.c_attn.weight', 'self_attn.in_proj.weight', true], ['attn.c_attn.bias', 'self_attn.in_proj.bias', false],
  ['attn.c_proj.weight', 'self_attn.out_proj.weight', true], ['attn.c_proj.bias', 'self_attn.out_proj.bias', false],
  ['ln_2.weight', 'norm2.weight', false], ['ln_2.bias', 'norm2.bias', false],
  ['mlp.c_fc.weight', 'linear1.weight', true], ['mlp.c_fc.bias', 'linear1.bias', false],
  ['mlp.c_proj.weight', 'linear2.weight', true], ['mlp.c_proj.bias', 'linear2.bias', false],
];
const TOP_NAMES = ['wte.weight', 'wpe.weight', 'ln_f.weight', 'ln_f.bias'];

/** GPT's options (less the tokenizer) from a Hugging Face GPT-2 config.json. */
export function gptOptionsFromHF(c: Record<string, unknown>, op: string): Record<string, unknown> {
  const dim = int(c, 'n_embd', op);
  const act = hfActivation(c, 'activation_function', 'gelu_new', op);
  if (c.tie_word_embeddings === false) throw formatError(op, 'config.json: untied output heads are not supported yet');
  if (c.scale_attn_weights === false || c.scale_attn_by_inverse_layer_idx === true || c.reorder_and_upcast_attn === true)
    throw formatError(op, 'config.json: only the standard scaled attention of GPT-2 is supported');
  const p = (k: string) => (typeof c[k] === 'number' ? (c[k] as number) : 0.1);
  return {
    vocabSize: int(c, 'vocab_size', op),
    maxLength: int(c, 'n_positions', op, c.n_ctx as number | undefined),
    layers: int(c, 'n_layer', op),
    dim,
    heads: int(c, 'n_head', op),
    ffDim: c.n_inner === null || c.n_inner === undefined ? 4 * dim : int(c, 'n_inner', op),
    eps: typeof c.layer_norm_epsilon === 'number' ? c.layer_norm_epsilon : 1e-5,
    activation: act,
    dropout: p('resid_pdrop'),
    attentionDropout: p('attn_pdrop'),
    embeddingDropout: p('embd_pdrop'),
    initStd: typeof c.initializer_range === 'number' ? c.initializer_range : 0.02,
    ...(typeof c.eos_token_id === 'number' ? { eosId: c.eos_token_id } : {}),
  };
}

/** A Hugging Face GPT-2 config.json for a GPT's config. */
export function hfConfigFromGPT(c: Record<string, unknown>, eosId: number | undefined): Record<string, unknown> {
  const act = hfActivationName(c.activation, 'gelu_new');
  return {
    model_type: 'gpt2', architectures: ['GPT2LMHeadModel'],
    vocab_size: c.vocabSize, n_positions: c.maxLength, n_ctx: c.maxLength, n_embd: c.dim, n_layer: c.layers, n_head: c.heads,
    n_inner: c.ffDim === 4 * Number(c.dim) ? null : c.ffDim, activation_function: act, layer_norm_epsilon: c.eps,
    resid_pdrop: c.dropout, attn_pdrop: c.attentionDropout, embd_pdrop: c.embeddingDropout, initializer_range: c.initStd,
    tie_word_embeddings: true, ...(eosId === undefined ? {} : { bos_token_id: eosId, eos_token_id: eosId }),
  };
}

/** Reads config.json and model.safetensors of a directory: the config and our state dict. */
export async function readHFCheckpoint(dir: string, op: string): Promise<{ config: Record<string, unknown>; state: Map<string, Tensor> }> {
  const { config, tensors } = await readHFFiles(dir, 'gpt2', op);
  const layers = int(config, 'n_layer', op);
  const found = new Map<string, Tensor>();
  for (const [name, t] of tensors) found.set(name.startsWith('transformer.') ? name.slice('transformer.'.length) : name, t);
  const from = new HFTensors(found, op, 'GPT-2');
  from.skip(/^h\.\d+\.attn\.(masked_)?bias$|^lm_head\.weight$/);  // the causal mask is the kernel's; the head is tied to wte
  const state = new Map<string, Tensor>();
  const take = (hf: string, ours: string, conv: boolean) => {
    const t = from.take(hf);
    state.set(ours, conv ? transpose(t, 0, 1) : t);
    if (conv) t.dispose();
  };
  for (const n of TOP_NAMES) take(n, n, false);
  for (let i = 0; i < layers; i++) for (const [hf, ours, conv] of BLOCK_NAMES) take(`h.${i}.${hf}`, `h.${i}.${ours}`, conv);
  from.finish();
  return { config, state };
}

/** Writes config.json and model.safetensors (Hugging Face's layout) of a GPT's config and state, and its tokenizer where it can save itself. */
export async function writeHFCheckpoint(dir: string, config: Record<string, unknown>, eosId: number | undefined, state: Map<string, Tensor>,
  tokenizer: Tokenizer): Promise<void> {
  const layers = Number(config.layers);
  const out = new Map<string, Tensor>();
  const owned: Tensor[] = [];
  for (const n of TOP_NAMES) out.set(`transformer.${n}`, state.get(n)!);
  for (let i = 0; i < layers; i++)
    for (const [hf, ours, conv] of BLOCK_NAMES) {
      const t = state.get(`h.${i}.${ours}`)!;
      const w = conv ? transpose(t, 0, 1) : t;
      if (conv) owned.push(w);
      out.set(`transformer.h.${i}.${hf}`, w);
    }
  try {
    await writeHFFiles(dir, hfConfigFromGPT(config, eosId), out, tokenizer, 'GPT.save');
  } finally {
    for (const t of owned) t.dispose();
  }
}
