// One kernel for grouped attention over the plain paged cache (see grouped_attention.hpp).
//
// A block owns one KV head of one sequence and `rows` query rows that read it: the group's
// query heads at one position (decode) or at a few consecutive positions (prefill). It walks
// the keys those rows may see in tiles of 16 KiB of K+V, double-buffered in shared memory
// with cp.async (16-byte copies, coalesced along the page's contiguous rows, two tiles in
// flight), and for each tile:
//   1. scores: every row against every key of the tile, queries held in shared memory;
//   2. online softmax: running max and sum per row (base-2 exponent, scale folded into q);
//   3. values: the probability-weighted V rows added to each row's accumulator.
// So each cached K/V element is read from memory once per block, i.e. once per group, not
// once per query head. The threads come in slices of 128 (4 warps) with up to 8 rows each.
//
// Decode may split a long context over several blocks per (sequence, KV head) so that small
// batches still fill the GPU; each split writes its normalised output and log-sum-exp to the
// workspace and a second kernel merges them (the flash-decoding reduction).
#include "grouped_attention.hpp"

#include "cuda_common.cuh"
#include "split_kv.hpp"
#include "split_merge.cuh"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace attnbench::plain_kv {

namespace {

constexpr int kSliceThreads = 128;
constexpr int kMaxSliceRows = 8;
constexpr int kPrefillRows = 32;      // query rows a prefill block aims for
constexpr int kMaxSplits = 64;
constexpr int kMinSplitKeys = 256;    // a split shorter than this costs more than it gives
constexpr float kLog2e = 1.4426950408889634f;

// Tile geometry for head dim D and a 2-byte element type.
template <int D>
struct Tiling {
  static constexpr int kKeys = 4096 / D;                // keys per tile: 8 KiB of K, 8 of V
  static constexpr int kChunks = D * 2 / 16;            // 16-byte chunks per cached row
  static constexpr int kRowBytes = D * 2 + 16;          // padded: 8 keys in a row of lanes
                                                        // hit 8 different bank groups
  static constexpr int kStageBytes = 2 * kKeys * kRowBytes;  // K and V of one tile
  static constexpr int kParts = kSliceThreads / kKeys;  // threads sharing one key's dot
  static constexpr int kPartChunks = kChunks / kParts;
  static constexpr int kPairs = D / 2;                  // output element pairs per row
  static constexpr int kRowStep = kSliceThreads / kPairs;  // rows between one thread's outputs
};

// Dynamic shared memory of a block with `slices` slices of `rows_per_slice` rows.
template <int D>
std::size_t shared_bytes(int slices, int rows_per_slice) {
  const std::size_t rows = static_cast<std::size_t>(slices) * rows_per_slice;
  // two tile stages, then per row: the query, the tile's scores, max, sum, rescale factor
  return 2 * Tiling<D>::kStageBytes + rows * (D + Tiling<D>::kKeys + 3) * sizeof(float);
}

struct Params {
  AttnbPagedKv cache;
  Layout layout;
  const void* q;
  void* o;
  const int32_t* q_indptr;  // NULL: one query per sequence (decode)
  float* part_o;            // [query token][q head][split][D], when splits > 1
  float* part_lse;          // [query token][q head][split]
  int32_t num_q_heads;
  int32_t group;
  int32_t tokens_per_block;  // query positions per block
  int32_t q_tiles;           // blocks along the queries of the longest sequence
  int32_t splits;            // blocks sharing one (sequence, KV head) along the keys
  int32_t split_keys;        // keys per split (a multiple of the tile)
  int32_t causal;
  int32_t window;
  float scale_log2;          // softmax scale * log2(e)
};

template <typename T> struct Pair;
template <> struct Pair<__half> { using type = __half2; };
template <> struct Pair<__nv_bfloat16> { using type = __nv_bfloat162; };

__device__ __forceinline__ float2 to_float2(__half2 x) { return __half22float2(x); }
__device__ __forceinline__ float2 to_float2(__nv_bfloat162 x) { return __bfloat1622float2(x); }
template <typename T2> __device__ __forceinline__ T2 from_float2(float a, float b);
template <> __device__ __forceinline__ __half2 from_float2<__half2>(float a, float b) {
  return __floats2half2_rn(a, b);
}
template <> __device__ __forceinline__ __nv_bfloat162 from_float2<__nv_bfloat162>(float a, float b) {
  return __floats2bfloat162_rn(a, b);
}

__device__ __forceinline__ void cp_async_16(void* shared_dst, const void* global_src) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(shared_dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(global_src) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most `Pending` of this thread's committed groups are still in flight.
template <int Pending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
}

__device__ __forceinline__ float warp_max(float x) {
  for (int s = 16; s > 0; s /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, s));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
  for (int s = 16; s > 0; s /= 2) x += __shfl_xor_sync(0xffffffffu, x, s);
  return x;
}

