// DualEncoder (CLIP): an image tower and a text tower projected into one embedding space, trained
// contrastively on image–caption pairs (the fused symmetric InfoNCE, or SigLIP's sigmoid loss),
// natively on a worker thread through the shared engine. Zero-shot classification, retrieval both
// ways and similarity matrices build on encodeImages / encodeTexts.
import { checkArray, checkInt, checkObject, checkOptions, checkPath, checkString, checkStringArray, optBool, optEnum, optInt, optNumber, optSeed, typeName } from '../args';
import { QkvError } from '../errors';
import { argmax, div, matmul, maximum, mean, mul, softmax, sqrt, sum } from '../ops';
import { Tensor, handle } from '../tensor';
import { clipPreprocess } from '../image';
import { load as loadImages } from '../image-files';
import { padBatch, type TokenBatch } from '../text/batch';
import { tokenizerFromJSON, type Tokenizer } from '../text/tokenizer';
import { layerConfig, type LayerConfig } from '../transformer/base';
import { checkSignal, runJob, sequenceTensors, startTask, taskValue } from '../jobs';
import { tb, type NativeModule, type NativeOptimizer } from '../transformer/native';
import { TrainableModule, fromCheckpoint, loadCheckpoint, type SaveOptions } from '../transformer/trainable';
import { tokenizerBeside } from '../transformer/huggingface';
import { clipOptionsFromHF, readCLIPCheckpoint, writeCLIPCheckpoint } from './huggingface';
import { nativeTrainOptions, progressCallback, type TrainOptions } from '../transformer/training';
import type { EvalResult, TrainResult } from '../training';
import type { NativeTensor } from '../native';

/**
 * The image tower: a ViT over patches of patchSize × patchSize pixels (kind 'vit', the default), or
 * a small ResNet (kind 'cnn': a 3×3 stem, `blocks[s]` residual blocks at width · 2^s channels, each
 * later stage at half the resolution, global average pooling).
 */
export interface VisionTowerOptions extends Omit<LayerConfig, 'dim' | 'dtype' | 'seed' | 'norm' | 'fused'> {
  kind?: 'vit' | 'cnn';
  /** Width W of the tower (default 256 for a ViT, 32 channels for the CNN's first stage); a ViT's heads default to W / 64 (at least 1). */
  width?: number;
  /** CNN: residual blocks per stage (default [1, 1, 1]). */
  blocks?: readonly number[];
  /** Height and width of the (square) images (default 32). */
  imageSize?: number;
  /** Image channels (default 3). */
  channels?: number;
  /** Patch side in pixels; imageSize must be a multiple (default 4). */
  patchSize?: number;
  /** Blocks (default 4). */
  layers?: number;
}

/** The text tower: a causal transformer pooled at the end-of-text token. */
export interface TextTowerOptions extends Omit<LayerConfig, 'dim' | 'dtype' | 'seed' | 'norm' | 'fused'> {
  /** Width W of the tower (default 256); heads default to W / 64 (at least 1). */
  width?: number;
  /** Tokens per caption, bos and eos included (default 32; CLIP's checkpoints use 77). */
  context?: number;
  /** Blocks (default 4). */
  layers?: number;
  /** Rows of the token table (default tokenizer.size). */
  vocabSize?: number;
}

export interface DualEncoderOptions {
  /** The captions' tokenizer; it must have an end-of-text (eos) token, whose state the text tower pools. */
  tokenizer: Tokenizer;
  /** Width E of the shared embedding space (default 256). */
  embedDim?: number;
  vision?: VisionTowerOptions;
  text?: TextTowerOptions;
  /** 'clip': symmetric InfoNCE (default); 'siglip': pairwise sigmoid loss with a learnable bias. */
  loss?: 'clip' | 'siglip';
  /** Initial log temperature t (default ln(1/0.07) for CLIP, ln 10 for SigLIP); clamped to [0, ln 100] after every step. */
  initLogitScale?: number;
  /** SigLIP's initial bias (default −10). */
  initLogitBias?: number;
  dtype?: 'float32' | 'float64';
  /** Initialisation and dropout seed (default 0). */
  seed?: number;
}

