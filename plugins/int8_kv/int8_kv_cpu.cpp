#include "int8_kv_cpu.hpp"

#include <attnbench/numeric.hpp>
#include <attnbench/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnbench::int8_kv {

namespace {

using plain_kv::first_visible;
using plain_kv::sequence_length;

// Rows live on the stack: the hot path must not allocate. The descriptor's largest head dim.
constexpr int32_t kMaxHeadDim = 128;

char* page_of(const AttnbPagedKv& cache, const Layout& layout, int32_t b, int64_t pos) {
  const int32_t page = cache.page_indices_host[cache.page_indptr_host[b] + pos / layout.page_size];
  return static_cast<char*>(cache.pages) + static_cast<std::size_t>(page) * layout.page_bytes;
}

// A page opens: fix its K channel exponents from the `tokens` new rows that land in it
// (row t of KV head h starts at element first + t * stride of k).
void open_page_channels(const void* k, int32_t dtype, std::size_t first, std::size_t stride,
                        int32_t tokens, int32_t d, const int8_t* inherited, int8_t* exponents) {
  float absmax[kMaxHeadDim] = {};
  float sum = 0;
  for (int32_t t = 0; t < tokens; ++t)
    for (int32_t c = 0; c < d; ++c) {
      const float x = std::fabs(load_as_float(k, dtype, first + t * stride + c));
      absmax[c] = fmaxf(absmax[c], x);
      sum += x;
    }
  const float mean = sum / static_cast<float>(tokens * d);
  for (int32_t c = 0; c < d; ++c)
    exponents[c] = choose_channel_exponent(absmax[c], mean, inherited ? pow2(inherited[c]) : 0.0f);
}

// Quantizes one row of d elements (starting at element `first` of src) with its own scale;
// with `exponents`, channel c is divided by 2^exponents[c] first.
void quantize_row(const void* src, int32_t dtype, std::size_t first, int32_t d,
                  const int8_t* exponents, int8_t* values, float* scale) {
  float x[kMaxHeadDim];
  float absmax = 0;
  for (int32_t c = 0; c < d; ++c) {
    x[c] = load_as_float(src, dtype, first + c);
    if (exponents) x[c] *= pow2(-exponents[c]);
    absmax = fmaxf(absmax, std::fabs(x[c]));
  }
  *scale = quant_scale(absmax);
  for (int32_t c = 0; c < d; ++c) values[c] = quantize(x[c], *scale);
}

}  // namespace

void cpu_append(const AttnbProblem& p, const Layout& layout, const AttnbAppendArgs& a) {
  const AttnbPagedKv& cache = *a.cache;
  const int32_t d = p.head_dim, heads = p.num_kv_heads, page_size = p.page_size;
  const std::size_t token_stride = static_cast<std::size_t>(heads) * d;
  for (int32_t b = 0; b < cache.batch; ++b) {
    const int64_t len = sequence_length(cache.page_indptr_host, cache.last_page_len_host, page_size, b);
    const int32_t first = a.new_indptr_host[b], count = a.new_indptr_host[b + 1] - first;
    if (count > len) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more new tokens than the sequence holds");
    for (int32_t i = 0; i < count; ++i) {
      const int64_t pos = len - count + i;
      const int32_t slot = static_cast<int32_t>(pos % page_size);
      char* page = page_of(cache, layout, b, pos);
      for (int32_t h = 0; h < heads; ++h) {
        const std::size_t src = (first + i) * token_stride + static_cast<std::size_t>(h) * d;
        int8_t* exponents = nullptr;
        if (layout.k_per_channel) {
          exponents = reinterpret_cast<int8_t*>(page + layout.exponents_offset(h));
          if (slot == 0) {
            // Inherit only from a page written before this call (one this call opens is
            // measured from its own tokens).
            const int8_t* inherited =
                i == 0 && pos >= page_size
                    ? reinterpret_cast<const int8_t*>(page_of(cache, layout, b, pos - 1) + layout.exponents_offset(h))
                    : nullptr;
            const int32_t in_page = static_cast<int32_t>(std::min<int64_t>(count - i, page_size));
            open_page_channels(a.k, p.dtype, src, token_stride, in_page, d, inherited, exponents);
          }
        }
        quantize_row(a.k, p.dtype, src, d, exponents,
                     reinterpret_cast<int8_t*>(page + layout.values_offset(h, slot, false)),
                     reinterpret_cast<float*>(page + layout.scale_offset(h, slot, false)));
        quantize_row(a.v, p.dtype, src, d, nullptr,
                     reinterpret_cast<int8_t*>(page + layout.values_offset(h, slot, true)),
                     reinterpret_cast<float*>(page + layout.scale_offset(h, slot, true)));
      }
    }
  }
}

