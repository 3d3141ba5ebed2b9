// The GEMM driver (BLIS-style): C = alpha * op(A) * op(B) + beta * C, row-major.
//
//   for each task's block of C (a tm x tn grid over the thread pool, see plan_grid)
//     for jc in steps of NC                 B block  kc x nc   -> L3
//       for pc in steps of KC                 pack B into NR-wide panels (k-major)
//         for ic in steps of MC               A block  mc x kc -> L2, packed into MR-tall panels
//           for jr in steps of NR               B panel kc x NR  -> L1
//             for ir in steps of MR               micro-kernel: MR x NR accumulators in registers
//
// Transposes cost nothing past the packing: the packers read op(A) / op(B) either way. Edge tiles
// are zero-padded in the packed panels and written back through a small buffer by the micro-kernel.
// Every element of C is summed in the same order (pc blocks in sequence, k within a block) whatever
// the task grid, so results do not depend on scheduling. Each task packs its own A and B, so tasks
// share nothing but the inputs and need no barrier.
//
// Tiny problems (M*N*K < 32^3) and matrix-vector shapes (M == 1 or N == 1) skip packing.
// Kernels per level: gemm_avx512.cpp (12x32 / 12x16), gemm_avx2.cpp (6x16 / 6x8), and the portable
// ones below (4x8 / 4x4). The level is simd_level() at the time of the call.
#include "cpu/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "core/thread_pool.h"
#include "cpu/gemm_kernels.h"
#include "cpu/simd.h"

namespace qkv::cpu {

namespace {

// ---- portable level (baseline x86-64, plain loops) ---------------------------------------------

template <class T, int MR, int NR>
void micro_portable(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m, int64_t n, T alpha, T beta) {
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (int64_t i = 0; i < m; ++i) {
    T* cr = c + i * ldc;
    if (beta == T(0)) {
      for (int64_t j = 0; j < n; ++j) cr[j] = alpha * acc[i][j];
    } else {
      for (int64_t j = 0; j < n; ++j) cr[j] = alpha * acc[i][j] + beta * cr[j];
    }
  }
}

// dst[k*R + r] = element (r, k) of the panel, r < cnt; zero for cnt <= r < R. `contiguous_r`:
// the R elements of one k are adjacent in the source (stride 1 along r, ld along k); otherwise
// adjacent along k (stride 1 along k, ld along r).
template <class T, int R>
void pack_portable(bool contiguous_r, const T* src, int64_t ld, int64_t r0, int64_t p0, int64_t cnt, int64_t kc,
                   T* dst) {
  for (int64_t k = 0; k < kc; ++k, dst += R) {
    int64_t r = 0;
    if (contiguous_r) {
      const T* s = src + (p0 + k) * ld + r0;
      for (; r < cnt; ++r) dst[r] = s[r];
    } else {
      const T* s = src + r0 * ld + p0 + k;
      for (; r < cnt; ++r) dst[r] = s[r * ld];
    }
    for (; r < R; ++r) dst[r] = T(0);
  }
}

constexpr int kPortSMR = 4, kPortSNR = 8, kPortDMR = 4, kPortDNR = 4;

void portable_sgemm_pack_a(bool trans, const float* src, int64_t ld, int64_t i0, int64_t p0, int64_t m, int64_t kc,
                           float* dst) {
  pack_portable<float, kPortSMR>(trans, src, ld, i0, p0, m, kc, dst);
}
void portable_sgemm_pack_b(bool trans, const float* src, int64_t ld, int64_t j0, int64_t p0, int64_t n, int64_t kc,
                           float* dst) {
  pack_portable<float, kPortSNR>(!trans, src, ld, j0, p0, n, kc, dst);
}
void portable_dgemm_pack_a(bool trans, const double* src, int64_t ld, int64_t i0, int64_t p0, int64_t m,
                           int64_t kc, double* dst) {
  pack_portable<double, kPortDMR>(trans, src, ld, i0, p0, m, kc, dst);
}
void portable_dgemm_pack_b(bool trans, const double* src, int64_t ld, int64_t j0, int64_t p0, int64_t n,
                           int64_t kc, double* dst) {
  pack_portable<double, kPortDNR>(!trans, src, ld, j0, p0, n, kc, dst);
}

// ---- level tables -------------------------------------------------------------------------------
// Zen 3 (the development machine): 32 KiB L1d, 512 KiB L2 per core, 32 MiB shared L3.
// fp32 AVX2: B panel 256 x 16 x 4 B = 16 KiB (half of L1), A block 144 x 256 x 4 B = 144 KiB (L2),
// B block 256 x 4080 x 4 B = 4 MiB (L3).

const SgemmLevel kSgemmLevels[3] = {
    {kPortSMR, kPortSNR, 128, 256, 2048, micro_portable<float, kPortSMR, kPortSNR>, portable_sgemm_pack_a,
     portable_sgemm_pack_b},
    {gemm_avx2::kSgemmMR, gemm_avx2::kSgemmNR, 144, 256, 4080, gemm_avx2::sgemm_micro, gemm_avx2::sgemm_pack_a,
     gemm_avx2::sgemm_pack_b},
    {gemm_avx512::kSgemmMR, gemm_avx512::kSgemmNR, 144, 384, 3072, gemm_avx512::sgemm_micro,
     gemm_avx512::sgemm_pack_a, gemm_avx512::sgemm_pack_b},
};

const DgemmLevel kDgemmLevels[3] = {
    {kPortDMR, kPortDNR, 64, 256, 2048, micro_portable<double, kPortDMR, kPortDNR>, portable_dgemm_pack_a,
     portable_dgemm_pack_b},
    {gemm_avx2::kDgemmMR, gemm_avx2::kDgemmNR, 72, 256, 4080, gemm_avx2::dgemm_micro, gemm_avx2::dgemm_pack_a,
     gemm_avx2::dgemm_pack_b},
    {gemm_avx512::kDgemmMR, gemm_avx512::kDgemmNR, 96, 256, 3072, gemm_avx512::dgemm_micro,
     gemm_avx512::dgemm_pack_a, gemm_avx512::dgemm_pack_b},
};

// ---- packing buffers: one pair per thread, grown on demand, 64-byte aligned ---------------------

struct PackBuffer {
  void* ptr = nullptr;
  size_t cap = 0;
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { std::free(ptr); }
  void* get(size_t bytes) {
    if (bytes > cap) {
      std::free(ptr);
      ptr = nullptr;
      cap = 0;
      size_t size = (bytes + 4095) & ~size_t(4095);
      ptr = std::aligned_alloc(64, size);
      if (!ptr) throw std::bad_alloc();
      cap = size;
    }
    return ptr;
  }
};

thread_local PackBuffer t_pack_a, t_pack_b;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <class T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  if (beta == T(1)) return;
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0)) {
      for (int64_t j = 0; j < N; ++j) c[j] = T(0);
    } else {
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
  }
}

