// The int8 decode's tensor-core step, with the product turned around: S^T = K Q^T with a
// tile's 16 keys as the rows of mma.m16n8k32.s8 (K's int8 rows used as they are, Q quantized
// once per block) and up to 8 query heads of a group as its columns, then O^T += V^T P^T in
// fp16/bf16 (m16n8k16, V's operand converted from its int8 rows in registers). A decode block has one query row per head; with
// the heads as the rows (warp_attend_tile), a group of 4 fills 4 of 16 rows and three
// quarters of the tensor-core and softmax work is padding. Here it fills 4 of 8 columns: 4
// scores a lane instead of 8, and the queries' fragments loaded once per block instead of
// once per tile.
#pragma once

#include "../common/flash_warp_tile.cuh"
#include "int8_kv_format.hpp"  // quant_scale

namespace attnbench::flash {

// One warp's online-softmax state over 8 query heads, the columns: the O^T accumulator (D / 16
// m16 tiles; C layout: rows g and g + 8 of tile i are head-dim elements (D / 8) g + 2 i and
// + 1 (see warp_attend_cols), columns heads 2t and 2t + 1) and, for this
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

// The int8 queries. S^T = K Q^T runs on the integer tensor cores (mma.m16n8k32.s8): K's int8
// rows are the A operand as they sit in shared memory, no conversion. Q is quantized once per
// block, per head, into two int8 parts, q ~ s (hi + lo / 256) with s = max|q| / 127 (an error
// below s / 256, finer than fp16's own rounding near the row's max): the two products share
// K's fragments, and their int32 sums are combined in fp32. k32 slice kk covers head-dim
// elements 32 kk .. 32 kk + 31 in order: lane (g, t)'s B registers h = 0, 1 hold elements
// cols_element(kk, h, t) .. + 3.
__device__ __forceinline__ int cols_element(int kk, int h, int t) { return 32 * kk + 16 * h + 4 * t; }

// |dot| < 2^22 for D int8 products of magnitude 127^2: an int32 sum that starts at the bits of
// 1.5 * 2^23 then reads as the float 1.5 * 2^23 + dot, no conversion instruction.
constexpr int32_t kDotBiasBits = 0x4B400000;
constexpr float kDotBias = 12582912.0f;

// The B fragments of S^T = K Q^T (Q^T: k32 slices of the head dim x 8 heads) for every slice,
// both parts: hi/lo[kk][h] = int8 Q[head g][cols_element(kk, h, t) .. + 3], from sQ's rows 0..7
// (swizzled, as start_decode_rows leaves it; rows past the group's heads are zeros), and, for
// this lane's columns (heads 2t + j), the factor that turns the biased sums into dot products.
template <int D>
struct QueryCols {
  static_assert(D * 127 * 127 < (1 << 22), "int32 dot products within the float bias");
  uint32_t hi[D / 32][2], lo[D / 32][2];
  float scale[2];  // s of heads 2t, 2t + 1

  template <typename T>
  __device__ __forceinline__ void load(const T* sQ) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    float x[D / 4];  // this lane's elements, word 2 kk + h of them at cols_element(kk, h, t)
#pragma unroll
    for (int w = 0; w < D / 16; ++w) {
      const int e = cols_element(w / 2, w % 2, t);
      const uint2 v = *reinterpret_cast<const uint2*>(sQ + swizzled<D>(g, e / 8) + e % 8);
      const T* four = reinterpret_cast<const T*>(&v);
#pragma unroll
      for (int i = 0; i < 4; ++i) x[4 * w + i] = plain_kv::to_float(four[i]);
    }
    float absmax = 0.0f;
#pragma unroll
    for (int i = 0; i < D / 4; ++i) absmax = fmaxf(absmax, fabsf(x[i]));
    absmax = fmaxf(absmax, __shfl_xor_sync(0xffffffffu, absmax, 1));
    absmax = fmaxf(absmax, __shfl_xor_sync(0xffffffffu, absmax, 2));
    const float s = int8_kv::quant_scale(absmax), inv = 1.0f / s;
#pragma unroll
    for (int w = 0; w < D / 16; ++w) {
      uint32_t h = 0, l = 0;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float v = x[4 * w + i] * inv, vh = rintf(v);  // |v| <= 127
        const float vl = fminf(fmaxf(rintf((v - vh) * 256.0f), -127.0f), 127.0f);
        h |= (static_cast<uint32_t>(static_cast<int32_t>(vh)) & 0xffu) << (8 * i);
        l |= (static_cast<uint32_t>(static_cast<int32_t>(vl)) & 0xffu) << (8 * i);
      }
      hi[w / 2][w % 2] = h;
      lo[w / 2][w % 2] = l;
    }
#pragma unroll
    for (int j = 0; j < 2; ++j) scale[j] = __shfl_sync(0xffffffffu, s, 4 * (2 * t + j));
  }
};

