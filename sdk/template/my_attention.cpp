// my_attention: a complete attnbench plugin in one file. Copy this folder, rename the plugin
// (the descriptor's name and the target in CMakeLists.txt), then change the maths.
//
// What it does: attention of new queries over a paged KV cache, on the CPU, in fp32, fp16 or
// bf16, for any ratio of query heads to KV heads (MHA, GQA, MQA), causal or full. It is
// written to be read, not to be fast: a CUDA path would sit next to it (see sdk/README.md).
//
// The rules it follows (the whole contract is sdk/include/attnbench/abi.h):
//  - The host allocates every byte this file touches (cache pages, inputs, outputs); the
//    plugin only decides the *format* of its cache pages.
//  - append_kv / prefill / decode are the hot path: they never allocate. The online softmax
//    below needs only a few fixed-size arrays on the stack; a plugin that needs scratch
//    memory asks for it with workspace_bytes() and gets it in every call's args.
//  - Errors are exceptions here; the helper turns them into a status and a message at the
//    boundary. attnbench::Unsupported is how can_implement() says no, with the reason.
#include <attnbench/plugin.hpp>  // the C++ helper: one class, one macro (includes abi.h)

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>

namespace {

using namespace attnbench;

constexpr int32_t kMaxHeadDim = 128;  // the largest head dim the descriptor lists

// ---- The cache format this plugin owns --------------------------------------------------
// A page holds page_size tokens: all K first, then all V, each laid out
// [num_kv_heads][page_size][head_dim] in the problem's dtype. That is the size PluginBase's
// default kv_page_bytes() reports (plain_kv_page_bytes); a plugin with another format
// (quantized, say) overrides kv_page_bytes() and decode_traffic() to match it.

// Tokens cached for sequence b: full pages plus the last page's fill (0 without pages).
int64_t sequence_length(const AttnbPagedKv& kv, int32_t page_size, int32_t b) {
  const int32_t pages = kv.page_indptr_host[b + 1] - kv.page_indptr_host[b];
  return pages == 0 ? 0 : static_cast<int64_t>(pages - 1) * page_size + kv.last_page_len_host[b];
}

// The head_dim elements of K (or V) of token `pos` of sequence b, KV head `kv_head`.
// Sequence b's pos-th token is in its (pos / page_size)-th page, at slot pos % page_size.
char* token_row(const AttnbProblem& p, const AttnbPagedKv& kv, int32_t b, int64_t pos,
                int32_t kv_head, bool is_v) {
  const int32_t page = kv.page_indices_host[kv.page_indptr_host[b] + pos / p.page_size];
  const int64_t slot = pos % p.page_size;
  const std::size_t elem = dtype_size(p.dtype);
  const std::size_t plane = static_cast<std::size_t>(p.num_kv_heads) * p.page_size * p.head_dim;
  const std::size_t index = (is_v ? plane : 0) +
                            (static_cast<std::size_t>(kv_head) * p.page_size + slot) * p.head_dim;
  return static_cast<char*>(kv.pages) + static_cast<std::size_t>(page) * kv.page_bytes + index * elem;
}

class MyAttention : public PluginBase {
 public:
  // What `attnbench list` shows and what the host checks every problem against before it
  // calls us: a problem outside this never reaches can_implement() or create().
  static const AttnbDescriptor& descriptor() {
    static const int32_t head_dims[] = {64, 128};
    constexpr uint32_t dtypes =
        ATTNB_BIT(ATTNB_DTYPE_F32) | ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16);
    static const AttnbDescriptor d = {
        sizeof(AttnbDescriptor),
        "my_attention",                                         // name: [a-z0-9_]+, unique
        "0.1.0",                                                // the plugin's own version
        "SDK template: readable paged attention on the CPU",  // one sentence for `list`
        ATTNB_BIT(ATTNB_DEVICE_CPU),                            // devices
        dtypes,                                                 // dtypes on the CPU
        0,                                                      // dtypes on CUDA: none
        dtypes,                                                 // the cache stores the Q type
        head_dims,
        2,                                                      // number of head dims
        1,                                                      // min group size
        0,                                                      // max group size: any
        0,                                                      // max KV heads: any
        ATTNB_FLAG_CAUSAL | ATTNB_FLAG_NON_CAUSAL,              // no sliding window
        nullptr,                                                // tunables (ABI 1.1): none
        0};
    return d;
  }

  // Only what the descriptor cannot say. It declares fp32/fp16/bf16 for both Q and the
  // cache, but this format stores K and V in the query dtype, so mixing them is refused.
  static void can_implement(const AttnbProblem& p) {
    if (p.kv_cache_dtype != p.dtype) throw Unsupported("the cache stores the query dtype");
  }

