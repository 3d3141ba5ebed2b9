#pragma once
// Reading and writing BPE vocabularies: GPT-2's encoder.json + vocab.bpe, tiktoken rank files
// (`base64(token) rank` a line), and Hugging Face's tokenizer.json (a BPE model with the
// ByteLevel pre-tokenizer). Malformed files are Error(Format), features this model lacks (a
// normalizer, dropout, a subword prefix...) Error(Unsupported), unreadable ones Error(IO), each
// naming `op` and the file.
#include <string>
#include <utility>
#include <vector>

#include "text/bpe.h"

namespace qkv::text {

// clip: Hugging Face's CLIP vocab.json + merges.txt (the same two formats), as CLIP's flavour with
// <|startoftext|> and <|endoftext|> as added tokens.
ModelPtr load_gpt2(const std::string& encoder_json_path, const std::string& vocab_bpe_path, const char* op, bool clip = false);
// `specials`: (token, id) pairs to add, e.g. ("<|endoftext|>", 50256) for r50k_base.
ModelPtr load_tiktoken(const std::string& path, const std::vector<std::pair<std::string, int32_t>>& specials, const char* op);
// CLIP's bpe_simple_vocab_16e6.txt, as text (the TypeScript side gunzips it): a header line, then
// up to 48,894 merges "a b" in rank order. Ids: 256 bytes and 256 bytes + "</w>" in GPT-2's byte
// order, one per merge, then <|startoftext|> and <|endoftext|> (49406, 49407 for the real file).
ModelPtr parse_clip_merges(const std::string& text, const std::string& where);
ModelPtr load_tokenizer_json(const std::string& path, const char* op);
ModelPtr parse_tokenizer_json(const std::string& text, const std::string& where);

// tokenizer.json's text for the model, and the same written atomically to `path`.
std::string tokenizer_json(const Model& m);
void save_tokenizer_json(const Model& m, const std::string& path, const char* op);

}  // namespace qkv::text
