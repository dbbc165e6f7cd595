// The tensor-core pieces of the flash-style kernels, independent of the cache format: the
// swizzled shared-memory tile layout, one warp's online-softmax step over a tile of keys
// (mma.sync m16n8k16, fp32 accumulation) and the end of a decode block, whose warps' states
// are merged and stored. The fused plugin (plain fp16/bf16 pages) and int8_kv (int8 pages,
// dequantized into such tiles) both build on them.
#pragma once

#include "cuda_common.cuh"  // plain_kv::from_float
#include "split_merge.cuh"
#include "tensor_core_ptx.cuh"

#include <cstddef>
#include <cstdint>
#include <limits>

namespace attnbench::flash {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Element offset of 16-byte chunk `chunk` of row `row` in a [rows][D] tile of 16-bit
// elements. Chunks are permuted within each row (chunk c of row r sits at c ^ (r % 8)), so
// the 8 rows one ldmatrix phase reads, and the 8 chunks of a row one cp.async phase
// writes, land in 8 different groups of 4 banks: no bank conflicts either way.
template <int D>
__device__ __forceinline__ int swizzled(int row, int chunk) {
  static_assert(D % 64 == 0, "rows of at least 8 chunks");
  return row * D + ((chunk ^ (row & 7)) << 3);
}

// The layout of the tiles above, as a type the loaders take: Layout::offset(row, chunk) is
// the element offset of a row's 16-byte chunk (the wgmma prefill passes its own).
template <int D>
struct RowSwizzle {
  __device__ __forceinline__ static int offset(int row, int chunk) { return swizzled<D>(row, chunk); }
};

// Issues cp.async copies of ROWS rows of D elements into a swizzled tile: `row_offset(r)` is
// row r's offset in elements from `base`, or -1 for a row to zero-fill. A zero-filled row
// still hands cp.async an address, and that must be a mapped one (base): an address formed
// from a null row pointer faulted on the H100 (a 16-byte read at 0x10), even with nothing
// to read.
template <typename T, int D, int ROWS, int THREADS, typename Layout = RowSwizzle<D>,
          typename RowOffset>
__device__ __forceinline__ void load_rows_async(T* tile, const T* base, RowOffset row_offset) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kCopies = (ROWS * kChunks + THREADS - 1) / THREADS;
#pragma unroll
  for (int k = 0; k < kCopies; ++k) {
    const int i = k * THREADS + threadIdx.x;  // consecutive threads: consecutive chunks of a row
    if ((ROWS * kChunks) % THREADS != 0 && i >= ROWS * kChunks) break;
    const int row = i / kChunks, chunk = i % kChunks;
    const int64_t offset = row_offset(row);
    const bool valid = offset >= 0;
    ptx::cp_async_16(tile + Layout::offset(row, chunk), base + (valid ? offset + chunk * 8 : 0),
                     valid);
  }
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

// What a tile's softmax step leaves for the accumulator: the factor exp2(old max - new max)
// of each of the thread's rows, and whether any row's max moved.
template <int MT>
struct RowRescale {
  float factor[MT][2];
  bool max_moved;
};

// The largest (kMax) or the smallest score of row half (g, or g + 8) of an m16 tile of
// scores: this thread's columns of every n8 tile, then the quad's four threads.
template <bool kMax, int KEYS>
__device__ __forceinline__ float row_extreme(const float (&s)[KEYS / 8][4], int half) {
  const auto pick = [](float x, float y) { return kMax ? fmaxf(x, y) : fminf(x, y); };
  float extreme = s[0][2 * half];
#pragma unroll
  for (int n = 0; n < KEYS / 8; ++n) extreme = pick(extreme, pick(s[n][2 * half], s[n][2 * half + 1]));
  extreme = pick(extreme, __shfl_xor_sync(0xffffffffu, extreme, 1));
  return pick(extreme, __shfl_xor_sync(0xffffffffu, extreme, 2));
}

// The softmax half of the online-softmax step of one tile of scores, on the C fragments of MT
// m16 tiles x KEYS / 8 n8 tiles (element c of n8 tile n is row g + 8 (c / 2) of m16 tile mt,
// key key0 + 8 n + 2 t + c % 2): scores outside each row's bounds masked when `masked`
// (tiles inside every row's bounds skip the check), the running max (log2 units) raised to
// the tile's, the sum rescaled, and s overwritten with P = exp2(S scale_log2 - max), not yet
// rounded. It leaves the accumulator alone (rescale_output does that), so the wgmma prefill
// can run it while the previous tile's P V is still in flight.
template <int D, int MT, int KEYS>
__device__ __forceinline__ RowRescale<MT> softmax_weights(float (&s)[MT][KEYS / 8][4], int32_t key0,
                                                          bool masked, const RowBounds<MT>& bounds,
                                                          float scale_log2, WarpState<D, MT>& st) {
  const int t = threadIdx.x & 3;
  // The scores stay as the product gave them until the exponent, 2^(s * scale_log2 - max), is
  // one FFMA: the largest of s * scale_log2 is scale_log2 times the largest score, or the
  // smallest for a negative scale. Masked scores become the extreme that never wins.
  const bool ascending = scale_log2 > 0;
  if (masked) {
    const float never = ascending ? kNegInf : -kNegInf;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int n = 0; n < KEYS / 8; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int32_t key = key0 + n * 8 + 2 * t + (c & 1);
          if (key < bounds.lo[mt][c >> 1] || key >= bounds.hi[mt][c >> 1]) s[mt][n][c] = never;
        }
  }