/** Images [N, C, H, W] and the N captions that go with them. */
export interface ImageTextPairs {
  images: Images;
  texts: readonly string[];
}

export interface DualEncoderFitOptions extends Omit<TrainOptions, 'labelSmoothing' | 'bucket'> {
  /** Held-out pairs: their loss and in-batch image→text accuracy at epoch ends (and every evalEvery steps). */
  validation?: ImageTextPairs;
  evalEvery?: number;
}

/** open_clip's retrieval metrics in one direction. */
export interface RetrievalDirection {
  r1: number;
  r5: number;
  r10: number;
  meanRank: number;
  medianRank: number;
}

export interface RetrievalResult {
  imageToText: RetrievalDirection;
  textToImage: RetrievalDirection;
}

export interface ZeroShotOptions {
  /** Prompt templates with `{}` where the class name goes (default ['{}']); each class's prompts are averaged. */
  templates?: readonly string[];
  batchSize?: number;
  signal?: AbortSignal;
}

export interface ZeroShotResult {
  /** The most likely class of each image (an index into classNames). */
  labels: number[];
  /** The class names of `labels`. */
  names: string[];
  /** [N, classes]: softmax over the classes of exp(t) · cosine. */
  probs: Tensor;
}

interface BatchOptions {
  batchSize?: number;
  signal?: AbortSignal;
}

export interface EmbedOptions extends BatchOptions {
  /** Unit-length rows (default true); false: the projected features as they are (transformers' get_image_features / get_text_features). */
  normalize?: boolean;
}

const FROM_NATIVE = Symbol('fromNative');
type Internal = { [FROM_NATIVE]: { module: NativeModule; tokenizer: Tokenizer; optimizer?: NativeOptimizer } };

function checkTokenizer(t: unknown, op: string): Tokenizer {
  if (!t || typeof (t as Tokenizer).encode !== 'function' || !Number.isInteger((t as Tokenizer).size))
    throw new TypeError(`${op}: option tokenizer must be a Tokenizer (CharVocab, WordVocab, BPETokenizer...), got ${typeName(t)}`);
  const tok = t as Tokenizer;
  if (tok.eosId === undefined) throw new RangeError(`${op}: the tokenizer needs an eos token (the text tower pools at the end of text)`);
  return tok;
}

