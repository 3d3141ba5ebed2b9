// Image preprocessing: the checks and the size rules; the resampling and normalisation kernels are in
// each device's table, the crop is a view.
#include "image/image.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "core/error.h"

namespace qkv::image {

namespace {

void check_image(const Tensor& x, const char* op) {
  if (!x.defined() || !(is_float(x.dtype()) || x.dtype() == DType::I32))
    throw_type(std::string(op) + ": image must be a float32, float64 or int32 tensor" +
               (x.defined() ? std::string(", got ") + dtype_name(x.dtype()) : std::string()));
  if (x.dim() != 3 && x.dim() != 4) throw_range(std::string(op) + ": image must be [N, C, H, W] or [C, H, W], got " + shape_str(x.shape()));
  if (x.numel() == 0) throw_range(std::string(op) + ": image is empty, got " + shape_str(x.shape()));
}

// [C, H, W] as [1, C, H, W], and back.
Tensor batched(const Tensor& x) { return x.dim() == 3 ? x.unsqueeze(0) : x; }
Tensor like_input(const Tensor& out, const Tensor& x) { return x.dim() == 3 ? out.reshape(Shape(out.shape().begin() + 1, out.shape().end())) : out; }

Tensor resize_checked(const Tensor& x, int64_t out_h, int64_t out_w, ResizeMode mode, bool antialias) {
  const char* op = "image.resize";
  Tensor b = batched(x);
  return like_input(backend::call(x.device(), &backend::Backend::image_resize, op, b, out_h, out_w, mode, antialias), x);
}

}  // namespace

Tensor resize(const Tensor& x, int64_t out_h, int64_t out_w, ResizeMode mode, bool antialias) {
  check_image(x, "image.resize");
  if (out_h < 1 || out_w < 1)
    throw_range("image.resize: the output size must be positive, got [" + std::to_string(out_h) + ", " + std::to_string(out_w) + "]");
  if (antialias && mode == ResizeMode::Nearest) throw_range("image.resize: antialias applies to the bilinear and bicubic modes only");
  return resize_checked(x, out_h, out_w, mode, antialias);
}

std::array<int64_t, 2> short_side_size(int64_t h, int64_t w, int64_t size) {
  if (size < 1 || size > INT32_MAX) throw_range("image.resize: the short side must be in [1, 2^31 - 1], got " + std::to_string(size));
  const int64_t shorter = std::min(h, w), longer = std::max(h, w);
  // Python's int(size * long / short): a true division, then truncation.
  const int64_t other = static_cast<int64_t>(static_cast<double>(size * longer) / static_cast<double>(shorter));
  return h <= w ? std::array<int64_t, 2>{size, other} : std::array<int64_t, 2>{other, size};
}

Tensor center_crop(const Tensor& x, int64_t h, int64_t w) {
  const char* op = "image.centerCrop";
  check_image(x, op);
  const int64_t H = x.size(-2), W = x.size(-1);
  if (h < 1 || w < 1 || h > H || w > W)
    throw_range("image.centerCrop: a [" + std::to_string(h) + ", " + std::to_string(w) + "] window does not fit image " + shape_str(x.shape()));
  // std::nearbyint rounds half to even under the default rounding mode, as Python's round.
  const int64_t top = static_cast<int64_t>(std::nearbyint((H - h) / 2.0)), left = static_cast<int64_t>(std::nearbyint((W - w) / 2.0));
  return x.slice(-2, top, top + h, 1, op).slice(-1, left, left + w, 1, op).contiguous();
}

namespace {

Tensor normalize_checked(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std, double scale, const char* op) {
  const int64_t C = x.size(-3);
  if (static_cast<int64_t>(mean.size()) != C || static_cast<int64_t>(std.size()) != C)
    throw_range(std::string(op) + ": mean and std need one value per channel (" + std::to_string(C) + " for image " + shape_str(x.shape()) +
                "), got " + std::to_string(mean.size()) + " and " + std::to_string(std.size()));
  for (size_t c = 0; c < std.size(); ++c)
    if (!(std[c] > 0) || !std::isfinite(std[c]) || !std::isfinite(mean[c]))
      throw_range(std::string(op) + ": std must be positive and mean finite, got std[" + std::to_string(c) + "] = " + std::to_string(std[c]));
  Tensor b = batched(x);
  return like_input(backend::call(x.device(), &backend::Backend::image_normalize, op, b, mean, std, scale), x);
}

}  // namespace

Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std) {
  const char* op = "image.normalize";
  check_image(x, op);
  if (!is_float(x.dtype())) throw_type("image.normalize: image must be a float32 or float64 tensor, got int32 (scale it to [0, 1] first)");
  return normalize_checked(x, mean, std, 1.0, op);
}

Tensor clip_preprocess(const Tensor& x, int64_t size, bool antialias) {
  const char* op = "image.clipPreprocess";
  check_image(x, op);
  if (x.size(-3) != 3) throw_range("image.clipPreprocess: image must have 3 (RGB) channels, got " + shape_str(x.shape()));
  if (size < 1) throw_range("image.clipPreprocess: size must be positive, got " + std::to_string(size));
  const auto [h, w] = short_side_size(x.size(-2), x.size(-1), size);
  Tensor resized = resize_checked(x, h, w, ResizeMode::Bicubic, antialias);
  Tensor cropped = center_crop(resized, size, size);
  return normalize_checked(cropped, kClipMean, kClipStd, x.dtype() == DType::I32 ? 1.0 / 255.0 : 1.0, op);
}

}  // namespace qkv::image