  // Online softmax, per row: the quad's 4 threads hold the row's columns, so the extreme is
  // reduced over the quad with two shuffles; the sum stays per thread until the end.
  RowRescale<MT> rescale;
  rescale.max_moved = false;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const float extreme =
          ascending ? row_extreme<true, KEYS>(s[mt], half) : row_extreme<false, KEYS>(s[mt], half);
      const float new_max = fmaxf(st.max[mt][half], extreme * scale_log2);  // -inf: all masked
      // A row that has seen only masked keys so far keeps max -inf: subtract 0 instead, so
      // its weights are exp2(-inf) = 0 rather than exp2(-inf + inf) = NaN.
      const float base = new_max == kNegInf ? 0.0f : new_max;
      rescale.factor[mt][half] = ptx::exp2_ftz(st.max[mt][half] - base);  // 0 while the old max is -inf
      rescale.max_moved |= rescale.factor[mt][half] != 1.0f;
      st.max[mt][half] = new_max;
      float tile_sum = 0.0f;
#pragma unroll
      for (int n = 0; n < KEYS / 8; ++n)
#pragma unroll
        for (int c = 2 * half; c < 2 * half + 2; ++c) {
          s[mt][n][c] = ptx::exp2_ftz(fmaf(s[mt][n][c], scale_log2, -base));
          tile_sum += s[mt][n][c];
        }
      st.sum[mt][half] = st.sum[mt][half] * rescale.factor[mt][half] + tile_sum;
    }
  return rescale;
}

// The accumulator half: O *= exp2(old max - new max), row by row, only if some row of the
// warp moved its max: after the first tiles of a long row it rarely does, and the multiply
// costs as many instructions as the tile's MMAs.
template <int D, int MT>
__device__ __forceinline__ void rescale_output(const RowRescale<MT>& rescale, WarpState<D, MT>& st) {
  if (__any_sync(0xffffffffu, rescale.max_moved)) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int j = 0; j < D / 8; ++j)
#pragma unroll
        for (int c = 0; c < 4; ++c) st.o[mt][j][c] *= rescale.factor[mt][c >> 1];
  }
}

// The whole online-softmax step: the weights, then the accumulator rescaled. Shared by the
// mma.sync step below and the wgmma prefill, whose accumulators have the same layout.
template <int D, int MT, int KEYS>
__device__ __forceinline__ void online_softmax_step(float (&s)[MT][KEYS / 8][4], int32_t key0,
                                                    bool masked, const RowBounds<MT>& bounds,
                                                    float scale_log2, WarpState<D, MT>& st) {
  rescale_output(softmax_weights<D, MT, KEYS>(s, key0, masked, bounds, scale_log2, st), st);
}

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
  const int lane = threadIdx.x & 31;
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

  online_softmax_step<D, MT, KEYS>(s, key0, masked, bounds, scale_log2, st);

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

