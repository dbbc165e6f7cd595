// Fused prefill on Hopper's warpgroup MMA (wgmma, sm_90a): the tile walk of flash_prefill.cu
// with each warpgroup (4 warps) owning 64 query rows. S = Q K^T is one chain of wgmmas with
// both operands in shared memory, K-major; P V takes P straight from the S registers (their
// layout is the A fragment's) and reads V N-major, so the tensor cores transpose it. This
// file is compiled for sm_90a alone (plugins/fused/CMakeLists.txt).
#include "flash_launch.cuh"
#include "fused_cuda.hpp"

#include "../common/async_barrier_ptx.cuh"

namespace attnbench::fused {

namespace {

// The 128-byte-swizzle layout of a ROWS-row tile (wgmma_ptx.cuh), as the loaders take it.
template <int ROWS>
struct WgmmaSwizzle {
  __device__ __forceinline__ static int offset(int row, int chunk) {
    return ptx::wgmma_tile_offset<ROWS>(row, chunk);
  }
};

constexpr int kGroupRows = 64;  // query rows of one warpgroup (wgmma's M)
// Two blocks an SM where the kernel fits in 128 registers a thread without spilling (ptxas
// -v: 32 keys a tile, or 64 at head dim 64): a block's softmax then overlaps the other
// block's tensor-core work. Larger tiles keep one block and all their registers.
constexpr int blocks_per_sm(int d, int tkv) { return tkv <= 32 || (d == 64 && tkv <= 64) ? 2 : 1; }
constexpr int kPlans = 3;       // a tile's page plan lives from its K copy (step i - 2) to its V copy

// The shared memory of both kernels: Q (later the output tile), two stages each of K and V,
// all in the 128-byte swizzle, then kPlans page plans; the warp-specialized kernel's mbarriers
// follow them. The swizzle follows address bits, so every tile starts on 1024 bytes: the
// launch asks for 1 KiB more and the layout starts at the first such boundary.
template <typename T, int D, int TQ, int TKV>
struct PrefillSmem {
  static constexpr std::size_t bytes(std::size_t extra = 0) {
    return 1024 + static_cast<std::size_t>(TQ + 4 * TKV) * D * sizeof(T) + kPlans * TKV * sizeof(int64_t) + extra;
  }
  T* q;         // [TQ][D]
  T* k;         // [2][TKV][D]
  T* v;         // [2][TKV][D]
  int64_t* rows;  // [kPlans][TKV] planned K/V rows
  __device__ __forceinline__ explicit PrefillSmem(unsigned char* raw) {
    q = reinterpret_cast<T*>(raw + ((1024 - (ptx::smem_address(raw) & 1023)) & 1023));
    k = q + TQ * D;
    v = k + 2 * TKV * D;
    rows = reinterpret_cast<int64_t*>(v + 2 * TKV * D);
  }
  __device__ __forceinline__ int64_t* plan(int32_t i) const { return rows + (i % kPlans) * TKV; }
  __device__ __forceinline__ T* k_stage(int32_t i) const { return k + (i & 1) * TKV * D; }
  __device__ __forceinline__ T* v_stage(int32_t i) const { return v + (i & 1) * TKV * D; }
  __device__ __forceinline__ unsigned char* end() const { return reinterpret_cast<unsigned char*>(rows + kPlans * TKV); }
};

// What one warpgroup does with its 64 query rows of a TQ-row tile, in both kernels below: its
// rows' masks, S (then P) and O in registers, and the pieces of a step. S = Q K^T is one
// chain of wgmmas with both operands in shared memory, K-major; P V takes P from the S
// registers (their layout is the A fragment's) and reads V N-major. Descriptors: K-major A
// and B step 16 of D by 32 bytes inside a 128-byte block, then a block of rows; N-major V
// steps 16 keys by 2 atoms of 8 rows (2048 bytes), its LBO is a block of keys. Stage s of K
// and V is s * TKV * D elements from stage 0.
template <typename T, int D, int TQ, int TKV>
struct GroupStep {
  static constexpr uint32_t kStageBytes = TKV * D * sizeof(T), kAtomBytes = 1024;
  const PrefillTile<TQ>& tile;
  int32_t begin;  // the tile's first key
  int warp_row0, lane;
  RowBounds<1> bounds;
  int32_t all_lo, all_hi;  // keys every row of the warp sees: tiles inside skip the mask
  uint32_t q_base, k_base, v_base;
  float s[1][TKV / 8][4];    // S of the tile whose scores are in flight, then its P
  uint32_t a[TKV / 16][4];   // P rounded to T: the A operand of P V
  WarpState<D, 1> st;        // initialized before any wgmma is in flight