/** The native config of a DualEncoder (options checked, defaults filled in). */
export function dualEncoderConfig(o: Record<string, unknown>, tokenizer: Tokenizer, op: string): Record<string, unknown> {
  const dtype = optEnum(op, o, 'dtype', ['float32', 'float64'] as const) ?? 'float32';
  const seed = optSeed(op, o) ?? 0;
  const tower = (name: 'vision' | 'text', seedOffset: number) => {
    const t = o[name] === undefined ? {} : checkObject(op, `option ${name}`, o[name], '{ width, layers, heads, ... }');
    const width = optInt(`${op} ${name}`, t, 'width', { min: 1 }) ?? 256;
    const layer = layerConfig({ ...t, dim: width, heads: t.heads ?? Math.max(1, Math.floor(width / 64)), dtype, seed: seed + seedOffset }, `${op} ${name}`);
    return {
      ...layer,
      dropout: t.dropout === undefined ? 0 : layer.dropout,
      activation: t.activation === undefined ? 'gelu' : layer.activation,
      layers: optInt(`${op} ${name}`, t, 'layers', { min: 1 }) ?? 4,
      t,
    };
  };
  const v0 = o.vision === undefined ? {} : checkObject(op, 'option vision', o.vision, '{ kind, width, layers, ... }');
  const kind = optEnum(`${op} vision`, v0, 'kind', ['vit', 'cnn'] as const) ?? 'vit';
  const { t: tt, ...text } = tower('text', 1);
  const vocabSize = optInt(`${op} text`, tt, 'vocabSize', { min: 1 }) ?? tokenizer.size;
  if (vocabSize < tokenizer.size) throw new RangeError(`${op}: text.vocabSize ${vocabSize} is below the tokenizer's ${tokenizer.size} ids`);
  const loss = optEnum(op, o, 'loss', ['clip', 'siglip'] as const) ?? 'clip';
  return {
    type: 'DualEncoder',
    embedDim: optInt(op, o, 'embedDim', { min: 1 }) ?? 256,
    loss,
    initLogitScale: optNumber(op, o, 'initLogitScale', { min: 0, max: Math.log(100) }) ?? -1,
    initLogitBias: optNumber(op, o, 'initLogitBias') ?? -10,
    vision: kind === 'cnn' ? {
      type: 'ConvTower',
      imageSize: optInt(`${op} vision`, v0, 'imageSize', { min: 1 }) ?? 32,
      channels: optInt(`${op} vision`, v0, 'channels', { min: 1 }) ?? 3,
      width: optInt(`${op} vision`, v0, 'width', { min: 1 }) ?? 32,
      blocks: v0.blocks === undefined ? [1, 1, 1]
        : checkArray(`${op} vision`, 'option blocks', v0.blocks, (b, n) => checkInt(`${op} vision`, n, b, { min: 1, max: 64 }), { nonEmpty: true, what: 'an array of block counts' }),
      dtype, seed: String(seed),
    } : (() => {
      const { t: v, ...vision } = tower('vision', 0);
      return {
        ...vision,
        imageSize: optInt(`${op} vision`, v, 'imageSize', { min: 1 }) ?? 32,
        channels: optInt(`${op} vision`, v, 'channels', { min: 1 }) ?? 3,
        patchSize: optInt(`${op} vision`, v, 'patchSize', { min: 1 }) ?? 4,
      };
    })(),
    text: { ...text, vocabSize, context: optInt(`${op} text`, tt, 'context', { min: 2 }) ?? 32, eotId: tokenizer.eosId },
  };
}

/**
 * Images as a tensor [N, C, H, W], or image files (paths or encoded Buffers, decoded by the optional
 * peer dependency sharp): those are resized and center-cropped to the tower's size and, in RGB,
 * normalised as CLIP does (clipPreprocess: [0, 1], then CLIP's mean and std); grey files are
 * scaled to [0, 1].
 */
export type Images = Tensor | readonly (string | Buffer)[];

function checkImages(images: unknown, op: string, name = 'images'): Tensor {
  if (!(images instanceof Tensor)) throw new TypeError(`${op}: ${name} must be a Tensor [N, C, H, W], got ${typeName(images)}`);
  if (images.shape.length !== 4) throw new RangeError(`${op}: ${name} must be [N, C, H, W], got [${images.shape.join(', ')}]`);
  return images;
}

/**
 * A dual encoder (CLIP): `await clip.fit({ images, texts })`, then `clip.zeroShot(images, names)`,
 * `clip.evaluateRetrieval(images, texts)` or `clip.similarity(images, texts)`.
 */
export class DualEncoder extends TrainableModule {
  readonly tokenizer: Tokenizer;
  readonly embedDim: number;
  /** Tokens per caption, bos and eos included. */
  readonly context: number;
  readonly imageSize: number;
  readonly channels: number;

  constructor(options: DualEncoderOptions) {
    const op = 'DualEncoder';
    const internal = (options as unknown as Internal)?.[FROM_NATIVE];
    if (internal) {
      super(internal.module, internal.optimizer);
      this.tokenizer = internal.tokenizer;
    } else {
      const o = checkObject(op, 'options', options, '{ tokenizer, ... }');
      const tokenizer = checkTokenizer(o.tokenizer, op);
      super(tb.tfCreate(JSON.stringify(dualEncoderConfig(o, tokenizer, op))));
      this.tokenizer = tokenizer;
    }
    const c = this.config as { embedDim: number; text: { context: number }; vision: { imageSize: number; channels: number } };
    this.embedDim = Number(c.embedDim);
    this.context = Number(c.text.context);
    this.imageSize = Number(c.vision.imageSize);
    this.channels = Number(c.vision.channels);
  }

