// The threaded paths for ThreadSanitizer (scripts/sanitize.sh thread): several threads submit
// parallel ops to the one thread pool at once, as Node's worker threads and libuv's pool do, and
// each checks its results against a single-threaded computation of the same inputs.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

using namespace qkv;

static std::vector<float> host(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  t.contiguous().to_host(v.data());
  return v;
}

int main() {
  constexpr int kThreads = 4, kRounds = 20;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int id = 0; id < kThreads; ++id) {
    threads.emplace_back([id, &failures] {
      for (int r = 0; r < kRounds; ++r) {
        const Tensor a = ops::randn({96, 80}, DType::F32, 1000 * id + r, 0, 1);
        const Tensor b = ops::randn({80, 72}, DType::F32, 7 + r, 0, 1);
        const std::vector<float> c = host(ops::softmax(ops::matmul(a, b), false));
        const std::vector<float> ha = host(a), hb = host(b);
        for (int i = 0; i < 96; ++i) {  // row i of softmax(a b), computed here in double
          std::vector<double> row(72, 0.0);
          double mx = -1e300, z = 0;
          for (int j = 0; j < 72; ++j) {
            for (int k = 0; k < 80; ++k) row[j] += double(ha[i * 80 + k]) * hb[k * 72 + j];
            if (row[j] > mx) mx = row[j];
          }
          for (double& x : row) z += (x = std::exp(x - mx));
          for (int j = 0; j < 72; ++j)
            if (std::abs(row[j] / z - c[i * 72 + j]) > 1e-4) ++failures[id];
        }
        // A reduction through parallel_for, submitted while the other threads' products run.
        double total = 0;
        std::vector<double> parts(64, 0.0);
        parallel_for(0, 64, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i) parts[i] = static_cast<double>(i) * (id + 1);
        });
        for (double p : parts) total += p;
        if (total != 2016.0 * (id + 1)) ++failures[id];
      }
    });
  }
  for (auto& t : threads) t.join();
  int failed = 0;
  for (int f : failures) failed += f;
  std::printf("thread_check: %d threads x %d rounds, %d mismatches\n", kThreads, kRounds, failed);
  return failed == 0 ? 0 : 1;
}
