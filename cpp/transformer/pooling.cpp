#include "transformer/pooling.h"

#include <algorithm>

#include "autograd/functions.h"
#include "core/error.h"

namespace qkv::transformer {

Pooling pooling_from_name(const std::string& name, const char* op) {
  for (Pooling p : {Pooling::Cls, Pooling::Mean, Pooling::Last, Pooling::Eot})
    if (name == pooling_name(p)) return p;
  throw_type(std::string(op) + ": pooling must be 'cls', 'mean', 'last' or 'eot', got '" + name + "'");
}

const char* pooling_name(Pooling p) {
  switch (p) {
    case Pooling::Cls: break;
    case Pooling::Mean: return "mean";
    case Pooling::Last: return "last";
    case Pooling::Eot: return "eot";
  }
  return "cls";
}

Tensor pool_hidden(const Tensor& h, const std::vector<int32_t>& lengths, Pooling pooling, const Tensor& ids, int32_t eot_id) {
  const char* op = "pool";
  if (!h.defined() || h.dim() != 3) throw_range(std::string(op) + ": expected hidden states [B, L, D]");
  const int64_t B = h.size(0), L = h.size(1), D = h.size(2);
  if (static_cast<int64_t>(lengths.size()) != B)
    throw_range(std::string(op) + ": " + std::to_string(lengths.size()) + " lengths for a batch of " + std::to_string(B));
  std::vector<int32_t> ends(lengths.size());
  for (size_t b = 0; b < lengths.size(); ++b) ends[b] = std::clamp<int32_t>(lengths[b], 1, static_cast<int32_t>(L));
  if (pooling == Pooling::Cls) return ag::reshape(ag::slice(h, 1, 0, 1, 1), {B, D});
  if (pooling == Pooling::Mean) {
    std::vector<double> inv(lengths.size());
    for (size_t b = 0; b < lengths.size(); ++b) inv[b] = 1.0 / lengths[b];
    const Tensor w = ops::sequence_mask(L, {}, ends, inv, h.dtype()).view({B, L, 1});
    return ag::sum(ag::mul(h, w), {1}, false);
  }
  std::vector<int64_t> at(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) at[b] = ends[b] - 1;
  if (pooling == Pooling::Eot) {
    if (!ids.defined() || ids.dtype() != DType::I32 || ids.shape() != Shape{B, L})
      throw_range(std::string(op) + ": eot pooling needs the ids [" + std::to_string(B) + ", " + std::to_string(L) + "]");
    std::vector<int32_t> host(static_cast<size_t>(B * L));
    ids.to_host(host.data());
    for (int64_t b = 0; b < B; ++b) {
      const auto row = host.begin() + b * L;
      const auto it = std::find(row, row + ends[b], eot_id);
      if (it != row + ends[b]) at[b] = it - row;
    }
  }
  for (int64_t b = 0; b < B; ++b) at[b] += b * L;
  return ag::index_select(ag::reshape(h, {B * L, D}), at);
}

}  // namespace qkv::transformer
