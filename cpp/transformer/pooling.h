#pragma once
// Sentence vectors from hidden states h [B, L, D] of right-padded rows with lengths [B]:
//   cls   h[b, 0]                        (BERT's [CLS] / our <bos>)
//   mean  the mean of h[b, 0 .. lengths[b])  (padding never counts)
//   last  h[b, lengths[b] - 1]             (the last real token: decoder-only models)
//   eot   h[b, i] at the first i < lengths[b] with ids[b, i] == eot_id, else the last real token
//         (CLIP's text tower pools at its end-of-text token)
// Recorded by the autograd (gradients reach the rows pooled).
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace qkv::transformer {

enum class Pooling : uint8_t { Cls, Mean, Last, Eot };
Pooling pooling_from_name(const std::string& name, const char* op);  // "cls", "mean", "last", "eot"
const char* pooling_name(Pooling p);

// `ids` [B, L] int32 is read for Eot only (ids are small host-side decisions).
Tensor pool_hidden(const Tensor& hidden, const std::vector<int32_t>& lengths, Pooling pooling, const Tensor& ids = Tensor(),
                   int32_t eot_id = -1);

}  // namespace qkv::transformer
