// Character classes from the generated range tables: a flat byte per code point of the Basic
// Multilingual Plane (built once, 64 KiB), a binary search above it.
#include "text/unicode.h"

#include <algorithm>
#include <array>
#include <memory>

namespace qkv::text {

namespace {

struct CodeRange {
  uint32_t first, last;
};

#include "text/unicode_tables.inc"

template <size_t N>
bool in_ranges(const CodeRange (&ranges)[N], uint32_t cp) {
  const CodeRange* end = ranges + N;
  const CodeRange* r = std::upper_bound(ranges, end, cp, [](uint32_t c, const CodeRange& x) { return c < x.first; });
  return r != ranges && cp <= (r - 1)->last;
}

CharClass slow_class(uint32_t cp) {
  if (in_ranges(kLetterRanges, cp)) return CharClass::Letter;
  if (in_ranges(kNumberRanges, cp)) return CharClass::Number;
  if (in_ranges(kSpaceRanges, cp)) return CharClass::Space;
  return CharClass::Other;
}

const std::array<CharClass, 0x10000>& bmp_table() {
  static const auto table = [] {
    auto t = std::make_unique<std::array<CharClass, 0x10000>>();
    for (uint32_t cp = 0; cp < 0x10000; ++cp) (*t)[cp] = slow_class(cp);
    return t;
  }();
  return *table;
}

}  // namespace

CharClass char_class(uint32_t cp) {
  if (cp < 0x10000) return bmp_table()[cp];
  if (cp == kInvalidByte) return CharClass::Other;
  return slow_class(cp);
}

uint32_t decode_utf8(const unsigned char* p, size_t n, size_t* len) {
  const unsigned char c = p[0];
  *len = 1;
  if (c < 0x80) return c;
  size_t need;
  uint32_t cp, min;
  if (c >= 0xC2 && c <= 0xDF) need = 1, cp = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) need = 2, cp = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) need = 3, cp = c & 0x07, min = 0x10000;
  else return kInvalidByte;
  if (n < need + 1) return kInvalidByte;
  for (size_t k = 1; k <= need; ++k) {
    if ((p[k] & 0xC0) != 0x80) return kInvalidByte;
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kInvalidByte;
  *len = need + 1;
  return cp;
}

CharClass class_at(const unsigned char* p, size_t n, size_t* len) {
  if (p[0] < 0x80) {
    *len = 1;
    return bmp_table()[p[0]];
  }
  return char_class(decode_utf8(p, n, len));
}

}  // namespace qkv::text
