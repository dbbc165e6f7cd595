// The device pieces the fused prefill and decode kernels share: the launch parameters and
// the paged K/V tile planner and loader (cp.async) of the plain format. The tensor-core
// step itself (warp_attend_tile) is in ../common/flash_warp_tile.cuh.
#pragma once

#include "../common/cuda_common.cuh"
#include "../common/flash_warp_tile.cuh"
#include "../common/wgmma_ptx.cuh"

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
  unsigned* split_counters;  // [batch][kv_heads][head_chunks][2]: the splits' arrivals, claimed tiles
  int32_t claim_tiles;       // decode: a group's blocks claim tiles as they go (TileQueue)
  int32_t fresh_keys;    // decode: the last keys of each sequence the append before may still write
};

using namespace flash;  // the format-independent tile pieces

__device__ __forceinline__ int32_t sequence_length(const AttendParams& p, int32_t b) {
  return static_cast<int32_t>(
      plain_kv::sequence_length(p.page_indptr, p.last_page_len, p.page_size, b));
}

// The query tile a prefill block owns and the keys its rows see, for both prefill kernels.
// blockIdx.y counts the batch's tiles of TQ query rows, each sequence's last tile (the one
// with the most keys under a causal mask) first, so the long blocks start early; found is
// false for a block past them.
template <int TQ>
struct PrefillTile {
  int32_t b = 0, q_len = 0;
  int32_t m0 = 0, rows = 0;     // the tile's first query row in its sequence, and its rows
  int32_t kv_len = 0, pos0 = 0;  // the sequence's keys; the position of the tile's first query
  int32_t window = 0, causal = 0;
  bool found = false;

  __device__ __forceinline__ explicit PrefillTile(const AttendParams& p)
      : window(p.window), causal(p.causal) {
    int32_t tile = blockIdx.y, tiles = 0;
    for (; b < p.batch; ++b) {
      q_len = p.q_indptr[b + 1] - p.q_indptr[b];
      tiles = (q_len + TQ - 1) / TQ;
      if (tile < tiles) break;
      tile -= tiles;
    }
    if (b == p.batch) return;
    m0 = (tiles - 1 - tile) * TQ;
    rows = min(TQ, q_len - m0);
    kv_len = sequence_length(p, b);
    pos0 = kv_len - q_len + m0;
    found = true;
  }
  // Keys a query at `pos` sees: [lo, hi). Both grow with the position.
  __device__ __forceinline__ int32_t lo_of(int32_t pos) const {
    return static_cast<int32_t>(plain_kv::first_visible(pos, window));
  }
  __device__ __forceinline__ int32_t hi_of(int32_t pos) const { return causal ? pos + 1 : kv_len; }
  // Rows past the last query (padding of a short tile) take the last query's position:
  // they compute harmless duplicates that are never written.
  __device__ __forceinline__ int32_t pos_of_row(int r) const { return pos0 + min(r, rows - 1); }
  __device__ __forceinline__ int32_t begin() const { return lo_of(pos0); }
  __device__ __forceinline__ int32_t end() const { return hi_of(pos_of_row(TQ - 1)); }
  // Row r of query head h is element (row0 + r * heads) * D of the queries and outputs.
  __device__ __forceinline__ int64_t row0(const AttendParams& p, int32_t h) const {
    return static_cast<int64_t>(p.q_indptr[b] + m0) * p.num_q_heads + h;
  }
};

// The pages of sequence b, in order: what plan_kv_tile looks keys up in. Read once per
// block, so that a tile's lookups wait for one global load, not two in a row.
__device__ __forceinline__ const int32_t* sequence_pages(const AttendParams& p, int32_t b) {
  return p.page_indices + p.page_indptr[b];
}

// The page lookups of one K/V tile, done once per tile rather than once per copy: the byte
// offset from p.pages of the K row of each key in [key0, key0 + KEYS) of KV head kvh of the
// sequence whose pages are `pages` (sequence_pages), or -1 for a key outside
// [valid_begin, valid_end).
template <typename T, int D, int KEYS>
__device__ __forceinline__ void plan_kv_tile(const AttendParams& p, const int32_t* pages, int32_t kvh,
                                             int32_t key0, int32_t valid_begin, int32_t valid_end,
                                             int64_t* row_offsets) {
  for (int r = threadIdx.x; r < KEYS; r += blockDim.x) {
    const int32_t key = key0 + r;
    int64_t offset = -1;
    if (key >= valid_begin && key < valid_end) {
      const int32_t page = pages[key / p.page_size], slot = key % p.page_size;
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
// is 0, which must multiply a zero V row, not whatever garbage a page holds. kLoadK / kLoadV:
// the wgmma prefill loads a tile's K and V at different steps of its pipeline.
template <typename T, int D, int KEYS, int THREADS, typename Layout = RowSwizzle<D>,
          bool kLoadK = true, bool kLoadV = true>
__device__ __forceinline__ void load_kv_tile_async(const AttendParams& p,
                                                   const int64_t* row_offsets, T* k_tile,
                                                   T* v_tile) {
  constexpr int kChunks = D / 8, kRowsPerPass = THREADS / kChunks;
  static_assert(THREADS % kChunks == 0 && KEYS % kRowsPerPass == 0,
                "every thread copies the same chunk of the same number of rows");
  // A thread's chunk is the same in every row it copies: its address arithmetic is done once
  // (per copy it was ~36 integer instructions, a third of the wgmma prefill's instructions).
  const int chunk = static_cast<int>(threadIdx.x % kChunks), row0 = static_cast<int>(threadIdx.x / kChunks);
  const char* chunk_base = p.pages + chunk * 16;
#pragma unroll 4  // fully unrolled, the copies' addresses crowd out the MMA registers
  for (int k = 0; k < KEYS / kRowsPerPass; ++k) {
    const int row = row0 + k * kRowsPerPass;
    const int64_t offset = row_offsets[row];
    const bool valid = offset >= 0;
    const char* k_src = valid ? chunk_base + offset : p.pages;
    if constexpr (kLoadK) ptx::cp_async_16(k_tile + Layout::offset(row, chunk), k_src, valid);
    if constexpr (kLoadV)
      ptx::cp_async_16(v_tile + Layout::offset(row, chunk), valid ? k_src + p.v_offset : p.pages,
                       valid);
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

}  // namespace attnbench::fused