// Launched with blockDim.x = 128 * slices; grid (batch * q_tiles * splits, kv_heads): the
// sequences and their query tiles and splits share x, the only dimension that holds more
// than 65535 blocks.
template <typename T, int D, int kRows>
__global__ void __launch_bounds__(1024) grouped_attention_kernel(const Params p) {
  using Tile = Tiling<D>;
  using T2 = typename Pair<T>::type;
  constexpr int kKeys = Tile::kKeys, kParts = Tile::kParts, kPairs = Tile::kPairs;
  constexpr int kAccRows = (kRows + Tile::kRowStep - 1) / Tile::kRowStep;

  const int32_t per_sequence = p.q_tiles * p.splits, kvh = blockIdx.y;
  const int32_t b = blockIdx.x / per_sequence, in_sequence = blockIdx.x % per_sequence;
  const int32_t q_tile = in_sequence / p.splits, split = in_sequence % p.splits;
  const int32_t q0 = p.q_indptr ? p.q_indptr[b] : b;
  const int32_t q_len = p.q_indptr ? p.q_indptr[b + 1] - q0 : 1;
  const int32_t first_q = q_tile * p.tokens_per_block;
  if (first_q >= q_len) return;  // this sequence has fewer query tiles than the longest
  const int32_t rows = min(p.tokens_per_block, q_len - first_q) * p.group;
  const int32_t page_size = p.layout.page_size;
  const int64_t kv_len = sequence_length(p.cache.page_indptr, p.cache.last_page_len, page_size, b);
  const int64_t pos0 = kv_len - q_len + first_q;  // position of the block's first query
  const int64_t last_pos = pos0 + rows / p.group - 1;
  // Keys some row may see: from the first query's window start to the last query (causal).
  int64_t key_lo = first_visible(pos0, p.window);
  int64_t key_hi = p.causal ? last_pos + 1 : kv_len;
  if (p.splits > 1) {
    key_lo += static_cast<int64_t>(split) * p.split_keys;
    key_hi = min(key_hi, key_lo + p.split_keys);
  }
  const int32_t tiles = key_hi > key_lo ? static_cast<int32_t>((key_hi - key_lo + kKeys - 1) / kKeys) : 0;

  extern __shared__ __align__(16) unsigned char smem[];
  const int32_t tid = threadIdx.x, threads = blockDim.x, row_cap = threads / kSliceThreads * kRows;
  float* q_s = reinterpret_cast<float*>(smem + 2 * Tile::kStageBytes);  // [row_cap][D]
  float* s_s = q_s + row_cap * D;                                      // [row_cap][kKeys]
  float* m_s = s_s + row_cap * kKeys;
  float* l_s = m_s + row_cap;
  float* alpha_s = l_s + row_cap;

  // Row r is query position first_q + r / group, query head kvh * group + r % group.
  const T* q = static_cast<const T*>(p.q);
  for (int32_t i = tid; i < rows * D; i += threads) {
    const int32_t r = i / D, e = i % D;
    const std::size_t token = static_cast<std::size_t>(q0 + first_q + r / p.group);
    q_s[r * D + e] =
        to_float(q[(token * p.num_q_heads + kvh * p.group + r % p.group) * D + e]) * p.scale_log2;
  }
  for (int32_t r = tid; r < rows; r += threads) {
    m_s[r] = -INFINITY;
    l_s[r] = 0.0f;
  }

  const char* pages = static_cast<const char*>(p.cache.pages);
  const int32_t* page_list = p.cache.page_indices + p.cache.page_indptr[b];
  // Tile t goes to stage t % 2: each thread copies its 16-byte chunks of K and V rows; rows
  // past the last key are zeroed so that the value loop may run over whole groups of 4.
  auto load_tile = [&](int32_t t) {
    const int64_t start = key_lo + static_cast<int64_t>(t) * kKeys;
    const int32_t valid = static_cast<int32_t>(min(static_cast<int64_t>(kKeys), key_hi - start));
    unsigned char* k_dst = smem + (t % 2) * Tile::kStageBytes;
    unsigned char* v_dst = k_dst + kKeys * Tile::kRowBytes;
    for (int32_t i = tid; i < kKeys * Tile::kChunks; i += threads) {
      const int32_t key = i / Tile::kChunks, chunk = i % Tile::kChunks;
      const int32_t dst = key * Tile::kRowBytes + chunk * 16;
      if (key < valid) {
        const int64_t pos = start + key;
        const int32_t page = page_list[pos / page_size];
        const int32_t slot = static_cast<int32_t>(pos % page_size);
        cp_async_16(k_dst + dst, pages + p.layout.offset(page, kvh, slot, false) + chunk * 16);
        cp_async_16(v_dst + dst, pages + p.layout.offset(page, kvh, slot, true) + chunk * 16);
      } else {
        *reinterpret_cast<int4*>(k_dst + dst) = make_int4(0, 0, 0, 0);
        *reinterpret_cast<int4*>(v_dst + dst) = make_int4(0, 0, 0, 0);
      }
    }
    cp_async_commit();
  };

  // Roles of this thread within its slice.
  const int32_t slice = tid / kSliceThreads, st = tid % kSliceThreads, lane = st % 32;
  // Scores: 8 consecutive lanes take 8 different keys (conflict-free with the padded rows);
  // the kParts lanes of one key, 8 apart, split its head dim and add up with shuffles.
  const int32_t score_key = lane % 8 + 8 * (lane / (8 * kParts)) + (32 / kParts) * (st / 32);
  const int32_t part = (lane / 8) % kParts;
  // Values: one pair of output elements for rows st / kPairs, + kRowStep, ... of the slice.
  const int32_t pair = st % kPairs, first_acc_row = st / kPairs;
  float2 acc[kAccRows];
#pragma unroll
  for (int i = 0; i < kAccRows; ++i) acc[i] = make_float2(0.0f, 0.0f);

  __syncthreads();
  if (tiles > 0) load_tile(0);
  for (int32_t t = 0; t < tiles; ++t) {
    if (t + 1 < tiles)
      load_tile(t + 1);
    else
      cp_async_commit();  // an empty group keeps "all but the newest" meaning tile t
    cp_async_wait<1>();
    __syncthreads();
    const int64_t start = key_lo + static_cast<int64_t>(t) * kKeys;
    const int32_t valid = static_cast<int32_t>(min(static_cast<int64_t>(kKeys), key_hi - start));
    const unsigned char* k_tile = smem + (t % 2) * Tile::kStageBytes;
    const unsigned char* v_tile = k_tile + kKeys * Tile::kRowBytes;

    {  // 1. scores of the slice's rows against the tile's keys (zeroed keys give 0, unused)
      float dot[kRows];
#pragma unroll
      for (int r = 0; r < kRows; ++r) dot[r] = 0.0f;
#pragma unroll
      for (int c = 0; c < Tile::kPartChunks; ++c) {
        const int32_t chunk = part * Tile::kPartChunks + c;
        const uint4 raw = *reinterpret_cast<const uint4*>(k_tile + score_key * Tile::kRowBytes + chunk * 16);
        const T2* k2 = reinterpret_cast<const T2*>(&raw);
        float k[8];
#pragma unroll
        for (int u = 0; u < 4; ++u) {
          const float2 f = to_float2(k2[u]);
          k[2 * u] = f.x;
          k[2 * u + 1] = f.y;
        }
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          const int32_t row = slice * kRows + r;
          if (row < rows) {
            const float4* qv = reinterpret_cast<const float4*>(q_s + row * D + chunk * 8);
            const float4 a = qv[0], c4 = qv[1];
            dot[r] += a.x * k[0] + a.y * k[1] + a.z * k[2] + a.w * k[3] + c4.x * k[4] +
                      c4.y * k[5] + c4.z * k[6] + c4.w * k[7];
          }
        }
      }
#pragma unroll
      for (int r = 0; r < kRows; ++r)
#pragma unroll
        for (int s = 8; s < 8 * kParts; s *= 2) dot[r] += __shfl_xor_sync(0xffffffffu, dot[r], s);
      if (part == 0 && score_key < valid) {
        const int64_t key_pos = start + score_key;
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          const int32_t row = slice * kRows + r;
          if (row < rows) {
            const int64_t q_pos = pos0 + row / p.group;
            const bool visible =
                key_pos >= first_visible(q_pos, p.window) && (!p.causal || key_pos <= q_pos);
            s_s[row * kKeys + score_key] = visible ? dot[r] : -INFINITY;
          }
        }
      }
    }
    __syncthreads();

    // 2. online softmax, a warp per row: scores become weights, the old sum is rescaled.
    for (int32_t row = tid / 32; row < rows; row += threads / 32) {
      float* s = s_s + row * kKeys;
      float tile_max = -INFINITY;
      for (int32_t j = lane; j < valid; j += 32) tile_max = fmaxf(tile_max, s[j]);
      tile_max = warp_max(tile_max);
      const float m_old = m_s[row], m_new = fmaxf(m_old, tile_max);
      float sum = 0.0f;
      for (int32_t j = lane; j < kKeys; j += 32) {
        // A row that has seen no visible key yet (m_new = -inf) keeps weight 0.
        const float w = j < valid && m_new != -INFINITY ? exp2f(s[j] - m_new) : 0.0f;
        s[j] = w;
        sum += w;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        const float alpha = m_new == -INFINITY ? 1.0f : exp2f(m_old - m_new);
        alpha_s[row] = alpha;
        m_s[row] = m_new;
        l_s[row] = l_s[row] * alpha + sum;
      }
    }
    __syncthreads();

    {  // 3. values: acc = acc * alpha + sum_j w_j v_j, four keys at a time
#pragma unroll
      for (int i = 0; i < kAccRows; ++i) {
        const int32_t local = first_acc_row + i * Tile::kRowStep, row = slice * kRows + local;
        if (local < kRows && row < rows) {
          const float alpha = alpha_s[row];
          acc[i].x *= alpha;
          acc[i].y *= alpha;
        }
      }
      for (int32_t j = 0; j < valid; j += 4) {
        float2 v[4];
#pragma unroll
        for (int u = 0; u < 4; ++u)
          v[u] = to_float2(*reinterpret_cast<const T2*>(v_tile + (j + u) * Tile::kRowBytes + pair * 4));
#pragma unroll
        for (int i = 0; i < kAccRows; ++i) {
          const int32_t local = first_acc_row + i * Tile::kRowStep, row = slice * kRows + local;
          if (local < kRows && row < rows) {
            const float4 w = *reinterpret_cast<const float4*>(s_s + row * kKeys + j);
            acc[i].x += w.x * v[0].x + w.y * v[1].x + w.z * v[2].x + w.w * v[3].x;
            acc[i].y += w.x * v[0].y + w.y * v[1].y + w.z * v[2].y + w.w * v[3].y;
          }
        }
      }
    }
    __syncthreads();  // the stage is refilled by the next iteration's load
  }
  cp_async_wait<0>();

  // Normalise; write the output, or this split's partial and log-sum-exp.
