#include "int8_kv_cuda.hpp"

#include "../common/cuda_common.cuh"
#include "../common/split_kv.hpp"
#include "../common/split_merge.cuh"

#include <algorithm>
#include <cmath>

namespace attnbench::int8_kv {

using plain_kv::check_launch;
using plain_kv::dispatch_half_types;
using plain_kv::first_visible;
using plain_kv::from_float;
using plain_kv::owner_of;
using plain_kv::place_of;
using plain_kv::QueryPlace;
using plain_kv::sequence_length;
using plain_kv::to_float;

namespace {

constexpr int32_t kThreads = 128;
constexpr int32_t kWarps = kThreads / 32;
constexpr int32_t kUnroll = 2;             // rows a lane has in flight per K and per V
constexpr float kLog2e = 1.4426950408889634f;
constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ char* page_at(const AttnbPagedKv& cache, const Layout& layout, int32_t b,
                                         int64_t pos) {
  const int32_t page = cache.page_indices[cache.page_indptr[b] + pos / layout.page_size];
  return static_cast<char*>(cache.pages) + static_cast<std::size_t>(page) * layout.page_bytes;
}

// Where new token t of an append lands: its sequence and position.
struct NewToken {
  int32_t b;
  int32_t first, count;  // the sequence's new tokens in the input: [first, first + count)
  int64_t pos;
};

__device__ NewToken new_token(const AttnbPagedKv& cache, const int32_t* new_indptr, int32_t t,
                              int32_t page_size) {
  NewToken n;
  n.b = owner_of(new_indptr, cache.batch, t);
  n.first = new_indptr[n.b];
  n.count = new_indptr[n.b + 1] - n.first;
  const int64_t len = sequence_length(cache.page_indptr, cache.last_page_len, page_size, n.b);
  n.pos = len - n.count + (t - n.first);
  return n;
}

// ---------------------------------------------------------------------------------------
// Append
// ---------------------------------------------------------------------------------------

// Per-channel K only, before quantizing: a block per (new token, KV head), blockDim.x ==
// head_dim. The block whose token opens a page (slot 0) fixes that page's channel exponents
// from the new tokens that land in it; every other block returns at once.
template <typename T>
__global__ void open_pages_kernel(AttnbPagedKv cache, Layout layout, const T* k,
                                  const int32_t* new_indptr) {
  __shared__ float warp_sums[kThreads / 32];
  const int32_t t = blockIdx.x, h = blockIdx.y, c = threadIdx.x, d = layout.head_dim;
  const NewToken n = new_token(cache, new_indptr, t, layout.page_size);
  if (n.pos % layout.page_size != 0) return;  // the same for the whole block
  const int32_t in_page = min(n.count - (t - n.first), layout.page_size);
  const std::size_t stride = static_cast<std::size_t>(layout.num_kv_heads) * d;
  float absmax = 0, sum = 0;
  for (int32_t i = 0; i < in_page; ++i) {
    const float x = fabsf(to_float(k[(t + i) * stride + static_cast<std::size_t>(h) * d + c]));
    absmax = fmaxf(absmax, x);
    sum += x;
  }
  for (int32_t s = 16; s > 0; s /= 2) sum += __shfl_xor_sync(kFullMask, sum, s);
  if (c % 32 == 0) warp_sums[c / 32] = sum;
  __syncthreads();
  float total = 0;
  for (int32_t w = 0; w < d / 32; ++w) total += warp_sums[w];
  const float mean = total / static_cast<float>(in_page * d);
  char* page = page_at(cache, layout, n.b, n.pos);
  // Inherit only from a page written before this call (none of this call's blocks write it).
  float inherited = 0;
  if (t == n.first && n.pos >= layout.page_size)
    inherited = pow2(reinterpret_cast<const int8_t*>(
        page_at(cache, layout, n.b, n.pos - 1) + layout.exponents_offset(h))[c]);
  reinterpret_cast<int8_t*>(page + layout.exponents_offset(h))[c] =
      choose_channel_exponent(absmax, mean, inherited);
}

// A block per new token; its warps take the token's 2 * num_kv_heads rows (K and V of each
// head), all at once up to 32 rows (append_warps). A lane holds head_dim / 32 consecutive
// elements; the warp's max is the scale.
template <typename T, bool PerChannel>
__global__ void quantize_kernel(AttnbPagedKv cache, Layout layout, const T* k, const T* v,
                                const int32_t* new_indptr) {
  plain_kv::let_dependents_start();  // a decode after it waits only where it reads the new tokens
  const int32_t t = blockIdx.x, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int32_t warps = blockDim.x / 32;
  const int32_t d = layout.head_dim, per_lane = d / 32;  // 2 or 4
  const NewToken n = new_token(cache, new_indptr, t, layout.page_size);
  char* page = page_at(cache, layout, n.b, n.pos);
  const int32_t slot = static_cast<int32_t>(n.pos % layout.page_size);
  for (int32_t row = warp; row < 2 * layout.num_kv_heads; row += warps) {
    const int32_t h = row / 2;
    const bool is_v = row % 2 == 1;
    const T* src = (is_v ? v : k) + (static_cast<std::size_t>(t) * layout.num_kv_heads + h) * d;
    const int8_t* exponents = reinterpret_cast<const int8_t*>(page + layout.exponents_offset(h));
    float x[4];
    float absmax = 0;
    for (int32_t i = 0; i < per_lane; ++i) {
      const int32_t c = lane * per_lane + i;
      x[i] = to_float(src[c]);
      if (PerChannel && !is_v) x[i] *= pow2(-exponents[c]);
      absmax = fmaxf(absmax, fabsf(x[i]));
    }
    for (int32_t s = 16; s > 0; s /= 2) absmax = fmaxf(absmax, __shfl_xor_sync(kFullMask, absmax, s));
    const float scale = quant_scale(absmax);
    int8_t* dst = reinterpret_cast<int8_t*>(page + layout.values_offset(h, slot, is_v));
    for (int32_t i = 0; i < per_lane; ++i) dst[lane * per_lane + i] = quantize(x[i], scale);
    if (lane == 0) *reinterpret_cast<float*>(page + layout.scale_offset(h, slot, is_v)) = scale;
  }
}

// ---------------------------------------------------------------------------------------
// Attention
// ---------------------------------------------------------------------------------------

// 16 int8 (one 16-byte load) to 16 floats.
__device__ __forceinline__ void int8x16_to_float(const int4& raw, float* out) {
  int8x4_to_float(static_cast<uint32_t>(raw.x), out);
  int8x4_to_float(static_cast<uint32_t>(raw.y), out + 4);
  int8x4_to_float(static_cast<uint32_t>(raw.z), out + 8);
  int8x4_to_float(static_cast<uint32_t>(raw.w), out + 12);
}

// Multiplies out[i] by 2^e[i] for the 16 channel exponents packed in `raw`.
__device__ __forceinline__ void apply_exponents(const int4& raw, float* out) {
  const uint32_t words[4] = {static_cast<uint32_t>(raw.x), static_cast<uint32_t>(raw.y),
                             static_cast<uint32_t>(raw.z), static_cast<uint32_t>(raw.w)};
#pragma unroll
  for (int32_t i = 0; i < 16; ++i)
    out[i] *= pow2(static_cast<int8_t>((words[i / 4] >> (8 * (i % 4))) & 0xffu));
}

// Online-softmax state of one query head over some keys (log2 domain): running max m, sum
// of weights l, and the weighted sum of values for this lane's 16 channels.
struct SoftmaxState {
  float m, l, acc[16];
};

// exp2(a - m) that treats an empty state (a == -inf) as weight 0 without making a NaN.
__device__ __forceinline__ float rescale_factor(float a, float m) {
  return a == -INFINITY ? 0.0f : exp2f(a - m);
}

// Folds the state held by lane (this lane ^ offset) into this lane's. Every lane must call.
__device__ __forceinline__ void merge_with_lane(SoftmaxState& s, int32_t offset) {
  const float m_other = __shfl_xor_sync(kFullMask, s.m, offset);
  const float l_other = __shfl_xor_sync(kFullMask, s.l, offset);
  const float m = fmaxf(s.m, m_other);
  const float mine = rescale_factor(s.m, m), theirs = rescale_factor(m_other, m);
  s.l = s.l * mine + l_other * theirs;
#pragma unroll
  for (int32_t i = 0; i < 16; ++i)
    s.acc[i] = s.acc[i] * mine + __shfl_xor_sync(kFullMask, s.acc[i], offset) * theirs;
  s.m = m;
}

// Attention of query token t (blockIdx.x) for GT query heads of one KV head's group
// (blockIdx.y = kv_head * chunks + chunk) over split blockIdx.z of its visible keys.
//
// A team of D/16 lanes reads one cached row: each lane one 16-byte load of K and one of V
// (16 channels), so the block has 128 / (D/16) rows in flight, kUnroll times over. The K
// row is dequantized in registers and dotted with all GT query heads (the group shares the
// read); each team keeps its own online-softmax state for its rows, with no synchronization
// in the loop. At the end teams merge through shuffles, warps through shared memory, and
// splits (when gridDim.z > 1) through the workspace and merge_splits_kernel.
template <typename T, int D, int GT, bool PerChannel>
__global__ void __launch_bounds__(kThreads)
    attend_kernel(AttnbPagedKv cache, Layout layout, const T* q, T* o, const int32_t* q_indptr,
                  float* part_o, float* part_lse, int32_t num_q_heads, int32_t causal,
                  int32_t window, float score_scale, int32_t chunks) {
  constexpr int32_t kLanesPerRow = D / 16;
  constexpr int32_t kRows = kThreads / kLanesPerRow;
  __shared__ float shared_m[kWarps][GT], shared_l[kWarps][GT], shared_acc[kWarps][GT][D];

  const int32_t t = blockIdx.x, kvh = blockIdx.y / chunks, chunk = blockIdx.y % chunks;
  const int32_t split = blockIdx.z, splits = gridDim.z;
  const int32_t group = num_q_heads / layout.num_kv_heads;
  const int32_t team = threadIdx.x / kLanesPerRow, part = threadIdx.x % kLanesPerRow;
  const int32_t warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  const QueryPlace place = place_of(cache, q_indptr, t, layout.page_size, causal, window);
  const int64_t per_split = (place.hi - place.lo + splits - 1) / splits;
  const int64_t begin = place.lo + split * per_split;
  const int64_t end = min(place.hi, begin + per_split);

  // This lane's 16 channels of each query head, pre-scaled so scores are in log2 units.
  float qr[GT][16];
#pragma unroll
  for (int32_t g = 0; g < GT; ++g) {
    const int32_t in_group = chunk * GT + g;
    const T* row = q + (static_cast<std::size_t>(t) * num_q_heads + kvh * group + in_group) * D + part * 16;
#pragma unroll
    for (int32_t i = 0; i < 16; ++i) qr[g][i] = in_group < group ? to_float(row[i]) * score_scale : 0.0f;
  }
  SoftmaxState state[GT];
#pragma unroll
  for (int32_t g = 0; g < GT; ++g) {
    state[g].m = -INFINITY;
    state[g].l = 0;
#pragma unroll
    for (int32_t i = 0; i < 16; ++i) state[g].acc[i] = 0;
  }

  // `base` is the same for every thread, so the shuffles below see the whole warp.
  for (int64_t base = begin; base < end; base += kRows * kUnroll) {
    int4 k_raw[kUnroll], v_raw[kUnroll], e_raw[kUnroll];
    float k_scale[kUnroll], v_scale[kUnroll];
    bool valid[kUnroll];
#pragma unroll
    for (int32_t u = 0; u < kUnroll; ++u) {  // issue every load before using any
      const int64_t j = base + u * kRows + team;
      valid[u] = j < end;
      k_raw[u] = v_raw[u] = e_raw[u] = make_int4(0, 0, 0, 0);
      k_scale[u] = v_scale[u] = 0;
      if (valid[u]) {
        const char* page = page_at(cache, layout, place.b, j);
        const int32_t slot = static_cast<int32_t>(j % layout.page_size);
        k_raw[u] = *reinterpret_cast<const int4*>(page + layout.values_offset(kvh, slot, false) + part * 16);
        v_raw[u] = *reinterpret_cast<const int4*>(page + layout.values_offset(kvh, slot, true) + part * 16);
        k_scale[u] = *reinterpret_cast<const float*>(page + layout.scale_offset(kvh, slot, false));
        v_scale[u] = *reinterpret_cast<const float*>(page + layout.scale_offset(kvh, slot, true));
        if (PerChannel)
          e_raw[u] = *reinterpret_cast<const int4*>(page + layout.exponents_offset(kvh) + part * 16);
      }
    }
    float score[kUnroll][GT];
#pragma unroll
    for (int32_t u = 0; u < kUnroll; ++u) {
      float kf[16];
      int8x16_to_float(k_raw[u], kf);
      if (PerChannel) apply_exponents(e_raw[u], kf);
#pragma unroll
      for (int32_t g = 0; g < GT; ++g) {
        float dot = 0;
#pragma unroll
        for (int32_t i = 0; i < 16; ++i) dot = fmaf(qr[g][i], kf[i], dot);
#pragma unroll
        for (int32_t s = kLanesPerRow / 2; s > 0; s /= 2) dot += __shfl_xor_sync(kFullMask, dot, s);
        score[u][g] = valid[u] ? dot * k_scale[u] : -INFINITY;
      }
    }
#pragma unroll
    for (int32_t g = 0; g < GT; ++g) {  // one rescale per kUnroll rows
      float m = state[g].m;
#pragma unroll
      for (int32_t u = 0; u < kUnroll; ++u) m = fmaxf(m, score[u][g]);
      if (m == -INFINITY) continue;  // this team has seen no key yet
      const float shrink = rescale_factor(state[g].m, m);
      state[g].m = m;
      state[g].l *= shrink;
#pragma unroll
      for (int32_t i = 0; i < 16; ++i) state[g].acc[i] *= shrink;
    }
#pragma unroll
    for (int32_t u = 0; u < kUnroll; ++u) {
      float vf[16];
      int8x16_to_float(v_raw[u], vf);
#pragma unroll
      for (int32_t g = 0; g < GT; ++g) {
        const float p = rescale_factor(score[u][g], state[g].m);
        state[g].l += p;
        const float w = p * v_scale[u];
#pragma unroll
        for (int32_t i = 0; i < 16; ++i) state[g].acc[i] = fmaf(w, vf[i], state[g].acc[i]);
      }
    }
  }

  // Teams of a warp hold the same channels at lanes kLanesPerRow apart.
#pragma unroll
  for (int32_t offset = kLanesPerRow; offset < 32; offset *= 2)
#pragma unroll
    for (int32_t g = 0; g < GT; ++g) merge_with_lane(state[g], offset);
  if (lane < kLanesPerRow) {
#pragma unroll
    for (int32_t g = 0; g < GT; ++g) {
      if (lane == 0) {
        shared_m[warp][g] = state[g].m;
        shared_l[warp][g] = state[g].l;
      }
#pragma unroll
      for (int32_t i = 0; i < 16; ++i) shared_acc[warp][g][part * 16 + i] = state[g].acc[i];
    }
  }
  __syncthreads();
  for (int32_t x = threadIdx.x; x < GT * D; x += kThreads) {
    const int32_t g = x / D, c = x % D, in_group = chunk * GT + g;
    if (in_group >= group) continue;
    float m = -INFINITY;
    for (int32_t w = 0; w < kWarps; ++w) m = fmaxf(m, shared_m[w][g]);
    float l = 0, acc = 0;
    for (int32_t w = 0; w < kWarps; ++w) {
      const float f = rescale_factor(shared_m[w][g], m);
      l += shared_l[w][g] * f;
      acc += shared_acc[w][g][c] * f;
    }
    const std::size_t row = static_cast<std::size_t>(t) * num_q_heads + kvh * group + in_group;
    const float out = l > 0 ? acc / l : 0.0f;
    if (splits == 1) {
      o[row * D + c] = from_float<T>(out);
    } else {
      part_o[(row * splits + split) * D + c] = out;
      if (c == 0) part_lse[row * splits + split] = l > 0 ? m + log2f(l) : -INFINITY;
    }
  }
}


int32_t group_tile(int32_t group) { return group >= 4 ? 4 : group >= 2 ? 2 : 1; }

// Splits for a decode (see plain_kv::plan_splits): `chunks` blocks per KV head and query
// token along the group, the longest visible context, what the workspace holds.
int32_t choose_splits(const AttnbProblem& p, const AttnbPagedKv& cache, int32_t tokens,
                      int32_t chunks, int32_t requested, int64_t resident, int32_t tile_kv) {
  const int64_t blocks = static_cast<int64_t>(tokens) * p.num_kv_heads * chunks;
  return plain_kv::plan_splits(requested, plain_kv::longest_visible(p, cache), blocks, resident, tile_kv,
                               plain_kv::split_capacity(p.max_batch, kMaxSplits, tokens));
}

// Calls f(kernel, T*, integral_constant D) with the attend_kernel instance for the problem's
// dtype and head dim, the group tile and the K scale layout: what is launched, and what the
// split plan asks the occupancy of.
template <typename F>
void with_attend_kernel(const AttnbProblem& p, const Layout& layout, int32_t tile, F&& f) {
  dispatch_half_types(p.dtype, [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    auto by_tile = [&](auto head_dim) {
      constexpr int D = decltype(head_dim)::value;
      auto with = [&](auto group_tile) {
        constexpr int GT = decltype(group_tile)::value;
        f(layout.k_per_channel ? attend_kernel<T, D, GT, true> : attend_kernel<T, D, GT, false>,
          type_tag, head_dim);
      };
      if (tile == 4) with(std::integral_constant<int, 4>{});
      else if (tile == 2) with(std::integral_constant<int, 2>{});
      else with(std::integral_constant<int, 1>{});
    };
    if (p.head_dim == 128) by_tile(std::integral_constant<int, 128>{});
    else if (p.head_dim == 64) by_tile(std::integral_constant<int, 64>{});
    else throw Unsupported("head_dim " + std::to_string(p.head_dim) + " has no CUDA kernel");
  });
}

}  // namespace

std::size_t cuda_workspace_bytes(const AttnbProblem& p) {
  return static_cast<std::size_t>(plain_kv::split_slots(p.max_batch, kMaxSplits)) * p.num_q_heads *
         (p.head_dim + 1) * sizeof(float);
}

int32_t cuda_sm_count() {
  int device = 0, count = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess)
    throw Error(ATTNB_ERR_DEVICE, "cannot query the GPU's multiprocessor count");
  return count;
}

