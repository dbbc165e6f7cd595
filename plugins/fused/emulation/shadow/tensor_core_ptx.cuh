// Stands in for plugins/common/tensor_core_ptx.cuh under the SIMT emulator: the same
// functions, written from the PTX ISA's descriptions rather than from the kernels' use of
// them (ldmatrix: "Warp-level matrix load instruction"; mma: "Matrix Fragments for
// mma.m16n8k16 with floating point type"), so a layout the kernels get wrong shows up.
#pragma once

#include "../simt.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace attnbench::ptx {

inline void cp_async_16(void* smem, const void* gmem, bool valid) {
  const simt::Copy copy{smem, gmem, valid};
  if (simt::state().copy_at_wait)
    simt::block().copies[threadIdx.x].open.push_back(copy);
  else
    simt::do_copy(copy);
}
inline void cp_async_commit() {
  simt::PendingCopies& mine = simt::block().copies[threadIdx.x];
  mine.groups.push_back(mine.open);
  mine.open.clear();
}
template <int N>
inline void cp_async_wait() {
  simt::PendingCopies& mine = simt::block().copies[threadIdx.x];
  while (static_cast<int>(mine.groups.size()) > N) {
    for (const simt::Copy& c : mine.groups.front()) simt::do_copy(c);
    mine.groups.erase(mine.groups.begin());
  }
}

inline uint16_t element_at(const void* row, int index) {
  uint16_t v;
  std::memcpy(&v, static_cast<const char*>(row) + 2 * index, 2);
  return v;
}

// .x4: lanes 8i .. 8i+7 give the row addresses of matrix i. Lane (g = lane / 4, t = lane % 4)
// receives in register i row g, columns 2t and 2t+1 of matrix i; with .trans, rows 2t and
// 2t+1 of column g. The lower index goes to the low half.
inline void ldmatrix(uint32_t (&r)[4], const void* smem, bool trans) {
  const uint64_t address = reinterpret_cast<uint64_t>(smem);
  if (address % 16 != 0) {
    std::fprintf(stderr, "ldmatrix: row address not 16-byte aligned\n");
    std::abort();
  }
  const auto rows = simt::exchange(&address, 1);
  const int g = simt::lane() / 4, t = simt::lane() % 4;
  const auto row = [&](int lane) { return reinterpret_cast<const void*>(rows[lane][0]); };
  for (int i = 0; i < 4; ++i) {
    const uint16_t lo =
        trans ? element_at(row(8 * i + 2 * t), g) : element_at(row(8 * i + g), 2 * t);
    const uint16_t hi =
        trans ? element_at(row(8 * i + 2 * t + 1), g) : element_at(row(8 * i + g), 2 * t + 1);
    r[i] = lo | static_cast<uint32_t>(hi) << 16;
  }
}
inline void ldmatrix_x4(uint32_t (&r)[4], const void* smem) { ldmatrix(r, smem, false); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem) { ldmatrix(r, smem, true); }

template <typename T>
inline float to_float(uint16_t bits) {
  T x;
  std::memcpy(&x, &bits, 2);
  return static_cast<float>(x);
}

// D = A B + C, with A (16x16) and B (16x8) rebuilt from every lane's fragments:
// lane (g, t) holds a0 = A[g][2t..], a1 = A[g+8][2t..], a2 = A[g][2t+8..], a3 = A[g+8][2t+8..],
// b0 = B[2t..][g], b1 = B[2t+8..][g], and c0..c3 = C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1].
template <typename T>
inline void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  const uint64_t words[6] = {a[0], a[1], a[2], a[3], b0, b1};
  const auto lanes = simt::exchange(words, 6);
  float A[16][16], B[16][8];
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    const auto half = [&](int reg, int which) {
      return to_float<T>(static_cast<uint16_t>(lanes[l][reg] >> (16 * which)));
    };
    for (int which = 0; which < 2; ++which) {
      A[g][2 * t + which] = half(0, which);
      A[g + 8][2 * t + which] = half(1, which);
      A[g][2 * t + 8 + which] = half(2, which);
      A[g + 8][2 * t + 8 + which] = half(3, which);
      B[2 * t + which][g] = half(4, which);
      B[2 * t + 8 + which][g] = half(5, which);
    }
  }
  const int g = simt::lane() / 4, t = simt::lane() % 4;
  for (int i = 0; i < 4; ++i) {
    const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
    for (int k = 0; k < 16; ++k) c[i] += A[row][k] * B[k][col];
  }
}

template <typename T>
inline uint32_t pack2(float lo, float hi) {
  const T a(lo), b(hi);  // round to nearest even, as __floats2half2_rn / __floats2bfloat162_rn
  uint16_t x, y;
  std::memcpy(&x, &a, 2);
  std::memcpy(&y, &b, 2);
  return x | static_cast<uint32_t>(y) << 16;
}

}  // namespace attnbench::ptx
