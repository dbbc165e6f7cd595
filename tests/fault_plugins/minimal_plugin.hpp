// A tiny correct plugin (CPU, fp32, plain pages, via the shared CPU path) that the fault
// plugins derive from, each breaking one thing.
#pragma once

#include "cpu_paged_attention.hpp"

#include <attnbench/plugin.hpp>

namespace fault {

inline AttnbDescriptor minimal_descriptor(const char* name) {
  static const int32_t head_dims[] = {64};
  return {sizeof(AttnbDescriptor), name, "0.0.1", "test plugin", ATTNB_BIT(ATTNB_DEVICE_CPU),
          ATTNB_BIT(ATTNB_DTYPE_F32), 0, ATTNB_BIT(ATTNB_DTYPE_F32), head_dims, 1, 1, 0, 0,
          ATTNB_FLAG_CAUSAL};
}

class MinimalPlugin : public attnbench::PluginBase {
 public:
  explicit MinimalPlugin(const AttnbProblem& p) : problem_(p) {}
  static std::size_t workspace_bytes(const AttnbProblem& p) {
    return attnbench::plain_kv::cpu_workspace_bytes(p);
  }
  void append_kv(const AttnbAppendArgs& a) { attnbench::plain_kv::cpu_append(problem_, a); }
  void prefill(const AttnbAttendArgs& a) { attnbench::plain_kv::cpu_attend(problem_, a); }
  void decode(const AttnbAttendArgs& a) { attnbench::plain_kv::cpu_attend(problem_, a); }

 protected:
  AttnbProblem problem_;
};

}  // namespace fault
