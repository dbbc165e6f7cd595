// Fault: a descriptor the host must refuse (a name with spaces and capitals).
#include "minimal_plugin.hpp"

struct BadDescriptor : fault::MinimalPlugin {
  using MinimalPlugin::MinimalPlugin;
  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = fault::minimal_descriptor("Bad Name!");
    return d;
  }
};
ATTNB_PLUGIN(BadDescriptor)