  __device__ __forceinline__ GroupStep(const PrefillTile<TQ>& tile_, int group_row0,
                                       const PrefillSmem<T, D, TQ, TKV>& smem)
      : tile(tile_), begin(tile_.begin()) {
    const int warp = (threadIdx.x / 32) % 4;
    lane = threadIdx.x & 31;
    warp_row0 = group_row0 + warp * 16;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int32_t pos = tile.pos_of_row(warp_row0 + half * 8 + (lane >> 2));
      bounds.lo[0][half] = tile.lo_of(pos);
      bounds.hi[0][half] = tile.hi_of(pos);
    }
    all_lo = tile.lo_of(tile.pos_of_row(warp_row0 + 15));
    all_hi = tile.hi_of(tile.pos_of_row(warp_row0));
    q_base = ptx::smem_address(smem.q + group_row0 * 64);
    k_base = ptx::smem_address(smem.k);
    v_base = ptx::smem_address(smem.v);
    st.init();
  }

  __device__ __forceinline__ static uint64_t k_major(uint32_t base, int rows_in_tile, int kk) {
    return ptx::make_descriptor(base + (kk / 4) * rows_in_tile * 128 + (kk % 4) * 32, 16, kAtomBytes);
  }
  __device__ __forceinline__ float (&s_flat())[TKV / 2] { return reinterpret_cast<float(&)[TKV / 2]>(s); }
  __device__ __forceinline__ float (&o_acc())[D / 64][32] { return reinterpret_cast<float(&)[D / 64][32]>(st.o); }

  // S(i) = Q K(i)^T, K(i) in stage i % 2.
  __device__ __forceinline__ void issue_scores(int32_t i) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk)
      ptx::wgmma_ss<T, TKV>(s_flat(), k_major(q_base, TQ, kk),
                            k_major(k_base + (i & 1) * kStageBytes, TKV, kk), kk > 0);
  }
  // O += P(i) V(i), V(i) in stage i % 2.
  __device__ __forceinline__ void issue_output(int32_t i) {
#pragma unroll
    for (int kk = 0; kk < TKV / 16; ++kk)
#pragma unroll
      for (int db = 0; db < D / 64; ++db)
        ptx::wgmma_rs<T, 64>(
            o_acc()[db], a[kk],
            ptx::make_descriptor(v_base + (i & 1) * kStageBytes + db * TKV * 128 + kk * 2 * kAtomBytes,
                                 TKV * 128, kAtomBytes),
            1);
  }
  // The registers a wgmma in flight writes, not to be touched before its wait: fences that
  // keep the compiler from moving their uses across it.
  __device__ __forceinline__ void fence_scores() {
#pragma unroll
    for (int e = 0; e < TKV / 2; ++e) ptx::fence_operand(s_flat()[e]);
  }
  __device__ __forceinline__ void fence_output() {
#pragma unroll
    for (int db = 0; db < D / 64; ++db)
#pragma unroll
      for (int e = 0; e < 32; ++e) ptx::fence_operand(o_acc()[db][e]);
  }
  // The softmax of S(i) (keys begin + i TKV ..): a tile past the end is all masked.
  __device__ __forceinline__ RowRescale<1> weights(int32_t i, float scale_log2) {
    const int32_t key0 = begin + i * TKV;
    const bool masked = !(key0 >= all_lo && key0 + TKV <= all_hi);
    return softmax_weights<D, 1, TKV>(s, key0, masked, bounds, scale_log2, st);
  }
  __device__ __forceinline__ void pack() {
#pragma unroll
    for (int kk = 0; kk < TKV / 16; ++kk) {
      a[kk][0] = ptx::pack2<T>(s[0][2 * kk][0], s[0][2 * kk][1]);
      a[kk][1] = ptx::pack2<T>(s[0][2 * kk][2], s[0][2 * kk][3]);
      a[kk][2] = ptx::pack2<T>(s[0][2 * kk + 1][0], s[0][2 * kk + 1][1]);
      a[kk][3] = ptx::pack2<T>(s[0][2 * kk + 1][2], s[0][2 * kk + 1][3]);
    }
  }
  // O / sum, rounded to T, staged through the warp's own rows of sQ (no other warp's) and
  // written out in 16-byte rows; rows past the tile's are not written.
  __device__ __forceinline__ void store(const AttendParams& p, T* sQ, int64_t row0) {
    using QLayout = WgmmaSwizzle<TQ>;
    constexpr int kChunks = D / 8;
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const float sum = st.row_sum(0, half);
      const float inv = sum > 0 ? 1.0f / sum : 0.0f;
      const int r = warp_row0 + half * 8 + g;
#pragma unroll
      for (int j = 0; j < D / 8; ++j)
        *reinterpret_cast<uint32_t*>(sQ + QLayout::offset(r, j) + 2 * t) =
            ptx::pack2<T>(st.o[0][j][2 * half] * inv, st.o[0][j][2 * half + 1] * inv);
    }
    __syncwarp();
    T* o = static_cast<T*>(p.o);