void cuda_append(const AttnbProblem& p, const Layout& layout, const AttnbAppendArgs& a) {
  const int32_t tokens = a.new_indptr_host[a.cache->batch];
  if (tokens == 0) return;
  // A warp per row (K and V of each head) up to 32: one memory round trip, not one a row.
  const int32_t append_threads = 32 * std::min(2 * p.num_kv_heads, 32);
  auto stream = static_cast<cudaStream_t>(a.stream);
  dispatch_half_types(p.dtype, [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    const T* k = static_cast<const T*>(a.k);
    const T* v = static_cast<const T*>(a.v);
    if (layout.k_per_channel) {
      // Exponents of opened pages first: the quantize kernel (same stream) reads them.
      open_pages_kernel<T><<<dim3(tokens, p.num_kv_heads), p.head_dim, 0, stream>>>(*a.cache, layout, k,
                                                                                    a.new_indptr);
      check_launch("int8_kv page-open kernel");
      quantize_kernel<T, true><<<tokens, append_threads, 0, stream>>>(*a.cache, layout, k, v, a.new_indptr);
    } else {
      quantize_kernel<T, false><<<tokens, append_threads, 0, stream>>>(*a.cache, layout, k, v, a.new_indptr);
    }
    check_launch("int8_kv quantize kernel");
  });
}

