// The knobs of the fused plugin (ABI 1.1 tunables) and the split-KV plan of a decode call.
// Host code shared by the CPU and CUDA paths, so both tile and split the same way.
#pragma once

#include "../common/split_kv.hpp"

#include <attnbench/abi.h>

#include <cstdint>

namespace attnbench::fused {

// The largest values the tunables allow: workspace is sized for them, whatever is set.
constexpr int32_t kMaxTileQ = 128;
constexpr int32_t kMaxTileKv = 128;
constexpr int32_t kMaxSplits = 64;

struct Tunables {
  int32_t tile_q = 128;    // query rows per tile (one CUDA thread block)
  int32_t tile_kv = 0;     // keys per tile (one shared-memory stage); 0: each kernel's own (tile_kv_of)
  int32_t warp_rows = 32;  // query rows per warp on CUDA: 16 or 32 (two m16 MMA tiles)
  int32_t num_splits = 0;  // decode: KV splits per sequence; 0 picks from the SM count
  int32_t decode_stages = 0;  // CUDA decode: shared-memory stages of K/V tiles (tiles in flight + 1); 0: by the split plan
  int32_t claim_tiles = 1;    // CUDA decode: split blocks claim tiles as they go (TileQueue)
  int32_t wgmma = 1;          // CUDA prefill: 0 mma.sync; on Hopper's wgmma where it runs: 1 the faster
                              // structure for the head dim, 2 all warps copy, 3 warp-specialized
};

// The keys per tile a kernel uses: tile_kv, or with 0 (the default) the kernel's best as
// measured (results/h100, results/h200): in the wgmma prefill whose warps all copy, 32 at head
// dim 128 (two blocks an SM; 265 TFLOP/s on an H200 against 257 with 128 and 241 with 64) and
// 64 at head dim 64 (209 against 180 with 32); 128 in the warp-specialized one
// (ws::kTileKv); in the CUDA decode 32 or 64 by its split plan (decode_tile_and_stages,
// flash_decode.cu); 64 in the mma.sync prefill and on the CPU.
constexpr int32_t wgmma_tile_kv(int32_t head_dim) { return head_dim == 64 ? 64 : 32; }
constexpr int32_t kTileKv = 64;
inline int32_t tile_kv_of(const Tunables& t, int32_t kernel_default) {
  return t.tile_kv != 0 ? t.tile_kv : kernel_default;
}

// The descriptor's table of tunables (names, allowed values, the defaults above).
const AttnbTunable* tunable_table(std::size_t* count);

// Sets one tunable by name; the C++ helper has already checked name and value.
void set_tunable(Tunables& t, const char* name, int64_t value);

using plain_kv::KeyRange;
using plain_kv::split_range;
using plain_kv::plan_splits;

}  // namespace attnbench::fused
