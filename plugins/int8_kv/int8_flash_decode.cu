// Decode over the int8 cache on the tensor cores. Each block streams int8 K/V tiles into
// shared memory (half the bytes of an fp16 cache), by tensor copies or cp.async (below). Each warp takes 16 keys of
// a tile and runs the turned-around step of int8_decode_cols.cuh, S^T = K Q^T with the keys
// as the MMA rows and up to 8 query heads of a group as its columns: K's int8 rows are the
// integer product's operand as they are (Q quantized in two int8 parts), V's integers are
// converted into a 16-bit tile, exactly, and the per-token scales are applied once per key,
// to the scores (K) and to the weights (V).
// The group reads its KV head once. Done on the CUDA cores with one FMA per element and head
// (attend_kernel), the same work was bound by arithmetic at a third of the memory bandwidth.
// Where the page size allows (int8_values_map.hpp), a tile is copied by the tensor memory
// accelerator: a few lanes of warp 0 start one copy per page piece, instead of every thread
// computing the address of every 16 bytes (cp.async), which was a third of the kernel's
// instructions.
#include "int8_kv_cuda.hpp"

#include "../common/bulk_copy_ptx.cuh"
#include "../common/async_barrier_ptx.cuh"
#include "../common/split_kv.hpp"
#include "int8_decode_cols.cuh"
#include "int8_values_map.hpp"

#include <cmath>
#include <string>
#include <type_traits>

