#pragma once
// safetensors checkpoints (https://github.com/huggingface/safetensors), the weight format of qkv.
//
// Layout: an 8-byte little-endian header length N; N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// padded with spaces so that the data section starts at a multiple of 8; then the data section,
// each tensor's bytes little-endian and row-major at [begin, end) relative to its start.
//
// Writing: tensors in the given order (header order = data order), any strides (gathered), F32,
// F64 or I32; atomically (io/atomic_file.h). Errors: Type for bad names (empty list entries,
// "__metadata__", repeated names, invalid UTF-8), Unsupported for CUDA tensors, IO for the file.
//
// Reading checks everything before trusting it, as the reference implementation does: the header
// length fits the file and 100 MB; the header is a JSON object; `__metadata__` maps strings to
// strings; each entry has exactly dtype, shape and data_offsets; a known dtype; a shape of
// non-negative integers; 0 <= begin <= end <= data section size; end - begin == numel x dtype size;
// and the entries, sorted by offset, tile the data section exactly (no overlap, no gap, no trailing
// bytes). Any violation throws Error(Format, "<op>: <where>: tensor '<name>': <what is wrong>")
// (or "<op>: <where>: <what>" when no tensor is at fault) before any tensor is allocated.
// dtypes read: F32, F64, I32 as they are; F16 and BF16 -> float32 (exact); I64, U64, U32 -> int32
// (Format error for a value outside int32); BOOL (0 or 1), U8, I8, I16, U16 -> int32. Other
// safetensors dtypes (F8_*, C64, ...) are rejected as unsupported.
// Tensors come back in header order; metadata keys sorted (std::map).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/json.h"

namespace qkv::io {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;  // as the reference implementation

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as written in the file: "F32", "F16", ...
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets in the data section
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // header order
  Metadata metadata;
  uint64_t data_start = 0;  // 8 + header length
  uint64_t data_size = 0;
};

// Optional: sees the parsed header JSON before any validation, so that a caller with its own format
// on top of safetensors (word2vec's 'qkv') can report its own, more specific errors first.
using SafetensorsHeaderCheck = std::function<void(const json::Value& root)>;

struct Safetensors {
  NamedTensors tensors;  // header order
  Metadata metadata;
};

// ---- writing ------------------------------------------------------------------------------------
void write_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata,
                       const char* op = "writeSafetensors");

// ---- reading ------------------------------------------------------------------------------------
Safetensors read_safetensors(const std::string& path, const char* op = "readSafetensors");
// The same checks on a file held in memory; `where` names it in messages.
Safetensors parse_safetensors(const void* data, size_t size, const std::string& where = "<buffer>",
                              const char* op = "readSafetensors");
// The validated header alone (names, dtypes, shapes), without reading tensor data.
SafetensorsHeader read_safetensors_header(const std::string& path, const char* op = "readSafetensors",
                                          const SafetensorsHeaderCheck& check = {});
// Validates header JSON against a data section of `data_size` bytes.
SafetensorsHeader parse_safetensors_header(std::string_view header_json, uint64_t data_size, const std::string& where,
                                           const char* op = "readSafetensors", const SafetensorsHeaderCheck& check = {});

}  // namespace qkv::io
