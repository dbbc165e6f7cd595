// The oracle: attention in fp64 on the CPU, written for clarity, over ragged batches.
// Every plugin on every device is checked against this.
#pragma once

#include <attnbench/abi.h>

#include <cstdint>
#include <vector>

namespace attnbench {

// Shapes and masks of one ragged batch. Sequence b has q_len = q_indptr[b+1] - q_indptr[b]
// queries and kv_len = kv_indptr[b+1] - kv_indptr[b] keys; its query i sits at position
// kv_len - q_len + i (the queries are the newest tokens), as in the ABI.
struct AttentionShape {
  int32_t num_q_heads = 0;
  int32_t num_kv_heads = 0;  // divides num_q_heads; query head h uses KV head h / group
  int32_t head_dim = 0;
  bool causal = true;
  int32_t window = 0;        // 0: none; W: a query at p sees keys p-W+1 .. p
  double sm_scale = 0;       // 0: 1/sqrt(head_dim)
  std::vector<int32_t> q_indptr;
  std::vector<int32_t> kv_indptr;
};

// The heads, masks and scale of `problem`; the batch (q_indptr, kv_indptr) is left empty.
AttentionShape attention_shape_of(const AttnbProblem& problem);

// Whether a query at `query_pos` sees the key at `key_pos`.
inline bool key_visible(const AttentionShape& s, int64_t query_pos, int64_t key_pos) {
  if (s.causal && key_pos > query_pos) return false;
  if (s.window > 0 && key_pos <= query_pos - s.window) return false;
  return true;
}

// q: [total_q, num_q_heads, head_dim]; k, v: [total_kv, num_kv_heads, head_dim].
// Returns o with q's shape. A query that sees no key gets zeros.
std::vector<double> reference_attention(const AttentionShape& shape, const std::vector<double>& q,
                                        const std::vector<double>& k, const std::vector<double>& v);

}  // namespace attnbench
