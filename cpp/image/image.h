#pragma once
// Image preprocessing as CLIP uses it (torchvision's transforms on tensors): resize, center crop,
// per-channel normalisation and the whole chain. Images are [N, C, H, W] or [C, H, W], float, or
// int32 holding 8-bit pixel values (qkv has no uint8 dtype). Not differentiable: these run before
// a model, on any device, through the device's table (backend/backend.h).
#include <array>
#include <vector>

#include "core/tensor.h"
#include "ops/op_args.h"

namespace qkv::image {

using ops::ResizeMode;

// torch.nn.functional.interpolate(x, size=(out_h, out_w), mode, align_corners=False, antialias): the
// same dtype back; int32 results are rounded and clamped to 0..255 (torchvision on uint8 images).
// antialias applies to bilinear and bicubic only (RangeError for nearest), as in PyTorch.
Tensor resize(const Tensor& x, int64_t out_h, int64_t out_w, ResizeMode mode, bool antialias);
// torchvision's Resize(size) for one number: the shorter side becomes `size`, the longer one
// int(size * long / short). Returns {out_h, out_w}.
std::array<int64_t, 2> short_side_size(int64_t h, int64_t w, int64_t size);
// The centred h x w window of the last two dims, with torchvision's rounding: top = round((H - h) / 2),
// half to even as Python's round. RangeError when the window does not fit (torchvision pads instead).
Tensor center_crop(const Tensor& x, int64_t h, int64_t w);
// (x - mean[c]) / std[c] for a float image of C channels.
Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std);

// CLIP's mean and standard deviation of its training images' RGB channels.
inline const std::vector<double> kClipMean = {0.48145466, 0.4578275, 0.40821073};
inline const std::vector<double> kClipStd = {0.26862954, 0.26130258, 0.27577711};
// CLIP's transform on a [N, 3, H, W] or [3, H, W] image: resize the shorter side to `size`
// (bicubic), center crop size x size, scale int32 pixels to [0, 1] (float input is taken as already
// there), normalise with CLIP's mean and std. float32 for int32 input, else the input's dtype.
// antialias (default on) matches PIL, which CLIP's reference code resizes with.
Tensor clip_preprocess(const Tensor& x, int64_t size, bool antialias);

}  // namespace qkv::image
