// The CUDA path of int8_kv: an append kernel that quantizes new tokens into the pages; a
// decode kernel on the tensor cores (int8_flash_decode.cu) for per-token scales; and an
// attention kernel on the CUDA cores for prefill and for per-channel K, which streams the
// int8 rows with 16-byte loads and dequantizes them in registers. Decode splits long
// contexts across blocks (merged by their log-sum-exp), so that a decode with few sequences
// and KV heads still fills the GPU.
#pragma once

#include "int8_kv_format.hpp"
#include "int8_kv_tunables.hpp"

#include "../common/split_counters.hpp"

#include <attnbench/abi.h>

#include <cstddef>
#include <cstdint>

namespace attnbench::int8_kv {

// Query heads of one group that one block serves together (each reads its KV head once).
constexpr int32_t kMaxGroupTile = 4;
// Upper bound on the key splits of one decode call.
constexpr int32_t kMaxSplits = 64;

// Partial results of split decode: per (query, head, split) an fp32 output row and its lse.
std::size_t cuda_workspace_bytes(const AttnbProblem& problem);
int32_t cuda_sm_count();
void cuda_append(const AttnbProblem& problem, const Layout& layout, const AttnbAppendArgs& args);
// kv_splits 0 chooses the split count from the batch, heads and SM count; prefill uses 1.
// early_launch (tunable): the tensor-core decode is launched while the op's append before it
// runs, and waits for it only before reading fresh_keys, the last keys of each sequence the
// append may still be writing (FreshKeys).
// counters (cuda_split_counters): the tensor-core decode's splits are merged inside it.
void cuda_attend(const AttnbProblem& problem, const Layout& layout, const AttnbAttendArgs& args,
                 bool decode, const DecodeTunables& tunables, int32_t fresh_keys, int32_t sm_count,
                 const plain_kv::SplitCounters& counters);

// The tensor-core decode (per-token scales only): writes o directly when splits == 1, else
// each split's normalized partial rows and log2-sum-exp2 into part_o / part_lse
// ([query][head][split][D] and [query][head][split]), and the last split of a block group to
// finish merges them (counted in counters).
void cuda_flash_decode(const AttnbProblem& problem, const Layout& layout,
                       const AttnbAttendArgs& args, int32_t splits, const DecodeTunables& tunables,
                       int32_t fresh_keys, float* part_o, float* part_lse,
                       const plain_kv::SplitCounters& counters, int32_t sm_count);
// The op's split counters: one pair per block group of the tensor-core decode (max_batch x
// KV heads x chunks of kFlashDecodeHeads query heads).
plain_kv::SplitCounters cuda_split_counters(const AttnbProblem& problem);
// Blocks of that kernel the device holds at once (for planning the splits).
int64_t cuda_flash_decode_resident_blocks(const AttnbProblem& problem, int32_t sm_count);
// Query heads of a group one of its blocks serves (the columns of its MMA tiles), and keys
// per tile.
constexpr int32_t kFlashDecodeHeads = 8;
constexpr int32_t kFlashDecodeTileKv = 64;

}  // namespace attnbench::int8_kv
