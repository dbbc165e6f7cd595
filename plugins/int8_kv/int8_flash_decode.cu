// Decode over the int8 cache on the tensor cores. Each block streams int8 K/V tiles into
// shared memory with cp.async (half the bytes of an fp16 cache). Each warp takes 16 keys of
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

struct DecodeParams {
  AttnbPagedKv cache;
  Layout layout;
  const void* q;  // [batch][num_q_heads][D]
  void* o;
  float* part_o;  // split partials, as in attend_kernel
  float* part_lse;
  int32_t num_q_heads, group, window, splits, head_chunks;
  int32_t fresh_keys;      // the last keys of each sequence the append before may still write
  float scale_log2;
  CUtensorMap values;      // the tensor copies' map (int8_values_map.hpp), when they are used
};

// Shared memory of one block, in bytes from its start.
template <typename T, int D, int TKV>
struct SharedLayout {
  static constexpr std::size_t q = 0;                                  // T [16][D], swizzled
  // T [TKV][D], swizzled: V's rows, converted (K's operand is built in registers). One
  // 16-bit tile, not two: an SM holds four blocks.
  static constexpr std::size_t v = q + kQueryRows * D * sizeof(T);
  static constexpr std::size_t k8 = v + TKV * D * sizeof(T);           // int8 [2][TKV][D]
  static constexpr std::size_t v8 = k8 + 2 * TKV * D;                  // int8 [2][TKV][D]
  static constexpr std::size_t scales = v8 + 2 * TKV * D;              // float [2][2][TKV]
  static constexpr std::size_t rows = scales + 4 * TKV * sizeof(float);  // int64 [2][TKV][2]
  static constexpr std::size_t landed = rows + 4 * TKV * sizeof(int64_t);  // mbarrier [2]
  static constexpr std::size_t bytes = landed + 2 * sizeof(uint64_t);
  // The tensor copies' 128-byte (64-byte) swizzle repeats every 1024 (512) bytes: the int8
  // stages start on such a boundary, as every copy's destination must.
  static_assert(k8 % 1024 == 0 && TKV * D % 1024 == 0, "int8 stages on swizzle boundaries");
  static constexpr uint32_t tile_bytes = 2 * TKV * D + 2 * TKV * sizeof(float);  // one stage's copies
  // The warps' final merge reuses everything from v on.
  static_assert(decode_merge_floats(D, TKV / 16, kFlashDecodeHeads) * sizeof(float) <= rows - v,
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

// Four int8 values (a word) to four T, exactly (|q| <= 127 needs 8 significant bits): bytes
// 0, 1 in .x, bytes 2, 3 in .y. For fp16, two byte permutes and one half2 subtraction:
// byte + 128 becomes the low mantissa byte of 1024.0 (0x6400), where fp16 steps by exactly 1,
// and 1152 is subtracted.
template <typename T>
__device__ __forceinline__ uint2 int8x4_to(uint32_t word) {
  if constexpr (std::is_same_v<T, __half>) {
    const __half2 bias = __half2half2(__ushort_as_half(0x6480));  // 1152.0
    const uint32_t biased = word ^ 0x80808080u;
    uint32_t out[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const uint32_t bits = __byte_perm(biased, 0x64646464u, h ? 0x4342u : 0x4140u);
      const __half2 x = __hsub2(*reinterpret_cast<const __half2*>(&bits), bias);
      out[h] = *reinterpret_cast<const uint32_t*>(&x);
    }
    return make_uint2(out[0], out[1]);
  } else {
    float x[4];
    int8x4_to_float(word, x);
    return make_uint2(ptx::pack2<T>(x[0], x[1]), ptx::pack2<T>(x[2], x[3]));
  }
}

template <typename T>
__device__ __forceinline__ uint4 int8x8_to(uint2 raw) {
  const uint2 lo = int8x4_to<T>(raw.x), hi = int8x4_to<T>(raw.y);
  return make_uint4(lo.x, lo.y, hi.x, hi.y);
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

// Warp-private: rows [row0, row0 + 16) of an int8 tile (chunks placed by int8_chunk),
// converted (not scaled: the scales go to warp_attend_cols) into the same rows of a swizzled
// T tile, 8 elements a lane at a time, so 8 lanes fill one row's 8 consecutive 16-byte chunks
// (no bank conflicts) from 64 bytes of the int8 row.
template <typename T, int D>
__device__ __forceinline__ void convert_rows(const int8_t* src, T* dst, int row0) {
  constexpr int kChunks = D / 8;                // 16-byte chunks of a T row
  constexpr int kCopies = 16 * kChunks / 32;    // 8-byte loads a lane
  const int lane = threadIdx.x & 31;
  uint2 raw[kCopies];  // every load issued before the first is used: one wait, not kCopies
#pragma unroll
  for (int k = 0; k < kCopies; ++k) {
    const int i = k * 32 + lane;
    const int row = row0 + i / kChunks, half = i % kChunks;  // 8-byte halves of 16-byte chunks
    raw[k] = *reinterpret_cast<const uint2*>(src + row * D + int8_chunk<D>(row, half / 2) * 16 + half % 2 * 8);
  }
#pragma unroll
  for (int k = 0; k < kCopies; ++k) {
    const int i = k * 32 + lane;
    *reinterpret_cast<uint4*>(dst + swizzled<D>(row0 + i / kChunks, i % kChunks)) = int8x8_to<T>(raw[k]);
  }
}

// What warp_attend_cols needs of an int8 tile besides K: the per-token scales (the score of
// tile row r is scaled by ks[r], its weight in P V by vs[r]: the dequantization, applied
// once per key rather than once per element), and V's integers, converted into the warp's
// rows of a 16-bit tile once the scores are done (before_pv).
template <typename T, int D>
struct Int8Tile {
  const float* ks;
  const float* vs;
  const int8_t* v8;  // the int8 tile's V
  T* rows;           // the converted tile
  int row0;          // the warp's 16 rows
  __device__ __forceinline__ float k(int r) const { return ks[r]; }
  __device__ __forceinline__ float v(int r) const { return vs[r]; }
  __device__ __forceinline__ void before_pv() const {
    convert_rows<T, D>(v8, rows, row0);
    __syncwarp();
  }
};

// One block per (split, chunk of up to 8 query heads of a group, KV head, sequence), TKV /
// 16 warps that take 16 keys each of every tile; tiles double-buffered as in the fused
// plugin's decode, whose structure this follows. kTensorCopies: tiles start at multiples of
// TKV (a window's first one then holds masked keys before `begin`) and come by tensor
// copies, one per page piece of rows keys and kind, completing on the stage's mbarrier;
// else each key's rows are looked up (plan_tile) and copied 16 bytes a thread (cp.async).
template <typename T, int D, int TKV, bool kTensorCopies>
__global__ void __launch_bounds__(TKV / 16 * 32, 4)
    int8_flash_decode_kernel(const __grid_constant__ DecodeParams p) {
  constexpr int kWarps = TKV / 16, kThreads = kWarps * 32;
  using Smem = SharedLayout<T, D, TKV>;
  extern __shared__ __align__(1024) unsigned char smem[];
  T* sQ = reinterpret_cast<T*>(smem + Smem::q);
  T* sV = reinterpret_cast<T*>(smem + Smem::v);
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
  const int32_t ps = p.layout.page_size, rows = min(ps, TKV), pieces = TKV / rows;
  const int kind = threadIdx.x / pieces, piece = threadIdx.x % pieces;
  const bool copier = kTensorCopies && threadIdx.x < 4 * pieces;
  const int32_t* seq_pages = p.cache.page_indices + p.cache.page_indptr[b];
  const int32_t last_page = p.cache.page_indptr[b + 1] - p.cache.page_indptr[b] - 1;
  const auto page_of = [&](int32_t i) {  // past the sequence's end: its last page, masked
    return seq_pages[min((base + i * TKV + piece * rows) / ps, last_page)];
  };
  int32_t next_page = 0;  // of this thread's piece of the next tile to copy
  const auto copy_tile = [&](int32_t i) {
    const int s = i & 1;
    const uint32_t bar = landed + 8 * s;
    const int32_t slot = (base + i * TKV + piece * rows) % ps;
    if (threadIdx.x == 0) ptx::mbarrier_arrive_expect_tx(bar, Smem::tile_bytes);
    if (kind < 2) {
      const int8_t* dst = (kind == 0 ? sK8 : sV8) + (s * TKV + piece * rows) * D;
      ptx::tensor_copy_4d(ptx::smem_address(dst), &p.values, 0, slot, kind * p.layout.num_kv_heads + kvh,
                          next_page, bar);
    } else {
      const char* src = static_cast<const char*>(p.cache.pages) +
                        static_cast<int64_t>(next_page) * static_cast<int64_t>(p.layout.page_bytes) +
                        p.layout.scale_offset(kvh, slot, kind == 3);
      ptx::bulk_copy(ptx::smem_address(sScales + (2 * s + kind - 2) * TKV + piece * rows), src,
                     rows * sizeof(float), bar);
    }
  };

  const T* q = static_cast<const T*>(p.q) + (static_cast<std::size_t>(b) * p.num_q_heads + head0) * D;
  const auto plan = [&](int32_t i) {
    plan_tile<TKV>(p, b, kvh, begin + i * TKV, begin, end, sPlan + (i & 1) * 2 * TKV);
  };
  const auto load = [&](int32_t i) {
    if constexpr (kTensorCopies) {
      if (!copier) return;
      if (fresh_tile >= 0 && i >= fresh_tile) plain_kv::wait_for_prior_grid();  // keys the append may still write
      copy_tile(i);
      if (i + 1 < num_tiles) next_page = page_of(i + 1);
    } else {
      const int s = i & 1;
      if (fresh_tile >= 0 && i >= fresh_tile) plain_kv::wait_for_prior_grid();
      load_tile_async<D, TKV, kThreads>(p, sPlan + s * 2 * TKV, sK8 + s * TKV * D, sV8 + s * TKV * D,
                                        sScales + s * 2 * TKV);
    }
  };
  if constexpr (kTensorCopies) {
    if (threadIdx.x == 0) {
      ptx::mbarrier_init(landed, 1);  // one arrival (thread 0's expect_tx) and the bytes
      ptx::mbarrier_init(landed + 8, 1);
      ptx::fence_mbarrier_init();
    }
    if (copier && num_tiles > 0) next_page = page_of(0);
  } else {
    plan(0);
    plan(1);
  }
  __syncthreads();
  start_decode_rows<T, D, kThreads>(sQ, q, heads, begin, end);
  if (num_tiles > 0) load(0);
  ptx::cp_async_commit();  // Q, with tile 0's copies when they are cp.async

  const int warp = threadIdx.x / 32;
  ColState<D> st;
  QueryCols<D> q_cols;  // quantized once Q has landed, with tile 0
  st.init();
  for (int32_t i = 0; i < num_tiles; ++i) {
    const int s = i & 1;
    // Tile i + 1's copies fly while this one is converted and attended.
    if (i + 1 < num_tiles) {
      load(i + 1);
      ptx::cp_async_commit();
      ptx::cp_async_wait<1>();
    } else {
      ptx::cp_async_wait<0>();
    }
    if constexpr (kTensorCopies) ptx::mbarrier_wait(landed + 8 * s, (i >> 1) & 1);  // stage s's phase i / 2
    __syncthreads();
    if (i == 0) q_cols.load(sQ);
    if constexpr (!kTensorCopies)
      if (i + 2 < num_tiles) plan(i + 2);  // its plan slot's last reader was load(i) above
    const int32_t key0 = base + i * TKV + warp * 16;  // this warp's 16 keys of the tile
    if (key0 < end && key0 + 16 > begin) {
      const float* scales = sScales + s * 2 * TKV;
      warp_attend_cols<T, D>(q_cols, Int8KOperand<D>{sK8 + s * TKV * D, warp * 16}, sV,
                             warp * 16, key0, key0 < begin || key0 + 16 > end, begin, end,
                             p.scale_log2, st,
                             Int8Tile<T, D>{scales, scales + TKV, sV8 + s * TKV * D, sV, warp * 16});
    }
    __syncthreads();  // stage s is refilled (tile i + 2) at the top of the next iteration
  }
  ptx::cp_async_wait<0>();
  plain_kv::let_dependents_start();  // the split merge may launch; it waits for this grid's end
  __syncthreads();
  stage_decode_cols<D, kWarps>(st, reinterpret_cast<float*>(sV));
  merge_decode_rows<T, D, kWarps, kFlashDecodeHeads>(
      reinterpret_cast<float*>(sV), heads, static_cast<std::size_t>(b) * p.num_q_heads + head0,
      static_cast<T*>(p.o), p.part_o, p.part_lse, p.splits, split);
}

constexpr int kTileKv = kFlashDecodeTileKv;

// The kernel for T, D and the copies, given its shared memory once, and how many blocks of
// it the device holds at once.
template <typename T, int D, bool kTensorCopies>
int64_t configure(int32_t sm_count) {
  constexpr std::size_t kSmem = SharedLayout<T, D, kTileKv>::bytes;
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
                             SharedLayout<T, D, kTileKv>::bytes, stream, early_launch, params);
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
                       float* part_o, float* part_lse, int32_t sm_count) {
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
  params.fresh_keys = tunables.early_launch ? fresh_keys : 0;  // launched after the append: none
  params.head_chunks = (params.group + kFlashDecodeHeads - 1) / kFlashDecodeHeads;
  const float sm_scale = p.sm_scale != 0 ? p.sm_scale : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  params.scale_log2 = sm_scale * 1.4426950408889634f;
  const auto stream = static_cast<cudaStream_t>(a.stream);
  // Tensor copies where the page size allows and the driver encodes the map; else cp.async.
  const bool tensor_copies = tunables.tensor_copies && tensor_copies_fit(layout, kTileKv, cache) &&
                             encode_values_map(cache, layout, kTileKv, &params.values);
  dispatch(p, [&](auto* type_tag, auto d) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    constexpr int D = decltype(d)::value;
    if (tensor_copies) launch<T, D, true>(params, tunables.early_launch, sm_count, stream);
    else launch<T, D, false>(params, tunables.early_launch, sm_count, stream);
  });
}

int64_t cuda_flash_decode_resident_blocks(const AttnbProblem& p, int32_t sm_count) {
  int64_t resident = 0;  // the same for both copy paths: shared memory and __launch_bounds__ bound it
  dispatch(p, [&](auto* type_tag, auto d) {
    resident = configure<std::remove_pointer_t<decltype(type_tag)>, decltype(d)::value, true>(sm_count);
  });
  return resident;
}

}  // namespace attnbench::int8_kv
