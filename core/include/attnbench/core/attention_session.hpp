// Drives one plugin op over a private page pool with host-side tensors: the plain, correct
// way to call a plugin, used by `validate`, `check` and the tests. It scatters pages at
// random over the pool (so page indirection is exercised), remembers every token's K and V,
// and computes the fp64 reference for any call it made.
#pragma once

#include <attnbench/core/buffer.hpp>
#include <attnbench/core/loaded_plugin.hpp>
#include <attnbench/core/page_table.hpp>
#include <attnbench/core/session_ledger.hpp>

#include <memory>
#include <random>
#include <vector>

namespace attnbench {

class AttentionSession {
 public:
  // The pool holds `num_pages` pages of the plugin's format; the problem's max_* bound the
  // calls. Throws PluginError if the plugin refuses the problem.
  AttentionSession(const LoadedPlugin& plugin, const AttnbProblem& problem, int64_t num_pages,
                   uint64_t seed);

  // Appends new_tokens[b] tokens to sequence b (the batch grows to new_tokens.size()).
  // k and v: [sum(new_tokens), num_kv_heads, head_dim], already rounded to the dtype.
  void append(const std::vector<int32_t>& new_tokens, const std::vector<float>& k,
              const std::vector<float>& v);
  // Attention of q_lens[b] new queries per sequence (the newest positions); q: [sum, Hq, D].
  std::vector<float> prefill(const std::vector<int32_t>& q_lens, const std::vector<float>& q);
  // One query per sequence at its last position; q: [batch, Hq, D].
  std::vector<float> decode(const std::vector<float>& q);
  // The fp64 reference for the same call over what has been appended.
  std::vector<double> reference(const std::vector<int32_t>& q_lens, const std::vector<float>& q) const;

  const std::vector<int64_t>& lengths() const { return ledger_.table().lengths; }
  const AttnbProblem& problem() const { return problem_; }
  AttentionOp& op() { return *op_; }  // e.g. to set tunables before the calls
  int64_t pages_in_use() const { return ledger_.pages_in_use(); }

 private:
  std::vector<float> attend(const std::vector<int32_t>& q_lens, const std::vector<float>& q,
                            bool decode);
  AttnbDevice device() const { return static_cast<AttnbDevice>(problem_.device); }

  AttnbProblem problem_;
  std::unique_ptr<AttentionOp> op_;
  int64_t num_pages_;
  std::size_t page_bytes_;
  Buffer pool_, workspace_;
  SessionLedger ledger_;
};

}  // namespace attnbench
