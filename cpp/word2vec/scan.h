#pragma once
// The vocabulary pass over a corpus: counts every word (or only the words, for continued training),
// from a file (split into byte ranges over threads, merged in file order so that first-seen order is
// kept) or from batches of text.
#include <cstdint>
#include <functional>
#include <string>

#include "word2vec/corpus.h"
#include "word2vec/vocab.h"

namespace qkv::w2v {

struct ScanOptions {
  int threads = 1;
  int max_sentence_length = 10000;
  size_t prune_above = 0;     // see VocabCounter
  bool count_only = false;    // count words and sentences, keep no vocabulary
  std::function<bool()> aborted;                    // polled; true stops the scan with Error(Aborted)
  std::function<void(int64_t words)> progress;      // called from the scanning thread now and then
};

// Throws Error(Format) naming the file and byte offset for a word that is not valid UTF-8,
// Error(IO) when the file cannot be read, Error(Aborted) on abort.
VocabCounter scan_file(const std::string& path, const ScanOptions& opt);
VocabCounter scan_batches(BatchSource& src, const ScanOptions& opt);

}  // namespace qkv::w2v
