#pragma once
// Similarity queries on unit-normalised vectors, with gensim's semantics (KeyedVectors):
// most_similar (3CosAdd), most_similar_cosmul (3CosMul, Levy & Goldberg 2014), doesnt_match,
// similarity. Large vocabularies are scanned in parallel on the global thread pool.
#include <cstdint>
#include <vector>

#include "word2vec/model.h"

namespace qkv::w2v {

struct Scored {
  int32_t index;
  float score;
};

// The top `topn` of scores[0..n), skipping `exclude`, best first (ties: lower index first).
std::vector<Scored> top_k(const float* scores, int64_t n, int topn, const std::vector<int32_t>& exclude);

// Cosine of every word among the first `limit` with the unit vector `v` (length stride).
void cosines(Model& m, const float* unit_v, int64_t limit, float* out);

// Mean of the unit vectors of `positive` minus those of `negative` (weights +1/-1), normalised;
// then the topn most cosine-similar words among the first `restrict` (0: all), inputs excluded.
std::vector<Scored> most_similar(Model& m, const std::vector<int32_t>& positive, const std::vector<int32_t>& negative,
                                 int topn, int64_t restrict_vocab);
// The same for a raw vector (not excluded from anything).
std::vector<Scored> most_similar_to_vector(Model& m, const float* v, int topn, int64_t restrict_vocab);
// prod((1 + cos(w, p)) / 2) / (prod((1 + cos(w, n)) / 2) + 1e-6).
std::vector<Scored> most_similar_cosmul(Model& m, const std::vector<int32_t>& positive,
                                        const std::vector<int32_t>& negative, int topn, int64_t restrict_vocab);
// The word furthest from the mean of the words' unit vectors.
int32_t doesnt_match(Model& m, const std::vector<int32_t>& words);
float similarity(Model& m, int32_t a, int32_t b);

}  // namespace qkv::w2v