namespace attnbench::int8_kv {

namespace {

using namespace flash;
using plain_kv::sequence_length;

constexpr int kQueryRows = 16;  // rows of sQ, as start_decode_rows loads them (the first 8 used)
// Shared-memory stages of int8 tiles, one in flight while one is attended (three measured
// slower: results/h200/experiments/int8_v_stages).
constexpr int kStages = 2;

struct DecodeParams {
  AttnbPagedKv cache;
  Layout layout;
  const void* q;  // [batch][num_q_heads][D]
  void* o;
  float* part_o;  // split partials, as in attend_kernel
  float* part_lse;
  unsigned* split_counters;  // two a block group (split_counters.hpp), for the merge inside
  int32_t num_q_heads, group, window, splits, head_chunks;
  int32_t fresh_keys;      // the last keys of each sequence the append before may still write
  bool l2_evict_first;     // the tensor copies' lines leave L2 first (read once)
  float scale_log2;
  CUtensorMap values;      // the tensor copies' map (int8_values_map.hpp), when they are used
};

// Shared memory of one block, in bytes from its start: Q and STAGES stages of int8 tiles.
// K's and V's operands are built in registers from the int8 rows, no 16-bit tile.
template <typename T, int D, int TKV, int STAGES, bool kTensorCopies>
struct SharedLayout {
  static constexpr std::size_t q = 0;                                      // T [16][D], swizzled
  static constexpr std::size_t k8 = q + kQueryRows * D * sizeof(T);        // int8 [STAGES][TKV][D]
  static constexpr std::size_t v8 = k8 + STAGES * TKV * D;                 // int8 [STAGES][TKV][D]
  static constexpr std::size_t scales = v8 + STAGES * TKV * D;             // float [STAGES][2][TKV]
  static constexpr std::size_t rows = scales + 2 * STAGES * TKV * sizeof(float);  // int64 [STAGES][TKV][2]
  static constexpr std::size_t landed =                                    // mbarrier [STAGES]
      rows + (kTensorCopies ? 0 : 2 * STAGES * TKV * sizeof(int64_t));      // (cp.async plans only)
  static constexpr std::size_t bytes = landed + STAGES * sizeof(uint64_t);
  // The tensor copies' 128-byte (64-byte) swizzle repeats every 1024 (512) bytes: the int8
  // stages start on such a boundary, as every copy's destination must.
  static_assert(k8 % 1024 == 0 && TKV * D % 1024 == 0, "int8 stages on swizzle boundaries");
  static constexpr uint32_t tile_bytes = 2 * TKV * D + 2 * TKV * sizeof(float);  // one stage's copies
  // The warps' final merge reuses the int8 stages.
  static_assert(decode_merge_floats(D, TKV / 16, kFlashDecodeHeads) * sizeof(float) <= scales - k8,
                "merge scratch fits");
};

// The byte offsets (from cache.pages) of the int8 K row and the K scale of every key of a
// tile, or -1 outside [valid_begin, valid_end); V's are a fixed distance further.
template <int TKV>
__device__ __forceinline__ void plan_tile(const DecodeParams& p, int32_t b, int32_t kvh,
                                          int32_t key0, int32_t valid_begin, int32_t valid_end,
                                          int64_t* planned) {
  for (int r = threadIdx.x; r < TKV; r += blockDim.x) {
    const int32_t key = key0 + r;
    int64_t row = -1, scale = -1;
    if (key >= valid_begin && key < valid_end) {
      const int32_t ps = p.layout.page_size, slot = key % ps;
      const int64_t page = static_cast<int64_t>(
                               p.cache.page_indices[p.cache.page_indptr[b] + key / ps]) *
                           static_cast<int64_t>(p.layout.page_bytes);
      row = page + static_cast<int64_t>(p.layout.values_offset(kvh, slot, false));
      scale = page + static_cast<int64_t>(p.layout.scale_offset(kvh, slot, false));
    }
    planned[2 * r] = row;
    planned[2 * r + 1] = scale;
  }
}

// Where 16-byte chunk `chunk` of int8 row `row` sits in its tile (K's and V's alike). The K
// operand is read by ldmatrix, 8 rows at one chunk position a matrix; the rows' 128-byte
// (64-byte) stride would put them on the same banks, so the chunk index is XORed with the
// row (its pair): the tensor copies' 128-byte (64-byte) swizzle.
template <int D>
__device__ __forceinline__ int int8_chunk(int row, int chunk) {
  return D == 128 ? chunk ^ (row & 7) : chunk ^ ((row >> 1) & 3);
}

// Starts the cp.async copies of a planned tile: int8 rows 16 bytes a copy, scales 4 bytes.
// Keys planned -1 are zero-filled (scale 0): their K and V are zeros, as masked keys' must be.
template <int D, int TKV, int THREADS>
__device__ __forceinline__ void load_tile_async(const DecodeParams& p, const int64_t* planned,
                                                int8_t* k8, int8_t* v8, float* scales) {
  constexpr int kChunks = D / 16;
  static_assert((TKV * kChunks) % THREADS == 0 && 2 * TKV <= THREADS, "even copies");
  const char* pages = static_cast<const char*>(p.cache.pages);
  const std::size_t v_rows = p.layout.plane();  // V values sit one plane after K's
  const std::size_t v_scales = static_cast<std::size_t>(p.layout.num_kv_heads) *
                               p.layout.page_size * sizeof(float);
#pragma unroll
  for (int k = 0; k < TKV * kChunks / THREADS; ++k) {
    const int i = k * THREADS + threadIdx.x, row = i / kChunks, chunk = i % kChunks;
    const int64_t at = planned[2 * row];
    const char* src = pages + (at >= 0 ? at + chunk * 16 : 0);
    const int at_chunk = row * D + int8_chunk<D>(row, chunk) * 16;
    ptx::cp_async_16(k8 + at_chunk, src, at >= 0);
    ptx::cp_async_16(v8 + at_chunk, at >= 0 ? src + v_rows : pages, at >= 0);
  }
  if (threadIdx.x < 2 * TKV) {
    const int key = threadIdx.x % TKV, is_v = threadIdx.x / TKV;
    const int64_t at = planned[2 * key + 1];
    ptx::cp_async_4(scales + is_v * TKV + key, pages + (at >= 0 ? at + is_v * v_scales : 0),
                    at >= 0);
  }
}

// The A operand of S^T = K Q^T for a warp's 16 keys, straight from the int8 tile: k32 slice
// kk is the head dim's bytes 32 kk .. 32 kk + 31, and ldmatrix (16-byte rows, each lane given
// 4 bytes of one) loads it as the fragment: matrices 0 and 1 are keys 0..7 and 8..15 at the
// slice's first 16 bytes, 2 and 3 the same at its second. K never goes through a 16-bit tile,
// nor a conversion.
template <int D>
struct Int8KOperand {
  const int8_t* k8;
  int row0;

