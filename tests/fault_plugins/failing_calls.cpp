// Fault: loads fine, then every attention call fails with a message of its own.
#include "minimal_plugin.hpp"

#include <stdexcept>

struct FailingCalls : fault::MinimalPlugin {
  using MinimalPlugin::MinimalPlugin;
  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = fault::minimal_descriptor("failing_calls");
    return d;
  }
  void append_kv(const AttnbAppendArgs&) { throw std::runtime_error("planted append failure"); }
  void prefill(const AttnbAttendArgs&) { throw std::runtime_error("planted prefill failure"); }
  void decode(const AttnbAttendArgs&) { throw std::runtime_error("planted decode failure"); }
};
ATTNB_PLUGIN(FailingCalls)