#pragma unroll
  for (int i = 0; i < kAccRows; ++i) {
    const int32_t local = first_acc_row + i * Tile::kRowStep, row = slice * kRows + local;
    if (local >= kRows || row >= rows) continue;
    const float l = l_s[row], inv = l > 0 ? 1.0f / l : 0.0f;
    const std::size_t token = static_cast<std::size_t>(q0 + first_q + row / p.group);
    const std::size_t head_row = token * p.num_q_heads + kvh * p.group + row % p.group;
    if (p.splits == 1) {
      reinterpret_cast<T2*>(static_cast<T*>(p.o) + head_row * D)[pair] =
          from_float2<T2>(acc[i].x * inv, acc[i].y * inv);
    } else {
      const std::size_t slot = head_row * p.splits + split;
      reinterpret_cast<float2*>(p.part_o + slot * D)[pair] = make_float2(acc[i].x * inv, acc[i].y * inv);
      if (pair == 0) p.part_lse[slot] = l > 0 ? m_s[row] + log2f(l) : -INFINITY;
    }
  }
}

int32_t keys_per_tile(int32_t head_dim) {
  return head_dim == 64 ? Tiling<64>::kKeys : Tiling<128>::kKeys;
}

struct SplitPlan {
  int32_t splits = 1;
  int32_t split_keys = 0;  // keys per split when splits > 1
};