  __device__ __forceinline__ void a(int kk, uint32_t (&a)[4]) const {
    const int lane = threadIdx.x & 31;
    const int row = row0 + (lane & 7) + (lane & 8), chunk = 2 * kk + (lane >> 4);
    ptx::ldmatrix_x4(a, k8 + row * D + int8_chunk<D>(row, chunk) * 16);
  }
};

// What warp_attend_cols needs of an int8 tile besides K: the per-token scales (the score of
// tile row r is scaled by ks[r], its weight in P V by vs[r]: the dequantization, applied
// once per key rather than once per element) and V's int8 rows: lane (g, t) reads the D / 8
// bytes of a row from head-dim element (D / 8) g on (conflict-free: the 8 lanes of a t read
// all of one row's chunks).
template <int D>
struct Int8Tile {
  const float* ks;
  const float* vs;
  const int8_t* v8;  // the int8 tile's V
  __device__ __forceinline__ float k(int r) const { return ks[r]; }
  __device__ __forceinline__ float v(int r) const { return vs[r]; }
  __device__ __forceinline__ void v_words(int r, uint32_t (&w)[D / 32]) const {
    const int g = (threadIdx.x & 31) >> 2;
    const int8_t* row = v8 + r * D;
    if constexpr (D == 128) {
      const uint4 x = *reinterpret_cast<const uint4*>(row + int8_chunk<D>(r, g) * 16);
      w[0] = x.x, w[1] = x.y, w[2] = x.z, w[3] = x.w;
    } else {
      const uint2 x = *reinterpret_cast<const uint2*>(row + int8_chunk<D>(r, g >> 1) * 16 + (g & 1) * 8);
      w[0] = x.x, w[1] = x.y;
    }
  }
};

// One block per (split, chunk of up to 8 query heads of a group, KV head, sequence), TKV /
// 16 warps that take 16 keys each of every tile; tiles in kStages shared-memory stages,
// kStages - 1 in flight while one is attended, as in the fused plugin's decode, whose
// structure this follows. kTensorCopies: tiles start at multiples of TKV (a window's first
// one then holds masked keys before `begin`) and come by tensor copies, one per page piece
// of rows keys and kind, completing on the stage's mbarrier; else each key's rows are looked
// up (plan_tile) and copied 16 bytes a thread (cp.async).
template <typename T, int D, int TKV, bool kTensorCopies>
__global__ void __launch_bounds__(TKV / 16 * 32, 4)
    int8_flash_decode_kernel(const __grid_constant__ DecodeParams p) {
  constexpr int kWarps = TKV / 16, kThreads = kWarps * 32;
  using Smem = SharedLayout<T, D, TKV, kStages, kTensorCopies>;
  extern __shared__ __align__(1024) unsigned char smem[];
  T* sQ = reinterpret_cast<T*>(smem + Smem::q);
  int8_t* sK8 = reinterpret_cast<int8_t*>(smem + Smem::k8);
  int8_t* sV8 = reinterpret_cast<int8_t*>(smem + Smem::v8);
  float* sScales = reinterpret_cast<float*>(smem + Smem::scales);
  int64_t* sPlan = reinterpret_cast<int64_t*>(smem + Smem::rows);
  const uint32_t landed = ptx::smem_address(smem + Smem::landed);  // stage s's at + 8 s

  const int32_t split = blockIdx.x / p.head_chunks, chunk = blockIdx.x % p.head_chunks;
  const int32_t kvh = blockIdx.y, b = blockIdx.z;
  const int32_t head0 = kvh * p.group + chunk * kFlashDecodeHeads,
                heads = min(kFlashDecodeHeads, p.group - chunk * kFlashDecodeHeads);
  const auto kv_len = static_cast<int32_t>(
      sequence_length(p.cache.page_indptr, p.cache.last_page_len, p.layout.page_size, b));
  const plain_kv::KeyRange range = plain_kv::split_range(
      plain_kv::first_visible(kv_len - 1, p.window), kv_len, split, p.splits, TKV);
  const auto begin = static_cast<int32_t>(range.begin), end = static_cast<int32_t>(range.end);
  const int32_t base = kTensorCopies ? begin - begin % TKV : begin;  // tile 0's first key
  const int32_t num_tiles = end > begin ? (end - base + TKV - 1) / TKV : 0;
  const int32_t fresh_tile = plain_kv::first_fresh_tile(kv_len - p.fresh_keys, base, end, TKV);

  // Tensor copies: thread c < 4 pieces copies, of every tile, kind c / pieces (K values, V
  // values, K scales, V scales) of its page piece c % pieces. The page of the next tile's
  // piece is looked up a tile ahead, so that the lookup's trip to memory is never waited for.
  const int32_t ps = p.layout.page_size, rows = copy_rows(p.layout, TKV), pieces = TKV / rows;
  const int kind = threadIdx.x / pieces, piece = threadIdx.x % pieces;
  const bool copier = kTensorCopies && threadIdx.x < 4 * pieces;
  const int32_t* seq_pages = p.cache.page_indices + p.cache.page_indptr[b];
  const int32_t last_page = p.cache.page_indptr[b + 1] - p.cache.page_indptr[b] - 1;
  const auto page_of = [&](int32_t i) {  // past the sequence's end: its last page, masked
    return seq_pages[min((base + i * TKV + piece * rows) / ps, last_page)];
  };
  int32_t next_page = 0;  // of this thread's piece of the next tile to copy
  const ptx::L2Hint hint = ptx::l2_evict_first_hint(copier && p.l2_evict_first);
  const auto copy_tile = [&](int32_t i) {
    const int s = i % kStages;
    const uint32_t bar = landed + 8 * s;
    const int32_t slot = (base + i * TKV + piece * rows) % ps;
    if (threadIdx.x == 0) ptx::mbarrier_arrive_expect_tx(bar, Smem::tile_bytes);
    if (kind < 2) {
      const int8_t* dst = (kind == 0 ? sK8 : sV8) + (s * TKV + piece * rows) * D;
      ptx::tensor_copy_4d(ptx::smem_address(dst), &p.values, 0, slot, kind * p.layout.num_kv_heads + kvh,
                          next_page, bar, hint);
    } else {
      const char* src = static_cast<const char*>(p.cache.pages) +
                        static_cast<int64_t>(next_page) * static_cast<int64_t>(p.layout.page_bytes) +
                        p.layout.scale_offset(kvh, slot, kind == 3);
      ptx::bulk_copy(ptx::smem_address(sScales + (2 * s + kind - 2) * TKV + piece * rows), src,
                     rows * sizeof(float), bar, hint);
    }
  };

  const T* q = static_cast<const T*>(p.q) + (static_cast<std::size_t>(b) * p.num_q_heads + head0) * D;
  const auto plan = [&](int32_t i) {
    plan_tile<TKV>(p, b, kvh, begin + i * TKV, begin, end, sPlan + (i % kStages) * 2 * TKV);
  };
  const auto load = [&](int32_t i) {  // by the threads that copy
    if (kTensorCopies && !copier) return;
    if (fresh_tile >= 0 && i >= fresh_tile) plain_kv::wait_for_prior_grid();  // keys the append may still write
    if constexpr (kTensorCopies) {
      copy_tile(i);
      if (i + 1 < num_tiles) next_page = page_of(i + 1);
    } else {
      const int s = i % kStages;
      load_tile_async<D, TKV, kThreads>(p, sPlan + s * 2 * TKV, sK8 + s * TKV * D, sV8 + s * TKV * D,
                                        sScales + s * 2 * TKV);
    }
  };
  if constexpr (kTensorCopies) {
    if (threadIdx.x == 0) {
      for (int s = 0; s < kStages; ++s) ptx::mbarrier_init(landed + 8 * s, 1);  // thread 0's expect_tx, and the bytes
      ptx::fence_mbarrier_init();
    }
    if (copier && num_tiles > 0) next_page = page_of(0);
  } else {
    for (int j = 0; j < kStages; ++j) plan(j);
  }
  __syncthreads();
  start_decode_rows<T, D, kThreads>(sQ, q, heads, begin, end);
  // A cp.async group per tile even where none is copied (so that group i is tile i's), Q in
  // the first.
  for (int j = 0; j < kStages - 1; ++j) {
    if (j < num_tiles) load(j);
    ptx::cp_async_commit();
  }

  const int warp = threadIdx.x / 32;
  ColState<D> st;
  QueryCols<D> q_cols;  // quantized once Q has landed, with tile 0
  st.init();
  for (int32_t i = 0; i < num_tiles; ++i) {
    const int s = i % kStages;
    // Into the stage of tile i - 1, free since the barrier that ended it: tiles i + 1 ..
    // i + kStages - 1 fly while this one is attended.
    if (i + kStages - 1 < num_tiles) load(i + kStages - 1);
    ptx::cp_async_commit();
    ptx::cp_async_wait<kStages - 1>();
    if constexpr (kTensorCopies) ptx::mbarrier_wait(landed + 8 * s, (i / kStages) & 1);  // stage s's phase
    __syncthreads();
    if (i == 0) q_cols.load(sQ);
    if constexpr (!kTensorCopies)
      if (i + kStages < num_tiles) plan(i + kStages);  // its plan slot's last reader was load(i)
    const int32_t key0 = base + i * TKV + warp * 16;  // this warp's 16 keys of the tile
    if (key0 < end && key0 + 16 > begin) {
      const float* scales = sScales + s * 2 * TKV;
      warp_attend_cols<T, D>(q_cols, Int8KOperand<D>{sK8 + s * TKV * D, warp * 16}, warp * 16, key0,
                             key0 < begin || key0 + 16 > end, begin, end, p.scale_log2, st,
                             Int8Tile<D>{scales, scales + TKV, sV8 + s * TKV * D});
    }
    __syncthreads();  // stage s is refilled at the top of the next iteration
  }
  ptx::cp_async_wait<0>();
  __syncthreads();
  stage_decode_cols<D, kWarps>(st, reinterpret_cast<float*>(sK8));
  const std::size_t first_row = static_cast<std::size_t>(b) * p.num_q_heads + head0;
  // With splits, the last block of the group to finish merges them (split_merge.cuh).
  merge_decode_rows_called<T, D, kWarps, kFlashDecodeHeads>(
      reinterpret_cast<float*>(sK8), heads, first_row, static_cast<T*>(p.o), p.part_o, p.part_lse, p.splits, split,
      plain_kv::group_counters(p.split_counters, b, kvh, chunk, p.head_chunks));
}

constexpr int kTileKv = kFlashDecodeTileKv;
template <typename T, int D, bool kTensorCopies>
constexpr std::size_t SharedBytes = SharedLayout<T, D, kTileKv, kStages, kTensorCopies>::bytes;

// The kernel for T, D and the copies, given its shared memory once, and how many blocks of
// it the device holds at once.
template <typename T, int D, bool kTensorCopies>
int64_t configure(int32_t sm_count) {
  constexpr std::size_t kSmem = SharedBytes<T, D, kTensorCopies>;
  const auto kernel = int8_flash_decode_kernel<T, D, kTileKv, kTensorCopies>;
  static const bool configured =
      (plain_kv::allow_shared_memory(kernel, kSmem, "int8_kv decode kernel"), true);
  (void)configured;
  static const int64_t resident = plain_kv::resident_blocks(kernel, kTileKv / 16 * 32, kSmem, sm_count);
  return resident;
}

template <typename T, int D, bool kTensorCopies>
void launch(const DecodeParams& params, bool early_launch, int32_t sm_count, cudaStream_t stream) {
  configure<T, D, kTensorCopies>(sm_count);
  const dim3 grid(params.splits * params.head_chunks, params.layout.num_kv_heads, params.cache.batch);
  plain_kv::launch_dependent("int8_kv tensor-core decode kernel",
                             int8_flash_decode_kernel<T, D, kTileKv, kTensorCopies>, grid, kTileKv / 16 * 32,
                             SharedBytes<T, D, kTensorCopies>, stream, early_launch, params);
}

// Calls f(T*, integral_constant D) for the problem's dtype and head dim.
template <typename F>
void dispatch(const AttnbProblem& p, F&& f) {
  plain_kv::dispatch_half_types(p.dtype, [&](auto* type_tag) {
    if (p.head_dim == 128) f(type_tag, std::integral_constant<int, 128>{});
    else if (p.head_dim == 64) f(type_tag, std::integral_constant<int, 64>{});
    else throw Unsupported("head_dim " + std::to_string(p.head_dim) + " has no CUDA kernel");
  });
}

}  // namespace

void cuda_flash_decode(const AttnbProblem& p, const Layout& layout, const AttnbAttendArgs& a,
                       int32_t splits, const DecodeTunables& tunables, int32_t fresh_keys,
                       float* part_o, float* part_lse, const plain_kv::SplitCounters& counters,
                       int32_t sm_count) {
  const AttnbPagedKv& cache = *a.cache;
  if (cache.batch > 65535) throw Unsupported("more than 65535 sequences in one decode call");
  DecodeParams params{};
  params.cache = cache;
  params.layout = layout;
  params.q = a.q;
  params.o = a.o;
  params.part_o = part_o;
  params.part_lse = part_lse;
  params.num_q_heads = p.num_q_heads;
  params.group = p.num_q_heads / p.num_kv_heads;
  params.window = p.window;
  params.splits = splits;
  params.head_chunks = (params.group + kFlashDecodeHeads - 1) / kFlashDecodeHeads;
  params.split_counters =
      counters.get(plain_kv::split_groups(cache.batch, p.num_q_heads, p.num_kv_heads, kFlashDecodeHeads));
  params.fresh_keys = tunables.early_launch ? fresh_keys : 0;  // launched after the append: none
  params.l2_evict_first = tunables.l2_evict_first;
  const float sm_scale = p.sm_scale != 0 ? p.sm_scale : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  params.scale_log2 = sm_scale * 1.4426950408889634f;
  const auto stream = static_cast<cudaStream_t>(a.stream);
  // Tensor copies where the page size allows and the driver encodes the map; else cp.async.
  const CUtensorMap* map = tunables.tensor_copies ? values_map_for(cache, layout, kTileKv) : nullptr;
  const bool tensor_copies = map != nullptr;
  if (map) params.values = *map;
  dispatch(p, [&](auto* type_tag, auto d) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    constexpr int D = decltype(d)::value;
    if (tensor_copies) launch<T, D, true>(params, tunables.early_launch, sm_count, stream);
    else launch<T, D, false>(params, tunables.early_launch, sm_count, stream);
  });
}

plain_kv::SplitCounters cuda_split_counters(const AttnbProblem& p) {
  return plain_kv::SplitCounters(p, kFlashDecodeHeads);
}

int64_t cuda_flash_decode_resident_blocks(const AttnbProblem& p, int32_t sm_count) {
  int64_t resident = 0;  // the same for both copy paths: shared memory and __launch_bounds__ bound it
  dispatch(p, [&](auto* type_tag, auto d) {
    resident = configure<std::remove_pointer_t<decltype(type_tag)>, decltype(d)::value, true>(sm_count);
  });
  return resident;
}

}  // namespace attnbench::int8_kv
