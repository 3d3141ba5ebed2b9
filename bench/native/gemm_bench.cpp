// qkv_bench: the native GEMM benchmark and correctness check.
//
//   qkv_bench                      sgemm GFLOP/s, square 256..4096, NN / NT / TN, median of several runs
//   qkv_bench --dgemm              the same for dgemm
//   qkv_bench --sizes 512,1000     other sizes          --variants NN,TT     other variants
//   qkv_bench --threads 2          pool size (default: QKV_THREADS, else the number of cores)
//   qkv_bench --simd avx2          SIMD level (default: QKV_SIMD, else the best this CPU has)
//   qkv_bench --mc 144 --kc 256 --nc 4080   try other cache blocks (tuning)
//   qkv_bench --best               report the fastest run instead of the median
//   qkv_bench --cpu-time           GFLOP per CPU-second (all threads) instead of per wall second
//   qkv_bench --check              compare sgemm/dgemm with the reference on awkward sizes, every
//                                  transpose, several alpha/beta, every SIMD level this CPU runs
//                                  plus the AVX-512 kernels compiled without AVX-512 (emulated);
//                                  exits 1 on any mismatch
// Build and run: npm run bench:native  (cmake in build-native/, target qkv_bench).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <ctime>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/gemm.h"
#include "cpu/gemm_kernels.h"
#include "cpu/simd.h"

namespace qkv::cpu::gemm_avx512_emu {
void emulated_levels(SgemmLevel* s, DgemmLevel* d);
}

using namespace qkv;
using namespace qkv::cpu;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

std::vector<int64_t> parse_list(const char* s) {
  std::vector<int64_t> out;
  while (*s) {
    char* end;
    long v = std::strtol(s, &end, 10);
    if (end == s) break;
    out.push_back(v);
    s = *end ? end + 1 : end;
  }
  return out;
}

// ---- benchmark ----------------------------------------------------------------------------------

// Cache blocks to try instead of the library's (--mc/--kc/--nc; 0 = the library's).
int64_t g_mc = 0, g_kc = 0, g_nc = 0;
bool g_best = false;  // --best: report the fastest run instead of the median (for tuning on a busy machine)
bool g_cpu = false;   // --cpu-time: GFLOP per CPU-second of the whole process (tuning on a shared machine)

template <class L>
L tuned(L level) {
  if (g_mc) level.mc = g_mc;
  if (g_kc) level.kc = g_kc;
  if (g_nc) level.nc = g_nc;
  return level;
}

