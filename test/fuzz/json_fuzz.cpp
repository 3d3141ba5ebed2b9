// The JSON reader (configs, safetensors headers, task options), and its writer on what it read.
#include <string_view>

#include "fuzz_common.h"
#include "io/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qkv::fuzz::expect_clean([&] {
    const qkv::json::Value v = qkv::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "<fuzz>");
    // What was read writes back and reads again to an equal text.
    const std::string once = qkv::json::dump(v);
    if (qkv::json::dump(qkv::json::parse(once, "<fuzz: dumped>")) != once) std::abort();
  });
  return 0;
}
