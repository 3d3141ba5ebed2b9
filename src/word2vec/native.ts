// The addon's word2vec functions (binding/word2vec_binding.cpp), typed. Only src/word2vec uses them.
import { binding } from '../native';

/** An opaque native model handle (a type-tagged External). */
export type NativeModel = { readonly __w2vModel: unique symbol };

/** A running progress job (binding/progress_job.h). */
export interface NativeJob<T> {
  promise: Promise<T>;
  abort(): void;
}
/** A training job fed from JavaScript: one pass of batches, endPass(), more passes, close(). */
export interface NativeFeedJob<T> extends NativeJob<T> {
  push(batch: string): Promise<boolean>;
  endPass(): Promise<boolean>;
  close(): void;
}

export interface NativeTrainResult {
  model?: NativeModel;
  words: number;
  effectiveWords: number;
  seconds: number;
  wordsPerSec: number;
  loss: number;
  vocabSeconds: number;
}

export interface NativeInfo {
  size: number;
  dim: number;
  negative: number;
  hs: boolean;
  minCount: number;
  maxVocabSize: number;
  nsExponent: number;
  trainable: boolean;
  corpusWords: number;
  trainedWords: number;
  architecture?: 'skipgram' | 'cbow';
  /** Epochs of the last training run (the default of the next). */
  epochs?: number;
}

export interface NativeScored {
  word: string;
  similarity: number;
}

export interface Word2VecBinding {
  w2vTrain(
    model: NativeModel | null,
    source: { path: string } | { feed: true },
    options: Record<string, unknown>,
    onProgress: ((p: Record<string, number>) => void) | undefined,
  ): NativeJob<NativeTrainResult> & Partial<NativeFeedJob<NativeTrainResult>>;
  w2vLoad(path: string, format: string): Promise<{ model: NativeModel; format: string }>;
  w2vSave(model: NativeModel, path: string, format: string): Promise<void>;
  w2vInfo(model: NativeModel): NativeInfo;
  w2vWords(model: NativeModel): string[];
  w2vCounts(model: NativeModel): Float64Array;
  w2vIndex(model: NativeModel, word: string): number;
  w2vVector(model: NativeModel, index: number): Float32Array;
  w2vMostSimilar(model: NativeModel, positive: number[], negative: number[], topN: number, restrictVocab: number, cosmul: boolean, async?: false): NativeScored[];
  w2vMostSimilar(model: NativeModel, positive: number[], negative: number[], topN: number, restrictVocab: number, cosmul: boolean, async: true): Promise<NativeScored[]>;
  w2vMostSimilarVector(model: NativeModel, vector: Float32Array, topN: number, restrictVocab: number, async?: false): NativeScored[];
  w2vMostSimilarVector(model: NativeModel, vector: Float32Array, topN: number, restrictVocab: number, async: true): Promise<NativeScored[]>;
  w2vSimilarity(model: NativeModel, a: number, b: number): number;
  w2vDoesntMatch(model: NativeModel, words: number[]): number;
  w2vEvaluateWordPairs(model: NativeModel, pairs: string | [string, string, number][], restrictVocab: number, caseInsensitive: boolean): Promise<{
    pearson: number;
    spearman: number;
    pairs: number;
    oovPairs: number;
  }>;
  w2vEvaluateAnalogies(model: NativeModel, questions: string | string[][], restrictVocab: number, caseInsensitive: boolean): Promise<{
    accuracy: number;
    sections: { section: string; correct: number; incorrect: number; accuracy: number }[];
    covered: number;
    total: number;
  }>;
  w2vDispose(model: NativeModel): void;
}

export const w2vBinding = binding as unknown as Word2VecBinding;
