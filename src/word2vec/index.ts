// word2vec: the public API of this area (re-exported by src/index.ts).
export {
  Word2Vec,
  type Word2VecArchitecture,
  type Word2VecFormat,
  type Word2VecProgress,
  type Word2VecModelOptions,
  type Word2VecTrainOptions,
  type Word2VecOptions,
  type Word2VecVocabEntry,
  type SimilarWord,
  type Word2VecWord,
  type Word2VecQuery,
  type MostSimilarOptions,
  type Word2VecTrainResult,
  type WordPairsResult,
  type AnalogySectionResult,
  type AnalogiesResult,
  type Word2VecEvaluateOptions,
} from './word2vec';
export type { Word2VecSentence, Word2VecInput } from './input';
