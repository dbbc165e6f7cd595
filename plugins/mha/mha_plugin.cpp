// mha: multi-head attention, every query head with its own K/V head (group size 1).
// The baseline of the suite: the shared CPU path and the plain three-stage CUDA kernels
// (mha_cuda.cu) that the fused plugin is measured against.
#include "../common/grouped_plain_plugin.hpp"

#ifdef ATTNB_WITH_CUDA
#include "mha_cuda.hpp"
#endif

namespace {

using namespace attnbench;

class MhaPlugin : public plain_kv::GroupedPlainPlugin {
 public:
  using GroupedPlainPlugin::GroupedPlainPlugin;

  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = [] {
      AttnbDescriptor out = describe(
          "mha", "Multi-head attention (group size 1): the baseline, three-stage CUDA kernels", 0,
          ATTNB_FLAG_CAUSAL | ATTNB_FLAG_NON_CAUSAL);
      out.max_group_size = 1;
      return out;
    }();
    return d;
  }

  static std::size_t workspace_bytes(const AttnbProblem& p) {
#ifdef ATTNB_WITH_CUDA
    if (p.device == ATTNB_DEVICE_CUDA) return mha::cuda_workspace_bytes(p);
#endif
    return plain_kv::cpu_workspace_bytes(p);
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
};

}  // namespace

ATTNB_PLUGIN(MhaPlugin)
