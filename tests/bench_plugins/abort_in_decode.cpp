// Crashes the process in decode (abort), as a buggy kernel or a failed assertion would;
// prefill works. `bench --isolate` must turn the crash into one `crashed` row and go on.
#include "minimal_plugin.hpp"

#include <cstdlib>

struct AbortInDecode : fault::MinimalPlugin {
  using MinimalPlugin::MinimalPlugin;
  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = fault::minimal_descriptor("abort_in_decode");
    return d;
  }
  void decode(const AttnbAttendArgs&) { std::abort(); }
};
ATTNB_PLUGIN(AbortInDecode)