  /** Loads a model saved with save(): weights, config, tokenizer and the optimizer state if saved. */
  static async load(path: string): Promise<DualEncoder> {
    const op = 'DualEncoder.load';
    const loaded = await loadCheckpoint(path, op);
    const tokenizer = fromCheckpoint(loaded, op, (c) => {
      if (c.type !== 'DualEncoder' || !loaded.metadata.tokenizer)
        throw new QkvError(`${op}: ${path} does not hold a DualEncoder with its tokenizer`, 'ERR_FORMAT');
      return tokenizerFromJSON(loaded.metadata.tokenizer);
    });
    const internal: Internal = { [FROM_NATIVE]: { module: loaded.module, tokenizer, optimizer: loaded.optimizer } };
    return new DualEncoder(internal as unknown as DualEncoderOptions);
  }

  /**
   * Loads a Hugging Face CLIP directory: config.json and model.safetensors in CLIPModel's layout,
   * with the tokenizer given, or else the one beside them (tokenizer.json, or vocab.json +
   * merges.txt, where BPETokenizer can load them). The tokenizer's eos must be the checkpoint's end
   * of text (text_config.eos_token_id; vocab_size − 1 for legacy configs with eos_token_id 2). The
   * temperature clamp is raised to the loaded logit_scale where that is above ln 100.
   */
  static async fromPretrained(dir: string, options: { tokenizer?: Tokenizer } = {}): Promise<DualEncoder> {
    const op = 'DualEncoder.fromPretrained';
    checkPath(op, 'dir', dir);
    const o = checkOptions(op, options);
    const tokenizer = checkTokenizer(o.tokenizer === undefined ? await tokenizerBeside(dir, op) : o.tokenizer, op);
    const { config, state } = await readCLIPCheckpoint(dir, op);
    let model: DualEncoder | undefined;
    try {
      const hf = clipOptionsFromHF(config, op);
      if (tokenizer.eosId !== hf.eotId)
        throw new QkvError(`${op}: the tokenizer's eos id ${String(tokenizer.eosId)} is not the checkpoint's end of text ${hf.eotId}`, 'ERR_FORMAT');
      const native = dualEncoderConfig(hf.options, tokenizer, op);
      const scale = state.get('logit_scale')!.item();
      const max = Math.max(Math.log(100), scale, hf.initLogitScale);
      native.initLogitScale = hf.initLogitScale;
      native.maxLogitScale = max;
      const internal: Internal = { [FROM_NATIVE]: { module: tb.tfCreate(JSON.stringify(native)), tokenizer } };
      model = new DualEncoder(internal as unknown as DualEncoderOptions);
      await model.loadStateDict(state);
    } catch (e) {
      await model?.dispose();
      throw e;
    } finally {
      for (const t of state.values()) t.dispose();
    }
    return model;
  }

  /**
   * save(path) writes qkv's checkpoint (one safetensors file with the config and the tokenizer);
   * save(dir, { format: 'huggingface' }) writes config.json and model.safetensors in CLIPModel's
   * layout (and tokenizer.json where the tokenizer can save one), for DualEncoder.fromPretrained or
   * transformers' CLIPModel.from_pretrained.
   */
  override save(path: string, options: SaveOptions & { format?: 'qkv' | 'huggingface' } = {}): Promise<void> {
    const op = 'DualEncoder.save';
    return this.saveInFormat(op, path, options, () => writeCLIPCheckpoint(path, this.config, this.stateDict(), this.tokenizer, op));
  }

  protected override checkpointMetadata(): Record<string, string> {
    return { tokenizer: JSON.stringify(this.tokenizer.toJSON()) };
  }

