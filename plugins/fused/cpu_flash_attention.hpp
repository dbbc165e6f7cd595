// The fused plugin's CPU path: the same tiled online-softmax algorithm as the CUDA kernels,
// written to be read. Prefill walks tiles of tile_q query rows x tile_kv keys, keeping a
// running max and sum per row and rescaling the accumulator as the max grows, so the score
// matrix never exists beyond one tile. Decode splits each sequence's keys into num_splits
// ranges, attends to each separately (all query heads of a KV head together) and merges the
// partial results by log-sum-exp, exactly as the CUDA split-KV kernels do.
#pragma once

#include "fused_tunables.hpp"

#include <attnbench/abi.h>

#include <cstddef>

namespace attnbench::fused {

// Scratch of one call (tiles, running statistics, decode partials), carved from the
// host's workspace so the hot path never allocates. Sized for the largest tunables.
std::size_t cpu_workspace_bytes(const AttnbProblem& problem);

void cpu_prefill(const AttnbProblem& problem, const Tunables& tunables,
                 const AttnbAttendArgs& args);
void cpu_decode(const AttnbProblem& problem, const Tunables& tunables, const AttnbAttendArgs& args);

}  // namespace attnbench::fused
