// Strict JSON: see json.h.
#include "io/json.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace qkv::json {

// ---- values -------------------------------------------------------------------------------------

Value Value::boolean(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}

Value Value::number(double d) {
  if (!std::isfinite(d)) throw Error(ErrorKind::Format, "JSON: cannot write a non-finite number");
  Value v;
  v.type_ = Type::Number;
  v.num_ = d;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.type_ = Type::Number;
  v.is_int_ = true;
  v.int_ = i;
  v.num_ = static_cast<double>(i);
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.str_ = std::move(s);
  return v;
}

Value Value::array(std::vector<Value> items) {
  Value v;
  v.type_ = Type::Array;
  v.arr_ = std::move(items);
  return v;
}

Value Value::object(std::vector<Member> members) {
  Value v;
  v.type_ = Type::Object;
  v.obj_ = std::move(members);
  return v;
}

const Value* Value::find(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  for (const Member& m : obj_)
    if (m.first == key) return &m.second;
  return nullptr;
}

const char* Value::type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "boolean";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "?";
}

// ---- UTF-8 --------------------------------------------------------------------------------------

// Length of the well-formed UTF-8 sequence at s[i] (1..4), or 0 when it is malformed or cut short.
static size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;  // continuation byte, overlong lead (C0, C1) or beyond U+10FFFF (F5..FF)
  }
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return n;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

static void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// ---- reading ------------------------------------------------------------------------------------

class Parser {
 public:
  Parser(std::string_view text, const std::string& where, const ParseOptions& options)
      : s_(text), where_(where), max_depth_(options.max_depth) {}

  Value parse_document() {
    skip_ws();
    Value v = parse_value(0);
    skip_ws();
    if (i_ != s_.size()) fail("unexpected data after the value");
    return v;
  }

 private:
  std::string_view s_;
  const std::string& where_;
  int max_depth_;
  size_t i_ = 0;

