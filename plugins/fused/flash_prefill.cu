// Fused prefill: QK^T, online softmax and PV in one kernel, tile by tile, on the tensor
// cores; the score matrix never leaves registers.
#include "flash_launch.cuh"
#include "fused_cuda.hpp"

namespace attnbench::fused {

namespace {

// Keys one warp_attend_tile call takes. Its score fragments (MT x keys / 2 floats a thread)
// live next to the accumulator (MT x D / 2); keeping the scores to 4096 / D floats leaves
// ptxas room for the rest, so large warp tiles walk a shared-memory tile in smaller steps
// instead of spilling.
__host__ __device__ constexpr int key_step(int d, int tkv, int mt) {
  int keys = tkv;
  while (mt * keys / 2 > 4096 / d && keys > 16) keys /= 2;
  return keys;
}

// One block per (query head, tile of TQ query rows of one sequence); TQ / (16 MT) warps of
// 16 MT rows each. The block walks the keys its rows may see, TKV at a time: K and V tiles
// are double-buffered in shared memory (the next tile's cp.async copies fly while the
// tensor cores work on this one) and each warp keeps its rows' online softmax in registers.
// Tiles outside the causal / window mask are never loaded; tiles inside it for every row of
// a warp skip the per-element mask; a warp that sees none of a tile (or of a key step of
// it, see key_step) skips its math.
template <typename T, int D, int TQ, int TKV, int MT>
__global__ void __launch_bounds__(TQ / (16 * MT) * 32) flash_prefill_kernel(AttendParams p) {
  constexpr int kThreads = TQ / (16 * MT) * 32, kWarpRows = 16 * MT, kChunks = D / 8;
  constexpr int kKeyStep = key_step(D, TKV, MT);
  extern __shared__ __align__(128) unsigned char smem[];
  T* sQ = reinterpret_cast<T*>(smem);                          // [TQ][D], later the output tile
  T* sK = sQ + TQ * D;                                         // [2][TKV][D]
  T* sV = sK + 2 * TKV * D;                                    // [2][TKV][D]
  auto* sRows = reinterpret_cast<int64_t*>(sV + 2 * TKV * D);  // [2][TKV] planned K/V rows

  const PrefillTile<TQ> tile(p);
  if (!tile.found) return;
  const int32_t h = blockIdx.x, kvh = h / p.group, rows = tile.rows;
  const int32_t begin = tile.begin(), end = tile.end();
  const int32_t num_tiles = (end - begin + TKV - 1) / TKV;

  const T* q = static_cast<const T*>(p.q);
  const int64_t row0 = tile.row0(p, h);
  const auto q_row = [&](int r) -> int64_t {
    return r < rows ? (row0 + static_cast<int64_t>(r) * p.num_q_heads) * D : -1;
  };
  // Tile i's page lookups go to sRows[i % 2], two tiles ahead of its use (see the loop).
  const int32_t* pages = sequence_pages(p, tile.b);
  const auto plan = [&](int32_t i) {
    plan_kv_tile<T, D, TKV>(p, pages, kvh, begin + i * TKV, begin, end, sRows + (i & 1) * TKV);
  };
  plan(0);
  plan(1);
  __syncthreads();
  load_rows_async<T, D, TQ, kThreads>(sQ, q, q_row);
  if (num_tiles > 0) load_kv_tile_async<T, D, TKV, kThreads>(p, sRows, sK, sV);
  ptx::cp_async_commit();

  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int warp_row0 = warp * kWarpRows;
  const bool warp_active = warp_row0 < rows;  // trailing warps of a short last tile idle
  RowBounds<MT> bounds;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int32_t pos = tile.pos_of_row(warp_row0 + mt * 16 + half * 8 + (lane >> 2));
      bounds.lo[mt][half] = tile.lo_of(pos);
      bounds.hi[mt][half] = tile.hi_of(pos);
    }
  // Keys every row of the warp sees, and keys some row of the warp sees.
  const int32_t first = tile.pos_of_row(warp_row0), last = tile.pos_of_row(warp_row0 + kWarpRows - 1);
  const int32_t all_lo = tile.lo_of(last), all_hi = tile.hi_of(first);
  const int32_t any_lo = tile.lo_of(first), any_hi = tile.hi_of(last);

