// word2vec files: the first byte picks the format (text, binary, qkv, auto-detected); the rest is
// the file.
#include "fuzz_common.h"
#include "word2vec/format_qkv.h"
#include "word2vec/format_word2vec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t pick = data[0] % 4;
  const std::string path = qkv::fuzz::input_file(data + 1, size - 1, ".w2v");
  qkv::fuzz::expect_clean([&] {
    using qkv::w2v::FileFormat;
    switch (pick) {
      case 0: (void)qkv::w2v::load_word2vec(path, FileFormat::Word2VecText); break;
      case 1: (void)qkv::w2v::load_word2vec(path, FileFormat::Word2VecBinary); break;
      case 2: (void)qkv::w2v::load_qkv(path); break;
      default: (void)qkv::w2v::load_word2vec(path, FileFormat::Auto); break;
    }
  });
  return 0;
}
