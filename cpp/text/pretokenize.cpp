// The scanner of the GPT-2 pattern: one pass, no backtracking beyond the single character that
// \s+(?!\S) gives back.
#include "text/pretokenize.h"

#include "text/unicode.h"

namespace qkv::text {

namespace {

// The end of the run of characters of class `c` (or, for Other, of no class) from `pos`.
size_t run_end(const unsigned char* s, size_t n, size_t pos, CharClass c) {
  while (pos < n) {
    size_t len;
    if (class_at(s + pos, n - pos, &len) != c) break;
    pos += len;
  }
  return pos;
}

unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + 32) : c; }

// 's 't 're 've 'm 'll 'd at s[pos] == '\'': the length of the contraction, or 0. CLIP's pattern
// is case-insensitive (`fold`), GPT-2's is not.
size_t contraction(const unsigned char* s, size_t n, size_t pos, bool fold = false) {
  if (pos + 1 >= n) return 0;
  auto at = [&](size_t i) { return fold ? lower(s[i]) : s[i]; };
  const unsigned char a = at(pos + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 >= n) return 0;
  const unsigned char b = at(pos + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

}  // namespace

size_t gpt2_piece_end(std::string_view text, size_t pos) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  if (s[pos] == '\'') {
    if (size_t k = contraction(s, n, pos)) return pos + k;
  }
  size_t len;
  CharClass c = class_at(s + pos, n - pos, &len);
  size_t start = pos;
  if (s[pos] == ' ' && pos + 1 < n) {
    // " ?X+" with the optional space: the class of the next character decides.
    size_t next_len;
    const CharClass next = class_at(s + pos + 1, n - pos - 1, &next_len);
    if (next != CharClass::Space) {
      start = pos + 1;
      c = next;
      len = next_len;
    }
  }
  if (c != CharClass::Space) return run_end(s, n, start + len, c);
  // \s+(?!\S): the whole run at the end of the text, else all but its last character; a single
  // space character before a non-space falls to \s+.
  size_t last = pos, end = pos;
  while (end < n) {
    size_t l;
    if (class_at(s + end, n - end, &l) != CharClass::Space) break;
    last = end;
    end += l;
  }
  if (end == n || last == pos) return end;
  return last;
}

size_t space_end(std::string_view text, size_t pos) {
  return run_end(reinterpret_cast<const unsigned char*>(text.data()), text.size(), pos, CharClass::Space);
}

size_t clip_piece_end(std::string_view text, size_t pos) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  if (s[pos] == '\'') {
    if (size_t k = contraction(s, n, pos, true)) return pos + k;
  }
  size_t len;
  const CharClass c = class_at(s + pos, n - pos, &len);
  if (c == CharClass::Number) return pos + len;
  return run_end(s, n, pos + len, c);
}

}  // namespace qkv::text
