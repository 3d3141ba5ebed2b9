// Image preprocessing (cpp/image/image.h): not recorded by the autograd.
#include "binding.h"
#include "image/image.h"

namespace qkv::binding {

static Napi::Value wrap(const Napi::CallbackInfo& info, Tensor t) { return TensorHandle::wrap(info.Env(), std::move(t)); }

// A JavaScript array of numbers (checked by src/image.ts; read once here).
static std::vector<double> number_list(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || !info[i].IsArray()) throw_type(std::string(op) + ": " + name + " must be an array of numbers");
  Napi::Array arr = info[i].As<Napi::Array>();
  std::vector<double> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = get(arr, k);
    if (!v.IsNumber()) throw_type(std::string(op) + ": " + name + " must be an array of numbers");
    out[k] = v.As<Napi::Number>().DoubleValue();
  }
  return out;
}

// imageResize(x, [outH, outW] | [shortSide], mode, antialias)
static Napi::Value resize(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "image.resize";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "image");
    const Shape size = arg_shape(info, 1, op, "size");
    const std::string name = arg_string(info, 2, op, "option mode");
    const bool antialias = arg_bool(info, 3, op, "option antialias");
    image::ResizeMode mode;
    if (name == "nearest") mode = image::ResizeMode::Nearest;
    else if (name == "bilinear") mode = image::ResizeMode::Bilinear;
    else if (name == "bicubic") mode = image::ResizeMode::Bicubic;
    else throw_type("image.resize: option mode must be 'bilinear', 'bicubic' or 'nearest', got '" + name + "'");
    if (size.size() != 1 && size.size() != 2) throw_range("image.resize: size must be [height, width] or one number");
    if (size.size() == 2) return wrap(info, image::resize(x, size[0], size[1], mode, antialias));
    if (x.dim() < 2) return wrap(info, image::resize(x, 1, 1, mode, antialias));  // throws the shape error
    const auto [h, w] = image::short_side_size(x.size(-2), x.size(-1), size[0]);
    return wrap(info, image::resize(x, h, w, mode, antialias));
  });
}

// imageCenterCrop(x, h, w)
static Napi::Value center_crop(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "image.centerCrop";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "image");
    return wrap(info, image::center_crop(x, arg_int(info, 1, op, "height"), arg_int(info, 2, op, "width")));
  });
}

// imageNormalize(x, mean[], std[])
static Napi::Value normalize(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "image.normalize";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "image");
    const std::vector<double> mean = number_list(info, 1, op, "mean"), std = number_list(info, 2, op, "std");
    return wrap(info, image::normalize(x, mean, std));
  });
}

// clipPreprocess(x, size, antialias)
static Napi::Value clip_preprocess(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "image.clipPreprocess";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "image");
    return wrap(info, image::clip_preprocess(x, arg_int(info, 1, op, "option size"), arg_bool(info, 2, op, "option antialias")));
  });
}

void init_image(Napi::Env env, Napi::Object exports) {
  exports.Set("imageResize", Napi::Function::New(env, resize, "imageResize"));
  exports.Set("imageCenterCrop", Napi::Function::New(env, center_crop, "imageCenterCrop"));
  exports.Set("imageNormalize", Napi::Function::New(env, normalize, "imageNormalize"));
  exports.Set("clipPreprocess", Napi::Function::New(env, clip_preprocess, "clipPreprocess"));
}

}  // namespace qkv::binding
