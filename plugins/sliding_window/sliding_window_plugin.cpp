// sliding_window: Mistral-style local causal attention. A query at position p sees only
// keys p-W+1 .. p (W = AttnbProblem.window; 0, or W past the context, is plain causal), so
// decode reads at most W tokens however long the sequence is, and pages that fell out of
// the window are never touched. Any group size.
#include "../common/grouped_plain_plugin.hpp"

namespace {

class SlidingWindowPlugin : public attnbench::plain_kv::GroupedPlainPlugin {
 public:
  using GroupedPlainPlugin::GroupedPlainPlugin;

  static const AttnbDescriptor& descriptor() {
    static const AttnbDescriptor d = describe(
        "sliding_window", "Sliding-window causal attention (any group size): decode reads only the window",
        0, ATTNB_FLAG_CAUSAL | ATTNB_FLAG_SLIDING_WINDOW);
    return d;
  }
};

}  // namespace

ATTNB_PLUGIN(SlidingWindowPlugin)
