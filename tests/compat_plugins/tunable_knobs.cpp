// An ABI 1.1 plugin with two tunables: `harmless` changes nothing, `breaks_results` = 1 scales
// every output by 1.5. `attnbench check` must pass the first and catch the second.
#include "minimal_plugin.hpp"  // tests/fault_plugins: a small correct CPU plugin

#include <cstring>

namespace {

const int64_t kOffOn[] = {0, 1};
const AttnbTunable kTunables[] = {
    {sizeof(AttnbTunable), "harmless", "changes nothing", kOffOn, 2, 0},
    {sizeof(AttnbTunable), "breaks_results", "1 scales every output by 1.5", kOffOn, 2, 0},
};

struct TunableKnobs : fault::MinimalPlugin {
  using MinimalPlugin::MinimalPlugin;
  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = [] {
      AttnbDescriptor with = fault::minimal_descriptor("tunable_knobs");
      with.tunables = kTunables;
      with.num_tunables = 2;
      return with;
    }();
    return d;
  }
  void set_tunable(const char* name, int64_t value) {
    if (std::strcmp(name, "breaks_results") == 0) breaks_results_ = value == 1;
  }
  void prefill(const AttnbAttendArgs& a) { attend(a); }
  void decode(const AttnbAttendArgs& a) { attend(a); }

 private:
  void attend(const AttnbAttendArgs& a) {
    MinimalPlugin::decode(a);  // the same loop for both
    if (!breaks_results_) return;
    const int32_t rows = a.q_indptr_host ? a.q_indptr_host[a.cache->batch] : a.cache->batch;
    float* o = static_cast<float*>(a.o);
    for (int64_t i = 0; i < int64_t{rows} * problem_.num_q_heads * problem_.head_dim; ++i) o[i] *= 1.5f;
  }
  bool breaks_results_ = false;
};

}  // namespace

ATTNB_PLUGIN(TunableKnobs)