#pragma unroll
    for (int k = 0; k < 16 * kChunks / 32; ++k) {
      const int i = k * 32 + lane;
      const int r = warp_row0 + i / kChunks, c = i % kChunks;
      if (r < tile.rows)
        *reinterpret_cast<uint4*>(o + (row0 + static_cast<std::size_t>(r) * p.num_q_heads) * D +
                                  c * 8) = *reinterpret_cast<const uint4*>(sQ + QLayout::offset(r, c));
    }
  }
};

// One block per (query head, tile of TQ query rows of one sequence), TQ / 64 warpgroups,
// tiles outside the mask never loaded. Step i starts with P(i) in registers and O rescaled
// for tile i, issues S(i+1) = Q K(i+1)^T and then O += P(i) V(i), waits for S(i+1) alone
// (wgmma groups retire in order) and computes its softmax weights while P(i) V(i) still runs
// on the tensor cores, then waits for that, rescales O and packs P(i+1). K and V have two
// stages each, loaded a step apart (K(i+2) and V(i+1) are copied during step i, once S(i)
// and P(i-1) V(i-1) no longer read their stages), so each copy has a whole step to land:
// one barrier a step.
template <typename T, int D, int TQ, int TKV>
__global__ void __launch_bounds__(TQ / kGroupRows * 128, blocks_per_sm(D, TKV)) flash_prefill_wgmma_kernel(AttendParams p) {
  constexpr int kGroups = TQ / kGroupRows, kThreads = kGroups * 128;
  static_assert(D % 64 == 0 && TKV % 16 == 0, "whole 128-byte blocks and k16 steps");
  using QLayout = WgmmaSwizzle<TQ>;
  using KvLayout = WgmmaSwizzle<TKV>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const PrefillSmem<T, D, TQ, TKV> smem(smem_raw);

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
  const int32_t* pages = sequence_pages(p, tile.b);
  const auto plan = [&](int32_t i) {
    if (i < num_tiles) plan_kv_tile<T, D, TKV>(p, pages, kvh, begin + i * TKV, begin, end, smem.plan(i));
  };
  // K of tile i into its stage, or V: the other operand's stage pointer goes unused.
  const auto load_k = [&](int32_t i) {
    if (i < num_tiles)
      load_kv_tile_async<T, D, TKV, kThreads, KvLayout, true, false>(p, smem.plan(i), smem.k_stage(i), nullptr);
  };
  const auto load_v = [&](int32_t i) {
    if (i < num_tiles)
      load_kv_tile_async<T, D, TKV, kThreads, KvLayout, false, true>(p, smem.plan(i), nullptr, smem.v_stage(i));
  };
  const auto copies_landed = [] {
    ptx::cp_async_wait<0>();
    ptx::fence_proxy_async_shared();  // cp.async writes, wgmma reads through the async proxy
    __syncthreads();
  };

  const int group_row0 = threadIdx.x / 128 * kGroupRows;
  const bool group_active = group_row0 < rows;  // trailing warpgroups of a short last tile idle
  GroupStep<T, D, TQ, TKV> g(tile, group_row0, smem);

  // The wgmmas run unconditionally, in every warpgroup and every step, and every step ends
  // with nothing in flight: ptxas serializes every wgmma of the kernel (a wait after each;
  // `ptxas -v` says C7514, C7515 or C7520) where a wgmma sits in a branch, where some path
  // might touch an accumulator in flight, or where the loop is entered, or S read after a
  // wait_group 1, with groups committed in an earlier iteration still in flight. A tile none
  // of a warpgroup's rows sees is masked to -inf throughout, a no-op for the softmax state
  // (P = 0, max and sum unchanged); the rows of an idle trailing warpgroup are never stored;
  // the last step's S(i + 1) reads a stale stage and is masked away, keys past the end.
  // Prologue: Q and K(0) landed, S(0) done and its weights packed, K(1) and V(0) on their way.
  plan(0);
  plan(1);
  plan(2);
  __syncthreads();
  load_rows_async<T, D, TQ, kThreads, QLayout>(smem.q, q, q_row);
  load_k(0);
  ptx::cp_async_commit();
  copies_landed();
  ptx::wgmma_fence();
  g.issue_scores(0);
  ptx::wgmma_commit();
  load_k(1);
  load_v(0);
  ptx::cp_async_commit();
  ptx::wgmma_wait<0>();
  g.fence_scores();
  rescale_output(g.weights(0, p.scale_log2), g.st);
  g.pack();
  for (int32_t i = 0; i < num_tiles; ++i) {
    // K(i + 1) and V(i) have landed; S(i)'s K stage and P(i-1) V(i-1)'s V stage are free in
    // every warpgroup.
    copies_landed();
    load_k(i + 2);
    load_v(i + 1);
    ptx::cp_async_commit();
    g.fence_output();
    ptx::wgmma_fence();
    g.issue_scores(i + 1);
    ptx::wgmma_commit();
    g.issue_output(i);
    ptx::wgmma_commit();
    // Tile i + 3's page lookups into tile i's plan, whose last copy (V) was issued a step
    // ago: while the tensor cores work.
    plan(i + 3);
    ptx::wgmma_wait<1>();  // S(i + 1) is done; P(i) V(i) runs on
    g.fence_scores();
    const auto rescale = g.weights(i + 1, p.scale_log2);
    ptx::wgmma_wait<0>();  // P(i) V(i) is done: O and a are free
    g.fence_output();
    rescale_output(rescale, g.st);
    g.pack();
  }
  ptx::wgmma_wait<0>();
  g.fence_output();
  ptx::cp_async_wait<0>();
  __syncthreads();
  if (group_active) g.store(p, smem.q, row0);
}