// Below this many multiply-adds a problem runs on the calling thread alone; a task is given at
// least this much work.
constexpr double kMinTaskWork = 96.0 * 96.0 * 96.0;

// Splits C into a tm x tn grid of tasks, tm * tn <= threads, in whole micro-panels. Among the grids
// with the most tasks, picks the one that packs the least (A is packed once per task column, B
// once per task row).
void plan_grid(int64_t M, int64_t N, int64_t K, int64_t mpanels, int64_t npanels, int64_t* tm, int64_t* tn) {
  int64_t threads = ThreadPool::global().threads();
  double work = double(M) * double(N) * double(K);
  int64_t limit = std::min<int64_t>(threads, std::max<int64_t>(1, static_cast<int64_t>(work / kMinTaskWork)));
  *tm = 1;
  *tn = 1;
  int64_t best_tasks = 1;
  double best_cost = double(M) + double(N);
  for (int64_t a = 1; a <= limit && a <= mpanels; ++a) {
    int64_t b = std::min<int64_t>(limit / a, npanels);
    int64_t tasks = a * b;
    double cost = double(M) * double(b) + double(N) * double(a);
    if (tasks > best_tasks || (tasks == best_tasks && cost < best_cost)) {
      best_tasks = tasks;
      best_cost = cost;
      *tm = a;
      *tn = b;
    }
  }
}

template <class T, class Level>
void gemm_blocked_impl(const Level& L, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                       int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const int64_t mr = L.mr, nr = L.nr;
  const int64_t mpanels = ceil_div(M, mr), npanels = ceil_div(N, nr);
  // Depth blocks of (nearly) equal size, none tiny.
  const int64_t kblocks = ceil_div(K, L.kc);
  const int64_t kc_max = ceil_div(K, kblocks);

  int64_t tm, tn;
  plan_grid(M, N, K, mpanels, npanels, &tm, &tn);

  auto task = [&](int64_t t) {
    const int64_t ti = t / tn, tj = t % tn;
    const int64_t m0 = mpanels * ti / tm * mr, m1 = std::min(M, mpanels * (ti + 1) / tm * mr);
    const int64_t n0 = npanels * tj / tn * nr, n1 = std::min(N, npanels * (tj + 1) / tn * nr);
    if (m0 >= m1 || n0 >= n1) return;
    // Blocks of (nearly) equal size in whole micro-panels.
    const int64_t tmp = ceil_div(m1 - m0, mr), tnp = ceil_div(n1 - n0, nr);
    const int64_t mc = ceil_div(tmp, ceil_div(tmp, L.mc / mr)) * mr;
    const int64_t nc = ceil_div(tnp, ceil_div(tnp, L.nc / nr)) * nr;
    T* bpack = static_cast<T*>(t_pack_b.get(sizeof(T) * kc_max * nc));
    T* apack = static_cast<T*>(t_pack_a.get(sizeof(T) * kc_max * mc));

    for (int64_t jc = n0; jc < n1; jc += nc) {
      const int64_t ncur = std::min(nc, n1 - jc);
      for (int64_t pc = 0; pc < K; pc += kc_max) {
        const int64_t kc = std::min(kc_max, K - pc);
        const T beta_k = pc == 0 ? beta : T(1);
        for (int64_t jr = 0; jr < ncur; jr += nr)
          L.pack_b(tb, B, ldb, jc + jr, pc, std::min(nr, ncur - jr), kc, bpack + jr * kc);
        for (int64_t ic = m0; ic < m1; ic += mc) {
          const int64_t mcur = std::min(mc, m1 - ic);
          for (int64_t ir = 0; ir < mcur; ir += mr)
            L.pack_a(ta, A, lda, ic + ir, pc, std::min(mr, mcur - ir), kc, apack + ir * kc);
          for (int64_t jr = 0; jr < ncur; jr += nr) {
            const int64_t n = std::min(nr, ncur - jr);
            const T* bp = bpack + jr * kc;
            T* cc = C + ic * ldc + jc + jr;
            for (int64_t ir = 0; ir < mcur; ir += mr)
              L.micro(kc, apack + ir * kc, bp, cc + ir * ldc, ldc, std::min(mr, mcur - ir), n, alpha, beta_k);
          }
        }
      }
    }
  };
  ThreadPool::global().run(tm * tn, task);
}