// Most blocks one (sequence, KV head) is split into: enough to fill every SM twice, none
// shorter than kMinSplitKeys keys. Grows with max_visible, so it also bounds the workspace.
int32_t most_splits(const AttnbProblem& p, int32_t batch, int64_t max_visible) {
  const int32_t sms = detail::host_info().cuda_sm_count > 0 ? detail::host_info().cuda_sm_count : 132;
  const int64_t blocks = std::max<int64_t>(1, static_cast<int64_t>(batch) * p.num_kv_heads);
  const int64_t splits = std::min<int64_t>(
      {(2 * sms + blocks - 1) / blocks, (max_visible + kMinSplitKeys - 1) / kMinSplitKeys, kMaxSplits});
  return static_cast<int32_t>(std::max<int64_t>(splits, 1));
}

// Whole tiles per split; rounding up may leave fewer splits than most_splits, never more.
SplitPlan plan_splits(const AttnbProblem& p, int32_t batch, int64_t max_visible) {
  const int64_t most = most_splits(p, batch, max_visible);
  SplitPlan plan;
  if (most <= 1) return plan;
  const int64_t tile = keys_per_tile(p.head_dim);
  const int64_t keys = ((max_visible + most - 1) / most + tile - 1) / tile * tile;
  plan.split_keys = static_cast<int32_t>(keys);
  plan.splits = static_cast<int32_t>((max_visible + keys - 1) / keys);
  return plan;
}

