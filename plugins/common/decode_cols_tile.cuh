// Decode's tensor-core step with the product turned around: S^T = K Q^T with a tile's 16 keys
// as the rows of mma.m16n8k16 and up to 8 query heads of a group as its columns, then
// O^T += V^T P^T. A decode block has one query row per head; with the heads as the rows
// (warp_attend_tile), a group of 4 fills 4 of 16 rows and three quarters of the tensor-core
// and softmax work is padding. Here it fills 4 of 8 columns: per 16 keys, D / 16 products for
// S^T and D / 16 for O^T instead of twice as many each, 4 scores a lane instead of 8, and the
// queries' fragments loaded once per block instead of once per tile.
#pragma once

#include "flash_warp_tile.cuh"

namespace attnbench::flash {

// One warp's online-softmax state over 8 query heads, the columns: the O^T accumulator (D / 16
// m16 tiles; C layout: rows d = 16 i + g and + 8, columns heads 2t and 2t + 1) and, for this
// lane's heads 2t and 2t + 1, the running max of the scores (log2 units) and this lane's part
// of the sum (the 8 lanes g = 0..7 of a column hold different keys; added up at the end).
template <int D>
struct ColState {
  float o[D / 16][4];
  float max[2];
  float sum[2];

  __device__ __forceinline__ void init() {
#pragma unroll
    for (int i = 0; i < D / 16; ++i)
#pragma unroll
      for (int c = 0; c < 4; ++c) o[i][c] = 0.0f;
    max[0] = max[1] = kNegInf;
    sum[0] = sum[1] = 0.0f;
  }

  // Head 2t + j's sum, after the last tile: the column's 8 parts added up.
  __device__ __forceinline__ float col_sum(int j) const {
    float s = sum[j];
    s += __shfl_xor_sync(0xffffffffu, s, 4);
    s += __shfl_xor_sync(0xffffffffu, s, 8);
    s += __shfl_xor_sync(0xffffffffu, s, 16);
    return s;
  }
};

// The head-dim order of the step. In k16 slice kk, lane (g, t)'s k-indices 2t + j and
// 2t + 8 + j (j = 0, 1) stand for head-dim elements cols_element(kk, t) + j and + 2 + j: a
// lane reads a key's row as D / 4 consecutive elements, 4 a slice, so an int8 row comes in
// 16-byte loads and becomes the K operand in registers (S^T sums over the head dim, so any
// order serves that Q's and K's fragments share).
template <int D>
__device__ __forceinline__ int cols_element(int kk, int t) {
  return (D / 4) * t + 4 * kk;
}

// The B fragments of S^T = K Q^T (Q^T: k16 slices of the head dim x 8 heads) for every slice,
// in that order: b0 = Q[head g][e, e + 1], b1 = Q[head g][e + 2, e + 3], e = cols_element,
// from sQ's rows 0..7 (swizzled, as start_decode_rows leaves it), loaded once per block.
template <typename T, int D>
struct QueryCols {
  uint32_t b[D / 16][2];

  __device__ __forceinline__ void load(const T* sQ) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const int e = cols_element<D>(kk, t);
      const uint2 v = *reinterpret_cast<const uint2*>(sQ + swizzled<D>(g, e / 8) + e % 8);
      b[kk][0] = v.x;
      b[kk][1] = v.y;
    }
  }
};

