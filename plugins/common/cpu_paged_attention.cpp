#include "cpu_paged_attention.hpp"

#include "plain_kv_layout.hpp"

#include <attnbench/numeric.hpp>
#include <attnbench/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnbench::plain_kv {

namespace {

Layout layout_of(const AttnbProblem& p, const AttnbPagedKv& cache) {
  return {p.num_kv_heads, p.page_size, p.head_dim, cache.page_bytes, dtype_size(p.kv_cache_dtype)};
}

// Pointer to the first element of a cached K or V row.
const void* cached_row(const AttnbPagedKv& cache, const Layout& layout, int32_t b, int64_t pos,
                       int32_t head, bool is_v) {
  const int32_t page = cache.page_indices_host[cache.page_indptr_host[b] + pos / layout.page_size];
  return static_cast<const char*>(cache.pages) +
         layout.offset(page, head, static_cast<int32_t>(pos % layout.page_size), is_v);
}

void check_cache(const AttnbProblem& p, const AttnbPagedKv* cache) {
  if (!cache || !cache->pages) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "cache is NULL");
  if (cache->page_bytes < plain_kv_page_bytes(p))
    throw Error(ATTNB_ERR_OUT_OF_MEMORY, "cache pages are smaller than kv_page_bytes()");
}

}  // namespace

void cpu_append(const AttnbProblem& p, const AttnbAppendArgs& a) {
  check_cache(p, a.cache);
  const AttnbPagedKv& cache = *a.cache;
  const Layout layout = layout_of(p, cache);
  const std::size_t elem = layout.elem_bytes, row = static_cast<std::size_t>(p.head_dim) * elem;
  for (int32_t b = 0; b < cache.batch; ++b) {
    const int64_t len = sequence_length(cache.page_indptr_host, cache.last_page_len_host, p.page_size, b);
    const int32_t first = a.new_indptr_host[b], count = a.new_indptr_host[b + 1] - first;
    if (count > len) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more new tokens than the sequence holds");
    for (int32_t i = 0; i < count; ++i) {
      const int64_t pos = len - count + i;
      for (int32_t h = 0; h < p.num_kv_heads; ++h) {
        const std::size_t src = ((static_cast<std::size_t>(first) + i) * p.num_kv_heads + h) * row;
        auto* k_dst = const_cast<void*>(cached_row(cache, layout, b, pos, h, false));
        auto* v_dst = const_cast<void*>(cached_row(cache, layout, b, pos, h, true));
        std::copy_n(static_cast<const char*>(a.k) + src, row, static_cast<char*>(k_dst));
        std::copy_n(static_cast<const char*>(a.v) + src, row, static_cast<char*>(v_dst));
      }
    }
  }
}

namespace {

// Scratch for one (query position, KV head) at a time, carved out of the host's workspace so
// the hot path never allocates: per query head of the group its query, output accumulator,
// scores, running max and sum; and one cached row.
struct Scratch {
  float *q, *acc, *row, *scores, *max_score, *sum;

  static std::size_t floats(const AttnbProblem& p) {
    const std::size_t group = static_cast<std::size_t>(p.num_q_heads / p.num_kv_heads);
    const std::size_t d = static_cast<std::size_t>(p.head_dim);
    return 2 * group * d + d + group * static_cast<std::size_t>(p.max_kv_len) + 2 * group;
  }

  Scratch(const AttnbProblem& p, const AttnbAttendArgs& a) {
    if (!a.workspace || a.workspace_bytes < floats(p) * sizeof(float))
      throw Error(ATTNB_ERR_OUT_OF_MEMORY, "workspace smaller than workspace_bytes()");
    const std::size_t group = static_cast<std::size_t>(p.num_q_heads / p.num_kv_heads);
    const std::size_t d = static_cast<std::size_t>(p.head_dim);
    q = static_cast<float*>(a.workspace);
    acc = q + group * d;
    row = acc + group * d;
    scores = row + d;
    max_score = scores + group * static_cast<std::size_t>(p.max_kv_len);
    sum = max_score + group;
  }
};

}  // namespace

