// safetensors parsing from memory: header length, JSON header, dtypes, shapes, offsets.
#include "fuzz_common.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qkv::fuzz::expect_clean([&] { (void)qkv::io::parse_safetensors(data, size, "<fuzz>", "fuzz"); });
  return 0;
}
