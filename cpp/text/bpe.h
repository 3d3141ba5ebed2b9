#pragma once
// A byte-level BPE tokenizer (GPT-2's): tokens are byte strings, merges are (left, right) → result
// with a rank, added tokens (specials such as <|endoftext|>) are split out of the text before the
// pre-tokenizer and never merged. Immutable once built: adding tokens makes a new model, so a job
// holding the old one runs undisturbed. Safe to use from many threads at once.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/hash_tables.h"
#include "text/pretokenize.h"

namespace qkv::text {

struct Merge {
  int32_t left, right, result;
  int32_t rank;  // the merge's line in vocab.bpe, or the merged token's rank in a tiktoken file
};

// A token matched in the text before pre-tokenisation; the flags are tokenizer.json's, kept so
// that a save writes them back (the matching itself is exact and case-sensitive).
struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = true;  // dropped by decode with skipSpecial
  bool single_word = false, lstrip = false, rstrip = false, normalized = false;
};

struct ByteLevelOptions {
  bool add_prefix_space = false;  // a space before each text (and each part between added tokens) that lacks one
  bool trim_offsets = true;       // kept for tokenizer.json; offsets are not computed here
  bool use_regex = true;          // false: each part is one word
};

// What a model is made of; the loaders and the trainer fill one in.
struct ModelSpec {
  // id → bytes; an empty entry is a hole (no token has that id). Added tokens' entries are their content.
  std::vector<std::string> tokens;
  std::vector<Merge> merges;  // in rank order
  std::vector<AddedToken> added;
  ByteLevelOptions options;
  bool ignore_merges = false;   // tokenizer.json: a word that is a token is that token
  std::string unk_token;        // tokenizer.json's, kept for saving; byte-level BPE never needs it
  // CLIP's flavour: the CLIP pre-tokenizer (whitespace dropped, digits one by one) and the last
  // symbol of each word spelled byte + "</w>" before merging (those 256 tokens must exist); decode
  // turns the suffix into a space and drops the last one. Normalisation (lower case, whitespace
  // runs) is the caller's: src/text/bpe.ts does it before the text gets here.
  bool clip = false;
};

constexpr std::string_view kEndOfWord = "</w>";

class Model {
 public:
  // Checks the spec (every byte a token, merges between existing ids, added ids in range):
  // Error(Format) naming `where` otherwise.
  Model(ModelSpec spec, const std::string& where);

  const ModelSpec& spec() const { return spec_; }
  int32_t size() const { return static_cast<int32_t>(spec_.tokens.size()); }
  bool is_hole(int32_t id) const { return kind_[static_cast<size_t>(id)] == Kind::Hole; }
  bool is_added(int32_t id) const { return kind_[static_cast<size_t>(id)] >= Kind::Added; }
  bool is_special(int32_t id) const { return kind_[static_cast<size_t>(id)] == Kind::Special; }
  // The id of a token's bytes (added tokens by their content), or -1.
  int32_t find(std::string_view bytes) const;
  int32_t byte_id(uint8_t b) const { return byte_ids_[b]; }
  // The id a word's last byte starts as: byte + "</w>" for CLIP, the byte otherwise.
  int32_t last_byte_id(uint8_t b) const { return last_ids_[b]; }
  // Calls fn(word) for each pre-tokenized word of a part of text (no added tokens in it).
  template <class Fn>
  void for_each_word(std::string_view part, Fn&& fn) const;

  // Appends the ids of `text` (any bytes; invalid UTF-8 is encoded byte by byte). With
  // split_added false, added tokens in the text are plain text.
  void encode(std::string_view text, bool split_added, std::vector<int32_t>& out) const;
  // The ids of one pre-tokenized word: the fast merge, through the calling thread's cache.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  // The same by the textbook algorithm (bpe_reference.cpp), for tests.
  void encode_word_reference(std::string_view word, std::vector<int32_t>& out) const;
  // Appends the bytes of the ids (checked in range and not holes: Error(Range) naming `op`).
  void decode(const int32_t* ids, size_t n, bool skip_special, std::string& out, const char* op) const;

  // A copy with `contents` added (each an added token; one already a token keeps its id); the
  // ids in order in *ids.
  std::shared_ptr<const Model> with_added(const std::vector<std::string>& contents, bool special, std::vector<int32_t>* ids) const;

 private:
  enum class Kind : uint8_t { Hole, Normal, Added, Special };
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  void merge_long_word(std::string_view word, std::vector<int32_t>& out) const;
  void encode_part(std::string_view part, std::vector<int32_t>& out) const;
  ModelSpec spec_;
  std::vector<Kind> kind_;
  int32_t byte_ids_[256];
  int32_t last_ids_[256];
  PairMap pairs_;
  std::unordered_map<std::string, int32_t> ids_;   // token bytes → id (regular tokens)
  std::unordered_map<std::string, int32_t> added_ids_;
  std::vector<std::vector<int32_t>> added_by_first_;  // first byte → added ids, longest first
  uint64_t serial_;  // tells the per-thread caches which model their words belong to
};

template <class Fn>
void Model::for_each_word(std::string_view part, Fn&& fn) const {
  if (spec_.clip) return for_each_clip_piece(part, fn);
  if (!spec_.options.use_regex) return fn(part);
  for_each_gpt2_piece(part, fn);
}

using ModelPtr = std::shared_ptr<const Model>;

// Encodes each text in parallel over the global thread pool.
std::vector<std::vector<int32_t>> encode_batch(const Model& m, const std::vector<std::string>& texts, bool split_added);

}  // namespace qkv::text
