// int8_kv: the KV cache stored as int8 with a symmetric fp32 scale per token and KV head
// (optionally power-of-two per-channel divisors for K). Tokens are quantized when appended;
// attention dequantizes rows as it reads them. Half the bytes of an fp16 cache, so decode,
// which is bound by reading the cache, moves half as much and a pool holds twice the tokens.
#include "../common/fresh_keys.hpp"
#include "int8_kv_cpu.hpp"
#include "int8_kv_format.hpp"
#include "int8_kv_tunables.hpp"

#include <attnbench/plugin.hpp>

#include <cstring>

#ifdef ATTNB_WITH_CUDA
#include "int8_kv_cuda.hpp"
#endif

namespace {

using namespace attnbench;
using namespace attnbench::int8_kv;

class Int8KvPlugin : public PluginBase {
 public:
  static const AttnbDescriptor& descriptor() {
    static const int32_t head_dims[] = {64, 128};
    static const int64_t split_values[] = {0, 1, 2, 4, 8, 16, 32};
    static const int64_t on_off[] = {0, 1};
    static const AttnbTunable tunables[] = {
        {sizeof(AttnbTunable), "kv_splits",
         "blocks that share one decode query's keys (0: chosen from batch, heads and SMs)",
         split_values, sizeof(split_values) / sizeof(split_values[0]), 0},
        {sizeof(AttnbTunable), "early_launch",
         "CUDA decode: launched while the append before it runs, waiting for it only where it "
         "reads the new tokens (1), or after it (0)",
         on_off, 2, 1},
        {sizeof(AttnbTunable), "tensor_copies",
         "CUDA decode: tiles copied by the tensor memory accelerator, a copy per page piece, "
         "where the page size is 8, 16, 32, 64 or a multiple of 64 (1), or 16 bytes a thread "
         "with cp.async (0)",
         on_off, 2, 1},
        {sizeof(AttnbTunable), "l2_evict_first",
         "CUDA decode, tensor copies: the cache's lines marked L2 evict-first (1: read once a "
         "step, they leave L2 before other lines), or cached as any load's (0)",
         on_off, 2, 1}};
    static const AttnbDescriptor d = {
        sizeof(AttnbDescriptor),
        "int8_kv",
        "1.0.0",
        "INT8 KV cache (per-token scales, optional per-channel K): quantized on append, "
        "dequantized inside attention",
        ATTNB_BIT(ATTNB_DEVICE_CPU) | ATTNB_BIT(ATTNB_DEVICE_CUDA),
        ATTNB_BIT(ATTNB_DTYPE_F32) | ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16),
        ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16),
        ATTNB_BIT(ATTNB_DTYPE_INT8),
        head_dims,
        2,
        1,
        0,
        0,
        ATTNB_FLAG_CAUSAL | ATTNB_FLAG_NON_CAUSAL | ATTNB_FLAG_SLIDING_WINDOW |
            ATTNB_FLAG_QUANTIZED_KV | ATTNB_FLAG_K_PER_CHANNEL_SCALES,
        tunables,
        sizeof(tunables) / sizeof(tunables[0])};
    return d;
  }

  static void can_implement(const AttnbProblem& p) {
#ifndef ATTNB_WITH_CUDA
    if (p.device == ATTNB_DEVICE_CUDA) throw Unsupported("built without CUDA");
#endif
    (void)p;
  }

  static std::size_t kv_page_bytes(const AttnbProblem& p) {
    return layout_of(p, 0).required_page_bytes();
  }

  static std::size_t workspace_bytes(const AttnbProblem& p) {
#ifdef ATTNB_WITH_CUDA
    if (p.device == ATTNB_DEVICE_CUDA) return cuda_workspace_bytes(p);
#endif
    (void)p;
    return 0;
  }

  // What the format really moves: int8 values plus a 4-byte scale per row, and with
  // per-channel K one exponent byte per channel per page.
  static AttnbTraffic decode_traffic(const AttnbProblem& p, int64_t kv_len) {
    AttnbTraffic t = plain_decode_traffic(p, kv_len);  // Q, O and flops are the plain ones
    const double row_bytes = 2.0 * p.num_kv_heads * (p.head_dim + sizeof(float));
    const double exponent_bytes = layout_of(p, 0).k_per_channel ? 1.0 * p.num_kv_heads * p.head_dim : 0.0;
    const int64_t visible = visible_tokens(p, kv_len);
    const int64_t pages_read =
        visible > 0 ? (kv_len - 1) / p.page_size - (kv_len - visible) / p.page_size + 1 : 0;
    t.kv_bytes_per_token = row_bytes + exponent_bytes / p.page_size;
    t.kv_bytes_read = row_bytes * static_cast<double>(visible) + exponent_bytes * static_cast<double>(pages_read);
    t.bytes_written = static_cast<double>(p.num_q_heads) * p.head_dim * dtype_size(p.dtype) +
                      t.kv_bytes_per_token;
    return t;
  }

  explicit Int8KvPlugin(const AttnbProblem& p) : problem_(p) {
#ifdef ATTNB_WITH_CUDA
    if (p.device == ATTNB_DEVICE_CUDA) {
      sm_count_ = cuda_sm_count();
      split_counters_ = cuda_split_counters(p);
    }
#endif
  }

  void append_kv(const AttnbAppendArgs& a) {
    const Layout layout = checked_layout(a.cache);
#ifdef ATTNB_WITH_CUDA
    if (problem_.device == ATTNB_DEVICE_CUDA) {
      cuda_append(problem_, layout, a);
      return fresh_keys_.appended(a);
    }
#endif
    cpu_append(problem_, layout, a);
  }
  void prefill(const AttnbAttendArgs& a) { attend(a, false); }
  void decode(const AttnbAttendArgs& a) { attend(a, true); }
  // The harness passes only declared names and allowed values.
  void set_tunable(const char* name, int64_t value) {
    if (std::strcmp(name, "kv_splits") == 0) tunables_.kv_splits = static_cast<int32_t>(value);
    else if (std::strcmp(name, "early_launch") == 0) tunables_.early_launch = value != 0;
    else if (std::strcmp(name, "tensor_copies") == 0) tunables_.tensor_copies = value != 0;
    else tunables_.l2_evict_first = value != 0;
  }

 private:
  void attend(const AttnbAttendArgs& a, bool is_decode) {
    const Layout layout = checked_layout(a.cache);
#ifdef ATTNB_WITH_CUDA
    if (problem_.device == ATTNB_DEVICE_CUDA)
      return cuda_attend(problem_, layout, a, is_decode, tunables_, fresh_keys_.take(), sm_count_,
                         split_counters_);
#endif
    (void)is_decode;
    cpu_attend(problem_, layout, a);
  }

  Layout checked_layout(const AttnbPagedKv* cache) const {
    if (!cache || !cache->pages) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "cache is NULL");
    const Layout layout = layout_of(problem_, cache->page_bytes);
    if (cache->page_bytes < layout.required_page_bytes())
      throw Error(ATTNB_ERR_OUT_OF_MEMORY, "cache pages are smaller than kv_page_bytes()");
    if (cache->page_bytes % 16 != 0)
      throw Error(ATTNB_ERR_INVALID_ARGUMENT, "page_bytes must be a multiple of 16 (16-byte loads)");
    return layout;
  }

  AttnbProblem problem_;
  DecodeTunables tunables_;
  plain_kv::FreshKeys fresh_keys_;  // what a CUDA decode launched early must wait for
  int32_t sm_count_ = 0;
#ifdef ATTNB_WITH_CUDA
  plain_kv::SplitCounters split_counters_;  // device memory: max_batch x KV heads x head chunks
#endif
};

}  // namespace

ATTNB_PLUGIN(Int8KvPlugin)
