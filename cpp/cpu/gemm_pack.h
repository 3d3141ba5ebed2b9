#pragma once
// Internal to the GEMM: the packing and edge-tile write-back that every SIMD level shares (the
// packed layouts are described in gemm_kernels.h). Each level's translation unit instantiates the
// template with its micro-tile MR / NR and, where it has one, a transpose policy of its ISA.
//
// Everything here has internal linkage (unnamed namespace) and uses no std:: templates: each
// translation unit compiles its own copy with its own ISA flags, so the linker can never pick an
// AVX-512 copy for a caller on an AVX2-only processor (see the ODR note in gemm_kernels.h).
#include <cstdint>
#include <cstring>

namespace qkv::cpu {
namespace {

// The default policy: no SIMD transpose, the gather form is packed with plain loops.
struct NoTranspose {
  static constexpr int kK = 0;
};
// A transpose policy has kK, kRows > 0 and `template <int Rows> static void block(const T* s,
// int64_t ld, T* d, int64_t ldd)`: d[k*ldd + r] = s[r*ld + k] for r < Rows <= kRows, k < kK.

// dst[k*R + r] = element (r, k) of the panel, r < cnt <= R; zero for cnt <= r < R. `contiguous`:
// the R elements of one k are adjacent in the source (stride 1 along r, ld along k: A^T for A, B
// for B); otherwise adjacent along k (stride 1 along k, ld along r: A for A, B^T for B).
template <class T, int R, class Transpose = NoTranspose>
void pack_panel(bool contiguous, const T* src, int64_t ld, int64_t r0, int64_t p0, int64_t cnt, int64_t kc,
                T* dst) {
  int64_t k = 0;
  if (cnt == R) {  // full panels: fixed-size copies, or the policy's transposes
    if (contiguous) {
      const T* s = src + p0 * ld + r0;
      for (; k < kc; ++k, s += ld) std::memcpy(dst + k * R, s, sizeof(T) * R);
      return;
    }
    if constexpr (Transpose::kK > 0) {
      constexpr int kTail = R % Transpose::kRows;
      const T* s = src + r0 * ld + p0;
      for (; k + Transpose::kK <= kc; k += Transpose::kK) {
        int r = 0;
        for (; r + Transpose::kRows <= R; r += Transpose::kRows)
          Transpose::template block<Transpose::kRows>(s + r * ld + k, ld, dst + k * R + r, R);
        if constexpr (kTail > 0) Transpose::template block<kTail>(s + r * ld + k, ld, dst + k * R + r, R);
      }
    }
  }
  // Edge panels, and the k left over by the policy's blocks.
  for (; k < kc; ++k) {
    T* d = dst + k * R;
    int64_t r = 0;
    if (contiguous) {
      const T* s = src + (p0 + k) * ld + r0;
      for (; r < cnt; ++r) d[r] = s[r];
    } else {
      const T* s = src + r0 * ld + p0 + k;
      for (; r < cnt; ++r) d[r] = s[r * ld];
    }
    for (; r < R; ++r) d[r] = T(0);
  }
}

// The level's pack_a / pack_b (SgemmPack / DgemmPack): panels of MR rows of op(A), NR columns of op(B).
template <class T, int MR, class Transpose = NoTranspose>
void pack_a_panel(bool trans, const T* src, int64_t ld, int64_t i0, int64_t p0, int64_t m, int64_t kc, T* dst) {
  pack_panel<T, MR, Transpose>(trans, src, ld, i0, p0, m, kc, dst);
}
template <class T, int NR, class Transpose = NoTranspose>
void pack_b_panel(bool trans, const T* src, int64_t ld, int64_t j0, int64_t p0, int64_t n, int64_t kc, T* dst) {
  pack_panel<T, NR, Transpose>(!trans, src, ld, j0, p0, n, kc, dst);
}

// Writes the tile of accumulators `t` (row-major, nr per row) to C[0:m, 0:n]: the edge tiles
// that the micro-kernels cannot store whole.
template <class T>
void store_tile(const T* t, int nr, T* c, int64_t ldc, int64_t m, int64_t n, T alpha, T beta) {
  for (int64_t i = 0; i < m; ++i) {
    T* cr = c + i * ldc;
    const T* tr = t + i * nr;
    if (beta == T(0)) {
      for (int64_t j = 0; j < n; ++j) cr[j] = alpha * tr[j];
    } else {
      for (int64_t j = 0; j < n; ++j) cr[j] = alpha * tr[j] + beta * cr[j];
    }
  }
}

}  // namespace
}  // namespace qkv::cpu