std::size_t partials_bytes(const AttnbProblem& p, int32_t batch, int32_t splits) {
  if (splits <= 1) return 0;
  return static_cast<std::size_t>(batch) * p.num_q_heads * splits * (p.head_dim + 1) * sizeof(float);
}

// Shape of a launch: query rows per block and how they are cut into slices.
struct BlockShape {
  int32_t tokens_per_block;
  int32_t rows;            // tokens_per_block * group
  int32_t rows_per_slice;  // 1, 2, 4 or 8 (the kernel's kRows)
  int32_t slices;
};

BlockShape block_shape(int32_t group, int32_t tokens_per_block) {
  BlockShape s;
  s.tokens_per_block = tokens_per_block;
  s.rows = tokens_per_block * group;
  s.rows_per_slice = 1;
  while (s.rows_per_slice < std::min(s.rows, kMaxSliceRows)) s.rows_per_slice *= 2;
  s.slices = (s.rows + s.rows_per_slice - 1) / s.rows_per_slice;
  return s;
}

template <typename T, int D, int kRows>
void launch_rows(const Params& params, const BlockShape& shape, dim3 grid, cudaStream_t stream) {
  auto kernel = grouped_attention_kernel<T, D, kRows>;
  // Once per kernel: allow the most shared memory any launch of it asks for (full slices
  // come only with 8 rows each), past the 48 KiB that needs no opt-in.
  static const cudaError_t opted_in = cudaFuncSetAttribute(
      kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
      static_cast<int>(shared_bytes<D>(kRows == kMaxSliceRows ? kMaxCudaGroup / kMaxSliceRows : 1, kRows)));
  if (opted_in != cudaSuccess)
    throw Error(ATTNB_ERR_DEVICE, std::string("grouped attention shared memory: ") + cudaGetErrorString(opted_in));
  const std::size_t smem = shared_bytes<D>(shape.slices, kRows);
  kernel<<<grid, shape.slices * kSliceThreads, smem, stream>>>(params);
  check_launch("grouped attention kernel");
}

