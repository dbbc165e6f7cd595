// What gqa, mqa and sliding_window share: the plain paged format, the grouped CPU loop and
// the grouped CUDA kernel. MHA, MQA and GQA are one number (the group size) and a window is
// one more, so these plugins differ only in what their descriptors declare.
#pragma once

#include "cpu_paged_attention.hpp"

#include <attnbench/plugin.hpp>

#ifdef ATTNB_WITH_CUDA
#include "cuda_common.cuh"
#include "grouped_attention.hpp"
#endif

#include <string>

namespace attnbench::plain_kv {

class GroupedPlainPlugin : public PluginBase {
 public:
  // The descriptor every grouped plugin starts from: CPU fp32/fp16/bf16, CUDA fp16/bf16,
  // head dims 64 and 128, any group size; `max_kv_heads` and `flags` make the variant.
  static AttnbDescriptor describe(const char* name, const char* description, int32_t max_kv_heads,
                                  uint32_t flags) {
    static const int32_t head_dims[] = {64, 128};
    const uint32_t half_types = ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16);
    AttnbDescriptor d{};
    d.struct_size = sizeof d;
    d.name = name;
    d.version = "1.0.0";
    d.description = description;
    d.devices = ATTNB_BIT(ATTNB_DEVICE_CPU) | ATTNB_BIT(ATTNB_DEVICE_CUDA);
    d.cpu_dtypes = ATTNB_BIT(ATTNB_DTYPE_F32) | half_types;
    d.cuda_dtypes = half_types;
    d.kv_cache_dtypes = d.cpu_dtypes;
    d.head_dims = head_dims;
    d.num_head_dims = 2;
    d.min_group_size = 1;
    d.max_group_size = 0;
    d.max_kv_heads = max_kv_heads;
    d.flags = flags;
    return d;
  }

  static void can_implement(const AttnbProblem& p) {
    if (p.kv_cache_dtype != p.dtype) throw Unsupported("the cache stores the query dtype");
    if (p.device != ATTNB_DEVICE_CUDA) return;
#ifdef ATTNB_WITH_CUDA
    const int32_t group = p.num_q_heads / p.num_kv_heads;
    if (group > kMaxCudaGroup)
      throw Unsupported("group size " + std::to_string(group) + " above " +
                        std::to_string(kMaxCudaGroup) + ", the most one CUDA block serves");
#else
    throw Unsupported("built without CUDA");
#endif
  }

  static std::size_t workspace_bytes(const AttnbProblem& p) {
#ifdef ATTNB_WITH_CUDA
    if (p.device == ATTNB_DEVICE_CUDA) return cuda_grouped_workspace_bytes(p);
#endif
    return cpu_workspace_bytes(p);
  }

  explicit GroupedPlainPlugin(const AttnbProblem& p) : problem_(p) {}

  void append_kv(const AttnbAppendArgs& a) {
#ifdef ATTNB_WITH_CUDA
    if (problem_.device == ATTNB_DEVICE_CUDA) return cuda_append(problem_, a);
#endif
    cpu_append(problem_, a);
  }

  void prefill(const AttnbAttendArgs& a) {
#ifdef ATTNB_WITH_CUDA
    if (problem_.device == ATTNB_DEVICE_CUDA) return cuda_grouped_prefill(problem_, a);
#endif
    cpu_attend(problem_, a);
  }

  void decode(const AttnbAttendArgs& a) {
#ifdef ATTNB_WITH_CUDA
    if (problem_.device == ATTNB_DEVICE_CUDA) return cuda_grouped_decode(problem_, a);
#endif
    cpu_attend(problem_, a);
  }

 protected:
  AttnbProblem problem_;
};

}  // namespace attnbench::plain_kv
