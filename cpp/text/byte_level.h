#pragma once
// GPT-2's bytes_to_unicode: every byte as a printable character, so that byte-level tokens can be
// written as text in encoder.json, vocab.bpe and tokenizer.json. Bytes 33..126, 161..172 and
// 174..255 stand for themselves; the other 68, in increasing order, are U+0100, U+0101, ...
#include <cstdint>
#include <string>
#include <string_view>

namespace qkv::text {

// The byte at position i of GPT-2's order (the printable bytes first, then the others): the id
// layout of GPT-2's vocabulary, where id i < 256 is the byte byte_at_rank(i).
uint8_t byte_at_rank(int i);
// The byte-level text of some bytes ("Ġthe" for " the").
std::string to_byte_level(std::string_view bytes);
// The bytes a byte-level text stands for; false when it has a character outside the table.
bool from_byte_level(std::string_view text, std::string* bytes);

}  // namespace qkv::text
