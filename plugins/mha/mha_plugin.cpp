// mha: multi-head attention, every query head with its own K/V head (group size 1).
// The baseline of the suite: a readable CPU path and a plain three-stage CUDA path.
#include "../common/cpu_paged_attention.hpp"

#include <attnbench/plugin.hpp>

#ifdef ATTNB_WITH_CUDA
#include "../common/cuda_common.cuh"
#include "mha_cuda.hpp"
#endif

namespace {

using namespace attnbench;

class MhaPlugin : public PluginBase {
 public:
  static const AttnbDescriptor& descriptor() {
    static const int32_t head_dims[] = {64, 128};
    static const AttnbDescriptor d = {
        sizeof(AttnbDescriptor),
        "mha",
        "1.0.0",
        "Multi-head attention (group size 1): fp64-checked baseline, three-stage CUDA kernels",
        ATTNB_BIT(ATTNB_DEVICE_CPU) | ATTNB_BIT(ATTNB_DEVICE_CUDA),
        ATTNB_BIT(ATTNB_DTYPE_F32) | ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16),
        ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16),
        ATTNB_BIT(ATTNB_DTYPE_F32) | ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16),
        head_dims,
        2,
        1,
        1,
        0,
        ATTNB_FLAG_CAUSAL | ATTNB_FLAG_NON_CAUSAL};
    return d;
  }

  static void can_implement(const AttnbProblem& p) {
    if (p.kv_cache_dtype != p.dtype) throw Unsupported("the cache stores the query dtype");
#ifndef ATTNB_WITH_CUDA
    if (p.device == ATTNB_DEVICE_CUDA) throw Unsupported("built without CUDA");
#endif
  }

  static std::size_t workspace_bytes(const AttnbProblem& p) {
#ifdef ATTNB_WITH_CUDA
    if (p.device == ATTNB_DEVICE_CUDA) return mha::cuda_workspace_bytes(p);
#endif
    (void)p;
    return 0;
  }

  explicit MhaPlugin(const AttnbProblem& p) : problem_(p) {}

  void append_kv(const AttnbAppendArgs& a) {
#ifdef ATTNB_WITH_CUDA
    if (problem_.device == ATTNB_DEVICE_CUDA) return plain_kv::cuda_append(problem_, a);
#endif
    plain_kv::cpu_append(problem_, a);
  }
  void prefill(const AttnbAttendArgs& a) { attend(a); }
  void decode(const AttnbAttendArgs& a) { attend(a); }

 private:
  void attend(const AttnbAttendArgs& a) {
#ifdef ATTNB_WITH_CUDA
    if (problem_.device == ATTNB_DEVICE_CUDA) return mha::cuda_attend(problem_, a);
#endif
    plain_kv::cpu_attend(problem_, a);
  }
  AttnbProblem problem_;
};

}  // namespace

ATTNB_PLUGIN(MhaPlugin)