// The warp-specialized variant (wgmma=3), FlashAttention-3's structure on the paged cache: a
// producer warpgroup plans and copies the K/V tiles (cp.async, two stages each) and signals
// each stage on an mbarrier when its copies have landed; two consumer warpgroups of 64 query
// rows each run the step of flash_prefill_wgmma_kernel on them and release each stage on
// another mbarrier once their wgmmas have read it. No block-wide barrier holds the warps in
// step, and the consumers take turns issuing their wgmmas (named barriers, FA3's ping-pong),
// so that one's softmax runs under the other's products.
namespace ws {
constexpr int kThreads = 384;        // warpgroup 0 produces, 1 and 2 consume
constexpr int kProducerThreads = 128;
constexpr int kConsumerWarps = 8;
constexpr int kTileQ = 2 * kGroupRows;
constexpr uint32_t kProducerBarrier = 1;   // named barrier of the producer's 128 threads
constexpr uint32_t kTurnBarrier = 2;       // + consumer: its turn to issue wgmmas (256 threads)
// The block's 384 x 168 registers, shared out unevenly (setmaxnreg): the producer's copies
// need few, a consumer's S, P and O tiles at 128 keys about 200.
constexpr int kProducerRegisters = 40, kConsumerRegisters = 232;
constexpr int kTileKv = 128;  // its own tile (tile_kv 0): 309 TFLOP/s on an H200 against 271 with 64 keys
static_assert(kProducerThreads * kProducerRegisters + 2 * 128 * kConsumerRegisters <= 65536, "one block an SM");
}  // namespace ws

