// Not a fault: the minimal plugin as it should be, loaded beside the broken ones.
#include "minimal_plugin.hpp"

struct GoodMinimal : fault::MinimalPlugin {
  using MinimalPlugin::MinimalPlugin;
  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = fault::minimal_descriptor("good_minimal");
    return d;
  }
};
ATTNB_PLUGIN(GoodMinimal)
