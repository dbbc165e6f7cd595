// The device pieces the fused prefill and decode kernels share: the launch parameters,
// shared-memory tiles, the paged K/V tile planner and loader (cp.async), and one warp's
// online-softmax step over a tile of keys on the tensor cores (mma.sync m16n8k16, fp32
// accumulation).
#pragma once

#include "../common/cuda_common.cuh"
#include "../common/tensor_core_ptx.cuh"

#include <cstdint>
#include <limits>

namespace attnbench::fused {

// Everything a fused kernel reads, as plain values and device pointers.
struct AttendParams {
  // The paged cache (plain format): K then V per page, each [kv_heads][page_size][D].
  const char* pages;
  std::size_t page_bytes;
  std::size_t v_offset;  // bytes from a token's K row to its V row in the same page
  const int32_t* page_indptr;
  const int32_t* page_indices;
  const int32_t* last_page_len;
  int32_t page_size;
  int32_t batch;
  // Queries and outputs: [tokens][num_q_heads][D]; q_indptr as in the ABI (prefill only).
  const void* q;
  void* o;
  const int32_t* q_indptr;
  int32_t num_q_heads;
  int32_t group;  // query heads per KV head: query head h reads KV head h / group
  int32_t causal;
  int32_t window;
  float scale_log2;  // softmax scale * log2(e): weights are exp2(score * scale_log2 - ...)
  // Decode, split-KV: partial outputs [batch][num_q_heads][num_splits][D] (normalized) and
  // their log2-sum-exp2 [batch][num_q_heads][num_splits], in the workspace.
  int32_t num_splits;
  int32_t head_chunks;  // blocks per KV head along the group (16 query heads each)
  float* part_o;
  float* part_lse;
};

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

__device__ __forceinline__ int32_t sequence_length(const AttendParams& p, int32_t b) {
  return static_cast<int32_t>(
      plain_kv::sequence_length(p.page_indptr, p.last_page_len, p.page_size, b));
}

// Element offset of 16-byte chunk `chunk` of row `row` in a [rows][D] tile of 16-bit
// elements. Chunks are permuted within each row (chunk c of row r sits at c ^ (r % 8)), so
// the 8 rows one ldmatrix phase reads, and the 8 chunks of a row one cp.async phase
// writes, land in 8 different groups of 4 banks: no bank conflicts either way.
template <int D>
__device__ __forceinline__ int swizzled(int row, int chunk) {
  static_assert(D % 64 == 0, "rows of at least 8 chunks");
  return row * D + ((chunk ^ (row & 7)) << 3);
}

// Issues cp.async copies of ROWS rows of D elements into a swizzled tile; `source(r)` is
// the global address of row r, or nullptr for a row to zero-fill.
template <typename T, int D, int ROWS, int THREADS, typename Source>
__device__ __forceinline__ void load_rows_async(T* tile, const T* any_valid, Source source) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kCopies = (ROWS * kChunks + THREADS - 1) / THREADS;
#pragma unroll
  for (int k = 0; k < kCopies; ++k) {
    const int i = k * THREADS + threadIdx.x;  // consecutive threads: consecutive chunks of a row
    if ((ROWS * kChunks) % THREADS != 0 && i >= ROWS * kChunks) break;
    const int row = i / kChunks, chunk = i % kChunks;
    const T* src = source(row);
    ptx::cp_async_16(tile + swizzled<D>(row, chunk), src ? src + chunk * 8 : any_valid,
                     src != nullptr);
  }
}

// The page lookups of one K/V tile, done once per tile rather than once per copy: the byte
// offset from p.pages of the K row of each key in [key0, key0 + KEYS) of KV head kvh of
// sequence b, or -1 for a key outside [valid_begin, valid_end).
template <typename T, int D, int KEYS>
__device__ __forceinline__ void plan_kv_tile(const AttendParams& p, int32_t b, int32_t kvh,
                                             int32_t key0, int32_t valid_begin, int32_t valid_end,
                                             int64_t* row_offsets) {
  for (int r = threadIdx.x; r < KEYS; r += blockDim.x) {
    const int32_t key = key0 + r;
    int64_t offset = -1;
    if (key >= valid_begin && key < valid_end) {
      const int32_t page = p.page_indices[p.page_indptr[b] + key / p.page_size],
                    slot = key % p.page_size;
      offset =
          static_cast<int64_t>(page) * static_cast<int64_t>(p.page_bytes) +
          (static_cast<int64_t>(kvh) * p.page_size + slot) * D * static_cast<int64_t>(sizeof(T));
    }
    row_offsets[r] = offset;
  }
}

