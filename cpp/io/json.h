#pragma once
// A small, strict JSON reader and writer (RFC 8259) for file headers (safetensors), model configs
// and tokenizer.json. The reader accepts exactly one value surrounded by optional whitespace,
// checks that strings are valid UTF-8 (\uXXXX escapes included: surrogates must pair up), bounds
// nesting depth, keeps object members in file order (duplicates are kept; `find` returns the first)
// and throws Error(Format, "<where>: invalid JSON at byte N: <what>"). Integers written without a
// fraction or exponent that fit in int64 keep their exact value (`is_int`, `as_int`).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qkv::json {

class Value {
 public:
  enum class Type : uint8_t { Null, Bool, Number, String, Array, Object };
  using Member = std::pair<std::string, Value>;

  Value() = default;
  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value number(double v);        // throws Error(Format) for NaN and infinities
  static Value integer(int64_t v);
  static Value string(std::string s);   // UTF-8, checked when written
  static Value array(std::vector<Value> items = {});
  static Value object(std::vector<Member> members = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }
  // A number written without fraction or exponent whose value fits in int64.
  bool is_int() const { return type_ == Type::Number && is_int_; }

  bool as_bool() const { return bool_; }
  double as_double() const { return num_; }
  int64_t as_int() const { return int_; }   // meaningful when is_int()
  const std::string& as_string() const { return str_; }
  const std::vector<Value>& items() const { return arr_; }
  const std::vector<Member>& members() const { return obj_; }
  std::vector<Value>& items() { return arr_; }
  std::vector<Member>& members() { return obj_; }

  // Object member by key (the first when repeated), or nullptr (also for non-objects).
  const Value* find(std::string_view key) const;
  // Appends to an array / object (no duplicate check).
  void push(Value v) { arr_.push_back(std::move(v)); }
  void set(std::string key, Value v) { obj_.emplace_back(std::move(key), std::move(v)); }

  static const char* type_name(Type t);  // "null", "boolean", "number", ...

 private:
  friend class Parser;
  Type type_ = Type::Null;
  bool bool_ = false;
  bool is_int_ = false;
  double num_ = 0;
  int64_t int_ = 0;
  std::string str_;
  std::vector<Value> arr_;
  std::vector<Member> obj_;
};

struct ParseOptions {
  int max_depth = 128;  // nested arrays/objects deeper than this are rejected
};

// Parses `text` (UTF-8). `where` prefixes error messages (for example "config.json").
Value parse(std::string_view text, const std::string& where, const ParseOptions& options = {});

// Writing: compact (no whitespace). Throws Error(Format) for a string that is not valid UTF-8.
std::string dump(const Value& v);
void dump_to(std::string& out, const Value& v);
void write_string(std::string& out, std::string_view s);  // appends "s" quoted and escaped
void write_number(std::string& out, double v);            // shortest round-trip form; throws for NaN/inf
void write_int(std::string& out, int64_t v);

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace qkv::json