template <typename T, int D, int TKV>
__global__ void __launch_bounds__(ws::kThreads, 1) flash_prefill_ws_kernel(AttendParams p) {
  constexpr int TQ = ws::kTileQ;
  static_assert(D % 64 == 0 && TKV % 16 == 0, "whole 128-byte blocks and k16 steps");
  using QLayout = WgmmaSwizzle<TQ>;
  using KvLayout = WgmmaSwizzle<TKV>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const PrefillSmem<T, D, TQ, TKV> smem(smem_raw);
  auto* barriers = reinterpret_cast<uint64_t*>(smem.end());
  // Stage s of K: full_k(s) completes when its copies have landed (128 producer arrivals),
  // empty_k(s) when the 8 consumer warps are done reading it; V likewise.
  const auto bar = [&](int which, int s) { return ptx::smem_address(barriers + 2 * which + s); };
  const auto full_k = [&](int s) { return bar(0, s); };
  const auto empty_k = [&](int s) { return bar(1, s); };
  const auto full_v = [&](int s) { return bar(2, s); };
  const auto empty_v = [&](int s) { return bar(3, s); };

  const PrefillTile<TQ> tile(p);
  if (!tile.found) return;
  const int32_t h = blockIdx.x, kvh = h / p.group, rows = tile.rows;
  const int32_t begin = tile.begin(), end = tile.end();
  const int32_t num_tiles = (end - begin + TKV - 1) / TKV;
  if (threadIdx.x == 0)
    for (int s = 0; s < 2; ++s) {
      ptx::mbarrier_init(full_k(s), ws::kProducerThreads);
      ptx::mbarrier_init(full_v(s), ws::kProducerThreads);
      ptx::mbarrier_init(empty_k(s), ws::kConsumerWarps);
      ptx::mbarrier_init(empty_v(s), ws::kConsumerWarps);
    }
  __syncthreads();
  const int64_t row0 = tile.row0(p, h);
  const auto parity = [](int32_t i) { return static_cast<uint32_t>(i / 2) & 1u; };  // of tile i's use of its stage

  if (threadIdx.x < ws::kProducerThreads) {
    ptx::release_registers<ws::kProducerRegisters>();
    // Tile j's page plan is made two steps before V(j)'s copies, its last reader: three slots,
    // and one producer barrier a step between a slot's last reader and its next writer.
    const int32_t* pages = sequence_pages(p, tile.b);
    const auto plan = [&](int32_t j) {
      plan_kv_tile<T, D, TKV>(p, pages, kvh, begin + j * TKV, begin, end, smem.plan(j));
    };
    const auto load_k = [&](int32_t j) {
      ptx::mbarrier_wait(empty_k(j & 1), parity(j) ^ 1u);  // the first use of a stage passes
      load_kv_tile_async<T, D, TKV, ws::kProducerThreads, KvLayout, true, false>(
          p, smem.plan(j), smem.k_stage(j), nullptr);
      ptx::cp_async_mbarrier_arrive(full_k(j & 1));
    };
    const auto load_v = [&](int32_t j) {
      ptx::mbarrier_wait(empty_v(j & 1), parity(j) ^ 1u);
      load_kv_tile_async<T, D, TKV, ws::kProducerThreads, KvLayout, false, true>(
          p, smem.plan(j), nullptr, smem.v_stage(j));
      ptx::cp_async_mbarrier_arrive(full_v(j & 1));
    };
    const T* q = static_cast<const T*>(p.q);
    plan(0);
    if (num_tiles > 1) plan(1);
    ptx::named_barrier_sync(ws::kProducerBarrier, ws::kProducerThreads);
    load_rows_async<T, D, TQ, ws::kProducerThreads, QLayout>(smem.q, q, [&](int r) -> int64_t {
      return r < rows ? (row0 + static_cast<int64_t>(r) * p.num_q_heads) * D : -1;
    });
    load_k(0);  // Q lands with K(0)
    // Step j copies K(j + 1) and V(j), then looks up the pages of tile j + 2 while they fly:
    // the barrier at the top publishes the plan made a step earlier, and frees the slot the
    // step's plan overwrites (tile j - 1's, last read by V(j - 1)).
    for (int32_t j = 0; j < num_tiles; ++j) {
      ptx::named_barrier_sync(ws::kProducerBarrier, ws::kProducerThreads);
      if (j + 1 < num_tiles) load_k(j + 1);
      load_v(j);
      if (j + 2 < num_tiles) plan(j + 2);
    }
    // Every copy has landed and been read once the consumers release the last V stage.
    ptx::mbarrier_wait(empty_v((num_tiles - 1) & 1), parity(num_tiles - 1));
    return;
  }

  ptx::claim_registers<ws::kConsumerRegisters>();
  const int consumer = threadIdx.x / 128 - 1, group_row0 = consumer * kGroupRows, lane = threadIdx.x & 31;
  const bool group_active = group_row0 < rows;
  GroupStep<T, D, TQ, TKV> g(tile, group_row0, smem);
  const auto release = [&](uint32_t barrier) {  // this warp is done with a stage
    if (lane == 0) ptx::mbarrier_arrive(barrier);
  };
  // Ping-pong: consumer c issues when barrier kTurnBarrier + c completes (its 128 threads
  // and the other consumer's), then hands the turn over. Consumer 0 starts.
  const uint32_t my_turn = ws::kTurnBarrier + consumer, other_turn = ws::kTurnBarrier + (1 - consumer);
  if (consumer == 0) ptx::named_barrier_arrive(my_turn, 256);

  // The step of flash_prefill_wgmma_kernel, with mbarrier waits for its stages instead of
  // the block barrier, and the same unconditional wgmmas.
  ptx::mbarrier_wait(full_k(0), 0);
  ptx::fence_proxy_async_shared();
  ptx::named_barrier_sync(my_turn, 256);
  ptx::wgmma_fence();
  g.issue_scores(0);
  ptx::wgmma_commit();
  ptx::named_barrier_arrive(other_turn, 256);
  ptx::wgmma_wait<0>();
  release(empty_k(0));
  g.fence_scores();
  rescale_output(g.weights(0, p.scale_log2), g.st);
  g.pack();
  for (int32_t i = 0; i < num_tiles; ++i) {
    const bool last = i + 1 == num_tiles;
    if (!last) ptx::mbarrier_wait(full_k((i + 1) & 1), parity(i + 1));
    ptx::mbarrier_wait(full_v(i & 1), parity(i));
    ptx::fence_proxy_async_shared();
    ptx::named_barrier_sync(my_turn, 256);
    g.fence_output();
    ptx::wgmma_fence();
    g.issue_scores(i + 1);  // past the last tile: a stale stage, masked away
    ptx::wgmma_commit();
    g.issue_output(i);
    ptx::wgmma_commit();
    if (!(last && consumer == 1)) ptx::named_barrier_arrive(other_turn, 256);  // none waits for the last
    ptx::wgmma_wait<1>();
    if (!last) release(empty_k((i + 1) & 1));
    g.fence_scores();
    const auto rescale = g.weights(i + 1, p.scale_log2);
    ptx::wgmma_wait<0>();
    release(empty_v(i & 1));
    g.fence_output();
    rescale_output(rescale, g.st);
    g.pack();
  }
  if (group_active) g.store(p, smem.q, row0);
}

