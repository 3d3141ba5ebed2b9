// The byte ↔ character table of byte-level BPE, built once.
#include "text/byte_level.h"

#include <array>

namespace qkv::text {

namespace {

struct Table {
  std::array<uint32_t, 256> char_of{};  // byte → code point
  std::array<uint8_t, 256> by_rank{};   // GPT-2's order of the bytes
  std::array<int16_t, 0x144> byte_of;   // code point → byte, -1 where none
  Table() {
    byte_of.fill(-1);
    auto printable = [](int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); };
    int rank = 0, extra = 0;
    for (int b = 0; b < 256; ++b)
      if (printable(b)) char_of[b] = b, by_rank[rank++] = static_cast<uint8_t>(b);
    for (int b = 0; b < 256; ++b)
      if (!printable(b)) char_of[b] = 256 + extra++, by_rank[rank++] = static_cast<uint8_t>(b);
    for (int b = 0; b < 256; ++b) byte_of[char_of[b]] = static_cast<int16_t>(b);
  }
};

const Table& table() {
  static const Table t;
  return t;
}

void append_utf8(std::string& out, uint32_t cp) {  // cp < 0x800 here
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

uint8_t byte_at_rank(int i) { return table().by_rank[static_cast<size_t>(i)]; }

std::string to_byte_level(std::string_view bytes) {
  const Table& t = table();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(out, t.char_of[b]);
  return out;
}

bool from_byte_level(std::string_view text, std::string* bytes) {
  const Table& t = table();
  bytes->clear();
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    uint32_t cp;
    if (c < 0x80) {
      cp = c, i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < text.size()) {
      cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3Fu), i += 2;
    } else {
      return false;  // three bytes or more: beyond U+07FF, never in the table
    }
    if (cp >= t.byte_of.size() || t.byte_of[cp] < 0) return false;
    *bytes += static_cast<char>(t.byte_of[cp]);
  }
  return true;
}

}  // namespace qkv::text
