// The guarded test device, checked from C++ (test/device-guard.test.ts runs this program): memory
// of a guarded tensor cannot be read or written by the host outside the device's own op
// implementations, while the ops themselves work on it and give the CPU's results bit for bit.
// Prints one JSON object per check: {"check": name, "ok": bool, "detail": text}.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/error.h"
#include "core/tensor.h"
#include "ops/ops.h"

using namespace qkv;

namespace {

void report(const char* check, bool ok, const std::string& detail) {
  std::string d;
  for (char c : detail) d += (c == '"' || c == '\\') ? ' ' : c;
  std::printf("{\"check\": \"%s\", \"ok\": %s, \"detail\": \"%s\"}\n", check, ok ? "true" : "false", d.c_str());
}

// Runs fn, which must throw Error(Device).
template <class Fn>
void expect_device_error(const char* check, Fn&& fn) {
  try {
    fn();
    report(check, false, "no error");
  } catch (const Error& e) {
    report(check, e.kind() == ErrorKind::Device, e.what());
  }
}

std::vector<float> host_of(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  t.to_host(v.data());
  return v;
}

}  // namespace

int main() {
  const Tensor a = ops::randn({4, 5}, DType::F32, 1, 0, 1).to_device(Device::Guarded);
  report("a guarded tensor lives on the guarded device", a.device() == Device::Guarded, device_name(a.device()));
  expect_device_error("reading a guarded tensor's memory outside an op throws", [&] { volatile float x = a.data<float>()[0]; (void)x; });
  expect_device_error("writing it outside an op throws", [&] { Tensor b = a; b.data<float>()[0] = 1.0f; });
  expect_device_error("its raw pointer is refused too", [&] { (void)a.raw(); });

  // Ops run on it (inside the device's implementations) and agree with the CPU bit for bit.
  // (On the CPU explicitly: under QKV_DEVICE_GUARD=1 new tensors default to the guarded device.)
  const Tensor ca = ops::randn({4, 5}, DType::F32, 1, 0, 1).to_device(Device::CPU);
  const Tensor cb = ops::randn({5, 3}, DType::F32, 2, 0, 1).to_device(Device::CPU);
  const Tensor ga = ca.to_device(Device::Guarded), gb = cb.to_device(Device::Guarded);
  const Tensor cpu = ops::softmax(ops::matmul(ca, cb), false), guarded = ops::softmax(ops::matmul(ga, gb), false);
  report("ops keep their results on the guarded device", guarded.device() == Device::Guarded, device_name(guarded.device()));
  const std::vector<float> x = host_of(cpu), y = host_of(guarded);
  report("matmul and softmax on the guarded device equal the CPU's", x == y, std::to_string(x.size()) + " values");

  // Mixing devices in one op is refused with a clear error.
  try {
    (void)ops::matmul(ca, gb);
    report("an op refuses inputs on two devices", false, "no error");
  } catch (const Error& e) {
    report("an op refuses inputs on two devices", true, e.what());
  }
  return 0;
}
