#include <attnbench/core/bench_case.hpp>

#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>

#include <cstdlib>
#include <limits>

namespace attnbench {

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::prefill: return "prefill";
    case Phase::decode: return "decode";
    case Phase::generate: return "generate";
  }
  return "unknown";
}

std::optional<Phase> phase_from_name(const std::string& name) {
  for (Phase p : {Phase::prefill, Phase::decode, Phase::generate})
    if (name == phase_name(p)) return p;
  return std::nullopt;
}

const std::vector<HeadPreset>& head_presets() {
  static const std::vector<HeadPreset> presets = {
      {"llama3-8b", 32, 8, 128, 32, "Llama-3-8B: 32 query heads, 8 KV heads, head dim 128, 32 layers"},
      {"llama3-70b", 64, 8, 128, 80, "Llama-3-70B: 64 query heads, 8 KV heads, head dim 128, 80 layers"},
      {"tinyllama", 32, 4, 64, 22, "TinyLlama-1.1B: 32 query heads, 4 KV heads, head dim 64, 22 layers"},
      {"cpu-small", 8, 2, 64, 4, "small shapes for the CPU path: 8 query heads, 2 KV heads, head dim 64"},
  };
  return presets;
}

const HeadPreset* find_preset(const std::string& name) {
  for (const HeadPreset& p : head_presets())
    if (p.name == name) return &p;
  return nullptr;
}

int32_t kv_heads_for(const AttnbDescriptor& d, const HeadPreset& preset) {
  int32_t best = 0;
  int32_t best_distance = std::numeric_limits<int32_t>::max();
  for (int32_t kv = 1; kv <= preset.num_q_heads; ++kv) {  // ascending: ties go to fewer heads
    if (preset.num_q_heads % kv) continue;
    const int32_t group = preset.num_q_heads / kv;
    if (group < d.min_group_size || (d.max_group_size > 0 && group > d.max_group_size)) continue;
    if (d.max_kv_heads > 0 && kv > d.max_kv_heads) continue;
    const int32_t distance = std::abs(kv - preset.num_kv_heads);
    if (distance < best_distance) {
      best = kv;
      best_distance = distance;
    }
  }
  return best;
}

std::string tunables_text(const TunableSetting& t) {
  std::string text;
  for (const auto& [name, value] : t) text += (text.empty() ? "" : ";") + name + "=" + std::to_string(value);
  return text;
}

std::string BenchCase::label() const {
  std::string text = plugin + " " + phase_name(phase) + " " + dtype_name(dtype) + " b=" +
                     std::to_string(batch) + " ctx=" + std::to_string(context);
  if (phase == Phase::generate) text += " steps=" + std::to_string(steps);
  if (!tunables.empty()) text += " " + tunables_text(tunables);
  return text;
}

AttnbProblem problem_for(const BenchCase& c) {
  const int32_t q_tokens = c.phase == Phase::decode ? c.batch : c.batch * c.context;
  AttnbProblem p = make_problem(c.device, c.dtype, c.preset.num_q_heads, c.preset.num_kv_heads,
                                c.preset.head_dim, true, c.window, c.batch, q_tokens,
                                static_cast<int32_t>(c.max_len()), c.page_size);
  p.kv_cache_dtype = c.kv_cache_dtype;
  return p;
}

std::vector<std::pair<std::string, std::string>> case_columns(const BenchCase& c) {
  return {{"plugin", c.plugin},
          {"backend", device_name(c.device)},
          {"phase", phase_name(c.phase)},
          {"dtype", dtype_name(c.dtype)},
          {"kv_dtype", dtype_name(c.kv_cache_dtype)},
          {"preset", c.preset.name},
          {"q_heads", std::to_string(c.preset.num_q_heads)},
          {"kv_heads", std::to_string(c.preset.num_kv_heads)},
          {"head_dim", std::to_string(c.preset.head_dim)},
          {"layers", std::to_string(c.preset.layers)},
          {"window", std::to_string(c.window)},
          {"page_size", std::to_string(c.page_size)},
          {"pages", c.shuffled_pages ? "shuffled" : "contiguous"},
          {"batch", std::to_string(c.batch)},
          {"context", std::to_string(c.context)},
          {"steps", std::to_string(c.steps)},
          {"tunables", tunables_text(c.tunables)}};
}

}  // namespace attnbench