  /** exp(t): the factor on the cosine similarities (the inverse temperature). */
  get logitScale(): number {
    return Math.exp(this.parameter('logit_scale').item());
  }

  /** Captions as a right-padded batch: bos (where the tokenizer has one), the text, eos; cut to the context, eos kept. */
  batch(texts: readonly string[], op = 'DualEncoder.batch'): TokenBatch {
    checkStringArray(op, 'texts', texts, { nonEmpty: true });
    const bos = this.tokenizer.bosId !== undefined;
    return padBatch(texts.map((t) => this.tokenizer.encode(t, { bos, eos: true, maxLength: this.context })), op, this.tokenizer.padId ?? 0);
  }

  /** Images as the tower's input tensor: a tensor as it is, files decoded and preprocessed (see {@link Images}). */
  async imageTensor(images: Images, op = 'DualEncoder.imageTensor', name = 'images'): Promise<Tensor> {
    if (images instanceof Tensor || !Array.isArray(images)) return checkImages(images, op, name);
    if (this.channels !== 1 && this.channels !== 3) throw new RangeError(`${op}: image files give 1 or 3 channels, the model takes ${this.channels}`);
    const pixels = await loadImages(images, { size: this.imageSize, channels: this.channels as 1 | 3 });
    const out = this.channels === 3 ? clipPreprocess(pixels, { size: this.imageSize }) : div(pixels, 255);
    pixels.dispose();
    return out;
  }

  private async pairTensors(p: unknown, op: string, prefix: '' | 'val'): Promise<[string, NativeTensor][]> {
    const o = checkObject(op, prefix ? 'option validation' : 'pairs', p, '{ images, texts }');
    const images = await this.imageTensor(o.images as Images, op, prefix ? 'validation.images' : 'images');
    const texts = checkStringArray(op, prefix ? 'validation.texts' : 'texts', o.texts, { nonEmpty: true });
    if (texts.length !== images.shape[0])
      throw new RangeError(`${op}: ${images.shape[0]} images and ${texts.length} texts: one caption per image is needed`);
    const key = (name: string) => (prefix ? `val${name[0].toUpperCase()}${name.slice(1)}` : name);
    return [[key('images'), handle(images, op, 'images')], ...sequenceTensors(key('texts'), this.batch(texts, op))];
  }

  /**
   * Trains contrastively, natively on a worker thread: each batch of `batchSize` pairs (default
   * 128) is one contrastive problem; open_clip's AdamW (lr 5e-4, betas 0.9/0.98, eps 1e-6, weight
   * decay 0.2 on the matrices), warm-up then cosine, 10 epochs by default; the temperature is
   * clamped after every step.
   */
  async fit(pairs: ImageTextPairs, options: DualEncoderFitOptions = {}): Promise<TrainResult> {
    const op = 'DualEncoder.fit';
    const { native, signal, onProgress, resume, options: o } = nativeTrainOptions(options, op, ['evalEvery']);
    const tensors = await this.pairTensors(pairs, op, '');
    if (o.validation !== undefined) tensors.push(...(await this.pairTensors(o.validation, op, 'val')));
    return this.fitJob(op, signal, resume, { options: native, tensors, onProgress: progressCallback(onProgress) });
  }

  /** The mean contrastive loss over batches of `batchSize` pairs (default 128) and the in-batch image→text top-1 accuracy. */
  async evaluate(pairs: ImageTextPairs, options: BatchOptions = {}): Promise<EvalResult> {
    const op = 'DualEncoder.evaluate';
    const o = checkOptions(op, options);
    const call = { batchSize: optInt(op, o, 'batchSize', { min: 2 }) ?? 128 };
    const signal = checkSignal(o.signal, op);
    const tensors = await this.pairTensors(pairs, op, '');
    return this.enqueue((m) => taskValue<EvalResult>(op, signal, () => startTask(m, 'evaluate', { options: call, tensors })));
  }