void cpu_attend(const AttnbProblem& p, const Layout& layout, const AttnbAttendArgs& a) {
  const AttnbPagedKv& cache = *a.cache;
  const int32_t d = p.head_dim, group = p.num_q_heads / p.num_kv_heads;
  const float sm_scale = p.sm_scale != 0 ? p.sm_scale : 1.0f / std::sqrt(static_cast<float>(d));
  float q[kMaxHeadDim], q_page[kMaxHeadDim], acc[kMaxHeadDim];
  for (int32_t b = 0; b < cache.batch; ++b) {
    const int64_t kv_len = sequence_length(cache.page_indptr_host, cache.last_page_len_host, p.page_size, b);
    const int32_t q0 = a.q_indptr_host ? a.q_indptr_host[b] : b;
    const int32_t q_len = a.q_indptr_host ? a.q_indptr_host[b + 1] - q0 : 1;
    if (q_len > kv_len) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more queries than cached tokens");
    for (int32_t i = 0; i < q_len; ++i) {
      const int64_t pos = kv_len - q_len + i;
      const int64_t lo = first_visible(pos, p.window), hi = p.causal ? pos + 1 : kv_len;
      for (int32_t h = 0; h < p.num_q_heads; ++h) {
        const int32_t kvh = h / group;
        const std::size_t q_index = (static_cast<std::size_t>(q0 + i) * p.num_q_heads + h) * d;
        for (int32_t c = 0; c < d; ++c) q[c] = load_as_float(a.q, p.dtype, q_index + c) * sm_scale;
        // One pass with a running max (online softmax): no score buffer, like the GPU.
        float max_score = -std::numeric_limits<float>::infinity(), sum = 0;
        std::fill_n(acc, d, 0.0f);
        for (int64_t j = lo; j < hi; ++j) {
          const char* page = page_of(cache, layout, b, j);
          const int32_t slot = static_cast<int32_t>(j % p.page_size);
          // q . (q8 * s * 2^e) = s * ((q * 2^e) . q8): fold the page's channel divisors into q.
          if (layout.k_per_channel && (j == lo || slot == 0)) {
            const auto* exponents = reinterpret_cast<const int8_t*>(page + layout.exponents_offset(kvh));
            for (int32_t c = 0; c < d; ++c) q_page[c] = q[c] * pow2(exponents[c]);
          }
          const float* q_used = layout.k_per_channel ? q_page : q;
          const auto* k = reinterpret_cast<const int8_t*>(page + layout.values_offset(kvh, slot, false));
          const auto* v = reinterpret_cast<const int8_t*>(page + layout.values_offset(kvh, slot, true));
          float dot = 0;
          for (int32_t c = 0; c < d; ++c) dot += q_used[c] * static_cast<float>(k[c]);
          const float score = dot * *reinterpret_cast<const float*>(page + layout.scale_offset(kvh, slot, false));
          if (score > max_score) {  // rescale what was summed under the old maximum
            const float shrink = std::exp(max_score - score);
            sum *= shrink;
            for (int32_t c = 0; c < d; ++c) acc[c] *= shrink;
            max_score = score;
          }
          const float w = std::exp(score - max_score);
          sum += w;
          const float wv = w * *reinterpret_cast<const float*>(page + layout.scale_offset(kvh, slot, true));
          for (int32_t c = 0; c < d; ++c) acc[c] += wv * static_cast<float>(v[c]);
        }
        for (int32_t c = 0; c < d; ++c)
          store_from_float(a.o, p.dtype, q_index + c, sum > 0 ? acc[c] / sum : 0.0f);
      }
    }
  }
}

}  // namespace attnbench::int8_kv
