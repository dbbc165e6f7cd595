// A correct plugin with two tunables that change nothing, like a kernel's tile sizes: what
// `bench --sweep-tunable` and the report's heatmap are tested with.
#include "minimal_plugin.hpp"

namespace {

const int64_t kTileQ[] = {16, 32, 64};
const int64_t kTileKv[] = {16, 32};
const AttnbTunable kTunables[] = {
    {sizeof(AttnbTunable), "tile_q", "query rows per tile", kTileQ, 3, 32},
    {sizeof(AttnbTunable), "tile_kv", "keys per tile", kTileKv, 2, 16},
};

struct TileTunables : fault::MinimalPlugin {
  using MinimalPlugin::MinimalPlugin;
  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = [] {
      AttnbDescriptor with = fault::minimal_descriptor("tile_tunables");
      with.tunables = kTunables;
      with.num_tunables = 2;
      return with;
    }();
    return d;
  }
  void set_tunable(const char*, int64_t) {}
};

}  // namespace

ATTNB_PLUGIN(TileTunables)