template <typename T, int D, int TKV>
void launch_prefill_ws(const AttendParams& params, int32_t tiles, cudaStream_t stream) {
  constexpr std::size_t kSmem = PrefillSmem<T, D, ws::kTileQ, TKV>::bytes(8 * sizeof(uint64_t));  // 8 mbarriers
  const auto kernel = flash_prefill_ws_kernel<T, D, TKV>;
  static const bool configured =
      (allow_shared_memory(kernel, kSmem, "fused warp-specialized prefill kernel"), true);
  (void)configured;
  kernel<<<dim3(params.num_q_heads, tiles), ws::kThreads, kSmem, stream>>>(params);
  plain_kv::check_launch("fused warp-specialized prefill kernel");
}

template <typename T, int D, int TQ, int TKV>
void launch_prefill_wgmma(const AttendParams& params, int32_t tiles, cudaStream_t stream) {
  constexpr int kThreads = TQ / kGroupRows * 128;
  constexpr std::size_t kSmem = PrefillSmem<T, D, TQ, TKV>::bytes();
  const auto kernel = flash_prefill_wgmma_kernel<T, D, TQ, TKV>;
  static const bool configured =
      (allow_shared_memory(kernel, kSmem, "fused wgmma prefill kernel"), true);
  (void)configured;
  kernel<<<dim3(params.num_q_heads, tiles), kThreads, kSmem, stream>>>(params);
  plain_kv::check_launch("fused wgmma prefill kernel");
}

}  // namespace

