#pragma once
// Shared by the libFuzzer harnesses (scripts/fuzz.sh builds and runs them). A parser may reject
// its input only with qkv::Error (what the binding turns into a clean JavaScript error) or run out
// of memory on purpose-built huge sizes; anything else, and any sanitizer report, is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include "core/error.h"

namespace qkv::fuzz {

// Runs fn; a qkv::Error is an accepted rejection, any other exception aborts (a finding).
template <class F>
void expect_clean(F&& fn) {
  try {
    fn();
  } catch (const qkv::Error&) {
  } catch (const std::bad_alloc&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    std::abort();
  }
}

// The loaders read paths: the input goes to a file of this process's own, rewritten each run.
inline std::string input_file(const uint8_t* data, size_t size, const char* suffix) {
  const std::string path = std::string("/tmp/qkv-fuzz-") + std::to_string(::getpid()) + suffix;  // one file per suffix
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace qkv::fuzz
