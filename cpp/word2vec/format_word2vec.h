#pragma once
// Google's word2vec formats, as word2vec.c and gensim read and write them:
//   text:   "<V> <D>\n" then V lines "<word> <v1> ... <vD>\n" (shortest round-trip decimals)
//   binary: "<V> <D>\n" then V records "<word> " + D little-endian float32 (+ "\n", as word2vec.c)
// Words are UTF-8. Counts are not stored: a loaded model has count 0 for every word.
#include <memory>
#include <string>

#include "word2vec/model.h"

namespace qkv::w2v {

enum class FileFormat { Auto, Word2VecText, Word2VecBinary, Qkv };
const char* format_name(FileFormat f);

void save_word2vec(const Model& m, const std::string& path, bool binary);
// Reads either format (`format` Auto detects text or binary from the first record). Malformed
// files (bad header, wrong counts, truncated vectors, non-UTF-8 words, bad numbers) throw
// Error(Format) naming the file and the problem.
std::unique_ptr<Model> load_word2vec(const std::string& path, FileFormat format);

// Which format a file is in, from its first bytes: Qkv (safetensors), or Word2VecText/Binary.
FileFormat detect_format(const std::string& path);

}  // namespace qkv::w2v
