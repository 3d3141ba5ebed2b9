export { MultiHeadAttention, TransformerEncoderLayer, TransformerDecoderLayer, PositionalEncoding, type MultiHeadAttentionOptions, type AttentionCall } from './layers';
export { TransformerEncoder, type TransformerEncoderOptions, type EncoderFitOptions, type Pooling, type ClassPooling } from './encoder';
export {
  Seq2Seq, type Seq2SeqOptions, type Seq2SeqFitOptions, type TextPair, type TranslateOptions, type NBestTranslateOptions, type Translation,
  type NBestTranslation, type CrossAttention, type TranslationToken,
} from './seq2seq';
export {
  GPT, type GPTOptions, type GPTFitOptions, type GPTProgress, type GPTEvalResult, type GenerateOptions, type Generation, type Corpus,
} from './gpt';
export {
  GPTClassifier, type FineTuneFormat, type FormatExample, type GPTClassifierOptions, type GPTClassifierFitOptions, type Prediction,
} from './gpt-classifier';
export type { SaveOptions as TransformerSaveOptions } from './trainable';
export type { TrainOptions as TransformerTrainOptions } from './training';
export type { LayerConfig, Activation, NormPlacement, Positional } from './base';
export * from '../text/index';
export * as data from '../data/index';
