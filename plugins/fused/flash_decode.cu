// Split-KV flash decoding over the paged cache: a long context's keys are shared among
// num_splits blocks and their partial results merged by log-sum-exp, so a batch of one with
// a long context still fills the GPU.
#include "flash_launch.cuh"
#include "tile_queue.cuh"
#include "fused_cuda.hpp"

#include <algorithm>
#include <utility>

namespace attnbench::fused {

namespace {

constexpr int kHeadsPerBlock = 16;  // the rows of one m16 MMA tile

// One block per (split, chunk of up to 16 query heads of a group, KV head, sequence). The
// chunk's query heads, all at the sequence's last position, are the rows of one m16 tile;
// the TKV / 16 warps take 16 keys each of every K/V tile, so the group's K and V rows are
// read by one block, once. Decode only streams memory, so what matters is how many bytes
// are in flight: K/V tiles go through STAGES shared-memory stages with cp.async, STAGES - 1
// tiles ahead of the one attended. At the end the warps' states are merged in shared
// memory; with one split the block writes the output, otherwise its normalized partial
// output and log2-sum-exp2 go to the workspace, and the last split to finish merges them.
// From four splits on, the split blocks claim the sequence's tiles as they go (TileQueue)
// instead of taking fixed ranges. The kernel may start while the append before it still
// runs (launch_dependent): a block waits for it only before copying the first tile that
// holds appended keys.
template <typename T, int D, int TKV, int STAGES>
__global__ void __launch_bounds__(TKV / 16 * 32) flash_decode_kernel(AttendParams p) {
  constexpr int kWarps = TKV / 16, kThreads = kWarps * 32, kRows = kHeadsPerBlock;
  extern __shared__ __align__(128) unsigned char smem[];
  T* sQ = reinterpret_cast<T*>(smem);                               // [16][D]
  T* sK = sQ + kRows * D;                                           // [STAGES][TKV][D]
  T* sV = sK + STAGES * TKV * D;                                    // [STAGES][TKV][D]
  auto* sRows = reinterpret_cast<int64_t*>(sV + STAGES * TKV * D);  // [STAGES][TKV] K/V rows

  const int32_t split = blockIdx.x / p.head_chunks, chunk = blockIdx.x % p.head_chunks;
  const int32_t kvh = blockIdx.y, b = blockIdx.z;
  const int32_t head0 = kvh * p.group + chunk * kRows, heads = min(kRows, p.group - chunk * kRows);
  const int32_t kv_len = sequence_length(p, b);
  const auto lo = static_cast<int32_t>(plain_kv::first_visible(kv_len - 1, p.window));
  const KeyRange range = split_range(lo, kv_len, split, p.num_splits, TKV);
  unsigned* group = plain_kv::group_counters(p.split_counters, b, kvh, chunk, p.head_chunks);
  __shared__ int32_t ring[TileQueue<STAGES>::kRing];
  TileQueue<STAGES> tiles(ring, p.claim_tiles && claims_pay(p.num_splits) ? group + 1 : nullptr,
                                    (kv_len - lo + TKV - 1) / TKV, split, p.num_splits,
                                    static_cast<int32_t>(range.begin - lo) / TKV,
                                    static_cast<int32_t>(range.end - range.begin + TKV - 1) / TKV);
  const int32_t fresh_tile = plain_kv::first_fresh_tile(kv_len - p.fresh_keys, lo, kv_len, TKV);

  // The chunk's query rows: token b, heads head0 .. head0 + heads - 1, contiguous.
  const T* q =
      static_cast<const T*>(p.q) + (static_cast<std::size_t>(b) * p.num_q_heads + head0) * D;
  // Slot j (the j-th tile the block attends) lives in stage j % STAGES: its page lookups in
  // sRows, its K and V in sK, sV.
  const int32_t* pages = sequence_pages(p, b);
  const auto plan = [&](int32_t j) {
    if (tiles.valid(j))
      plan_kv_tile<T, D, TKV>(p, pages, kvh, lo + tiles.tile(j) * TKV, lo, kv_len,
                              sRows + (j % STAGES) * TKV);
  };
  const auto load = [&](int32_t j) {
    const int stage = j % STAGES;
    if (tiles.valid(j)) {
      if (fresh_tile >= 0 && tiles.tile(j) >= fresh_tile)  // keys the append may still write
        plain_kv::wait_for_prior_grid();
      load_kv_tile_async<T, D, TKV, kThreads>(p, sRows + stage * TKV, sK + stage * TKV * D,
                                              sV + stage * TKV * D);
    }
    ptx::cp_async_commit();  // a group even when empty: slot j is always the j-th group
  };
  // Thread 0 claims slot j + 1's tile while slot j is attended and publishes it at the top
  // of the next iteration: the claim's round trip to L2 is never waited for.
  unsigned ticket = 0;
  if (threadIdx.x == 0) {
    for (int j = 0; j < STAGES; ++j) tiles.fill(j);
    ticket = tiles.claim(STAGES);
  }
  __syncthreads();
  for (int j = 0; j < STAGES; ++j) plan(j);
  __syncthreads();
  const RowBounds<1> bounds = start_decode_rows<T, D, kThreads>(sQ, q, heads, lo, kv_len);
  for (int j = 0; j < STAGES - 1; ++j) load(j);  // Q travels with tile 0

  const int warp = threadIdx.x / 32;
  WarpState<D, 1> st;
  st.init();
  for (int32_t i = 0; tiles.valid(i); ++i) {
    const int stage = i % STAGES;
    if (threadIdx.x == 0) tiles.publish(i + STAGES, ticket);
    load(i + STAGES - 1);  // into slot i - 1's stage, free since the barrier that ended it
    ptx::cp_async_wait<STAGES - 1>();  // slot i has landed
    __syncthreads();
    if (threadIdx.x == 0) ticket = tiles.claim(i + STAGES + 1);
    plan(i + STAGES);  // slot i's stage: its last reader was load(i)
    const int32_t key0 = lo + tiles.tile(i) * TKV + warp * 16;  // this warp's 16 keys of the tile
    if (key0 < kv_len)
      warp_attend_tile<T, D, 1, 16>(sQ, 0, sK + stage * TKV * D, sV + stage * TKV * D, warp * 16,
                                    key0, key0 + 16 > kv_len, bounds, p.scale_log2, st);
    __syncthreads();
  }
  ptx::cp_async_wait<0>();
  __syncthreads();

  // The K/V stages are free now: the warps' merge uses them as scratch.
  store_decode_rows<T, D, kWarps>(st, reinterpret_cast<float*>(sK), heads,
                                  static_cast<std::size_t>(b) * p.num_q_heads + head0,
                                  static_cast<T*>(p.o), p.part_o, p.part_lse, p.num_splits, split,
                                  group);
}

template <typename T, int D, int TKV, int STAGES>
constexpr std::size_t kDecodeSharedBytes =
    (kHeadsPerBlock + 2 * STAGES * TKV) * D * sizeof(T) + STAGES * TKV * sizeof(int64_t);

// The kernel for these parameters, its shared memory allowed once, and how many of its blocks
// the device holds at once.
template <typename T, int D, int TKV, int STAGES>
int64_t decode_resident_blocks(int32_t sm_count) {
  constexpr std::size_t kSmem = kDecodeSharedBytes<T, D, TKV, STAGES>;
  const auto kernel = flash_decode_kernel<T, D, TKV, STAGES>;
  static const bool configured = (allow_shared_memory(kernel, kSmem, "fused decode kernel"), true);
  (void)configured;
  static const int64_t resident = plain_kv::resident_blocks(kernel, TKV / 16 * 32, kSmem, sm_count);
  return resident;
}

// What the split plan of a decode call starts from: its longest visible context, the blocks
// one split takes (sequences x KV heads x head chunks), the most splits the workspace holds.
struct SplitInputs {
  int64_t longest, blocks_per_split;
  int32_t capacity;
};

// Plans the split count (it depends on how many blocks of this kernel the device holds at
// once) and launches the decode.
template <typename T, int D, int TKV, int STAGES>
void launch_decode(AttendParams params, const Tunables& t, const SplitInputs& in,
                   int32_t num_kv_heads, int32_t sm_count, cudaStream_t stream) {
  constexpr int kThreads = TKV / 16 * 32;
  static_assert(flash::decode_merge_floats(D, TKV / 16) <= 2 * STAGES * TKV * D * sizeof(T) / 4,
                "merge scratch fits in the K/V stages");
  params.num_splits = plan_splits(t.num_splits, in.longest, in.blocks_per_split,
                                  decode_resident_blocks<T, D, TKV, STAGES>(sm_count), TKV, in.capacity);
  const dim3 grid(params.num_splits * params.head_chunks, num_kv_heads, params.batch);
  plain_kv::launch_dependent("fused decode kernel", flash_decode_kernel<T, D, TKV, STAGES>, grid,
                             kThreads, kDecodeSharedBytes<T, D, TKV, STAGES>, stream, true, params);
}

// The tile and stages of a decode where tile_kv or decode_stages is 0 (automatic), by how
// many splits a group of its blocks takes (H200, results/h200/experiments/stages_and_rs):
// with one wave of at most three splits (many sequences), 32-key tiles in 3 stages, four
// blocks an SM (32 x 4096: 88.8% of the copy bandwidth against 85.2% with 64 keys; 32 x
// 32768: 102.3% against 95.2%); with more (few sequences, long contexts), 64-key tiles in 2
// stages, three blocks an SM, their tiles claimed (8 x 32768: 98.1% against 85.1% and
// 82.7%; 1 x 65536: 77.1% against 68.3% and 71.0%).
template <typename T, int D>
std::pair<int32_t, int32_t> decode_tile_and_stages(const Tunables& t, const SplitInputs& in,
                                                   int32_t sm_count) {
  const int32_t splits = plan_splits(t.num_splits, in.longest, in.blocks_per_split,
                                     decode_resident_blocks<T, D, 32, 3>(sm_count), 32, in.capacity);
  const bool one_wave_of_few = !claims_pay(splits);
  return {t.tile_kv != 0 ? t.tile_kv : one_wave_of_few ? 32 : 64,
          t.decode_stages != 0 ? t.decode_stages : one_wave_of_few ? 3 : 2};
}

}  // namespace

std::size_t cuda_workspace_bytes(const AttnbProblem& p) {
  const auto partials = static_cast<std::size_t>(plain_kv::split_slots(p.max_batch, kMaxSplits)) * p.num_q_heads;
  return partials * (p.head_dim + 1) * sizeof(float);
}

SplitCounters cuda_split_counters(const AttnbProblem& p) { return SplitCounters(p, kHeadsPerBlock); }

int32_t cuda_sm_count() {
  const int32_t told = detail::host_info().cuda_sm_count;
  if (told > 0) return told;
  int device = 0, count = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess)
    throw Error(ATTNB_ERR_DEVICE, "cannot read the device's multiprocessor count");
  return count;
}

