// The GEMM driver (BLIS-style): C = alpha * op(A) * op(B) + beta * C, row-major.
//
//   for jc in steps of NC                     B block  kc x nc  -> L3, shared by all threads
//     for pc in steps of KC                   one "phase": the threads pack B into NR-wide panels
//       for ic in steps of MC  (in parallel)    A block  mc x kc  -> L2, packed by the thread that
//         for jr in steps of NR                 B panel  kc x NR  -> L1     computes the tile
//           for ir in steps of MR                 micro-kernel: MR x NR accumulators in registers
//
// Transposes cost nothing past the packing: the packers read op(A) / op(B) either way. Edge tiles
// are zero-padded in the packed panels and written back through a small buffer by the micro-kernel.
//
// Threads: one pool.run per call; every participant claims work from shared atomic counters (B
// panels to pack, then tiles of C to compute) phase after phase, so the work balances itself even
// when a core is busy with something else. A participant only ever waits for work that another
// has already claimed (never for a participant to show up), so fewer threads than planned, or a
// nested call that the pool runs serially, still completes. Each element of C is summed in the
// same order (pc blocks in sequence, k in order within a block) whoever computes it: the result
// does not depend on the thread count or on scheduling.
//
// Tiny problems (M*N*K < 32^3) and matrix-vector shapes (M == 1 or N == 1) skip packing.
// Kernels per level: gemm_avx512.cpp (12x32 / 12x16), gemm_avx2.cpp (6x16 / 6x8), and the portable
// ones below (4x8 / 4x4). The level is simd_level() at the time of the call.
#include "cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <thread>

#include "core/thread_pool.h"
#include "cpu/gemm_kernels.h"
#include "cpu/gemm_pack.h"
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
  store_tile(&acc[0][0], NR, c, ldc, m, n, alpha, beta);
}

constexpr int kPortSMR = 4, kPortSNR = 8, kPortDMR = 4, kPortDNR = 4;

