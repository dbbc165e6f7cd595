// What a session has appended, kept on the host: each sequence's pages, taken from a pool
// shuffled once (so page indirection is exercised), and every K and V row as given, over
// which the fp64 reference of any later call is computed. AttentionSession (a real device)
// and the CUDA emulator's session (guarded host memory) both keep their books with it.
#pragma once

#include <attnbench/abi.h>
#include <attnbench/core/page_table.hpp>

#include <cstdint>
#include <vector>

namespace attnbench {

// {0, c0, c0 + c1, ...}: the indptr of per-sequence counts.
std::vector<int32_t> prefix_sum(const std::vector<int32_t>& counts);

class SessionLedger {
 public:
  SessionLedger(const AttnbProblem& problem, int64_t num_pages, uint64_t seed);

  // Records new_tokens[b] tokens for sequence b (the batch grows to new_tokens.size()) and
  // gives them pages; k and v: [sum(new_tokens), num_kv_heads, head_dim]. Returns the tokens'
  // indptr. Throws std::invalid_argument on sizes that do not match, std::runtime_error when
  // the pool is exhausted.
  std::vector<int32_t> append(const std::vector<int32_t>& new_tokens, const std::vector<float>& k,
                              const std::vector<float>& v);
  // The fp64 reference of q_lens[b] newest queries per sequence (q: [sum, Hq, D]) over
  // everything appended.
  std::vector<double> reference(const std::vector<int32_t>& q_lens, const std::vector<float>& q) const;

  const PageTable& table() const { return table_; }
  const std::vector<int32_t>& free_pages() const { return free_pages_; }  // owned by no sequence
  int64_t pages_in_use() const { return num_pages_ - static_cast<int64_t>(free_pages_.size()); }

 private:
  AttnbProblem problem_;
  int64_t num_pages_;
  std::vector<int32_t> free_pages_;
  PageTable table_;
  std::vector<std::vector<float>> k_history_, v_history_;  // per sequence, [len, Hkv, D]
};

}  // namespace attnbench
