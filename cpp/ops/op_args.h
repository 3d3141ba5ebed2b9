#pragma once
// The parameters of the ops, shared by the public op API (ops/ops.h) and each device's
// implementations of it (backend/backend.h).
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "cpu/dropout_kernels.h"
#include "cpu/image_kernels.h"
#include "cpu/kernels.h"
#include "cpu/optim_kernels.h"

namespace qkv::ops {

using cpu::BinaryOp;
using cpu::UnaryOp;

// Row reductions of a contiguous [R, C]: sum and max keep the dtype, argmax gives int32.
enum class ReduceKind : uint8_t { Sum, Max, Argmax };

// Random fills, drawn element by element from one seeded generator (core/random.h), so that the
// values depend on the seed only, never on the thread count or the device.
enum class RandomKind : uint8_t { Normal, Uniform };  // a, b = mean, std  or  low, high

// Dropout without a stored mask: element i (its flat index modulo 2^32) is kept when
// mix(mix(i ^ s1) + s2) >= threshold, with mix a 32-bit integer hash (cpu/dropout_kernels.inc),
// and kept elements are scaled by `scale` = 1 / P(keep). p is rounded to a multiple of 2^-32 and
// the scale uses that rounded p, so that E[mask * scale] = 1. The backward pass regenerates the
// mask from (seed, i); any thread split or device gives the same mask.
using DropoutLaw = cpu::DropoutArgs;  // threshold 0 keeps everything
// RangeError naming `op` unless p is in [0, 1).
DropoutLaw dropout_law(double p, uint64_t seed, const char* op);

// Scaled dot-product attention (ops/attention.h has the shapes and masks).
struct AttentionOptions {
  bool causal = false;
  std::vector<int32_t> key_lengths;  // [B]: keys j >= key_lengths[b] are hidden; empty: none
  std::vector<int32_t> key_starts;   // [B]: keys j < key_starts[b] are hidden (left padding); empty: none
  double dropout = 0;
  uint64_t seed = 0;
  double scale = 0;  // 0: 1/sqrt(Dh)
};
struct AttentionResult {
  Tensor out, lse;
};

// The fused contrastive loss of a dual encoder (ops/contrastive.h has the definitions).
enum class ContrastiveLoss : uint8_t { Clip, Siglip };
struct InfoNCEResult {
  Tensor loss;  // scalar
  Tensor lse;   // [2, N]: each row's, then each column's log-sum-exp of the logits (CLIP); undefined for SigLIP
};
struct InfoNCEGrads {
  Tensor image, text, log_scale, bias;  // bias: SigLIP only
};

// One update of AdamW / Adam / SGD, elementwise over a parameter (optim/optimizer.h has the rules).
//   Adam:  p <- p * decay;  g' = g + l2 p;  m <- b1 m + (1-b1) g';  v <- b2 v + (1-b2) g'^2;
//          p <- p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
using AdamStep = cpu::optim::AdamArgs;
//   SGD:   d = g + wd p;  with momentum b = first ? d : mu b + damp d;  d = nesterov ? d + mu b : b;
//          p <- p - lr d
using SgdStep = cpu::optim::SgdArgs;

// ---- images
// A sliding window (kernel, stride, padding, dilation, each [h, w]) and averaging bins (cpu/image_kernels.h).
using Window2d = cpu::Window2d;
using AvgBins = cpu::AvgBins;
// ---- image preprocessing
// Resampling filters of image resize (cpp/image/image.h), as torch.nn.functional.interpolate's
// modes 'nearest', 'bilinear' and 'bicubic' with align_corners=False.
enum class ResizeMode : uint8_t { Nearest, Bilinear, Bicubic };

}  // namespace qkv::ops