template <typename T, int D>
void launch(const Params& params, const BlockShape& shape, dim3 grid, cudaStream_t stream) {
  switch (shape.rows_per_slice) {
    case 1: return launch_rows<T, D, 1>(params, shape, grid, stream);
    case 2: return launch_rows<T, D, 2>(params, shape, grid, stream);
    case 4: return launch_rows<T, D, 4>(params, shape, grid, stream);
    default: return launch_rows<T, D, 8>(params, shape, grid, stream);
  }
}

// Checks what the kernels rely on and fills the parameters common to prefill and decode.
Params make_params(const AttnbProblem& p, const AttnbAttendArgs& a, int32_t tokens) {
  if (!a.cache || !a.cache->pages) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "cache is NULL");
  const AttnbPagedKv& cache = *a.cache;
  if (cache.page_bytes < plain_kv_page_bytes(p))
    throw Error(ATTNB_ERR_OUT_OF_MEMORY, "cache pages are smaller than kv_page_bytes()");
  if (cache.page_bytes % 16 || reinterpret_cast<std::uintptr_t>(cache.pages) % 16)
    throw Error(ATTNB_ERR_INVALID_ARGUMENT, "the page pool and page_bytes must be 16-byte aligned");
  if (p.head_dim != 64 && p.head_dim != 128)
    throw Unsupported("head_dim " + std::to_string(p.head_dim) + " has no CUDA kernel");
  if (cache.batch > p.max_batch) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "batch above max_batch");
  if (tokens > p.max_q_tokens) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more query tokens than max_q_tokens");
  for (int32_t b = 0; b < cache.batch; ++b) {
    const int64_t len = sequence_length(cache.page_indptr_host, cache.last_page_len_host, p.page_size, b);
    const int32_t q_len = a.q_indptr_host ? a.q_indptr_host[b + 1] - a.q_indptr_host[b] : 1;
    if (q_len > len) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more queries than cached tokens");
    if (len > p.max_kv_len) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "sequence longer than max_kv_len");
  }
  Params params{};
  params.cache = cache;
  params.layout = {p.num_kv_heads, p.page_size, p.head_dim, cache.page_bytes, dtype_size(p.kv_cache_dtype)};
  params.q = a.q;
  params.o = a.o;
  params.num_q_heads = p.num_q_heads;
  params.group = p.num_q_heads / p.num_kv_heads;
  params.splits = 1;
  params.causal = p.causal;
  params.window = p.window;
  const float scale = p.sm_scale != 0 ? p.sm_scale : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  params.scale_log2 = scale * kLog2e;
  return params;
}

