// The CUDA path of the plugins whose query heads share K/V heads (gqa, mqa, sliding_window):
// one kernel for MHA, MQA and GQA alike, since they differ only in the group size (query
// heads per KV head). A thread block takes one KV head of one sequence and every query row
// that reads it (the group's heads, for a block of query positions in prefill), streams the
// visible keys through shared memory once and uses each K and V row for all those rows.
#pragma once

#include <attnbench/abi.h>

#include <cstddef>
#include <cstdint>

namespace attnbench::plain_kv {

// Most query heads one block serves (8 slices of 4 warps, 8 rows each): larger groups
// would need a second pass over K/V, which this kernel refuses rather than hides.
constexpr int32_t kMaxCudaGroup = 64;

// Scratch for decode's split-KV partials (fp32 outputs and log-sum-exps), for any batch and
// length within the problem's bounds; 0 when no allowed call splits.
std::size_t cuda_grouped_workspace_bytes(const AttnbProblem& problem);

void cuda_grouped_prefill(const AttnbProblem& problem, const AttnbAttendArgs& args);
void cuda_grouped_decode(const AttnbProblem& problem, const AttnbAttendArgs& args);

}  // namespace attnbench::plain_kv