void cuda_attend(const AttnbProblem& p, const Layout& layout, const AttnbAttendArgs& a, bool decode,
                 const DecodeTunables& tunables, int32_t fresh_keys, int32_t sm_count,
                 const plain_kv::SplitCounters& counters) {
  const AttnbPagedKv& cache = *a.cache;
  const int32_t tokens = a.q_indptr_host ? a.q_indptr_host[cache.batch] : cache.batch;
  if (tokens == 0) return;
  if (tokens > p.max_q_tokens) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more query tokens than max_q_tokens");
  const int32_t group = p.num_q_heads / p.num_kv_heads, tile = group_tile(group);
  const int32_t chunks = (group + tile - 1) / tile;
  const bool tensor_cores = decode && !layout.k_per_channel;  // see int8_flash_decode.cu
  int32_t splits = 1;
  if (tensor_cores)
    splits = choose_splits(p, cache, tokens, (group + kFlashDecodeHeads - 1) / kFlashDecodeHeads, tunables.kv_splits,
                           cuda_flash_decode_resident_blocks(p, sm_count), kFlashDecodeTileKv);
  else if (decode)  // a block takes 2 x 128 / (D / 16) rows a step: 32 keys for D = 128
    with_attend_kernel(p, layout, tile, [&](auto kernel, auto*, auto) {
      splits = choose_splits(p, cache, tokens, chunks, tunables.kv_splits,
                             plain_kv::resident_blocks(kernel, kThreads, 0, sm_count), 32);
    });
  if (splits > 1 && a.workspace_bytes < cuda_workspace_bytes(p))
    throw Error(ATTNB_ERR_OUT_OF_MEMORY, "workspace smaller than workspace_bytes()");
  const int32_t* q_indptr = a.q_indptr_host ? a.q_indptr : nullptr;
  auto stream = static_cast<cudaStream_t>(a.stream);
  // Split partials live in the workspace; one split writes the output directly. The
  // tensor-core decode merges its splits inside (its last block of a group to finish), the
  // CUDA-core kernel by a second one. Its splits do not claim tiles: slower on the H100 and
  // again on the H200 (results/h200/experiments/int8_claims).
  float* part_o = splits > 1 ? static_cast<float*>(a.workspace) : nullptr;
  float* part_lse =
      splits > 1 ? part_o + static_cast<std::size_t>(tokens) * p.num_q_heads * splits * p.head_dim : nullptr;
  if (tensor_cores)
    return cuda_flash_decode(p, layout, a, splits, tunables, fresh_keys, part_o, part_lse, counters, sm_count);
  const float sm_scale = p.sm_scale != 0 ? p.sm_scale : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  with_attend_kernel(p, layout, tile, [&](auto kernel, auto* type_tag, auto) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    kernel<<<dim3(tokens, p.num_kv_heads * chunks, splits), kThreads, 0, stream>>>(
        *a.cache, layout, static_cast<const T*>(a.q), static_cast<T*>(a.o), q_indptr, part_o,
        part_lse, p.num_q_heads, p.causal, p.window, sm_scale * kLog2e, chunks);
  });
  check_launch("int8_kv attention kernel");
  if (splits > 1) {
    dispatch_half_types(p.dtype, [&](auto* type_tag) {
      using T = std::remove_pointer_t<decltype(type_tag)>;
      plain_kv::merge_splits(part_o, part_lse, static_cast<T*>(a.o),
                             static_cast<int64_t>(tokens) * p.num_q_heads, splits, p.head_dim, stream);
    });
  }
}

}  // namespace attnbench::int8_kv