  // One op per problem: the host creates it once, then calls the hot path many times.
  explicit MyAttention(const AttnbProblem& p) : p_(p) {}

  // Copies each new token's K and V rows into its slot. The cache already counts the new
  // tokens: sequence b's new ones are its last (new_indptr[b+1] - new_indptr[b]) positions.
  void append_kv(const AttnbAppendArgs& a) {
    const AttnbPagedKv& kv = *a.cache;
    const std::size_t row_bytes = static_cast<std::size_t>(p_.head_dim) * dtype_size(p_.dtype);
    for (int32_t b = 0; b < kv.batch; ++b) {
      const int32_t first = a.new_indptr_host[b], count = a.new_indptr_host[b + 1] - first;
      const int64_t length = sequence_length(kv, p_.page_size, b);
      if (count > length) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more new tokens than the sequence holds");
      for (int32_t i = 0; i < count; ++i)
        for (int32_t h = 0; h < p_.num_kv_heads; ++h) {
          const std::size_t src = (static_cast<std::size_t>(first + i) * p_.num_kv_heads + h) * row_bytes;
          const int64_t pos = length - count + i;
          std::memcpy(token_row(p_, kv, b, pos, h, false), static_cast<const char*>(a.k) + src, row_bytes);
          std::memcpy(token_row(p_, kv, b, pos, h, true), static_cast<const char*>(a.v) + src, row_bytes);
        }
    }
  }

  // Prefill and decode are the same loop here: decode is one query per sequence.
  void prefill(const AttnbAttendArgs& a) { attend(a); }
  void decode(const AttnbAttendArgs& a) { attend(a); }

 private:
  // Query i of sequence b (q_len queries, kv_len cached tokens) sits at position
  // kv_len - q_len + i; causal masking lets it see keys 0 .. that position.
  void attend(const AttnbAttendArgs& a) {
    const AttnbPagedKv& kv = *a.cache;
    const int32_t d = p_.head_dim, group = p_.num_q_heads / p_.num_kv_heads;
    const float scale = p_.sm_scale != 0 ? p_.sm_scale : 1.0f / std::sqrt(static_cast<float>(d));
    for (int32_t b = 0; b < kv.batch; ++b) {
      const int64_t kv_len = sequence_length(kv, p_.page_size, b);
      const int32_t q0 = a.q_indptr_host ? a.q_indptr_host[b] : b;  // decode may pass NULL
      const int32_t q_len = a.q_indptr_host ? a.q_indptr_host[b + 1] - q0 : 1;
      if (q_len > kv_len) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more queries than cached tokens");
      for (int32_t i = 0; i < q_len; ++i) {
        const int64_t pos = kv_len - q_len + i;
        const int64_t visible = p_.causal ? pos + 1 : kv_len;
        for (int32_t h = 0; h < p_.num_q_heads; ++h)  // query head h reads KV head h / group
          attend_one(a, (static_cast<std::size_t>(q0) + i) * p_.num_q_heads + h, kv, b, visible,
                     h / group, scale);
      }
    }
  }

  // One query row against keys 0 .. visible-1, in one pass with the online softmax: keep
  // the running maximum score m, the running sum of exp(score - m) and the weighted sum of
  // values, rescaling both whenever m grows. No score buffer, so nothing to allocate.
  void attend_one(const AttnbAttendArgs& a, std::size_t row, const AttnbPagedKv& kv, int32_t b,
                  int64_t visible, int32_t kv_head, float scale) const {
    const int32_t d = p_.head_dim;
    float q[kMaxHeadDim], acc[kMaxHeadDim] = {};
    for (int32_t e = 0; e < d; ++e) q[e] = load_as_float(a.q, p_.dtype, row * d + e);
    float m = -std::numeric_limits<float>::infinity(), sum = 0;
    for (int64_t j = 0; j < visible; ++j) {
      const char* k = token_row(p_, kv, b, j, kv_head, false);
      float score = 0;
      for (int32_t e = 0; e < d; ++e) score += q[e] * load_as_float(k, p_.dtype, e);
      score *= scale;
      const float m_new = std::max(m, score);
      const float rescale = std::exp(m - m_new);  // 0 on the first key (m = -inf)
      const float w = std::exp(score - m_new);
      const char* v = token_row(p_, kv, b, j, kv_head, true);
      for (int32_t e = 0; e < d; ++e) acc[e] = acc[e] * rescale + w * load_as_float(v, p_.dtype, e);
      sum = sum * rescale + w;
      m = m_new;
    }
    for (int32_t e = 0; e < d; ++e) store_from_float(a.o, p_.dtype, row * d + e, acc[e] / sum);
  }

  AttnbProblem p_;
};

}  // namespace

// Exports attnbench_plugin_negotiate, the one symbol the host looks for.
ATTNB_PLUGIN(MyAttention)
