#pragma once
// Reading a corpus as a stream of whitespace-separated tokens and line ends, from a byte range of
// a file (so that each training thread reads its own part, as word2vec.c and gensim's corpus_file
// mode do) or from text in memory (batches handed over from JavaScript). Nothing is held beyond one
// buffer, so a corpus larger than memory streams through.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::w2v {

inline bool is_space(unsigned char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

class TokenReader {
 public:
  enum Event { Token, Newline, End };
  // Tokens whose first byte lies in [begin, end) of the file; end < 0 means to the end of the file.
  // Throws qkv::Error(IO) naming the path when the file cannot be opened or read.
  TokenReader(const std::string& path, int64_t begin, int64_t end, size_t buffer_bytes = 1 << 20);
  explicit TokenReader(std::string_view text);
  ~TokenReader();
  TokenReader(const TokenReader&) = delete;
  TokenReader& operator=(const TokenReader&) = delete;

  // The next event. A token's view stays valid until the next call.
  Event next(std::string_view& tok);
  // Byte offset (in the file or text) where the last token started.
  int64_t token_offset() const { return token_offset_; }

 private:
  bool refill();
  int fd_ = -1;
  std::string path_;
  std::vector<char> buffer_;
  const char* data_ = nullptr;
  size_t len_ = 0, pos_ = 0;
  int64_t base_ = 0;  // offset of data_[0]
  int64_t end_ = -1;
  int64_t token_offset_ = 0;
  bool done_ = false;
  std::string carry_;
};

int64_t file_size(const std::string& path);  // throws IO

// Cuts a token stream into sentences: at line ends, and every max_len tokens inside long lines.
// Calls on_token(tok) for each token and on_end() after each sentence. Returns the number of tokens.
template <class OnToken, class OnEnd>
int64_t for_each_sentence(TokenReader& r, int max_len, OnToken&& on_token, OnEnd&& on_end) {
  std::string_view tok;
  int64_t n = 0;
  int in_sentence = 0;
  for (;;) {
    TokenReader::Event e = r.next(tok);
    if (e == TokenReader::Token) {
      if (!on_token(tok)) return n;
      ++n;
      if (++in_sentence >= max_len) {
        if (!on_end()) return n;
        in_sentence = 0;
      }
    } else {
      if (in_sentence) {
        if (!on_end()) return n;
        in_sentence = 0;
      }
      if (e == TokenReader::End) return n;
    }
  }
}

}  // namespace qkv::w2v

namespace qkv::w2v {

// Batches of text handed over by the binding (sentences separated by '\n'). pop() blocks until a
// batch is there; false once the producer has closed the stream (or the job was aborted).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual bool pop(std::string& batch) = 0;
};

}  // namespace qkv::w2v
