// gqa: grouped-query attention. Query heads come in groups that share one K/V head (any
// group size that divides the head count), so the cache holds num_kv_heads heads, not
// num_q_heads, and a decode step reads each cached K/V row once per group.
#include "../common/grouped_plain_plugin.hpp"

namespace {

class GqaPlugin : public attnbench::plain_kv::GroupedPlainPlugin {
 public:
  using GroupedPlainPlugin::GroupedPlainPlugin;

  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = describe(
        "gqa", "Grouped-query attention (any group size): each K/V head read once per group",
        0, ATTNB_FLAG_CAUSAL | ATTNB_FLAG_NON_CAUSAL);
    return d;
  }
};

}  // namespace

ATTNB_PLUGIN(GqaPlugin)
