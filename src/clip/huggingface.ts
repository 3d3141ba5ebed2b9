// Hugging Face CLIP checkpoints ↔ DualEncoder: config.json's text_config / vision_config ↔ the
// towers' options, and CLIPModel's tensor names ↔ ours. transformers keeps separate q/k/v
// projections; ours are fused (rows q, k, v of self_attn.in_proj, PyTorch's in_proj_weight). The
// position_ids buffers are skipped when read and not written (transformers ≥ 4.31 does not save them).
//
// Pooling: transformers pools the text at the first eos_token_id, except for legacy configs with
// eos_token_id 2 (before the CLIP tokenizer's ids were recorded), where it pools at the largest id
// of the row, which for CLIP's vocabulary is its end of text, 49407: then our eotId is vocab_size − 1.
import { concat } from '../ops';
import type { Tensor } from '../tensor';
import type { Tokenizer } from '../text/tokenizer';
import { HFTensors, formatError, hfActivation, hfActivationName, hfInt, readHFFiles, writeHFFiles } from '../transformer/huggingface';

// Per encoder layer: transformers' name → ours (q/k/v apart: fused).
const LAYER_NAMES: [string, string][] = [
  ['layer_norm1', 'norm1'], ['self_attn.out_proj', 'self_attn.out_proj'], ['layer_norm2', 'norm2'], ['mlp.fc1', 'linear1'], ['mlp.fc2', 'linear2'],
];
// Outside the layers: transformers' name → ours.
const TOP_NAMES: [string, string][] = [
  ['text_model.embeddings.token_embedding.weight', 'text.token_embedding.weight'],
  ['text_model.embeddings.position_embedding.weight', 'text.positional_embedding'],
  ['text_model.final_layer_norm.weight', 'text.ln_final.weight'], ['text_model.final_layer_norm.bias', 'text.ln_final.bias'],
  ['text_projection.weight', 'text.text_projection.weight'],
  ['vision_model.embeddings.class_embedding', 'visual.class_embedding'],
  ['vision_model.embeddings.patch_embedding.weight', 'visual.conv1'],
  ['vision_model.embeddings.position_embedding.weight', 'visual.positional_embedding'],
  ['vision_model.pre_layrnorm.weight', 'visual.ln_pre.weight'], ['vision_model.pre_layrnorm.bias', 'visual.ln_pre.bias'],
  ['vision_model.post_layernorm.weight', 'visual.ln_post.weight'], ['vision_model.post_layernorm.bias', 'visual.ln_post.bias'],
  ['visual_projection.weight', 'visual.proj.weight'],
  ['logit_scale', 'logit_scale'],
];
const TOWERS = [['text_model', 'text'], ['vision_model', 'visual']] as const;
const LEGACY_EOS = 2;

