// A plugin built with the C++ helper against a future ABI 1.7 header. Negotiation picks the
// highest minor both sides know, min(host's newest, 7), so today's host drives it at its own
// minor, and it works.
#include <attnbench/abi.h>
#undef ATTNB_ABI_MINOR
#define ATTNB_ABI_MINOR 7  // stands in for a header newer than the host's

#include "minimal_plugin.hpp"  // tests/fault_plugins: a small correct CPU plugin

struct FutureMinor : fault::MinimalPlugin {
  using MinimalPlugin::MinimalPlugin;
  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = fault::minimal_descriptor("future_minor");
    return d;
  }
};
ATTNB_PLUGIN(FutureMinor)
