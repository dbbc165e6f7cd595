#include "fused_tunables.hpp"

#include <cstring>

namespace attnbench::fused {

const AttnbTunable* tunable_table(std::size_t* count) {
  static const int64_t tile_q[] = {64, 128};
  static const int64_t tile_kv[] = {0, 32, 64, 128};
  static const int64_t warp_rows[] = {16, 32};
  static const int64_t num_splits[] = {0, 1, 2, 4, 8, 16, 32};
  static const int64_t decode_stages[] = {0, 2, 3};
  static const int64_t on_off[] = {0, 1};
  static const int64_t prefill_kernels[] = {0, 1, 2, 3};
  const Tunables defaults;
  static const AttnbTunable table[] = {
      {sizeof(AttnbTunable), "tile_q", "query rows per tile (one CUDA block)", tile_q, 2,
       defaults.tile_q},
      {sizeof(AttnbTunable), "tile_kv",
       "keys per tile (one shared-memory stage); 0 = each kernel's own: in the wgmma prefill 32 "
       "(64 at head dim 64), 128 in the warp-specialized one, in the CUDA decode 32 or 64 by its "
       "split plan, 64 elsewhere",
       tile_kv, 4, defaults.tile_kv},
      {sizeof(AttnbTunable), "warp_rows",
       "query rows per warp in CUDA prefill (m16 MMA tiles x 16)", warp_rows, 2,
       defaults.warp_rows},
      {sizeof(AttnbTunable), "num_splits", "decode KV splits per sequence, 0 = from the SM count",
       num_splits, 7, defaults.num_splits},
      {sizeof(AttnbTunable), "decode_stages",
       "K/V tiles in shared memory in CUDA decode: the one attended and those in flight; 0 = 3 "
       "with one wave of at most 3 splits a sequence, else 2",
       decode_stages, 3, defaults.decode_stages},
      {sizeof(AttnbTunable), "claim_tiles",
       "CUDA decode: split blocks claim K/V tiles as they go (1: from 4 splits on) or take fixed ranges (0)",
       on_off, 2, defaults.claim_tiles},
      {sizeof(AttnbTunable), "wgmma",
       "CUDA prefill kernel: 0 mma.sync; on Hopper's warpgroup MMA where the device and build "
       "have it (tile_q rows in warpgroups of 64, warp_rows unused), 1 the faster of the two "
       "below for the head dim, 2 every warp copying K/V, 3 warp-specialized (a producer "
       "warpgroup, two consumers; its tiles have 128 rows: at tile_q 64, 3 runs 2)",
       prefill_kernels, 4, defaults.wgmma},
  };
  *count = sizeof(table) / sizeof(table[0]);
  return table;
}

void set_tunable(Tunables& t, const char* name, int64_t value) {
  const auto v = static_cast<int32_t>(value);
  if (std::strcmp(name, "tile_q") == 0)
    t.tile_q = v;
  else if (std::strcmp(name, "tile_kv") == 0)
    t.tile_kv = v;
  else if (std::strcmp(name, "warp_rows") == 0)
    t.warp_rows = v;
  else if (std::strcmp(name, "num_splits") == 0)
    t.num_splits = v;
  else if (std::strcmp(name, "decode_stages") == 0)
    t.decode_stages = v;
  else if (std::strcmp(name, "claim_tiles") == 0)
    t.claim_tiles = v;
  else if (std::strcmp(name, "wgmma") == 0)
    t.wgmma = v;
}

}  // namespace attnbench::fused