void launch_for_dtype(const AttnbProblem& p, const Params& params, const BlockShape& shape,
                      cudaStream_t stream) {
  const int64_t blocks = static_cast<int64_t>(params.cache.batch) * params.q_tiles * params.splits;
  if (blocks > INT32_MAX) throw Unsupported("more than 2^31 blocks of queries in one call");
  const dim3 grid(static_cast<unsigned>(blocks), p.num_kv_heads);
  dispatch_half_types(p.dtype, [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    if (p.head_dim == 64)
      launch<T, 64>(params, shape, grid, stream);
    else
      launch<T, 128>(params, shape, grid, stream);
  });
}

}  // namespace

std::size_t cuda_grouped_workspace_bytes(const AttnbProblem& p) {
  const int64_t max_visible = visible_tokens(p, p.max_kv_len);
  std::size_t most = 0;
  for (int32_t batch = 1; batch <= p.max_batch; ++batch)
    most = std::max(most, partials_bytes(p, batch, most_splits(p, batch, max_visible)));
  return most;
}

void cuda_grouped_prefill(const AttnbProblem& p, const AttnbAttendArgs& a) {
  if (!a.q_indptr_host) return cuda_grouped_decode(p, a);  // one query per sequence
  const int32_t batch = a.cache ? a.cache->batch : 0;
  const int32_t tokens = batch > 0 ? a.q_indptr_host[batch] : 0;
  if (tokens == 0) return;
  Params params = make_params(p, a, tokens);
  params.q_indptr = a.q_indptr;
  int32_t max_q_len = 0;
  for (int32_t b = 0; b < batch; ++b)
    max_q_len = std::max(max_q_len, a.q_indptr_host[b + 1] - a.q_indptr_host[b]);
  const BlockShape shape = block_shape(params.group, std::max(1, kPrefillRows / params.group));
  params.tokens_per_block = shape.tokens_per_block;
  params.q_tiles = (max_q_len + shape.tokens_per_block - 1) / shape.tokens_per_block;
  launch_for_dtype(p, params, shape, static_cast<cudaStream_t>(a.stream));
}

void cuda_grouped_decode(const AttnbProblem& p, const AttnbAttendArgs& a) {
  const int32_t batch = a.cache ? a.cache->batch : 0;
  if (batch == 0) return;
  Params params = make_params(p, a, batch);
  params.q_indptr = nullptr;  // decode: query b belongs to sequence b
  params.tokens_per_block = 1;
  const int64_t max_visible = longest_visible(p, *a.cache);
  const SplitPlan plan = plan_splits(p, batch, max_visible);
  const std::size_t scratch = partials_bytes(p, batch, plan.splits);
  if (a.workspace_bytes < scratch || (scratch > 0 && !a.workspace))
    throw Error(ATTNB_ERR_OUT_OF_MEMORY, "workspace smaller than workspace_bytes()");
  params.splits = plan.splits;
  params.split_keys = plan.split_keys;
  params.part_o = static_cast<float*>(a.workspace);
  params.part_lse = params.part_o + static_cast<std::size_t>(batch) * p.num_q_heads * plan.splits * p.head_dim;
  const BlockShape shape = block_shape(params.group, 1);
  const auto stream = static_cast<cudaStream_t>(a.stream);
  params.q_tiles = 1;
  launch_for_dtype(p, params, shape, stream);
  if (plan.splits == 1) return;
  dispatch_half_types(p.dtype, [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    merge_splits(params.part_o, params.part_lse, static_cast<T*>(a.o),
                 static_cast<int64_t>(batch) * p.num_q_heads, plan.splits, p.head_dim, stream);
  });
}

}  // namespace attnbench::plain_kv
