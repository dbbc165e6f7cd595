// One measurement of `attnbench bench`: a plugin, a phase and a shape, plus the model
// presets the shapes come from. A case's key columns make one CSV row's identity.
#pragma once

#include <attnbench/abi.h>
#include <attnbench/core/loaded_plugin.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attnbench {

// prefill: a prompt of `context` tokens per sequence (append its K/V, attend causally);
// decode: one new token per sequence over `context` cached tokens;
// generate: the prefill, then `steps` decode steps.
enum class Phase { prefill, decode, generate };
const char* phase_name(Phase phase);
std::optional<Phase> phase_from_name(const std::string& name);

// A model's attention shape.
struct HeadPreset {
  std::string name;
  int32_t num_q_heads;
  int32_t num_kv_heads;  // for plugins that allow it; see kv_heads_for
  int32_t head_dim;
  int32_t layers;        // for whole-model KV memory and time in `tune`
  std::string description;
};
const std::vector<HeadPreset>& head_presets();
const HeadPreset* find_preset(const std::string& name);

// The KV heads a plugin runs a preset with: the preset's own count when the plugin allows it,
// else the allowed count nearest to it (an MHA-only plugin uses the query heads, an MQA-only
// one 1). 0 when the plugin allows no divisor of the query heads.
int32_t kv_heads_for(const AttnbDescriptor& d, const HeadPreset& preset);

// Tunable values applied to an op, sorted by name.
using TunableSetting = std::vector<std::pair<std::string, int64_t>>;
std::string tunables_text(const TunableSetting& t);  // "tile_kv=64;tile_q=128"

struct BenchCase {
  std::string plugin;
  AttnbDevice device = ATTNB_DEVICE_CPU;
  Phase phase = Phase::decode;
  int32_t dtype = ATTNB_DTYPE_F32;
  int32_t kv_cache_dtype = ATTNB_DTYPE_F32;
  HeadPreset preset;     // num_kv_heads already resolved for the plugin
  int32_t window = 0;
  int32_t page_size = 16;
  bool shuffled_pages = true;
  int32_t batch = 1;
  int32_t context = 1;   // prompt tokens (prefill, generate) or cached tokens (decode)
  int32_t steps = 0;     // decode steps: 0 prefill, 1 decode, N generate
  TunableSetting tunables;

  int64_t max_len() const { return context + (phase == Phase::generate ? steps : 0); }
  std::string label() const;  // "mha decode fp16 b=8 ctx=4096"
};

// The ABI problem of a case; max_* are exactly what its calls need.
AttnbProblem problem_for(const BenchCase& c);

// The key column values of a case (as a bench row would hold them).
std::vector<std::pair<std::string, std::string>> case_columns(const BenchCase& c);

}  // namespace attnbench
