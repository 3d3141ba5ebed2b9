// The BPE vocabulary readers: Hugging Face tokenizer.json, tiktoken rank files, GPT-2's
// encoder.json + vocab.bpe and CLIP's merges. The first byte picks the reader (0 tokenizer.json,
// 1 tiktoken, 2 GPT-2: the rest split at its first NUL into the two files, 3 CLIP). A vocabulary that loads must encode and
// decode (a fixed text and the input's own bytes) and write a tokenizer.json that reads back to
// the same ids.
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "text/bpe_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t pick = data[0] % 4;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  qkv::fuzz::expect_clean([&] {
    qkv::text::ModelPtr m;
    if (pick == 0) {
      m = qkv::text::parse_tokenizer_json(std::string(rest), "<fuzz>");
    } else if (pick == 1) {
      m = qkv::text::load_tiktoken(qkv::fuzz::input_file(data + 1, size - 1, ".tiktoken"), {{"<|endoftext|>", 50256}}, "fuzz");
    } else if (pick == 3) {
      m = qkv::text::parse_clip_merges(std::string(rest), "<fuzz>");
    } else {
      const size_t cut = rest.find('\0');
      const std::string_view enc = rest.substr(0, cut), merges = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
      const std::string a = qkv::fuzz::input_file(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), ".encoder.json");
      const std::string b = qkv::fuzz::input_file(reinterpret_cast<const uint8_t*>(merges.data()), merges.size(), ".vocab.bpe");
      m = qkv::text::load_gpt2(a, b, "fuzz");
    }
    for (const std::string_view text : {std::string_view("Hello, world! 12 ab\xff\xfe <|endoftext|>"), rest.substr(0, 256)}) {
      std::vector<int32_t> ids;
      m->encode(text, true, ids);
      std::string back;
      m->decode(ids.data(), ids.size(), false, back, "fuzz");
      std::vector<int32_t> again;
      qkv::text::parse_tokenizer_json(qkv::text::tokenizer_json(*m), "<fuzz: written>")->encode(text, true, again);
      if (again != ids) std::abort();
    }
  });
  return 0;
}