function sub(c: Record<string, unknown>, key: string, op: string): Record<string, unknown> {
  const v = c[key] ?? {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw formatError(op, `config.json: ${key} must be an object`);
  return v as Record<string, unknown>;
}

function eps(c: Record<string, unknown>, where: string, op: string): number {
  const v = c.layer_norm_eps ?? 1e-5;
  if (typeof v !== 'number' || !(v > 0)) throw formatError(op, `${where}: layer_norm_eps must be a positive number`);
  return v;
}

/** The DualEncoder options (less the tokenizer) and the end-of-text id of a CLIP config.json; absent fields take CLIPConfig's defaults. */
export function clipOptionsFromHF(c: Record<string, unknown>, op: string): { options: Record<string, unknown>; eotId: number; initLogitScale: number } {
  const t = sub(c, 'text_config', op), v = sub(c, 'vision_config', op);
  const tw = 'config.json text_config', vw = 'config.json vision_config';
  const tower = (x: Record<string, unknown>, where: string, d: { width: number; ff: number; heads: number }) => ({
    width: hfInt(x, 'hidden_size', op, d.width, where),
    ffDim: hfInt(x, 'intermediate_size', op, d.ff, where),
    heads: hfInt(x, 'num_attention_heads', op, d.heads, where),
    layers: hfInt(x, 'num_hidden_layers', op, 12, where),
    activation: hfActivation(x, 'hidden_act', 'quick_gelu', op, where),
    eps: eps(x, where, op),
    attentionDropout: typeof x.attention_dropout === 'number' ? x.attention_dropout : 0,
    dropout: 0,
  });
  const vocabSize = hfInt(t, 'vocab_size', op, 49408, tw);
  const eos = t.eos_token_id ?? 49407;
  if (typeof eos !== 'number' || !Number.isInteger(eos) || eos < 0 || eos >= vocabSize) throw formatError(op, `${tw}: eos_token_id must be an id below vocab_size ${vocabSize}`);
  const init = c.logit_scale_init_value ?? 2.6592;
  if (typeof init !== 'number' || !Number.isFinite(init)) throw formatError(op, 'config.json: logit_scale_init_value must be a number');
  return {
    options: {
      embedDim: hfInt(c, 'projection_dim', op, 512),
      text: { ...tower(t, tw, { width: 512, ff: 2048, heads: 8 }), vocabSize, context: hfInt(t, 'max_position_embeddings', op, 77, tw) },
      vision: {
        ...tower(v, vw, { width: 768, ff: 3072, heads: 12 }),
        imageSize: hfInt(v, 'image_size', op, 224, vw), patchSize: hfInt(v, 'patch_size', op, 32, vw), channels: hfInt(v, 'num_channels', op, 3, vw),
      },
    },
    eotId: eos === LEGACY_EOS ? vocabSize - 1 : eos,
    initLogitScale: init,
  };
}

/** A CLIP config.json for a DualEncoder's config. */
export function hfConfigFromCLIP(c: Record<string, unknown>, tokenizer: Tokenizer): Record<string, unknown> {
  const t = c.text as Record<string, unknown>, v = c.vision as Record<string, unknown>;
  const common = (x: Record<string, unknown>) => ({
    hidden_size: x.dim, intermediate_size: x.ffDim, num_attention_heads: x.heads, num_hidden_layers: x.layers,
    hidden_act: hfActivationName(x.activation, 'quick_gelu'), layer_norm_eps: x.eps, attention_dropout: x.attentionDropout, dropout: 0,
    projection_dim: c.embedDim,
  });
  return {
    model_type: 'clip', architectures: ['CLIPModel'], projection_dim: c.embedDim, logit_scale_init_value: c.initLogitScale,
    initializer_factor: 1.0, torch_dtype: t.dtype === 'float64' ? 'float64' : 'float32',
    text_config: {
      model_type: 'clip_text_model', ...common(t), vocab_size: t.vocabSize, max_position_embeddings: t.context, eos_token_id: t.eotId,
      ...(tokenizer.bosId === undefined ? {} : { bos_token_id: tokenizer.bosId }), ...(tokenizer.padId === undefined ? {} : { pad_token_id: tokenizer.padId }),
    },
    vision_config: { model_type: 'clip_vision_model', ...common(v), image_size: v.imageSize, patch_size: v.patchSize, num_channels: v.channels },
  };
}

/** Reads config.json and model.safetensors of a CLIP directory: the config and our state dict. */
export async function readCLIPCheckpoint(dir: string, op: string): Promise<{ config: Record<string, unknown>; state: Map<string, Tensor> }> {
  const { config, tensors } = await readHFFiles(dir, 'clip', op);
  const from = new HFTensors(tensors, op, 'CLIPModel');
  from.skip(/^(text|vision)_model\.embeddings\.position_ids$/);  // arange buffers
  const state = new Map<string, Tensor>();
  try {
    for (const [hf, ours] of TOP_NAMES) state.set(ours, from.take(hf));
    for (const [hfTower, tower] of TOWERS) {
      const layers = hfInt(sub(config, hfTower === 'text_model' ? 'text_config' : 'vision_config', op), 'num_hidden_layers', op, 12);
      for (let i = 0; i < layers; i++) {
        const hf = `${hfTower}.encoder.layers.${i}.`, ours = `${tower}.transformer.${i}.`;
        for (const p of ['weight', 'bias']) {
          const parts = ['q_proj', 'k_proj', 'v_proj'].map((n) => from.take(`${hf}self_attn.${n}.${p}`));
          state.set(`${ours}self_attn.in_proj.${p}`, concat(parts, 0));
          for (const x of parts) x.dispose();
          for (const [h, o] of LAYER_NAMES) state.set(`${ours}${o}.${p}`, from.take(`${hf}${h}.${p}`));
        }
      }
    }
    from.finish();
  } catch (e) {
    for (const x of state.values()) x.dispose();
    throw e;
  }
  return { config, state };
}

/** Writes config.json and model.safetensors in CLIPModel's layout (and tokenizer.json where the tokenizer can save itself). */
export async function writeCLIPCheckpoint(dir: string, config: Record<string, unknown>, state: Map<string, Tensor>, tokenizer: Tokenizer, op: string): Promise<void> {
  if (config.loss !== 'clip') throw new RangeError(`${op}: transformers' CLIPModel has no SigLIP bias: only loss 'clip' saves in the huggingface format`);
  const eot = Number((config.text as Record<string, unknown>).eotId);
  if (eot === LEGACY_EOS)
    throw new RangeError(`${op}: the end-of-text id is 2, which transformers reads as a legacy config and pools the text at the largest id instead`);
  const out = new Map<string, Tensor>();
  const views: Tensor[] = [];
  for (const [hf, ours] of TOP_NAMES) out.set(hf, state.get(ours)!);
  for (const [hfTower, tower] of TOWERS) {
    const layers = Number((config[tower === 'text' ? 'text' : 'vision'] as Record<string, unknown>).layers);
    for (let i = 0; i < layers; i++) {
      const hf = `${hfTower}.encoder.layers.${i}.`, ours = `${tower}.transformer.${i}.`;
      for (const p of ['weight', 'bias']) {
        const fused = state.get(`${ours}self_attn.in_proj.${p}`)!;
        const w = fused.shape[0] / 3;
        ['q_proj', 'k_proj', 'v_proj'].forEach((n, k) => {
          views.push(fused.slice(0, k * w, (k + 1) * w));
          out.set(`${hf}self_attn.${n}.${p}`, views[views.length - 1]);
        });
        for (const [h, o] of LAYER_NAMES) out.set(`${hf}${h}.${p}`, state.get(`${ours}${o}.${p}`)!);
      }
    }
  }
  try {
    await writeHFFiles(dir, hfConfigFromCLIP(config, tokenizer), out, tokenizer, op);
  } finally {
    for (const x of views) x.dispose();
  }
}