template <class T>
void gemm_call(bool ta, bool tb, int64_t n, const T* A, const T* B, T* C);
template <>
void gemm_call<float>(bool ta, bool tb, int64_t n, const float* A, const float* B, float* C) {
  if (g_mc || g_kc || g_nc)
    sgemm_blocked(tuned(sgemm_level(simd_level())), ta, tb, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
  else
    sgemm(ta, tb, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
}
template <>
void gemm_call<double>(bool ta, bool tb, int64_t n, const double* A, const double* B, double* C) {
  if (g_mc || g_kc || g_nc)
    dgemm_blocked(tuned(dgemm_level(simd_level())), ta, tb, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
  else
    dgemm(ta, tb, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
}

template <class T>
int run_bench(const std::vector<int64_t>& sizes, const std::vector<std::string>& variants) {
  std::printf("%s, %d threads, SIMD %s, %s GFLOP per %s second\n\n", sizeof(T) == 4 ? "sgemm" : "dgemm",
              ThreadPool::global().threads(), simd_name(simd_level()), g_best ? "best" : "median", g_cpu ? "CPU" : "wall");
  std::printf("| size |");
  for (auto& v : variants) std::printf(" %s GFLOP/s |", v.c_str());
  std::printf("\n|---:|");
  for (size_t i = 0; i < variants.size(); ++i) std::printf("---:|");
  std::printf("\n");
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  for (int64_t n : sizes) {
    std::vector<T> A(n * n), B(n * n), C(n * n);
    for (auto& x : A) x = static_cast<T>(dist(rng));
    for (auto& x : B) x = static_cast<T>(dist(rng));
    std::printf("| %lld |", static_cast<long long>(n));
    for (auto& v : variants) {
      bool ta = v[0] == 'T', tb = v[1] == 'T';
      double flops = 2.0 * double(n) * double(n) * double(n);
      double t0 = now_s();
      gemm_call<T>(ta, tb, n, A.data(), B.data(), C.data());  // warm-up (and page-in)
      double once = now_s() - t0;
      int reps = static_cast<int>(std::clamp(1.5 / std::max(once, 1e-6), 5.0, 41.0));
      std::vector<double> times;
      for (int r = 0; r < reps; ++r) {
        double s = g_cpu ? cpu_s() : now_s();
        gemm_call<T>(ta, tb, n, A.data(), B.data(), C.data());
        times.push_back((g_cpu ? cpu_s() : now_s()) - s);
      }
      std::sort(times.begin(), times.end());
      std::printf(" %.1f |", flops / (g_best ? times[0] : times[times.size() / 2]) / 1e9);
      std::fflush(stdout);
    }
    std::printf("\n");
  }
  return 0;
}

// ---- correctness check --------------------------------------------------------------------------

template <class T>
struct Problem {
  bool ta, tb;
  int64_t M, N, K, lda, ldb, ldc;
  T alpha, beta;
  std::vector<T> A, B, C0;   // C0: C before the call (NaN when beta == 0: must not be read)
  std::vector<double> ref;   // M x N, from the reference in double
  std::vector<double> bound; // M x N: |alpha| * sum |a||b| + |beta c0|
};

constexpr float kSentinel = 12345.0f;  // the padding of C past column N must survive

template <class T>
Problem<T> make_problem(std::mt19937& rng, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, T beta,
                        int pad) {
  Problem<T> p;
  p.ta = ta, p.tb = tb, p.M = M, p.N = N, p.K = K, p.alpha = alpha, p.beta = beta;
  int64_t arows = ta ? K : M, acols = ta ? M : K, brows = tb ? N : K, bcols = tb ? K : N;
  p.lda = acols + pad, p.ldb = bcols + pad, p.ldc = N + pad;
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  p.A.assign(arows * p.lda, T(777));
  p.B.assign(brows * p.ldb, T(777));
  p.C0.assign(M * p.ldc, T(kSentinel));
  for (int64_t r = 0; r < arows; ++r)
    for (int64_t c = 0; c < acols; ++c) p.A[r * p.lda + c] = static_cast<T>(dist(rng));
  for (int64_t r = 0; r < brows; ++r)
    for (int64_t c = 0; c < bcols; ++c) p.B[r * p.ldb + c] = static_cast<T>(dist(rng));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      p.C0[i * p.ldc + j] = beta == T(0) ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(dist(rng));
  // Reference in double (for both types), plus the error bound's scale.
  p.ref.assign(M * N, 0.0);
  p.bound.assign(M * N, 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0, abs = 0;
      for (int64_t k = 0; k < K; ++k) {
        double a = ta ? p.A[k * p.lda + i] : p.A[i * p.lda + k];
        double b = tb ? p.B[j * p.ldb + k] : p.B[k * p.ldb + j];
        acc += a * b;
        abs += std::fabs(a * b);
      }
      double c0 = beta == T(0) ? 0.0 : double(p.C0[i * p.ldc + j]);
      p.ref[i * N + j] = double(alpha) * acc + double(beta) * c0;
      p.bound[i * N + j] = std::fabs(double(alpha)) * abs + std::fabs(double(beta) * c0);
    }
  return p;
}

// Returns the number of bad elements (and prints the first).
template <class T>
int64_t compare(const Problem<T>& p, const std::vector<T>& C, const char* what) {
  const double eps = std::numeric_limits<T>::epsilon();
  int64_t bad = 0;
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.ldc; ++j) {
      double got = C[i * p.ldc + j];
      bool ok;
      double want;
      if (j >= p.N) {
        want = kSentinel;
        ok = got == want;
      } else {
        want = p.ref[i * p.N + j];
        double tol = 2.0 * eps * (double(p.K) + 4.0) * p.bound[i * p.N + j] + 1e-30;
        ok = std::fabs(got - want) <= tol;  // false for NaN
      }
      if (!ok) {
        if (bad == 0)
          std::printf("MISMATCH %s %s%s M=%lld N=%lld K=%lld alpha=%g beta=%g at (%lld,%lld): got %.9g want %.9g\n",
                      what, p.ta ? "T" : "N", p.tb ? "T" : "N", (long long)p.M, (long long)p.N, (long long)p.K,
                      double(p.alpha), double(p.beta), (long long)i, (long long)j, got, want);
        ++bad;
      }
    }
  return bad;
}

enum class Path { Dispatch, Blocked, Small };
struct Runner {
  std::string name;
  SimdLevel level;  // Dispatch: sgemm()/dgemm() after set_simd_level(level)
  Path path;        // Blocked: the packed driver with the levels below, whatever the size;
                    // Small: the unpacked path (of `level`), whatever the size
  SgemmLevel sl;
  DgemmLevel dl;
};

template <class T>
void call(const Runner& r, const Problem<T>& p, std::vector<T>& C);
template <>
void call<float>(const Runner& r, const Problem<float>& p, std::vector<float>& C) {
  if (r.path == Path::Blocked)
    sgemm_blocked(r.sl, p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, p.beta, C.data(),
                  p.ldc);
  else if (r.path == Path::Small)
    sgemm_small(p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, p.beta, C.data(), p.ldc);
  else
    sgemm(p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, p.beta, C.data(), p.ldc);
}
template <>
void call<double>(const Runner& r, const Problem<double>& p, std::vector<double>& C) {
  if (r.path == Path::Blocked)
    dgemm_blocked(r.dl, p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, p.beta, C.data(),
                  p.ldc);
  else if (r.path == Path::Small)
    dgemm_small(p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, p.beta, C.data(), p.ldc);
  else
    dgemm(p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, p.beta, C.data(), p.ldc);
}

template <class T>
int64_t check_type(const std::vector<Runner>& runners, const char* tname) {
  const std::vector<int64_t> sizes = {1, 2, 3, 5, 7, 13, 17, 31, 33, 63, 65, 100, 127, 129, 255, 257};
  struct AB {
    double alpha, beta;
  };
  const AB abs[] = {{1, 0}, {1, 1}, {-1.5, 0.5}, {0.5, 0}, {2, -1}, {0, 2}, {0, 0}, {1, 3}};
  std::mt19937 rng(42);
  int64_t bad = 0, cases = 0, calls = 0;
  size_t n = sizes.size();
  for (size_t im = 0; im < n; ++im)
    for (size_t in = 0; in < n; ++in) {
      // Three depths per (M, N), rotating through the list (always including one of 1..7 when cheap).
      int64_t ks[3] = {sizes[(im + in) % n], sizes[(im * 3 + in * 5 + 7) % n], sizes[(im + 2 * in + 1) % 6]};
      for (int64_t K : ks)
        for (int t = 0; t < 4; ++t) {
          const AB ab = abs[(im * 7 + in * 3 + static_cast<size_t>(K) + static_cast<size_t>(t)) % 8];
          int pad = static_cast<int>((im + in + t) % 3 == 0 ? 0 : 3);
          Problem<T> p = make_problem<T>(rng, t & 1, t & 2, sizes[im], sizes[in], K, T(ab.alpha), T(ab.beta), pad);
          ++cases;
          for (const Runner& r : runners) {
            if (r.path != Path::Blocked) set_simd_level(r.level);
            std::vector<T> C = p.C0;
            call<T>(r, p, C);
            ++calls;
            int64_t b = compare(p, C, (std::string(tname) + " " + r.name).c_str());
            bad += b;
          }
        }
    }
  std::printf("%s: %lld cases x %zu paths = %lld calls, %lld bad elements\n", tname, (long long)cases,
              runners.size(), (long long)calls, (long long)bad);
  return bad;
}

// Same inputs, different thread counts and repeated calls: bitwise-equal results.
template <class T>
int64_t check_determinism(const char* tname) {
  std::mt19937 rng(7);
  int64_t bad = 0;
  int threads = ThreadPool::global().threads();
  const int64_t shapes[][3] = {{300, 517, 411}, {1000, 77, 600}, {64, 2000, 300}, {1, 3000, 200}, {700, 1, 500},
                               {50, 4200, 520}};
  for (auto& s : shapes)
    for (int t = 0; t < 4; ++t) {
      Problem<T> p = make_problem<T>(rng, t & 1, t & 2, s[0], s[1], s[2], T(1), T(0.5), 1);
      std::vector<std::vector<T>> outs;
      for (int nt : {threads, 1, 3, 7, threads}) {
        ThreadPool::global().resize(nt);
        std::vector<T> C = p.C0;
        call<T>(Runner{"", simd_level(), Path::Dispatch, {}, {}}, p, C);
        outs.push_back(C);
      }
      ThreadPool::global().resize(threads);
      for (size_t i = 1; i < outs.size(); ++i)
        if (std::memcmp(outs[i].data(), outs[0].data(), outs[0].size() * sizeof(T)) != 0) {
          std::printf("NONDETERMINISTIC %s M=%lld N=%lld K=%lld variant %d run %zu\n", tname, (long long)s[0],
                      (long long)s[1], (long long)s[2], t, i);
          ++bad;
        }
      bad += compare(p, outs[0], tname);
    }
  std::printf("%s determinism across 1/3/7/%d threads: %s\n", tname, threads, bad ? "FAILED" : "ok");
  return bad;
}

int run_check() {
  const SimdLevel saved = simd_level(), best = simd_supported();
  std::vector<Runner> runners;
  for (int l = 0; l <= static_cast<int>(best); ++l) {
    SimdLevel lv = static_cast<SimdLevel>(l);
    runners.push_back({std::string("gemm@") + simd_name(lv), lv, Path::Dispatch, {}, {}});
    runners.push_back({std::string("blocked@") + simd_name(lv), lv, Path::Blocked, sgemm_level(lv), dgemm_level(lv)});
    runners.push_back({std::string("small@") + simd_name(lv), lv, Path::Small, {}, {}});
  }
  Runner emu{"blocked@avx512-emulated", SimdLevel::Scalar, Path::Blocked, {}, {}};
  gemm_avx512_emu::emulated_levels(&emu.sl, &emu.dl);
  runners.push_back(emu);
  std::printf("check: %d threads; levels run natively: scalar..%s%s\n", ThreadPool::global().threads(),
              simd_name(best), best == SimdLevel::AVX512 ? "" : " (AVX-512 kernels checked emulated only)");
  double t0 = now_s();
  int64_t bad = check_type<float>(runners, "sgemm") + check_type<double>(runners, "dgemm");
  bad += check_determinism<float>("sgemm") + check_determinism<double>("dgemm");
  set_simd_level(saved);
  std::printf("check %s in %.1f s\n", bad ? "FAILED" : "passed", now_s() - t0);
  return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false, dgemm_mode = false;
  std::vector<int64_t> sizes = {256, 512, 1024, 2048, 4096};
  std::vector<std::string> variants = {"NN", "NT", "TN"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--check") check = true;
    else if (a == "--dgemm") dgemm_mode = true;
    else if (a == "--sizes") sizes = parse_list(next());
    else if (a == "--best") g_best = true;
    else if (a == "--cpu-time") g_cpu = true;
    else if (a == "--mc") g_mc = std::atoll(next());
    else if (a == "--kc") g_kc = std::atoll(next());
    else if (a == "--nc") g_nc = std::atoll(next());
    else if (a == "--threads") ThreadPool::global().resize(std::atoi(next()));
    else if (a == "--variants") {
      variants.clear();
      std::string s = next();
      for (size_t p = 0; p + 2 <= s.size(); p += 3) variants.push_back(s.substr(p, 2));
    } else if (a == "--simd") {
      SimdLevel lv;
      if (!simd_from_name(next(), &lv)) {
        std::fprintf(stderr, "unknown SIMD level\n");
        return 2;
      }
      set_simd_level(lv);
    } else {
      std::fprintf(stderr, "usage: qkv_bench [--check] [--dgemm] [--sizes a,b] [--variants NN,NT] [--threads n] "
                           "[--simd scalar|avx2|avx512] [--mc n] [--kc n] [--nc n] [--best] [--cpu-time]\n");
      return 2;
    }
  }
  if (check) return run_check();
  return dgemm_mode ? run_bench<double>(sizes, variants) : run_bench<float>(sizes, variants);
}