// Two int8 values, byte jj of words x and y, as the T pair (x's low, y's high) of one MMA
// register, exactly (|q| <= 127 needs 8 significant bits). fp16: x's byte to byte 0, y's to
// byte 2, then (byte ^ 0x80) becomes the low mantissa byte of 1024.0 (0x6400, where fp16
// steps by exactly 1) and 1152 is subtracted: one permute, one logic op, one subtraction.
template <typename T>
__device__ __forceinline__ uint32_t int8_pair_to(uint32_t x, uint32_t y, int jj) {
  if constexpr (std::is_same_v<T, __half>) {
    const uint32_t bits = (__byte_perm(x, y, jj | (jj << 4) | ((4 + jj) << 8) | ((4 + jj) << 12)) & 0x00ff00ffu) ^
                          0x64806480u;
    const __half2 v = __hsub2(*reinterpret_cast<const __half2*>(&bits), __half2half2(__ushort_as_half(0x6480)));
    return *reinterpret_cast<const uint32_t*>(&v);
  } else {
    float fx[4], fy[4];
    int8_kv::int8x4_to_float(x, fx);
    int8_kv::int8x4_to_float(y, fy);
    return ptx::pack2<T>(fx[jj], fy[jj]);
  }
}

// The warp's 8 heads attend to 16 keys: K's operand from k_op (k_op.a(kk, a) gives k32 slice
// kk's int8 A fragment), V's int8 rows from format.v_words; the keys' absolute positions
// start at key0, and those outside [lo, hi) are masked when `masked`.
// `format` is what the cache format adds: a cache that stores each key's K and V rows scaled
// (int8_kv: integers times a per-token scale) applies the scales once per key, not to every
// element: tile row r's scores are multiplied by format.k(r), its weights, for P V only, by
// format.v(r); format.v_words(r, w) gives this lane's D / 8 int8 values of V's tile row r,
// head-dim elements (D / 8) g onwards (g = lane / 4), as D / 32 words.
template <typename T, int D, typename KOperand, typename Format>
__device__ __forceinline__ void warp_attend_cols(const QueryCols<D>& q, const KOperand& k_op,
                                                 int key_row0, int32_t key0,
                                                 bool masked, int32_t lo, int32_t hi,
                                                 float scale_log2, ColState<D>& st,
                                                 const Format& format) {
  const int lane = threadIdx.x & 31, g = lane >> 2;
  // S^T. A (K, 16 keys x 32 of the head dim) of slice kk from k_op.a(kk, a): a0, a2 of key g,
  // a1, a3 of key g + 8. The two parts of Q: two chains of D / 32.
  int32_t dot_hi[4] = {kDotBiasBits, kDotBiasBits, kDotBiasBits, kDotBiasBits};
  int32_t dot_lo[4] = {kDotBiasBits, kDotBiasBits, kDotBiasBits, kDotBiasBits};
#pragma unroll
  for (int kk = 0; kk < D / 32; ++kk) {
    uint32_t a[4];
    k_op.a(kk, a);
    ptx::mma_16832_s8(dot_hi, a, q.hi[kk][0], q.hi[kk][1]);
    ptx::mma_16832_s8(dot_lo, a, q.lo[kk][0], q.lo[kk][1]);
  }
  // Element c: key row key_row0 + g + 8 (c / 2) (position key0 + g + 8 (c / 2)), head
  // 2t + c % 2: s (hi + lo / 256) . k, to log2 units, with the key's scale; -inf outside
  // [lo, hi). (hi_biased - bias (1 + 1/256)) is exact (Sterbenz), and adds lo_biased / 256.
  float s[4];
  const float k_factor[2] = {scale_log2 * format.k(key_row0 + g),
                             scale_log2 * format.k(key_row0 + g + 8)};
#pragma unroll
  for (int c = 0; c < 4; ++c) {
    const float dot = fmaf(int8_kv::as_float(static_cast<uint32_t>(dot_lo[c])), 1.0f / 256.0f,
                           int8_kv::as_float(static_cast<uint32_t>(dot_hi[c])) - kDotBias * (1.0f + 1.0f / 256.0f));
    s[c] = dot * (q.scale[c & 1] * k_factor[c >> 1]);
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

  // P^T (16 keys x 8 heads, in the C layout) to the B fragment of O^T += V^T P^T: each 8x8
  // half, packed to T with its key's V scale, transposed across the warp, is b0 (keys 0..7)
  // or b1 (keys 8..15): lane (g, t) then holds P[head g][keys 2t, 2t + 1] of it.
  float v0 = format.v(key_row0 + g), v1 = format.v(key_row0 + g + 8);
  if (masked) {  // a masked key's scale may be any bits (a page's unwritten slot): 0 * inf is NaN
    const int32_t key = key0 + g;
    if (key < lo || key >= hi) v0 = 0.0f;
    if (key + 8 < lo || key + 8 >= hi) v1 = 0.0f;
  }
  const uint32_t b0 = ptx::movmatrix_trans(ptx::pack2<T>(s[0] * v0, s[1] * v0));
  const uint32_t b1 = ptx::movmatrix_trans(ptx::pack2<T>(s[2] * v1, s[3] * v1));
  // A (V^T, 16 of the head dim x 16 keys), built in registers from V's int8 rows, no 16-bit
  // tile in between: lane (g, t)'s registers pair keys 2t, 2t + 1 (a0, a1) and 2t + 8, 2t + 9
  // (a2, a3), so it reads those four rows, and the head dim is renumbered so that all of its
  // elements come from one span of each row: row g of d-tile dd stands for head-dim element
  // (D / 8) g + 2 dd, row g + 8 for the one after (ColState's rows, undone in
  // stage_decode_cols). Bytes 2 dd and 2 dd + 1 of the lane's span give a0 and a1 (a2, a3).
  constexpr int kWords = D / 32;
  const int t = lane & 3;
  uint32_t w[4][kWords];  // keys 2t, 2t + 1, 2t + 8, 2t + 9 of the warp's 16
#pragma unroll
  for (int k = 0; k < 4; ++k) format.v_words(key_row0 + 2 * t + (k & 1) + 8 * (k >> 1), w[k]);
#pragma unroll
  for (int dd = 0; dd < D / 16; ++dd) {
    const int word = dd / 2, jj = 2 * (dd % 2);
    uint32_t a[4] = {int8_pair_to<T>(w[0][word], w[1][word], jj), int8_pair_to<T>(w[0][word], w[1][word], jj + 1),
                     int8_pair_to<T>(w[2][word], w[3][word], jj), int8_pair_to<T>(w[2][word], w[3][word], jj + 1)};
    ptx::mma_16816<T>(st.o[dd], a, b0, b1);
  }
}

// Stages a ColState for merge_decode_rows<..., 8> (see flash_warp_tile.cuh).
template <int D, int kWarps>
__device__ __forceinline__ void stage_decode_cols(const ColState<D>& st, float* scratch) {
  constexpr int kHeads = 8;
  using Scratch = DecodeScratch<D, kWarps, kHeads>;
  const Scratch s(scratch);
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
    for (int i = 0; i < D / 16; ++i)  // rows g and g + 8 of d-tile i: elements (D / 8) g + 2 i, + 1
      *reinterpret_cast<float2*>(s.o + r * Scratch::kStride + D / 8 * g + 2 * i) = make_float2(st.o[i][j], st.o[i][j + 2]);
  }
}

}  // namespace attnbench::flash