void cuda_decode(const AttnbProblem& p, const Tunables& t, int32_t sm_count,
                 const SplitCounters& counters, int32_t fresh_keys,
                 const AttnbAttendArgs& a) {
  const AttnbPagedKv& cache = *a.cache;
  if (cache.batch == 0) return;
  if (cache.batch > 65535) throw Unsupported("more than 65535 sequences in one decode call");
  AttendParams params = make_params(p, a);
  params.head_chunks = (params.group + kHeadsPerBlock - 1) / kHeadsPerBlock;
  params.fresh_keys = fresh_keys;
  params.claim_tiles = t.claim_tiles;
  const std::size_t groups = plain_kv::split_groups(cache.batch, p.num_q_heads, p.num_kv_heads, kHeadsPerBlock);
  params.split_counters = counters.get(groups);  // a group: the blocks of one split
  const SplitInputs split_inputs{plain_kv::longest_visible(p, cache), static_cast<int64_t>(groups),
                                 plain_kv::split_capacity(p.max_batch, kMaxSplits, cache.batch)};
  params.part_o = static_cast<float*>(a.workspace);
  params.part_lse = params.part_o + static_cast<std::size_t>(plain_kv::split_slots(p.max_batch, kMaxSplits)) *
                                        p.num_q_heads * p.head_dim;
  const auto stream = static_cast<cudaStream_t>(a.stream);
  plain_kv::dispatch_half_types(p.dtype, [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    with_constant<64, 128>(p.head_dim, "head_dim", [&](auto d) {
      constexpr int D = decltype(d)::value;
      const std::pair<int32_t, int32_t> tile_and_stages = decode_tile_and_stages<T, D>(t, split_inputs, sm_count);
      with_constant<32, 64, 128>(tile_and_stages.first, "tile_kv", [&](auto tkv) {
        with_constant<2, 3>(tile_and_stages.second, "decode_stages", [&](auto st) {
          launch_decode<T, D, decltype(tkv)::value, decltype(st)::value>(
              params, t, split_inputs, p.num_kv_heads, sm_count, stream);
        });
      });
    });
  });
}

}  // namespace attnbench::fused
