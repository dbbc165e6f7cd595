// The checks every plugin's can_implement starts with: a problem against the plugin's own
// descriptor. The host runs the same function before calling a plugin, so a plugin that
// forgets a check still never sees a problem its descriptor rules out.
#pragma once

#include <attnbench/abi.h>
#include <attnbench/numeric.hpp>

#include <string>

namespace attnbench {

inline bool descriptor_has_head_dim(const AttnbDescriptor& d, int32_t head_dim) {
  for (std::size_t i = 0; i < d.num_head_dims; ++i)
    if (d.head_dims[i] == head_dim) return true;
  return false;
}

inline std::string head_dims_text(const AttnbDescriptor& d) {
  std::string text;
  for (std::size_t i = 0; i < d.num_head_dims; ++i)
    text += (i ? "," : "") + std::to_string(d.head_dims[i]);
  return text;
}

inline std::string dtypes_text(uint32_t mask) {
  std::string text;
  for (int32_t t = ATTNB_DTYPE_F32; t <= ATTNB_DTYPE_INT8; ++t)
    if (mask & ATTNB_BIT(t)) text += (text.empty() ? "" : ",") + std::string(dtype_name(t));
  return text.empty() ? "none" : text;
}

inline const AttnbTunable* find_tunable(const AttnbDescriptor& d, const std::string& name) {
  for (std::size_t i = 0; d.tunables && i < d.num_tunables; ++i)
    if (d.tunables[i].name && name == d.tunables[i].name) return &d.tunables[i];
  return nullptr;
}

inline bool tunable_allows(const AttnbTunable& t, int64_t value) {
  for (std::size_t i = 0; i < t.num_values; ++i)
    if (t.values[i] == value) return true;
  return false;
}

// Returns "" when `p` is well formed and inside what `d` declares, else the reason.
inline std::string problem_outside_descriptor(const AttnbDescriptor& d, const AttnbProblem& p) {
  if (p.device != ATTNB_DEVICE_CPU && p.device != ATTNB_DEVICE_CUDA)
    return "unknown device " + std::to_string(p.device);
  if (!(d.devices & ATTNB_BIT(p.device)))
    return std::string("device ") + device_name(p.device) + " not supported";
  const uint32_t dtypes = p.device == ATTNB_DEVICE_CUDA ? d.cuda_dtypes : d.cpu_dtypes;
  if (!(dtypes & ATTNB_BIT(p.dtype)))
    return std::string("dtype ") + dtype_name(p.dtype) + " not supported on " +
           device_name(p.device) + " (supported: " + dtypes_text(dtypes) + ")";
  if (!(d.kv_cache_dtypes & ATTNB_BIT(p.kv_cache_dtype)))
    return std::string("KV cache dtype ") + dtype_name(p.kv_cache_dtype) +
           " not supported (supported: " + dtypes_text(d.kv_cache_dtypes) + ")";
  if (p.num_q_heads <= 0 || p.num_kv_heads <= 0 || p.head_dim <= 0 || p.page_size <= 0)
    return "heads, head_dim and page_size must be positive";
  if (p.num_q_heads % p.num_kv_heads != 0)
    return "query heads (" + std::to_string(p.num_q_heads) + ") not a multiple of KV heads (" +
           std::to_string(p.num_kv_heads) + ")";
  if (!descriptor_has_head_dim(d, p.head_dim))
    return "head_dim " + std::to_string(p.head_dim) + " not supported (supported: " +
           head_dims_text(d) + ")";
  const int32_t group = p.num_q_heads / p.num_kv_heads;
  if (group < d.min_group_size || (d.max_group_size > 0 && group > d.max_group_size))
    return "group size " + std::to_string(group) + " outside " + std::to_string(d.min_group_size) +
           ".." + (d.max_group_size > 0 ? std::to_string(d.max_group_size) : std::string("any"));
  if (d.max_kv_heads > 0 && p.num_kv_heads > d.max_kv_heads)
    return "KV heads " + std::to_string(p.num_kv_heads) + " above the plugin's limit of " +
           std::to_string(d.max_kv_heads);
  if (p.window < 0) return "window must be 0 (none) or positive";
  if (p.window > 0 && !(d.flags & ATTNB_FLAG_SLIDING_WINDOW))
    return "sliding window not supported";
  if (p.causal && !(d.flags & ATTNB_FLAG_CAUSAL)) return "causal masking not supported";
  if (!p.causal && !(d.flags & ATTNB_FLAG_NON_CAUSAL)) return "non-causal attention not supported";
  if (p.kv_cache_dtype == ATTNB_DTYPE_INT8 && p.kv_quant_mode == ATTNB_KV_QUANT_K_PER_CHANNEL &&
      !(d.flags & ATTNB_FLAG_K_PER_CHANNEL_SCALES))
    return "per-channel K scales not supported";
  if (p.kv_quant_mode != ATTNB_KV_QUANT_PER_TOKEN && p.kv_quant_mode != ATTNB_KV_QUANT_K_PER_CHANNEL)
    return "unknown kv_quant_mode " + std::to_string(p.kv_quant_mode);
  if (p.max_batch <= 0 || p.max_q_tokens <= 0 || p.max_kv_len <= 0)
    return "max_batch, max_q_tokens and max_kv_len must be positive";
  return "";
}

}  // namespace attnbench