// The unpacked path, portable: rows of C 256 columns at a time, as sums of rows of op(B) (or, with
// op(B) = B^T, as dot products with 4 partial sums).
template <class T>
void small_portable(bool ta, bool tb, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t K, T alpha, const T* A,
                    int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  constexpr int64_t kChunk = 256;
  T acc[kChunk];
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t jc = j0; jc < j1; jc += kChunk) {
      const int64_t jn = std::min(kChunk, j1 - jc);
      if (!tb) {
        for (int64_t j = 0; j < jn; ++j) acc[j] = T(0);
        for (int64_t k = 0; k < K; ++k) {
          const T a = ta ? A[k * lda + i] : A[i * lda + k];
          const T* b = B + k * ldb + jc;
          for (int64_t j = 0; j < jn; ++j) acc[j] += a * b[j];
        }
      } else {
        for (int64_t j = 0; j < jn; ++j) {
          const T* b = B + (jc + j) * ldb;
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
      T* c = C + i * ldc + jc;
      if (beta == T(0)) {
        for (int64_t j = 0; j < jn; ++j) c[j] = alpha * acc[j];
      } else {
        for (int64_t j = 0; j < jn; ++j) c[j] = alpha * acc[j] + beta * c[j];
      }
    }
}

template <class T>
using SmallFn = void (*)(bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,
                         int64_t, T, T*, int64_t);

// ---- level tables -------------------------------------------------------------------------------
// Zen 3 (the development machine): 32 KiB L1d, 512 KiB L2 per core, 32 MiB shared L3.
// fp32 AVX2: B panel 256 x 16 x 4 B = 16 KiB (half of L1), A block 144 x 256 x 4 B = 144 KiB (L2),
// B block 256 x 4080 x 4 B = 4 MiB (L3).

// Packing is the template of gemm_pack.h for every level: instantiated here with baseline flags for
// the portable and AVX2 fp64 levels, in gemm_avx512.cpp with AVX-512 flags (the compiler vectorises
// the gather form with them), and in gemm_avx2.cpp for AVX2 fp32 with its 8x8 transposes.
const SgemmLevel kSgemmLevels[3] = {
    {kPortSMR, kPortSNR, 128, 256, 2048, micro_portable<float, kPortSMR, kPortSNR>,
     pack_a_panel<float, kPortSMR>, pack_b_panel<float, kPortSNR>, small_portable<float>},
    {gemm_avx2::kSgemmMR, gemm_avx2::kSgemmNR, 144, 256, 4080, gemm_avx2::sgemm_micro, gemm_avx2::sgemm_pack_a,
     gemm_avx2::sgemm_pack_b, gemm_avx2::sgemm_small},
    // The unpacked path of the AVX2 level serves AVX-512 processors too.
    {gemm_avx512::kSgemmMR, gemm_avx512::kSgemmNR, 144, 384, 3072, gemm_avx512::sgemm_micro,
     gemm_avx512::sgemm_pack_a, gemm_avx512::sgemm_pack_b, gemm_avx2::sgemm_small},
};

const DgemmLevel kDgemmLevels[3] = {
    {kPortDMR, kPortDNR, 64, 256, 2048, micro_portable<double, kPortDMR, kPortDNR>,
     pack_a_panel<double, kPortDMR>, pack_b_panel<double, kPortDNR>, small_portable<double>},
    {gemm_avx2::kDgemmMR, gemm_avx2::kDgemmNR, 72, 256, 4080, gemm_avx2::dgemm_micro,
     pack_a_panel<double, gemm_avx2::kDgemmMR>, pack_b_panel<double, gemm_avx2::kDgemmNR>, small_portable<double>},
    {gemm_avx512::kDgemmMR, gemm_avx512::kDgemmNR, 96, 256, 3072, gemm_avx512::dgemm_micro,
     gemm_avx512::dgemm_pack_a, gemm_avx512::dgemm_pack_b, small_portable<double>},
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

// The blocked driver's packing workspace, owned by the calling thread and shared with the pool's
// threads for the duration of one call.
thread_local PackBuffer t_workspace;

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

// Below this many multiply-adds a problem runs on the calling thread alone. A pool call costs at
// least one wake-up of a sleeping worker, measured at ~50 us on the 2-vCPU development VM (the
// caller waits for every worker to check in): about what 160^3 multiply-adds take on one core.
constexpr double kMinParallelWork = 160.0 * 160.0 * 160.0;
// The unpacked path hands each pool task at least this much work.
constexpr double kMinTaskWork = 96.0 * 96.0 * 96.0;

// Waits until `counter` reaches `target`. Only ever waits for work that running threads have
// already claimed, so it cannot deadlock, even when fewer threads than planned take part.
void wait_for(const std::atomic<int64_t>& counter, int64_t target) {
  for (int spins = 0; counter.load(std::memory_order_acquire) < target; ++spins) {
    if (spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else
      std::this_thread::yield();
  }
}

// Shared schedule of one blocked GEMM. Phases are the (jc, pc) blocks in order. In each phase the
// participants claim B panels to pack into the phase's B buffer (two buffers alternate), then
// claim tiles of C (an MC block of rows x a slice of the phase's columns; each tile packs its own
// A block). There is no barrier between phases: a tile waits only for the same tile of the
// previous depth block, and packing B waits only until the phase two back (the last reader of
// that buffer) is done, so a thread that finishes its tiles early moves on to the next phase.
struct Phase {
  std::atomic<int64_t> b_claim{0}, b_done{0}, c_claim{0}, c_done{0};
};

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
  // Blocks of (nearly) equal size: depth, columns (in NR panels), rows (in MR panels).
  const int64_t kblocks = ceil_div(K, L.kc), kc_max = ceil_div(K, kblocks);
  const int64_t nblocks = ceil_div(npanels, std::max<int64_t>(1, L.nc / nr));
  const int64_t nc_panels = ceil_div(npanels, nblocks), nc_max = nc_panels * nr;
  const double work = double(M) * double(N) * double(K);
  const int64_t threads = work < kMinParallelWork ? 1 : ThreadPool::global().threads();
  int64_t mblocks = ceil_div(mpanels, std::max<int64_t>(1, L.mc / mr));
  // With rows enough for every thread (4 MR panels each at least), a multiple of `threads` row
  // blocks balances the work without splitting a row block's columns, which would make every
  // thread sharing the block pack the same A block again.
  const bool rows_suffice = threads > 1 && mpanels >= 4 * threads;
  if (rows_suffice) mblocks = ceil_div(mblocks, threads) * threads;
  const int64_t mc_panels = ceil_div(mpanels, mblocks), mc_max = mc_panels * mr;
  const int64_t phases = nblocks * kblocks;
  // Tiles per phase: each MC row block, split over columns when there are too few rows to keep
  // every thread busy -- but never into slices narrower than 4 NR panels.
  const int64_t splits = threads == 1 || rows_suffice
                             ? 1
                             : std::max<int64_t>(1, std::min(ceil_div(4 * threads, mblocks), std::max<int64_t>(1, nc_panels / 4)));
  const int64_t tiles = mblocks * splits;

  // Workspace (the calling thread's, allocated before any task runs): two B buffers, then one A
  // block per participant; every piece 64-byte aligned.
  const size_t bbytes = (sizeof(T) * static_cast<size_t>(kc_max * nc_max) + 63) & ~size_t(63);
  const size_t abytes = (sizeof(T) * static_cast<size_t>(kc_max * mc_max) + 63) & ~size_t(63);
  const int nbuf = phases > 1 ? 2 : 1;
  char* ws = static_cast<char*>(t_workspace.get(bbytes * nbuf + abytes * static_cast<size_t>(threads)));
  T* bbuf[2] = {reinterpret_cast<T*>(ws), reinterpret_cast<T*>(ws + bbytes * (nbuf - 1))};
  std::unique_ptr<Phase[]> sched(new Phase[phases]);
  // Depth blocks done, per tile of each column block.
  std::unique_ptr<std::atomic<int64_t>[]> progress(new std::atomic<int64_t>[nblocks * tiles]);
  for (int64_t i = 0; i < nblocks * tiles; ++i) progress[i].store(0, std::memory_order_relaxed);

  auto participant = [&](int64_t self) {
    T* apack = reinterpret_cast<T*>(ws + bbytes * nbuf + abytes * static_cast<size_t>(self));
    int64_t packed_phase = -1, packed_mb = -1;  // the A block in apack
    for (int64_t ph = 0; ph < phases; ++ph) {
      Phase& P = sched[ph];
      const int64_t nb = ph / kblocks, kb = ph % kblocks;
      const int64_t jp0 = npanels * nb / nblocks, jp1 = npanels * (nb + 1) / nblocks;  // panels of this block
      const int64_t jc = jp0 * nr, ncur = std::min(N, jp1 * nr) - jc;
      const int64_t pc = K * kb / kblocks, kc = K * (kb + 1) / kblocks - pc;
      T* bp = bbuf[ph & 1];
      // Pack B into the buffer that phase ph - 2 read.
      if (ph >= 2) wait_for(sched[ph - 2].c_done, tiles);
      for (int64_t p; (p = P.b_claim.fetch_add(1, std::memory_order_relaxed)) < jp1 - jp0;) {
        L.pack_b(tb, B, ldb, jc + p * nr, pc, std::min(nr, ncur - p * nr), kc, bp + p * nr * kc);
        P.b_done.fetch_add(1, std::memory_order_release);
      }
      wait_for(P.b_done, jp1 - jp0);
      const T beta_k = kb == 0 ? beta : T(1);
      const int64_t npan = jp1 - jp0;
      for (int64_t t; (t = P.c_claim.fetch_add(1, std::memory_order_relaxed)) < tiles;) {
        const int64_t mb = t / splits, sp = t % splits;
        const int64_t ip0 = mpanels * mb / mblocks, ip1 = mpanels * (mb + 1) / mblocks;
        const int64_t ic = ip0 * mr, mcur = std::min(M, ip1 * mr) - ic;
        const int64_t q0 = npan * sp / splits, q1 = npan * (sp + 1) / splits;
        // The previous depth block accumulates into the same part of C: it goes first.
        std::atomic<int64_t>& done = progress[nb * tiles + t];
        if (kb > 0) wait_for(done, kb);
        if (packed_phase != ph || packed_mb != mb) {
          for (int64_t ir = 0; ir < mcur; ir += mr)
            L.pack_a(ta, A, lda, ic + ir, pc, std::min(mr, mcur - ir), kc, apack + ir * kc);
          packed_phase = ph;
          packed_mb = mb;
        }
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t jr = q * nr, n = std::min(nr, ncur - jr);
          const T* b = bp + jr * kc;
          T* cc = C + ic * ldc + jc + jr;
          for (int64_t ir = 0; ir < mcur; ir += mr)
            L.micro(kc, apack + ir * kc, b, cc + ir * ldc, ldc, std::min(mr, mcur - ir), n, alpha, beta_k);
        }
        done.store(kb + 1, std::memory_order_release);
        P.c_done.fetch_add(1, std::memory_order_release);
      }
    }
  };
  if (threads == 1)
    participant(0);
  else
    ThreadPool::global().run(threads, participant);
}

// ---- the unpacked path ----------------------------------------------------------------------------

template <class T>
void gemm_small_impl(SmallFn<T> small, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                     int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  // Matrix-vector shapes read the vector as a contiguous row (gathered first if strided): A as
  // not transposed when M == 1, B as transposed when N == 1 (dot products) -- except A^T x, which
  // is computed as the row x^T A (into a temporary, as C's column may be strided).
  if (N == 1 && ta) {
    std::unique_ptr<T[]> x, y(new T[M]);
    const T* xv = B;
    if (!tb && ldb != 1) {
      x.reset(new T[K]);
      for (int64_t k = 0; k < K; ++k) x[k] = B[k * ldb];
      xv = x.get();
    }
    gemm_small_impl<T>(small, false, false, 1, M, K, T(1), xv, K, A, lda, T(0), y.get(), M);
    for (int64_t i = 0; i < M; ++i) {
      T* c = C + i * ldc;
      *c = beta == T(0) ? alpha * y[i] : alpha * y[i] + beta * *c;
    }
    return;
  }
  std::unique_ptr<T[]> gathered;
  if (M == 1 && ta) {
    if (lda != 1) {
      gathered.reset(new T[K]);
      for (int64_t k = 0; k < K; ++k) gathered[k] = A[k * lda];
      A = gathered.get();
    }
    lda = K, ta = false;
  } else if (N == 1 && !tb) {
    if (ldb != 1) {
      gathered.reset(new T[K]);
      for (int64_t k = 0; k < K; ++k) gathered[k] = B[k * ldb];
      B = gathered.get();
    }
    ldb = K, tb = true;
  }
  // Both transposed (rare): copy op(A) to rows, which makes it A * B^T.
  std::unique_ptr<T[]> a_rows;
  if (ta && tb) {
    a_rows.reset(new T[M * K]);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t k = 0; k < K; ++k) a_rows[i * K + k] = A[k * lda + i];
    A = a_rows.get(), lda = K, ta = false;
  }
  const double work = double(M) * double(N) * double(K);
  constexpr int64_t kRows = 4, kCols = 256;  // a block of C per item
  const int64_t row_blocks = ceil_div(M, kRows), col_blocks = ceil_div(N, kCols), items = row_blocks * col_blocks;
  if (work < kMinParallelWork || items < 2) {
    small(ta, tb, 0, M, 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Items are independent (each computes its own block of C): any split is deterministic.
  const int64_t per_item = std::min(kRows, M) * std::min(kCols, N) * K;
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(kMinTaskWork) / std::max<int64_t>(1, per_item));
  parallel_for(0, items, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t it = lo; it < hi; ++it) {
      const int64_t i = (it / col_blocks) * kRows, j = (it % col_blocks) * kCols;
      small(ta, tb, i, std::min(M, i + kRows), j, std::min(N, j + kCols), K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
  });
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
  gemm_small_impl<float>(sgemm_level(simd_level()).small, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm_small(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                 const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_small_impl<double>(dgemm_level(simd_level()).small, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  const SgemmLevel& level = sgemm_level(simd_level());
  if (use_small(M, N, K))
    gemm_small_impl<float>(level.small, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    gemm_blocked_impl<float>(level, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  const DgemmLevel& level = dgemm_level(simd_level());
  if (use_small(M, N, K))
    gemm_small_impl<double>(level.small, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    gemm_blocked_impl<double>(level, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace qkv::cpu