std::size_t cpu_workspace_bytes(const AttnbProblem& p) { return Scratch::floats(p) * sizeof(float); }

void cpu_attend(const AttnbProblem& p, const AttnbAttendArgs& a) {
  check_cache(p, a.cache);
  const AttnbPagedKv& cache = *a.cache;
  const Layout layout = layout_of(p, cache);
  const int32_t d = p.head_dim, group = p.num_q_heads / p.num_kv_heads;
  const float scale = p.sm_scale != 0 ? p.sm_scale : 1.0f / std::sqrt(static_cast<float>(d));
  const Scratch scratch(p, a);
  float *q = scratch.q, *acc = scratch.acc, *row = scratch.row, *scores = scratch.scores;
  float *max_score = scratch.max_score, *sum = scratch.sum;
  for (int32_t b = 0; b < cache.batch; ++b) {
    const int64_t kv_len = sequence_length(cache.page_indptr_host, cache.last_page_len_host, p.page_size, b);
    const int32_t q0 = a.q_indptr_host ? a.q_indptr_host[b] : b;
    const int32_t q_len = a.q_indptr_host ? a.q_indptr_host[b + 1] - q0 : 1;
    if (q_len > kv_len) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more queries than cached tokens");
    if (kv_len > p.max_kv_len) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "sequence longer than max_kv_len");
    for (int32_t i = 0; i < q_len; ++i) {
      const int64_t pos = kv_len - q_len + i;
      // Keys this query may see: [lo, hi). Outside the window nothing is even read.
      const int64_t lo = first_visible(pos, p.window), hi = p.causal ? pos + 1 : kv_len;
      const std::size_t n = static_cast<std::size_t>(hi - lo);
      // One KV head at a time with all the query heads of its group, so each cached K and V
      // row is read once per group, as the grouped CUDA kernel does (group 1 is plain MHA).
      for (int32_t kvh = 0; kvh < p.num_kv_heads; ++kvh) {
        const std::size_t q_index = (static_cast<std::size_t>(q0 + i) * p.num_q_heads + kvh * group) * d;
        for (int32_t e = 0; e < group * d; ++e) q[e] = load_as_float(a.q, p.dtype, q_index + e);
        std::fill(max_score, max_score + group, -std::numeric_limits<float>::infinity());
        for (int64_t j = lo; j < hi; ++j) {
          const void* k = cached_row(cache, layout, b, j, kvh, false);
          for (int32_t e = 0; e < d; ++e) row[e] = load_as_float(k, p.kv_cache_dtype, e);
          for (int32_t g = 0; g < group; ++g) {
            float dot = 0;
            for (int32_t e = 0; e < d; ++e) dot += q[g * d + e] * row[e];
            float& s = scores[g * n + (j - lo)];
            s = dot * scale;
            max_score[g] = std::max(max_score[g], s);
          }
        }
        std::fill(acc, acc + group * d, 0.0f);
        std::fill(sum, sum + group, 0.0f);
        for (int64_t j = lo; j < hi; ++j) {
          const void* v = cached_row(cache, layout, b, j, kvh, true);
          for (int32_t e = 0; e < d; ++e) row[e] = load_as_float(v, p.kv_cache_dtype, e);
          for (int32_t g = 0; g < group; ++g) {
            const float w = std::exp(scores[g * n + (j - lo)] - max_score[g]);
            sum[g] += w;
            for (int32_t e = 0; e < d; ++e) acc[g * d + e] += w * row[e];
          }
        }
        for (int32_t g = 0; g < group; ++g)
          for (int32_t e = 0; e < d; ++e)
            store_from_float(a.o, p.dtype, q_index + g * d + e,
                             sum[g] > 0 ? acc[g * d + e] / sum[g] : 0.0f);
      }
    }
  }
}

}  // namespace attnbench::plain_kv