// The start of a decode block: copies (cp.async, uncommitted) the rows of its `heads` query
// heads, contiguous from q, into the 16-row tile sQ (rows past `heads` zero-filled), and
// returns the bounds of a tile whose rows all see keys [begin, end).
template <typename T, int D, int kThreads>
__device__ __forceinline__ RowBounds<1> start_decode_rows(T* sQ, const T* q, int heads,
                                                          int32_t begin, int32_t end) {
  load_rows_async<T, D, 16, kThreads>(
      sQ, q, [&](int r) -> int64_t { return r < heads ? static_cast<int64_t>(r) * D : -1; });
  RowBounds<1> bounds;
  bounds.lo[0][0] = bounds.lo[0][1] = begin;
  bounds.hi[0][0] = bounds.hi[0][1] = end;
  return bounds;
}

// The end of a decode block, in two steps. Its kWarps warps have each run the online softmax
// of the same ROWS query heads over different keys; each stages its state in `scratch`
// (decode_merge_floats(D, kWarps, ROWS) floats of shared memory, free by now; the layout is
// DecodeScratch's), then merge_decode_rows merges them: warp w's rows carry weight
// exp2(max_w - max) / total, total = sum_w sum_w exp2(max_w - max). Rows [0, heads) are
// written as output rows first_row + r of o ([rows][D]), or, when the keys were split, as
// split `split`'s normalized partial row and its log2-sum-exp2 (part_o [rows][splits][D],
// part_lse [rows][splits]), except by the last of the splits' blocks to finish (counted in
// `group`, split_merge.cuh's protocol), which merges its rows with the others' into o.
template <int D, int kWarps, int ROWS>
struct DecodeScratch {
  // A row's stride: 8 floats past D, so that the lanes of a quarter-warp's float2 stores in
  // stage_decode_rows (8 apart in the head dim, one row each) fall in different banks.
  static constexpr int kStride = D + 8;
  float* o;          // [kWarps][ROWS][kStride] unnormalized outputs
  float* max;        // [kWarps][ROWS]
  float* sum;        // [kWarps][ROWS]
  float* weight;     // [kWarps][ROWS]
  float* lse;        // [ROWS]
  unsigned* merges;  // whether this block merges the splits (thread 0 tells the others)
  __device__ __forceinline__ explicit DecodeScratch(float* scratch)
      : o(scratch),
        max(o + kWarps * ROWS * kStride),
        sum(max + kWarps * ROWS),
        weight(sum + kWarps * ROWS),
        lse(weight + kWarps * ROWS),
        merges(reinterpret_cast<unsigned*>(lse + ROWS)) {}
};

// Stages a WarpState (heads as the m16 tile's rows) for merge_decode_rows<..., 16>: only the
// `heads` rows that are query heads.
template <int D, int kWarps>
__device__ __forceinline__ void stage_decode_rows(const WarpState<D, 1>& st, float* scratch, int heads) {
  constexpr int kRows = 16;
  using Scratch = DecodeScratch<D, kWarps, kRows>;
  const Scratch s(scratch);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int r = warp * kRows + half * 8 + g;
    const float sum = st.row_sum(0, half);
    if (half * 8 + g >= heads) continue;
    if (t == 0) {
      s.max[r] = st.max[0][half];
      s.sum[r] = sum;
    }
#pragma unroll
    for (int j = 0; j < D / 8; ++j)
      *reinterpret_cast<float2*>(s.o + r * Scratch::kStride + j * 8 + 2 * t) =
          make_float2(st.o[0][j][2 * half], st.o[0][j][2 * half + 1]);
  }
}

