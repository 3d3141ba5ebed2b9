#pragma once
// The Huffman tree of hierarchical softmax (word2vec.c's CreateBinaryTree): for each word, the path
// from the root to its leaf as inner-node indices (`points`, rows of syn1) and branch bits (`codes`).
#include <cstdint>
#include <vector>

namespace qkv::w2v {

struct HuffmanTree {
  std::vector<int32_t> offset;  // word -> start of its path in points/codes
  std::vector<uint8_t> length;  // word -> path length
  std::vector<int32_t> points;  // inner nodes, 0 .. V-2
  std::vector<uint8_t> codes;   // 0/1 per step
  int max_length = 0;
  const int32_t* points_of(int32_t w) const { return points.data() + offset[w]; }
  const uint8_t* codes_of(int32_t w) const { return codes.data() + offset[w]; }
};

// counts must be sorted in non-increasing order (vocabulary order). Deterministic: equal counts give
// equal trees. Throws Range if a path would be longer than 255 (impossible below ~2^170 words).
HuffmanTree build_huffman(const std::vector<int64_t>& counts);

}  // namespace qkv::w2v