// ---- the unpacked path ----------------------------------------------------------------------------

template <class T>
void gemm_small_impl(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                     int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  constexpr int64_t kChunk = 256;  // columns of C per item
  const int64_t chunks = ceil_div(N, kChunk);
  // One item = one row of C, kChunk columns wide. Items are independent: any split is deterministic.
  auto item = [&](int64_t lo, int64_t hi) {
    T acc[kChunk];
    for (int64_t it = lo; it < hi; ++it) {
      const int64_t i = it / chunks, j0 = (it % chunks) * kChunk, jn = std::min(kChunk, N - j0);
      if (!tb) {
        for (int64_t j = 0; j < jn; ++j) acc[j] = T(0);
        for (int64_t k = 0; k < K; ++k) {
          const T a = ta ? A[k * lda + i] : A[i * lda + k];
          const T* b = B + k * ldb + j0;
          for (int64_t j = 0; j < jn; ++j) acc[j] += a * b[j];
        }
      } else {
        for (int64_t j = 0; j < jn; ++j) {
          const T* b = B + (j0 + j) * ldb;
          T s[4] = {T(0), T(0), T(0), T(0)};
          int64_t k = 0;
          if (!ta) {
            const T* a = A + i * lda;
            for (; k + 4 <= K; k += 4) {
              s[0] += a[k] * b[k];
              s[1] += a[k + 1] * b[k + 1];
              s[2] += a[k + 2] * b[k + 2];
              s[3] += a[k + 3] * b[k + 3];
            }
            for (; k < K; ++k) s[0] += a[k] * b[k];
          } else {
            for (; k < K; ++k) s[0] += A[k * lda + i] * b[k];
          }
          acc[j] = (s[0] + s[1]) + (s[2] + s[3]);
        }
      }
      T* c = C + i * ldc + j0;
      if (beta == T(0)) {
        for (int64_t j = 0; j < jn; ++j) c[j] = alpha * acc[j];
      } else {
        for (int64_t j = 0; j < jn; ++j) c[j] = alpha * acc[j] + beta * c[j];
      }
    }
  };
  const int64_t items = M * chunks;
  const double work = double(M) * double(N) * double(K);
  if (work < 4.0 * kMinTaskWork || items < 2) {
    item(0, items);
    return;
  }
  const int64_t per_item = std::min(kChunk, N) * K;
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(kMinTaskWork) / std::max<int64_t>(1, per_item));
  parallel_for(0, items, grain, item);
}

constexpr double kSmallWork = 32.0 * 32.0 * 32.0;

bool use_small(int64_t M, int64_t N, int64_t K) {
  return M == 1 || N == 1 || double(M) * double(N) * double(K) < kSmallWork;
}

}  // namespace

const SgemmLevel& sgemm_level(SimdLevel level) { return kSgemmLevels[static_cast<int>(level)]; }
const DgemmLevel& dgemm_level(SimdLevel level) { return kDgemmLevels[static_cast<int>(level)]; }

void sgemm_blocked(const SgemmLevel& level, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_blocked_impl<float>(level, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm_blocked(const DgemmLevel& level, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                   const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_blocked_impl<double>(level, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_small(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_small_impl<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm_small(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                 const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_small_impl<double>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  if (use_small(M, N, K))
    gemm_small_impl<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    gemm_blocked_impl<float>(sgemm_level(simd_level()), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (use_small(M, N, K))
    gemm_small_impl<double>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    gemm_blocked_impl<double>(dgemm_level(simd_level()), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace qkv::cpu
