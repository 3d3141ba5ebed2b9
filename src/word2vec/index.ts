// word2vec: the public API of this area (re-exported by src/index.ts).
export {
  Word2Vec,
  type Architecture,
  type Word2VecFormat,
  type Word2VecProgress,
  type Word2VecModelOptions,
  type Word2VecTrainOptions,
  type Word2VecOptions,
  type VocabEntry,
  type Similar,
  type Word,
  type SimilarityQuery,
  type MostSimilarOptions,
  type TrainResult,
  type WordPairsResult,
  type AnalogySection,
  type AnalogiesResult,
  type EvaluateOptions,
} from './word2vec';
export type { Sentence, Word2VecInput } from './input';