  private encodeTask(op: string, verb: string, tensors: [string, NativeTensor][], options: EmbedOptions): Promise<Tensor> {
    const o = checkOptions(op, options);
    const call = { batchSize: optInt(op, o, 'batchSize', { min: 1 }) ?? 256, normalize: optBool(op, o, 'normalize') ?? true };
    const signal = checkSignal(o.signal, op);
    return this.enqueue(async (m) => new Tensor((await runJob(op, signal, () => startTask(m, verb, { options: call, tensors }))).tensors.get('output')!));
  }

  /** Unit-length image embeddings [N, E] of images [N, C, H, W] or image files (with normalize: false, as projected). */
  async encodeImages(images: Images, options: EmbedOptions = {}): Promise<Tensor> {
    const op = 'DualEncoder.encodeImages';
    return this.encodeTask(op, 'encodeImages', [['images', handle(await this.imageTensor(images, op), op, 'images')]], options);
  }

  /** Unit-length text embeddings [N, E] (with normalize: false, as projected). */
  async encodeTexts(texts: readonly string[], options: EmbedOptions = {}): Promise<Tensor> {
    const op = 'DualEncoder.encodeTexts';
    return this.encodeTask(op, 'encodeTexts', sequenceTensors('texts', this.batch(texts, op)), options);
  }

  /** The cosine similarities [N, M] of N images and M texts. */
  async similarity(images: Images, texts: readonly string[], options: BatchOptions = {}): Promise<Tensor> {
    const [img, txt] = [await this.encodeImages(images, options), await this.encodeTexts(texts, options)];
    const s = matmul(img, txt.transpose());
    img.dispose();
    txt.dispose();
    return s;
  }

  /**
   * Zero-shot classification (open_clip): each class name put into every template, the prompts'
   * embeddings averaged per class and renormalised; each image takes the class of highest cosine.
   */
  async zeroShot(images: Images, classNames: readonly string[], options: ZeroShotOptions = {}): Promise<ZeroShotResult> {
    const op = 'DualEncoder.zeroShot';
    const names = checkStringArray(op, 'classNames', classNames, { nonEmpty: true });
    const o = checkOptions(op, options);
    const templates = o.templates === undefined ? ['{}'] : checkArray(op, 'option templates', o.templates, (t, n) => {
      const s = checkString(op, n, t);
      if (!s.includes('{}')) throw new RangeError(`${op}: ${n} '${s}' has no {} for the class name`);
      return s;
    }, { nonEmpty: true, what: 'an array of templates' });
    const batch = { batchSize: o.batchSize as number | undefined, signal: o.signal as AbortSignal | undefined };
    const prompts = names.flatMap((c) => templates.map((t) => t.split('{}').join(c)));
    const img = await this.encodeImages(images, batch);
    const txt = await this.encodeTexts(prompts, batch);
    const perClass = mean(txt.reshape([names.length, templates.length, this.embedDim]), 1);
    const classifier = div(perClass, maximum(sqrt(sum(mul(perClass, perClass), -1, { keepdims: true })), 1e-12));
    const probs = softmax(mul(matmul(img, classifier.transpose()), this.logitScale));
    const labels = Array.from(argmax(probs, -1).toTypedArray());
    for (const t of [img, txt, perClass, classifier]) t.dispose();
    return { labels, names: labels.map((l) => names[l]), probs };
  }

  /** open_clip's retrieval metrics of paired images and captions (image i goes with texts[i]), both ways. */
  async evaluateRetrieval(images: Images, texts: readonly string[], options: BatchOptions = {}): Promise<RetrievalResult> {
    const op = 'DualEncoder.evaluateRetrieval';
    const o = checkOptions(op, options);
    const call = { batchSize: optInt(op, o, 'batchSize', { min: 1 }) ?? 256 };
    const signal = checkSignal(o.signal, op);
    const tensors = await this.pairTensors({ images, texts }, op, '');
    return this.enqueue((m) => taskValue<RetrievalResult>(op, signal, () => startTask(m, 'evaluateRetrieval', { options: call, tensors })));
  }
}

