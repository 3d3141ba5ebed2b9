// The CPU's image preprocessing: resampling and per-channel normalisation of [N, C, H, W] (checked by
// image/image.cpp before they get here). Resizing is separable, as in PyTorch: each output position
// along an axis is a weighted sum of a few input positions (its taps), applied along W, then along
// H, per plane. The taps follow torch.nn.functional.interpolate with align_corners=False
// (aten/src/ATen/native/UpSample.h; the antialiased ones, which match PIL, from UpSampleKernel.cpp).
// Sums run in double, so these loops are also the reference: test/norm-image.test.ts checks them
// against float64 loops and PyTorch.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "backend/backend.h"
#include "core/thread_pool.h"

namespace qkv::backend::cpu_impl {

namespace {

// Keys' cubic convolution kernel with parameter a: PyTorch's plain bicubic uses a = -0.75, its
// antialiased one (like PIL) a = -0.5.
double cubic(double x, double a) {
  x = std::abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

// out[o] = sum over k < K of weight[o K + k] * in[index[o K + k]].
struct Taps {
  int64_t K = 0;
  std::vector<int64_t> index;
  std::vector<double> weight;
};

Taps taps_for(int64_t in, int64_t out, ResizeMode mode, bool antialias) {
  Taps t;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  auto put = [&](int64_t o, int64_t k, int64_t i, double w) {
    t.index[o * t.K + k] = std::clamp<int64_t>(i, 0, in - 1);
    t.weight[o * t.K + k] = w;
  };
  auto resize_to = [&](int64_t K) {
    t.K = K;
    t.index.assign(out * K, 0);
    t.weight.assign(out * K, 0.0);
  };
  if (mode == ResizeMode::Nearest) {
    // PyTorch's 'nearest' (not 'nearest-exact'): floor(o * scale), with the scale in float.
    resize_to(1);
    const float s = static_cast<float>(in) / static_cast<float>(out);
    for (int64_t o = 0; o < out; ++o) put(o, 0, std::min<int64_t>(static_cast<int64_t>(std::floor(o * s)), in - 1), 1.0);
  } else if (antialias) {
    // The filter is stretched by the scale when shrinking, so every input pixel contributes; the
    // taps near the border are cut off and the rest renormalised (no clamped duplicates).
    const bool bilinear = mode == ResizeMode::Bilinear;
    const double support = (bilinear ? 1.0 : 2.0) * (scale >= 1 ? scale : 1.0), inv = scale >= 1 ? 1 / scale : 1.0;
    resize_to(static_cast<int64_t>(std::ceil(support)) * 2 + 1);
    for (int64_t o = 0; o < out; ++o) {
      const double center = scale * (o + 0.5);
      const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
      const int64_t n = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in) - lo;
      std::vector<double> w(n);
      double total = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double d = (j + lo - center + 0.5) * inv;
        w[j] = bilinear ? std::max(0.0, 1 - std::abs(d)) : cubic(d, -0.5);
        total += w[j];
      }
      for (int64_t j = 0; j < n; ++j) put(o, j, lo + j, total != 0 ? w[j] / total : w[j]);
    }
  } else if (mode == ResizeMode::Bilinear) {
    resize_to(2);
    for (int64_t o = 0; o < out; ++o) {
      const double src = std::max(scale * (o + 0.5) - 0.5, 0.0);
      const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
      const double l = std::clamp(src - static_cast<double>(i0), 0.0, 1.0);
      put(o, 0, i0, 1 - l);
      put(o, 1, i0 + 1, l);
    }
  } else {
    // Four taps around the source position, indices clamped at the border.
    resize_to(4);
    for (int64_t o = 0; o < out; ++o) {
      const double src = scale * (o + 0.5) - 0.5, f = std::floor(src), d = src - f;
      const int64_t i = static_cast<int64_t>(f);
      for (int64_t k = 0; k < 4; ++k) put(o, k, i - 1 + k, cubic(d + 1 - static_cast<double>(k), -0.75));
    }
  }
  return t;
}

// Float tensors keep their values; int32 ones hold 8-bit pixels, rounded (half to even, as
// torch.round) and clamped to 0..255 as torchvision does for uint8 images.
template <class T> T stored(double v) {
  if constexpr (std::is_same_v<T, int32_t>) return static_cast<int32_t>(std::clamp(std::nearbyint(v), 0.0, 255.0));
  else return static_cast<T>(v);
}

template <class Fn> auto dispatch_pixels(DType t, Fn&& fn) {
  if (t == DType::I32) return fn(int32_t{});
  return dispatch_float(t, fn);
}

}  // namespace

Tensor image_resize(const Tensor& x_in, int64_t out_h, int64_t out_w, ResizeMode mode, bool antialias) {
  const Tensor x = x_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Tensor out = Tensor::empty({N, C, out_h, out_w}, x.dtype());
  const Taps th = taps_for(H, out_h, mode, antialias), tw = taps_for(W, out_w, mode, antialias);
  dispatch_pixels(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.template data<T>();
    T* po = out.template data<T>();
    parallel_for(0, N * C, 1, [&](int64_t lo, int64_t hi) {
      std::vector<double> rows(static_cast<size_t>(H * out_w));  // the plane resampled along W
      std::vector<double> acc(static_cast<size_t>(out_w));       // one output row
      for (int64_t p = lo; p < hi; ++p) {
        const T* src = px + p * H * W;
        for (int64_t y = 0; y < H; ++y)
          for (int64_t o = 0; o < out_w; ++o) {
            double s = 0;
            for (int64_t k = 0; k < tw.K; ++k) s += tw.weight[o * tw.K + k] * static_cast<double>(src[y * W + tw.index[o * tw.K + k]]);
            rows[y * out_w + o] = s;
          }
        // Along H whole rows at a time: tap k of output row o adds weight x input row, a vector loop.
        T* dst = po + p * out_h * out_w;
        for (int64_t o = 0; o < out_h; ++o) {
          std::fill(acc.begin(), acc.end(), 0.0);
          for (int64_t k = 0; k < th.K; ++k) {
            const double w = th.weight[o * th.K + k];
            if (w == 0) continue;
            const double* row = rows.data() + th.index[o * th.K + k] * out_w;
            for (int64_t xw = 0; xw < out_w; ++xw) acc[xw] += w * row[xw];
          }
          for (int64_t xw = 0; xw < out_w; ++xw) dst[o * out_w + xw] = stored<T>(acc[xw]);
        }
      }
    });
    return 0;
  });
  return out;
}

Tensor image_normalize(const Tensor& x_in, const std::vector<double>& mean, const std::vector<double>& std, double scale) {
  const Tensor x = x_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1), S = N * C != 0 ? x.numel() / (N * C) : 0;
  Tensor out = Tensor::empty(x.shape(), x.dtype() == DType::I32 ? DType::F32 : x.dtype());
  dispatch_pixels(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.template data<T>();
    dispatch_float(out.dtype(), [&](auto zo) {
      using O = decltype(zo);
      O* po = out.template data<O>();
      parallel_for(0, N * C, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t p = lo; p < hi; ++p) {
          const double m = mean[p % C], sd = std[p % C];
          for (int64_t i = p * S; i < (p + 1) * S; ++i) po[i] = static_cast<O>((static_cast<double>(px[i]) * scale - m) / sd);
        }
      });
      return 0;
    });
    return 0;
  });
  return out;
}

}  // namespace qkv::backend::cpu_impl
