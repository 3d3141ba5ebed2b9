#pragma once
// A small JSON reader and writer for file headers (safetensors) and their metadata. The reader is
// strict (RFC 8259), bounds nesting depth, and throws Error(Format) naming `where` and the offset.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::w2v {

struct Json {
  enum Type { Null, Bool, Number, String, Array, Object } type = Null;
  bool b = false;
  double num = 0;
  std::string str;        // String; for Number, the literal as written
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json>> obj;  // in file order

  const Json* get(std::string_view key) const;  // object member or nullptr
  bool is_int() const;                           // a Number written without fraction or exponent
  int64_t as_int() const;                        // for is_int() numbers
};

Json parse_json(std::string_view text, const std::string& where);

// Writing.
void json_escape(std::string& out, std::string_view s);  // appends "s" with quotes and escapes
std::string json_number(double v);                       // shortest round-trip form; null for NaN/inf

}  // namespace qkv::w2v
