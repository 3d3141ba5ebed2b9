#include "word2vec/huffman.h"

#include "core/error.h"

namespace qkv::w2v {

HuffmanTree build_huffman(const std::vector<int64_t>& counts) {
  HuffmanTree t;
  const int64_t V = static_cast<int64_t>(counts.size());
  t.offset.assign(V, 0);
  t.length.assign(V, 0);
  if (V < 2) {
    // A single word has an empty path: hierarchical softmax has nothing to learn for it.
    return t;
  }
  for (int64_t i = 1; i < V; ++i)
    if (counts[i] > counts[i - 1]) throw Error(ErrorKind::Internal, "build_huffman: counts are not sorted");
  // Leaves 0..V-1 hold the counts (descending); inner nodes V..2V-2 are created in order of
  // increasing weight, so two cursors (leaves from the right, inner nodes from the left) always
  // find the two lightest nodes.
  std::vector<int64_t> weight(2 * V, 0);
  std::vector<int64_t> parent(2 * V, 0);
  std::vector<uint8_t> bit(2 * V, 0);
  for (int64_t i = 0; i < V; ++i) weight[i] = counts[i];
  for (int64_t i = V; i < 2 * V; ++i) weight[i] = INT64_MAX;
  int64_t pos1 = V - 1, pos2 = V;
  for (int64_t a = 0; a < V - 1; ++a) {
    int64_t m[2];
    for (int k = 0; k < 2; ++k) {
      if (pos1 >= 0 && weight[pos1] < weight[pos2]) m[k] = pos1--;
      else m[k] = pos2++;
    }
    weight[V + a] = weight[m[0]] + weight[m[1]];
    parent[m[0]] = V + a;
    parent[m[1]] = V + a;
    bit[m[1]] = 1;
  }
  const int64_t root = 2 * V - 2;
  std::vector<int32_t> pts;
  std::vector<uint8_t> cds;
  for (int64_t w = 0; w < V; ++w) {
    // Walk leaf -> root, then store root -> leaf.
    pts.clear();
    cds.clear();
    for (int64_t b = w; b != root; b = parent[b]) {
      cds.push_back(bit[b]);
      pts.push_back(static_cast<int32_t>(parent[b] - V));
    }
    if (pts.size() > 255) throw_range("build_huffman: a Huffman path is longer than 255");
    t.offset[w] = static_cast<int32_t>(t.points.size());
    t.length[w] = static_cast<uint8_t>(pts.size());
    for (size_t k = pts.size(); k-- > 0;) {
      t.points.push_back(pts[k]);
      t.codes.push_back(cds[k]);
    }
    if (static_cast<int>(pts.size()) > t.max_length) t.max_length = static_cast<int>(pts.size());
  }
  return t;
}

}  // namespace qkv::w2v
