#pragma once
// What the GPT-2 pre-tokenizer needs to know about a character: its class (\p{L}, \p{N}, \s, or
// anything else) with the categories of Node's regular expressions (unicode_tables.inc), and UTF-8
// decoding that treats each byte of an invalid sequence as a character of its own.
#include <cstddef>
#include <cstdint>

namespace qkv::text {

enum class CharClass : uint8_t { Other, Letter, Number, Space };

CharClass char_class(uint32_t cp);

// The code point starting at p[0] (n > 0 bytes available) and its length in *len. An invalid or
// truncated sequence yields kInvalidByte with *len = 1: the byte stays a byte, of class Other.
constexpr uint32_t kInvalidByte = 0xFFFFFFFF;
uint32_t decode_utf8(const unsigned char* p, size_t n, size_t* len);

// The class of the character at p[0] and its length: ASCII inline, the rest through the tables.
CharClass class_at(const unsigned char* p, size_t n, size_t* len);

}  // namespace qkv::text
