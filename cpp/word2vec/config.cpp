#include "word2vec/config.h"

#include "core/error.h"

namespace qkv::w2v {

const char* architecture_name(Architecture a) { return a == Architecture::CBOW ? "cbow" : "skipgram"; }

namespace {
[[noreturn]] void bad(const char* op, const std::string& what) { throw_range(std::string(op) + ": " + what); }
}  // namespace

void validate(const ModelConfig& c, const char* op) {
  if (c.dim < 1 || c.dim > 100000) bad(op, "dim must be an integer in [1, 100000], got " + std::to_string(c.dim));
  if (c.negative < 0 || c.negative > 1000)
    bad(op, "negative must be an integer in [0, 1000], got " + std::to_string(c.negative));
  if (c.negative == 0 && !c.hs) bad(op, "negative is 0 and hs is false: enable negative sampling or hs");
  if (c.min_count < 1) bad(op, "minCount must be an integer >= 1, got " + std::to_string(c.min_count));
  if (c.max_vocab_size < 0) bad(op, "maxVocabSize must be a positive integer");
  if (!(c.ns_exponent >= -10 && c.ns_exponent <= 10)) bad(op, "nsExponent must be in [-10, 10]");
}

void validate(const TrainConfig& c, const char* op) {
  if (c.window < 1 || c.window > 1000) bad(op, "window must be an integer in [1, 1000], got " + std::to_string(c.window));
  if (!(c.sample >= 0 && c.sample < 1)) bad(op, "sample must be in [0, 1)");
  if (c.epochs < 1 || c.epochs > 100000) bad(op, "epochs must be an integer in [1, 100000], got " + std::to_string(c.epochs));
  if (!(c.alpha > 0 && c.alpha <= 10)) bad(op, "alpha must be in (0, 10]");
  if (!(c.min_alpha >= 0 && c.min_alpha <= c.alpha)) bad(op, "minAlpha must be in [0, alpha]");
  if (c.threads < 1 || c.threads > 1024) bad(op, "threads must be an integer in [1, 1024], got " + std::to_string(c.threads));
  if (c.max_sentence_length < 1) bad(op, "maxSentenceLength must be a positive integer");
  if (!(c.report_interval_s >= 0)) bad(op, "report interval must be >= 0");
}

}  // namespace qkv::w2v