// Starts copying a planned K/V tile from its pages into shared memory with cp.async, 16
// bytes a copy, consecutive threads along a row. Keys planned as -1 are zero-filled rather
// than read: past the end of the cache there is no page to read, and a masked key's weight
// is 0, which must multiply a zero V row, not whatever garbage a page holds.
template <typename T, int D, int KEYS, int THREADS>
__device__ __forceinline__ void load_kv_tile_async(const AttendParams& p,
                                                   const int64_t* row_offsets, T* k_tile,
                                                   T* v_tile) {
  constexpr int kChunks = D / 8;
  static_assert((KEYS * kChunks) % THREADS == 0, "every thread copies the same number of chunks");
#pragma unroll 4  // fully unrolled, the copies' addresses crowd out the MMA registers
  for (int k = 0; k < KEYS * kChunks / THREADS; ++k) {
    const int i = k * THREADS + threadIdx.x, row = i / kChunks, chunk = i % kChunks;
    const int64_t offset = row_offsets[row];
    const bool valid = offset >= 0;
    const char* k_src = p.pages + (valid ? offset + chunk * 16 : 0);
    ptx::cp_async_16(k_tile + swizzled<D>(row, chunk), k_src, valid);
    ptx::cp_async_16(v_tile + swizzled<D>(row, chunk), valid ? k_src + p.v_offset : p.pages, valid);
  }
}

// The top of iteration i of the kernels' double-buffered loop over K/V tiles: issue tile
// i + 1's copies into the other stage (its page lookups planned in row_offsets[(i + 1) % 2]),
// wait for tile i's, and make every thread's copies visible to the block. The caller ends
// the iteration with a barrier, so a stage is never refilled while a warp still reads it.
template <typename T, int D, int TKV, int THREADS>
__device__ __forceinline__ void next_kv_tile_ready(const AttendParams& p, int32_t i,
                                                   int32_t num_tiles, const int64_t* row_offsets,
                                                   T* k_stages, T* v_stages) {
  if (i + 1 < num_tiles) {
    const int next = (i + 1) & 1;
    load_kv_tile_async<T, D, TKV, THREADS>(p, row_offsets + next * TKV, k_stages + next * TKV * D,
                                           v_stages + next * TKV * D);
    ptx::cp_async_commit();
    ptx::cp_async_wait<1>();  // tile i (and what was committed with it) has landed
  } else {
    ptx::cp_async_wait<0>();
  }
  __syncthreads();
}

// One warp's online-softmax state for its 16 * MT query rows: the output accumulator
// fragments (C layout of m16n8, D / 8 column tiles) and, for the rows this thread holds
// (g and g + 8 of each m16 tile), the running max of the scores in log2 units and this
// thread's part of the running sum (the 4 threads of a quad hold different columns; their
// parts are added at the end).
template <int D, int MT>
struct WarpState {
  float o[MT][D / 8][4];
  float max[MT][2];
  float sum[MT][2];

  __device__ __forceinline__ void init() {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int j = 0; j < D / 8; ++j)
#pragma unroll
        for (int c = 0; c < 4; ++c) o[mt][j][c] = 0.0f;
      max[mt][0] = max[mt][1] = kNegInf;
      sum[mt][0] = sum[mt][1] = 0.0f;
    }
  }

  // The full row sum, after the last tile: the quad's parts added up.
  __device__ __forceinline__ float row_sum(int mt, int half) const {
    float s = sum[mt][half];
    s += __shfl_xor_sync(0xffffffffu, s, 1);
    s += __shfl_xor_sync(0xffffffffu, s, 2);
    return s;
  }
};

// Keys [lo, hi) that this thread's rows may see (rows g and g + 8 of each m16 tile).
template <int MT>
struct RowBounds {
  int32_t lo[MT][2];
  int32_t hi[MT][2];
};