  WarpState<D, MT> st;
  st.init();
  for (int32_t i = 0; i < num_tiles; ++i) {
    const int stage = i & 1;
    next_kv_tile_ready<T, D, TKV, kThreads>(p, i, num_tiles, sRows, sK, sV);
    // sRows[i % 2] was read when tile i's copies were issued, before the barrier above; the
    // barrier below publishes tile i + 2's plan before its copies are issued.
    if (i + 2 < num_tiles) plan(i + 2);
#pragma unroll
    for (int step = 0; step < TKV / kKeyStep; ++step) {
      const int32_t key0 = begin + i * TKV + step * kKeyStep;
      if (warp_active && key0 < any_hi && key0 + kKeyStep > any_lo) {
        const bool masked = !(key0 >= all_lo && key0 + kKeyStep <= all_hi);
        warp_attend_tile<T, D, MT, kKeyStep>(sQ, warp_row0, sK + stage * TKV * D,
                                             sV + stage * TKV * D, step * kKeyStep, key0, masked,
                                             bounds, p.scale_log2, st);
      }
    }
    __syncthreads();  // the stage is free for the copy issued at the top of the next iteration
  }
  ptx::cp_async_wait<0>();
  __syncthreads();
  if (!warp_active) return;

  // Epilogue: O / sum, rounded to T, staged through the warp's own rows of sQ (swizzled, so
  // the 4-byte fragment stores hit 32 different banks) and written out in 16-byte rows.
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const float sum = st.row_sum(mt, half);
      const float inv = sum > 0 ? 1.0f / sum : 0.0f;
      const int r = warp_row0 + mt * 16 + half * 8 + g;
#pragma unroll
      for (int j = 0; j < D / 8; ++j)
        *reinterpret_cast<uint32_t*>(sQ + swizzled<D>(r, j) + 2 * t) =
            ptx::pack2<T>(st.o[mt][j][2 * half] * inv, st.o[mt][j][2 * half + 1] * inv);
    }
  __syncwarp();
  T* o = static_cast<T*>(p.o);
#pragma unroll
  for (int k = 0; k < kWarpRows * kChunks / 32; ++k) {
    const int i = k * 32 + lane;
    const int r = warp_row0 + i / kChunks, c = i % kChunks;
    if (r < rows)
      *reinterpret_cast<uint4*>(o + (row0 + static_cast<std::size_t>(r) * p.num_q_heads) * D +
                                c * 8) = *reinterpret_cast<const uint4*>(sQ + swizzled<D>(r, c));
  }
}

template <typename T, int D, int TQ, int TKV, int MT>
void launch_prefill(const AttendParams& params, int32_t tiles, cudaStream_t stream) {
  constexpr int kThreads = TQ / (16 * MT) * 32;
  constexpr std::size_t kSmem =
      static_cast<std::size_t>(TQ + 4 * TKV) * D * sizeof(T) + 2 * TKV * sizeof(int64_t);
  const auto kernel = flash_prefill_kernel<T, D, TQ, TKV, MT>;
  static const bool configured = (allow_shared_memory(kernel, kSmem, "fused prefill kernel"), true);
  (void)configured;
  kernel<<<dim3(params.num_q_heads, tiles), kThreads, kSmem, stream>>>(params);
  plain_kv::check_launch("fused prefill kernel");
}

}  // namespace

void cuda_prefill(const AttnbProblem& p, const Tunables& t, const AttnbAttendArgs& a) {
  const AttnbPagedKv& cache = *a.cache;
  int64_t tiles = 0;  // query tiles of the whole batch: the grid's second dimension
  for (int32_t b = 0; b < cache.batch; ++b)
    tiles += (a.q_indptr_host[b + 1] - a.q_indptr_host[b] + t.tile_q - 1) / t.tile_q;
  if (tiles == 0) return;
  if (tiles > 65535) throw Unsupported("more than 65535 query tiles in one prefill call");
#ifdef ATTNB_WITH_WGMMA
  if (t.wgmma && cuda_wgmma_runs_here())
    return cuda_prefill_wgmma(p, t, a, static_cast<int32_t>(tiles));
#endif
  const AttendParams params = make_params(p, a);
  const auto stream = static_cast<cudaStream_t>(a.stream);
  plain_kv::dispatch_half_types(p.dtype, [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    with_constant<64, 128>(p.head_dim, "head_dim", [&](auto d) {
      with_constant<64, 128>(t.tile_q, "tile_q", [&](auto tq) {
        with_constant<32, 64, 128>(tile_kv_of(t, kTileKv), "tile_kv", [&](auto tkv) {
          with_constant<1, 2>(t.warp_rows / 16, "warp_rows / 16", [&](auto mt) {
            launch_prefill<T, decltype(d)::value, decltype(tq)::value, decltype(tkv)::value,
                           decltype(mt)::value>(params, static_cast<int32_t>(tiles), stream);
          });
        });
      });
    });
  });
}

}  // namespace attnbench::fused
