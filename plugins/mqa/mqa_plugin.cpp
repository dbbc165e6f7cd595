// mqa: multi-query attention, the one-KV-head corner of grouped attention. Every query head
// shares a single K/V head, so the cache stores one head per token and a decode step reads
// each cached K/V row once per sequence.
#include "../common/grouped_plain_plugin.hpp"

namespace {

class MqaPlugin : public attnbench::plain_kv::GroupedPlainPlugin {
 public:
  using GroupedPlainPlugin::GroupedPlainPlugin;

  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = describe(
        "mqa", "Multi-query attention (one K/V head): each K/V row read once per sequence",
        1, ATTNB_FLAG_CAUSAL | ATTNB_FLAG_NON_CAUSAL);
    return d;
  }
};

}  // namespace

ATTNB_PLUGIN(MqaPlugin)