// The warp's rows (sQ rows q_row0 .. q_row0 + 16 MT - 1) attend to KEYS keys of the tile,
// tile rows key_row0 .., whose absolute positions start at key0:
//   S = Q K^T * scale_log2 on the tensor cores (fp32), masked to -inf outside each row's
//   bounds when `masked` (tiles inside every row's bounds skip the check), then the online
//   softmax: the running max rises to the tile's, the accumulator and sum are rescaled by
//   exp2(old max - new max), and P = exp2(S - max) is rounded to T and multiplied with V
//   into the accumulator. S and P live only in registers: the C
//   fragments of two adjacent n8 tiles of S are exactly the A fragment of one k16 step of
//   P V, so P never goes through shared memory either.
template <typename T, int D, int MT, int KEYS>
__device__ __forceinline__ void warp_attend_tile(const T* sQ, int q_row0, const T* sK, const T* sV,
                                                 int key_row0, int32_t key0, bool masked,
                                                 const RowBounds<MT>& bounds, float scale_log2,
                                                 WarpState<D, MT>& st) {
  static_assert(KEYS % 16 == 0 && D % 16 == 0, "whole k16 steps");
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  float s[MT][KEYS / 8][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int n = 0; n < KEYS / 8; ++n)
#pragma unroll
      for (int c = 0; c < 4; ++c) s[mt][n][c] = 0.0f;

        // S = Q K^T, one k16 slice of the head dim at a time. A (Q, 16x16): lane l addresses row
        // l % 16, chunk l / 16. B (K^T) for two n8 tiles at once: K rows are keys, so a K tile
        // row-major is B column-major, as mma wants; lane l addresses key (l % 8) + 8 (l / 16),
        // chunk (l / 8) % 2, giving b0, b1 of keys +0..7 and b0, b1 of keys +8..15.
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t a[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
      ptx::ldmatrix_x4(a[mt],
                       sQ + swizzled<D>(q_row0 + mt * 16 + (lane & 15), kk * 2 + (lane >> 4)));
#pragma unroll
    for (int nn = 0; nn < KEYS / 16; ++nn) {
      uint32_t b[4];
      ptx::ldmatrix_x4(b, sK + swizzled<D>(key_row0 + nn * 16 + (lane & 7) + ((lane >> 4) << 3),
                                           kk * 2 + ((lane >> 3) & 1)));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        ptx::mma_16816<T>(s[mt][2 * nn], a[mt], b[0], b[1]);
        ptx::mma_16816<T>(s[mt][2 * nn + 1], a[mt], b[2], b[3]);
      }
    }
  }

  // Scores to log2 units (exp2 is the native instruction), -inf outside each row's bounds
  // when the tile needs a mask. Element c of n8 tile n is row g + 8 (c / 2) of m16 tile mt,
  // key key0 + 8 n + 2 t + c % 2.
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int n = 0; n < KEYS / 8; ++n)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        s[mt][n][c] *= scale_log2;
        if (masked) {
          const int32_t key = key0 + n * 8 + 2 * t + (c & 1);
          if (key < bounds.lo[mt][c >> 1] || key >= bounds.hi[mt][c >> 1]) s[mt][n][c] = kNegInf;
        }
      }

  // Online softmax, per row: the quad's 4 threads hold the row's columns, so the max is
  // reduced over the quad with two shuffles; the sum stays per thread until the end.
  float correction[MT][2];
  bool max_moved = false;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float tile_max = kNegInf;
#pragma unroll
      for (int n = 0; n < KEYS / 8; ++n)
        tile_max = fmaxf(tile_max, fmaxf(s[mt][n][2 * half], s[mt][n][2 * half + 1]));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
      const float new_max = fmaxf(st.max[mt][half], tile_max);
      // A row that has seen only masked keys so far keeps max -inf: subtract 0 instead, so
      // its weights are exp2(-inf) = 0 rather than exp2(-inf + inf) = NaN.
      const float base = new_max == kNegInf ? 0.0f : new_max;
      correction[mt][half] = exp2f(st.max[mt][half] - base);  // 0 while the old max is -inf
      max_moved |= correction[mt][half] != 1.0f;
      st.max[mt][half] = new_max;
      float tile_sum = 0.0f;
#pragma unroll
      for (int n = 0; n < KEYS / 8; ++n)
#pragma unroll
        for (int c = 2 * half; c < 2 * half + 2; ++c) {
          s[mt][n][c] = exp2f(s[mt][n][c] - base);
          tile_sum += s[mt][n][c];
        }
      st.sum[mt][half] = st.sum[mt][half] * correction[mt][half] + tile_sum;
    }
  // Rescale the accumulator only if some row's max moved: after the first tiles of a long
  // row it rarely does, and the multiply costs as many instructions as the tile's MMAs.
  if (__any_sync(0xffffffffu, max_moved)) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int j = 0; j < D / 8; ++j)
#pragma unroll
        for (int c = 0; c < 4; ++c) st.o[mt][j][c] *= correction[mt][c >> 1];
  }

  // O += P V, one k16 slice of keys at a time. A (P) from the S fragments of n8 tiles 2kk
  // and 2kk + 1. B (V, keys x D, row-major in shared memory) needs the transposing load:
  // lane l addresses key (l % 8) + 8 ((l / 8) % 2), chunk l / 16, giving b0, b1 of
  // columns +0..7 and b0, b1 of columns +8..15.
#pragma unroll
  for (int kk = 0; kk < KEYS / 16; ++kk) {
    uint32_t a[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      a[mt][0] = ptx::pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
      a[mt][1] = ptx::pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
      a[mt][2] = ptx::pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
      a[mt][3] = ptx::pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
    }
#pragma unroll
    for (int dd = 0; dd < D / 16; ++dd) {
      uint32_t b[4];
      ptx::ldmatrix_x4_trans(
          b, sV + swizzled<D>(key_row0 + kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3),
                              dd * 2 + (lane >> 4)));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        ptx::mma_16816<T>(st.o[mt][2 * dd], a[mt], b[0], b[1]);
        ptx::mma_16816<T>(st.o[mt][2 * dd + 1], a[mt], b[2], b[3]);
      }
    }
  }
}

}  // namespace attnbench::fused
