// The fused plugin's CUDA path: one flash-attention prefill kernel (QK^T, online softmax
// and PV fused, tile by tile, on the tensor cores) and a split-KV flash-decoding kernel with
// its log-sum-exp merge inside. Host-side launchers; the kernels are in flash_prefill.cu and
// flash_decode.cu, their shared device pieces in flash_tile.cuh.
#pragma once

#include "fused_tunables.hpp"

#include "../common/split_counters.hpp"

#include <attnbench/abi.h>

#include <cstddef>

namespace attnbench::fused {

using plain_kv::SplitCounters;

// Decode partials for split_slots(max_batch, kMaxSplits) x query heads: normalized outputs
// (fp32) and their log-sum-exp. Prefill needs none.
std::size_t cuda_workspace_bytes(const AttnbProblem& problem);

// On a device of compute capability 9.0, in a build with the sm_90a kernel (ATTNB_WITH_WGMMA)
// and with the tunable wgmma on, the prefill runs on wgmma (flash_prefill_wgmma.cu); else on
// mma.sync (flash_prefill.cu).
void cuda_prefill(const AttnbProblem& problem, const Tunables& tunables,
                  const AttnbAttendArgs& args);
#ifdef ATTNB_WITH_WGMMA
bool cuda_wgmma_runs_here();
// `tiles`: the batch's query tiles of tunables.tile_q rows, the grid's second dimension.
void cuda_prefill_wgmma(const AttnbProblem& problem, const Tunables& tunables,
                        const AttnbAttendArgs& args, int32_t tiles);
#endif
// sm_count: multiprocessors of the device, for choosing the split count; counters: from
// cuda_split_counters, for the in-kernel merge of the splits; fresh_keys: the last keys of
// each sequence the op's append before it may still be writing (FreshKeys).
void cuda_decode(const AttnbProblem& problem, const Tunables& tunables, int32_t sm_count,
                 const SplitCounters& counters, int32_t fresh_keys,
                 const AttnbAttendArgs& args);
// The op's split counters: one per decode block group the problem can launch (max_batch x
// KV heads x chunks of 16 query heads), a few bytes of device memory each.
SplitCounters cuda_split_counters(const AttnbProblem& problem);

// Multiprocessors of the current device (what the host told us, else asked of the driver).
int32_t cuda_sm_count();

}  // namespace attnbench::fused