  [[noreturn]] void fail(const std::string& what) const { fail_at(i_, what); }
  [[noreturn]] void fail_at(size_t pos, const std::string& what) const {
    throw Error(ErrorKind::Format, where_ + ": invalid JSON at byte " + std::to_string(pos) + ": " + what);
  }

  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return s_[i_]; }

  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  void expect_literal(const char* lit) {
    const size_t n = std::strlen(lit);
    if (s_.substr(i_, n) != lit) fail(std::string("expected '") + lit + "'");
    i_ += n;
  }

  Value parse_value(int depth) {
    if (at_end()) fail("unexpected end of input");
    const char c = peek();
    switch (c) {
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case '"': return Value::string(parse_string());
      case 't': expect_literal("true"); return Value::boolean(true);
      case 'f': expect_literal("false"); return Value::boolean(false);
      case 'n': expect_literal("null"); return Value::null();
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        fail("unexpected character" + describe_byte(c));
    }
  }

  static std::string describe_byte(char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) return std::string(" '") + c + "'";
    static const char* hex = "0123456789abcdef";
    return std::string(" 0x") + hex[u >> 4] + hex[u & 15];
  }

  void check_depth(int depth) {
    if (depth > max_depth_) fail("nesting deeper than " + std::to_string(max_depth_));
  }

  Value parse_object(int depth) {
    check_depth(depth);
    ++i_;  // {
    Value v = Value::object();
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++i_;
      return v;
    }
    for (;;) {
      skip_ws();
      if (at_end() || peek() != '"') fail(at_end() ? "unexpected end of input" : "expected a string key");
      std::string key = parse_string();
      skip_ws();
      if (at_end() || peek() != ':') fail("expected ':'");
      ++i_;
      skip_ws();
      Value item = parse_value(depth);
      v.obj_.emplace_back(std::move(key), std::move(item));
      skip_ws();
      if (at_end()) fail("unexpected end of input");
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() == '}') {
        ++i_;
        return v;
      }
      fail("expected ',' or '}'");
    }
  }

  Value parse_array(int depth) {
    check_depth(depth);
    ++i_;  // [
    Value v = Value::array();
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++i_;
      return v;
    }
    for (;;) {
      skip_ws();
      v.arr_.push_back(parse_value(depth));
      skip_ws();
      if (at_end()) fail("unexpected end of input");
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() == ']') {
        ++i_;
        return v;
      }
      fail("expected ',' or ']'");
    }
  }

  uint32_t parse_hex4() {
    if (s_.size() - i_ < 4) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_ + k];
      uint32_t d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else fail_at(i_ + k, "invalid hex digit in \\u escape");
      v = (v << 4) | d;
    }
    i_ += 4;
    return v;
  }

  std::string parse_string() {
    const size_t start = i_;
    ++i_;  // "
    std::string out;
    for (;;) {
      if (at_end()) fail_at(start, "unterminated string");
      const unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) fail("control character in string");
      if (c == '\\') {
        if (s_.size() - i_ < 2) fail_at(start, "unterminated string");
        const char e = s_[i_ + 1];
        i_ += 2;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const size_t esc = i_ - 2;
            uint32_t cp = parse_hex4();
            if (cp >= 0xDC00 && cp <= 0xDFFF) fail_at(esc, "lone low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (s_.size() - i_ < 6 || s_[i_] != '\\' || s_[i_ + 1] != 'u') fail_at(esc, "unpaired high surrogate in \\u escape");
              i_ += 2;
              const uint32_t lo = parse_hex4();
              if (lo < 0xDC00 || lo > 0xDFFF) fail_at(esc, "unpaired high surrogate in \\u escape");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            append_utf8(out, cp);
            break;
          }
          default: fail_at(i_ - 2, "invalid escape" + describe_byte(e));
        }
        continue;
      }
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++i_;
        continue;
      }
      const size_t n = utf8_sequence(s_, i_);
      if (n == 0) fail("invalid UTF-8 in string");
      out.append(s_.data() + i_, n);
      i_ += n;
    }
  }

  Value parse_number() {
    const size_t start = i_;
    bool integral = true;
    if (peek() == '-') ++i_;
    if (at_end()) fail("truncated number");
    if (peek() == '0') {
      ++i_;
      if (!at_end() && peek() >= '0' && peek() <= '9') fail("leading zeros are not allowed");
    } else if (peek() >= '1' && peek() <= '9') {
      while (!at_end() && peek() >= '0' && peek() <= '9') ++i_;
    } else {
      fail("invalid number");
    }
    if (!at_end() && peek() == '.') {
      integral = false;
      ++i_;
      if (at_end() || !(peek() >= '0' && peek() <= '9')) fail("expected a digit after '.'");
      while (!at_end() && peek() >= '0' && peek() <= '9') ++i_;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      integral = false;
      ++i_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++i_;
      if (at_end() || !(peek() >= '0' && peek() <= '9')) fail("expected a digit in the exponent");
      while (!at_end() && peek() >= '0' && peek() <= '9') ++i_;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + i_;
    Value v;
    v.type_ = Value::Type::Number;
    if (integral) {
      int64_t iv = 0;
      auto r = std::from_chars(first, last, iv);
      if (r.ec == std::errc() && r.ptr == last) {
        v.is_int_ = true;
        v.int_ = iv;
        v.num_ = static_cast<double>(iv);
        return v;
      }
    }
    double d = 0;
    auto r = std::from_chars(first, last, d);
    if (r.ec == std::errc::result_out_of_range) {
      // Underflow (a negative exponent, or an integer part of 0) rounds to zero; overflow is an error.
      const char* digits = *first == '-' ? first + 1 : first;
      bool tiny = digits[0] == '0';
      for (const char* p = first; p < last; ++p)
        if (*p == 'e' || *p == 'E') tiny = tiny || p[1] == '-';
      if (!tiny) fail_at(start, "number out of range");
      d = (*first == '-') ? -0.0 : 0.0;
    } else if (r.ec != std::errc() || r.ptr != last) {
      fail_at(start, "invalid number");
    }
    v.num_ = d;
    return v;
  }
};

Value parse(std::string_view text, const std::string& where, const ParseOptions& options) {
  return Parser(text, where, options).parse_document();
}

// ---- writing ------------------------------------------------------------------------------------

void write_string(std::string& out, std::string_view s) {
  if (!valid_utf8(s)) throw Error(ErrorKind::Format, "JSON: cannot write a string that is not valid UTF-8");
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void write_number(std::string& out, double v) {
  if (!std::isfinite(v)) throw Error(ErrorKind::Format, "JSON: cannot write a non-finite number");
  if (v == 0 && std::signbit(v)) {  // "-0" would read back as the integer 0
    out += "-0.0";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  out.append(buf, r.ptr);
}

void write_int(std::string& out, int64_t v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void dump_to(std::string& out, const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: out += "null"; break;
    case Value::Type::Bool: out += v.as_bool() ? "true" : "false"; break;
    case Value::Type::Number:
      if (v.is_int()) write_int(out, v.as_int());
      else write_number(out, v.as_double());
      break;
    case Value::Type::String: write_string(out, v.as_string()); break;
    case Value::Type::Array: {
      out += '[';
      bool first = true;
      for (const Value& item : v.items()) {
        if (!first) out += ',';
        first = false;
        dump_to(out, item);
      }
      out += ']';
      break;
    }
    case Value::Type::Object: {
      out += '{';
      bool first = true;
      for (const Value::Member& m : v.members()) {
        if (!first) out += ',';
        first = false;
        write_string(out, m.first);
        out += ':';
        dump_to(out, m.second);
      }
      out += '}';
      break;
    }
  }
}

std::string dump(const Value& v) {
  std::string out;
  dump_to(out, v);
  return out;
}

}  // namespace qkv::json