template <typename T, int D, int kWarps, int ROWS>
__device__ __forceinline__ void merge_decode_rows(float* scratch, int heads, std::size_t first_row,
                                                  T* o, float* part_o, float* part_lse,
                                                  int32_t splits, int32_t split, unsigned* group) {
  constexpr int kThreads = kWarps * 32, kQuads = D / 4;
  using Scratch = DecodeScratch<D, kWarps, ROWS>;
  const Scratch s(scratch);
  unsigned ticket = 0;
  if (splits > 1 && threadIdx.x == 0) ticket = plain_kv::arrive_split(group);
  __syncthreads();
  if (threadIdx.x < heads) {
    const int r = threadIdx.x;
    float top = kNegInf;
    for (int w = 0; w < kWarps; ++w) top = fmaxf(top, s.max[w * ROWS + r]);
    float total = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
      const float weight = top == kNegInf ? 0.0f : exp2f(s.max[w * ROWS + r] - top);
      s.weight[w * ROWS + r] = weight;
      total += weight * s.sum[w * ROWS + r];
    }
    for (int w = 0; w < kWarps; ++w)
      s.weight[w * ROWS + r] = total > 0 ? s.weight[w * ROWS + r] / total : 0.0f;
    s.lse[r] = total > 0 ? top + log2f(total) : kNegInf;  // an empty split: -inf, weight 0 in the merge
  }
  __syncthreads();
  // The output, or this split's partial rows: written even by the block that will merge, which
  // learns it only after.
  for (int i = threadIdx.x; i < heads * D; i += kThreads) {
    const int r = i / D, e = i % D;
    float out = 0.0f;
    for (int w = 0; w < kWarps; ++w) out += s.weight[w * ROWS + r] * s.o[(w * ROWS + r) * Scratch::kStride + e];
    const std::size_t row = first_row + r;
    if (splits == 1) {
      o[row * D + e] = plain_kv::from_float<T>(out);
    } else {
      part_o[(row * splits + split) * D + e] = out;
      if (e == 0) part_lse[row * splits + split] = s.lse[r];
    }
  }
  if (splits == 1) return;
  __syncthreads();  // the partials are written
  if (threadIdx.x == 0) {
    const bool merges = plain_kv::others_published(ticket, splits) || plain_kv::publish_split(group, splits);
    if (merges) plain_kv::reset_split_counters(group);
    *s.merges = merges;
  }
  __syncthreads();
  if (!*s.merges) return;
  for (int i = threadIdx.x; i < heads * kQuads; i += kThreads)
    plain_kv::merge_split_quad<T>(part_o, part_lse, o, first_row + i / kQuads, i % kQuads, splits, D);
}

// merge_decode_rows as a call, for a decode kernel at its register limit (int8_kv's: 128):
// inlined at its end, the last block's merge made batch 1 x 65536 read 55.9% of the copy
// bandwidth, called 61.6% (results/h200/experiments/int8_merge_inside). fused's decode
// inlines it: called, its head-dim-64 kernels dropped to 80 registers and spilled, 88.2% ->
// 75.0% at 32 x 32768 (experiments/merge_noinline).
template <typename T, int D, int kWarps, int ROWS>
__device__ __noinline__ void merge_decode_rows_called(float* scratch, int heads, std::size_t first_row, T* o,
                                                      float* part_o, float* part_lse, int32_t splits,
                                                      int32_t split, unsigned* group) {
  merge_decode_rows<T, D, kWarps, ROWS>(scratch, heads, first_row, o, part_o, part_lse, splits, split, group);
}

template <typename T, int D, int kWarps>
__device__ __forceinline__ void store_decode_rows(const WarpState<D, 1>& st, float* scratch,
                                                  int heads, std::size_t first_row, T* o,
                                                  float* part_o, float* part_lse,
                                                  int32_t splits, int32_t split,
                                                  unsigned* group) {
  stage_decode_rows<D, kWarps>(st, scratch, heads);
  merge_decode_rows<T, D, kWarps, 16>(scratch, heads, first_row, o, part_o, part_lse, splits, split,
                                      group);
}

// Shared memory the end of a decode block needs (DecodeScratch), in floats.
constexpr std::size_t decode_merge_floats(int d, int warps, int rows = 16) {
  return static_cast<std::size_t>(warps) * rows * (d + 8 + 3) + rows + 1;
}

}  // namespace attnbench::flash