bool cuda_wgmma_runs_here() {
  const AttnbHostInfo& host = detail::host_info();
  int major = host.cuda_cc_major, minor = host.cuda_cc_minor, device = 0;
  if (major == 0 && (cudaGetDevice(&device) != cudaSuccess ||
                     cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
                     cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess))
    return false;
  return major == 9 && minor == 0;  // sm_90a code runs on compute capability 9.0 alone
}

namespace {

// Which wgmma kernel runs (the tunable wgmma): 3 the warp-specialized one, 2 the one whose
// warps all copy, 1 the one measured faster at the head dim (H200, 4 x 4096 causal,
// results/h200/README.md: warp-specialized at 128, the other at 64). The warp-specialized
// kernel has 128 query rows a tile.
bool warp_specialized(const Tunables& t, int32_t head_dim) {
  return t.tile_q == ws::kTileQ && (t.wgmma == 3 || (t.wgmma == 1 && head_dim == 128));
}

}  // namespace

void cuda_prefill_wgmma(const AttnbProblem& p, const Tunables& t, const AttnbAttendArgs& a,
                        int32_t tiles) {
  const AttendParams params = make_params(p, a);
  const auto stream = static_cast<cudaStream_t>(a.stream);
  plain_kv::dispatch_half_types(p.dtype, [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    with_constant<64, 128>(p.head_dim, "head_dim", [&](auto d) {
      if (warp_specialized(t, p.head_dim)) {
        with_constant<32, 64, 128>(tile_kv_of(t, ws::kTileKv), "tile_kv", [&](auto tkv) {
          launch_prefill_ws<T, decltype(d)::value, decltype(tkv)::value>(params, tiles, stream);
        });
        return;
      }
      with_constant<64, 128>(t.tile_q, "tile_q", [&](auto tq) {
        with_constant<32, 64, 128>(tile_kv_of(t, wgmma_tile_kv(p.head_dim)), "tile_kv", [&](auto tkv) {
          launch_prefill_wgmma<T, decltype(d)::value, decltype(tq)::value, decltype(tkv)::value>(
              params, tiles, stream);
        });
      });
    });
  });
}

}  // namespace attnbench::fused
