export {
  registerTokenizer,
  tokenizerFromJSON,
  type Tokenizer,
  type TokenizerJSON,
  type TokenizerFromJSON,
  type SpecialName,
  type EncodeOptions,
  type DecodeOptions,
} from './tokenizer';
export { padBatch, type TokenBatch } from './batch';
export { StreamDecoder, type StreamDecoderOptions } from './stream';
export {
  SPECIAL_TOKENS,
  DEFAULT_SPECIALS,
  PAD_ID,
  BOS_ID,
  EOS_ID,
  UNK_ID,
  MASK_ID,
  Vocabulary,
  CharVocab,
  WordVocab,
  vocabFromJSON,
  type Specials,
  type VocabOptions,
  type BuildOptions,
  type VocabJSON,
} from './vocab';
export {
  BPETokenizer,
  clipNormalize,
  type BPEEncodeOptions,
  type BPETrainOptions,
  type BPECorpus,
  type BPEJSON,
  type TiktokenOptions,
} from './bpe';
