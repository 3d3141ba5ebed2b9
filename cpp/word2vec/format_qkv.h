#pragma once
// qkv's own model file: a safetensors file (https://github.com/huggingface/safetensors) holding
//   "vectors" [V, D] F32 (the word vectors), "syn1neg" [V, D] F32 (when negative > 0) and
//   "syn1" [V - 1, D] F32 (when hs),
// with "__metadata__" (string values, as safetensors requires):
//   "format": "qkv.word2vec", "version": "1",
//   "config": JSON {dim, negative, hs, minCount, maxVocabSize, nsExponent},
//   "vocab": JSON array of the words in index order, "counts": JSON array of their counts,
//   "state": JSON {corpusWords, corpusSentences, trainedWords, lastTrain: {...}}.
// Everything needed to continue training is there; any safetensors reader can read the tensors.
#include <memory>
#include <string>

#include "word2vec/model.h"

namespace qkv::w2v {

void save_qkv(const Model& m, const std::string& path);
// Validates the header, every offset and size, and the metadata before reading data;
// Error(Format) naming the file and the problem.
std::unique_ptr<Model> load_qkv(const std::string& path);

}  // namespace qkv::w2v