// The warp's 8 heads attend to 16 keys: K's operand from k_op (k_op.a(kk, a) gives slice
// kk's A fragment), V in tile rows key_row0 .. key_row0 + 15 of sV (swizzled); the keys'
// absolute positions start at key0, and those outside [lo, hi) are masked when `masked`.
// `format` is what the cache format adds: a cache that stores each key's K and V rows scaled
// (int8_kv: integers times a per-token scale) applies the scales once per key, not to every
// element: tile row r's scores are multiplied by format.k(r), its weights, for P V only, by
// format.v(r); format.before_pv() runs after the scores, before sV is read (int8_kv
// converts its V rows there).
template <typename T, int D, typename KOperand, typename Format>
__device__ __forceinline__ void warp_attend_cols(const QueryCols<T, D>& q, const KOperand& k_op,
                                                 const T* sV, int key_row0, int32_t key0,
                                                 bool masked, int32_t lo, int32_t hi,
                                                 float scale_log2, ColState<D>& st,
                                                 const Format& format) {
  const int lane = threadIdx.x & 31, g = lane >> 2;
  // S^T, fp32. A (K, 16 keys x 16 of the head dim) of slice kk from k_op.a(kk, a): a0, a2 of
  // key g, a1, a3 of key g + 8, in cols_element's order. Even and odd slices accumulate
  // apart: two dependent chains of half the length.
  float s2[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t a[4];
    k_op.a(kk, a);
    ptx::mma_16816<T>(s2[kk & 1], a, q.b[kk][0], q.b[kk][1]);
  }
  // Element c: key row key_row0 + g + 8 (c / 2) (position key0 + g + 8 (c / 2)), head
  // 2t + c % 2. To log2 units, with the key's scale; -inf outside [lo, hi).
  float s[4];
  const float k_factor[2] = {scale_log2 * format.k(key_row0 + g),
                             scale_log2 * format.k(key_row0 + g + 8)};
#pragma unroll
  for (int c = 0; c < 4; ++c) {
    s[c] = (s2[0][c] + s2[1][c]) * k_factor[c >> 1];
    if (masked) {
      const int32_t key = key0 + g + 8 * (c >> 1);
      if (key < lo || key >= hi) s[c] = kNegInf;
    }
  }

  // Online softmax per head (column): its 16 scores are in elements j and j + 2 of the 8
  // lanes g = 0..7 with this t, so the max is reduced over lanes 4, 8 and 16 apart.
  float correction[2];
  bool max_moved = false;
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    float tile_max = fmaxf(s[j], s[j + 2]);
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 4));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 8));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 16));
    const float new_max = fmaxf(st.max[j], tile_max);
    const float base = new_max == kNegInf ? 0.0f : new_max;  // as in warp_attend_tile
    correction[j] = ptx::exp2_ftz(st.max[j] - base);
    max_moved |= correction[j] != 1.0f;
    st.max[j] = new_max;
    s[j] = ptx::exp2_ftz(s[j] - base);
    s[j + 2] = ptx::exp2_ftz(s[j + 2] - base);
    st.sum[j] = st.sum[j] * correction[j] + s[j] + s[j + 2];
  }
  if (__any_sync(0xffffffffu, max_moved)) {
#pragma unroll
    for (int i = 0; i < D / 16; ++i)
#pragma unroll
      for (int c = 0; c < 4; ++c) st.o[i][c] *= correction[c & 1];
  }

  format.before_pv();
  // P^T (16 keys x 8 heads, in the C layout) to the B fragment of O^T += V^T P^T: each 8x8
  // half, packed to T with its key's V scale, transposed across the warp, is b0 (keys 0..7)
  // or b1 (keys 8..15): lane (g, t) then holds P[head g][keys 2t, 2t + 1] of it.
  const float v0 = format.v(key_row0 + g), v1 = format.v(key_row0 + g + 8);
  const uint32_t b0 = ptx::movmatrix_trans(ptx::pack2<T>(s[0] * v0, s[1] * v0));
  const uint32_t b1 = ptx::movmatrix_trans(ptx::pack2<T>(s[2] * v1, s[3] * v1));
  // A (V^T, 16 of the head dim x 16 keys) by the transposing load of V's rows: lane l
  // addresses key (l % 8) + 8 (l / 16), chunk 2 dd + (l / 8) % 2.
#pragma unroll
  for (int dd = 0; dd < D / 16; ++dd) {
    uint32_t a[4];
    ptx::ldmatrix_x4_trans(a, sV + swizzled<D>(key_row0 + (lane & 7) + ((lane >> 4) << 3),
                                               dd * 2 + ((lane >> 3) & 1)));
    ptx::mma_16816<T>(st.o[dd], a, b0, b1);
  }
}

// Stages a ColState for merge_decode_rows<..., 8> (see flash_warp_tile.cuh).
template <int D, int kWarps>
__device__ __forceinline__ void stage_decode_cols(const ColState<D>& st, float* scratch) {
  constexpr int kHeads = 8;
  const DecodeScratch<D, kWarps, kHeads> s(scratch);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    const int r = warp * kHeads + 2 * t + j;
    const float sum = st.col_sum(j);
    if (g == 0) {
      s.max[r] = st.max[j];
      s.sum[r] = sum;
    }
#pragma unroll
    for (int i = 0; i < D / 16; ++i) {
      s.o[r * D + 16 * i + g] = st.o[i][j];
      s.o[r * D + 16 * i + g + 8] = st.o[i][j + 2];
    }
  }
}

}  // namespace attnbench::flash
