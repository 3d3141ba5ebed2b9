#pragma once
// The GPT-2 pre-tokenizer, hand-written: the pieces of
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// exactly as a JavaScript regular expression with the u flag finds them (alternatives tried in
// order at each position, each greedy). Bytes of invalid UTF-8 count as characters of none of the
// classes, one byte each, so any bytes split into pieces that concatenate back to them.
#include <cstddef>
#include <string_view>

namespace qkv::text {

// The end of the piece that starts at `pos` (< text.size()).
size_t gpt2_piece_end(std::string_view text, size_t pos);

// Calls fn(piece) for each piece of `text`, in order.
template <class Fn>
void for_each_gpt2_piece(std::string_view text, Fn&& fn) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = gpt2_piece_end(text, pos);
    fn(text.substr(pos, end - pos));
    pos = end;
  }
}

// CLIP's pre-tokenizer (simple_tokenizer.py), hand-written: the pieces of
//   's|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// case-insensitively; whitespace between them is dropped and digits stand one by one. Its
// <|startoftext|> and <|endoftext|> alternatives are the model's added tokens, split out first.
// The end of the piece that starts at `pos`, a character that is not whitespace.
size_t clip_piece_end(std::string_view text, size_t pos);
// The end of the whitespace run from `pos`.
size_t space_end(std::string_view text, size_t pos);

template <class Fn>
void for_each_clip_piece(std::string_view text, Fn&& fn) {
  for (size_t pos = space_end(text, 0); pos < text.size(); pos = space_end(text, pos)) {
    const size_t end = clip_piece_end(text, pos);
    fn(text.substr(pos, end - pos));
    pos = end;
  }
}

}  // namespace qkv::text
