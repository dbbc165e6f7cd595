// The emulator checked against CUDA's definitions, independently of any plugin: warp
// collectives, block votes, shared memory, cp.async in both landing modes, mbarriers and
// named barriers, tensor copies (TMA) with their tensor maps and transaction counts, ldmatrix,
// movmatrix and mma against the PTX fragment tables, and the faults it must report. Written
// as CUDA (inline PTX, <<<>>>, __shared__), translated by translate.py like the plugins; run
// by CTest (cuda_emulation_selftest). Exit status 1 on any mismatch.
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

int g_failures = 0;

void expect(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  g_failures += !ok;
}

// ---- Warp collectives ---------------------------------------------------------------------

// out[k][lane]: shfl idx, xor, up, down at width 32, then xor and down at width 8, ballot,
// any, all, reduce add/min/max.
__global__ void collectives(int* out) {
  const int lane = threadIdx.x % 32, v = 100 + lane;
  int k = 0;
  out[32 * k++ + lane] = __shfl_sync(0xffffffffu, v, 5);
  out[32 * k++ + lane] = __shfl_xor_sync(0xffffffffu, v, 3);
  out[32 * k++ + lane] = __shfl_up_sync(0xffffffffu, v, 2);
  out[32 * k++ + lane] = __shfl_down_sync(0xffffffffu, v, 2);
  out[32 * k++ + lane] = __shfl_xor_sync(0xffffffffu, v, 9, 8);
  out[32 * k++ + lane] = __shfl_down_sync(0xffffffffu, v, 3, 8);
  out[32 * k++ + lane] = static_cast<int>(__ballot_sync(0xffffffffu, lane % 3 == 0));
  out[32 * k++ + lane] = __any_sync(0xffffffffu, lane == 17);
  out[32 * k++ + lane] = __all_sync(0xffffffffu, lane < 31);
  out[32 * k++ + lane] = static_cast<int>(__reduce_add_sync(0xffffffffu, static_cast<unsigned>(v)));
  out[32 * k++ + lane] = __reduce_min_sync(0xffffffffu, 50 - lane);
  out[32 * k++ + lane] = __reduce_max_sync(0xffffffffu, 50 - lane);
}

void check_collectives() {
  std::vector<int> out(12 * 32, -1);
  collectives<<<1, 32>>>(out.data());
  bool ok = cudaGetLastError() == cudaSuccess;
  unsigned ballot = 0;
  for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
  int sum = 0;
  for (int l = 0; l < 32; ++l) sum += 100 + l;
  for (int l = 0; l < 32; ++l) {
    const int first8 = l & ~7;
    const int xor8 = (l ^ 9) >= first8 + 8 ? l : (l ^ 9);  // a later segment: its own value
    const int want[12] = {105,
                          100 + (l ^ 3),
                          100 + (l >= 2 ? l - 2 : l),
                          100 + (l + 2 < 32 ? l + 2 : l),
                          100 + xor8,
                          100 + (l + 3 < first8 + 8 ? l + 3 : l),
                          static_cast<int>(ballot),
                          1,
                          0,
                          sum,
                          50 - 31,
                          50};
    for (int k = 0; k < 12; ++k) ok &= out[32 * k + l] == want[k];
  }
  expect(ok, "shuffles (idx, xor, up, down, widths 32 and 8), votes and reductions");
}

// ---- Block barriers, votes, shared memory -------------------------------------------------

// Reverses a 256-element array through shared memory (right only with the barrier), counts
// votes, and keeps a static 2-D __shared__ array per block.
__global__ void block_work(const int* in, int* out, int* votes) {
  extern __shared__ __align__(16) int dynamic[];
  __shared__ int per_warp[8][2];
  const int t = threadIdx.x, n = blockDim.x;
  dynamic[t] = in[blockIdx.x * n + t];
  if (t % 32 == 0) per_warp[t / 32][1] = static_cast<int>(blockIdx.x) * 1000 + t / 32;
  __syncthreads();
  out[blockIdx.x * n + t] = dynamic[n - 1 - t] + per_warp[(n - 1 - t) / 32][1];
  const int count = __syncthreads_count(t % 4 == 0);
  const int all = __syncthreads_and(t < n);
  const int any = __syncthreads_or(t == 77);
  if (t == 0)
    votes[blockIdx.x * 3] = count, votes[blockIdx.x * 3 + 1] = all, votes[blockIdx.x * 3 + 2] = any;
}

void check_block_work() {
  const int blocks = 3, n = 256;
  std::vector<int> in(blocks * n), out(blocks * n, -1), votes(blocks * 3, -1);
  for (int i = 0; i < blocks * n; ++i) in[i] = i * 7;
  block_work<<<blocks, n, n * sizeof(int)>>>(in.data(), out.data(), votes.data());
  bool ok = cudaGetLastError() == cudaSuccess;
  for (int b = 0; b < blocks; ++b) {
    for (int t = 0; t < n; ++t)
      ok &= out[b * n + t] == in[b * n + n - 1 - t] + b * 1000 + (n - 1 - t) / 32;
    ok &= votes[b * 3] == n / 4 && votes[b * 3 + 1] == 1 && votes[b * 3 + 2] == 1;
  }
  expect(ok, "__syncthreads with dynamic and static shared memory, __syncthreads_count/and/or");
}

// Each block's thread 0 takes a ticket; every thread reads the count back through L2.
__global__ void tickets(unsigned* counter, unsigned* ticket, unsigned* seen) {
  if (threadIdx.x == 0) ticket[blockIdx.x] = atomicAdd(counter, 1u);
  __syncthreads();
  seen[blockIdx.x * blockDim.x + threadIdx.x] = __ldcg(counter);
}

void check_atomics() {
  const int blocks = 4, n = 64;
  unsigned counter = 10;
  std::vector<unsigned> ticket(blocks), seen(blocks * n);
  tickets<<<blocks, n>>>(&counter, ticket.data(), seen.data());
  bool ok = cudaGetLastError() == cudaSuccess && counter == 10 + blocks;
  for (int b = 0; b < blocks; ++b) {
    ok &= ticket[b] == 10u + b;
    for (int t = 0; t < n; ++t) ok &= seen[b * n + t] == 11u + b;
  }
  expect(ok, "atomicAdd returns the old value, once per call; __ldcg sees it");
}

// ---- cp.async -------------------------------------------------------------------------------

__device__ unsigned shared_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// Thread t copies 16 bytes (src_bytes of them real, the rest zero-filled) and records what
// the destination holds before and after its wait.
__global__ void copies(const float* src, float* before, float* after, int src_bytes) {
  extern __shared__ __align__(16) float tile[];
  const int t = threadIdx.x;
  tile[4 * t] = -1.0f;
  asm volatile(
      "cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(tile + 4 * t)),
      "l"(src + 4 * t), "r"(src_bytes));
  asm volatile("cp.async.commit_group;\n" ::);
  before[t] = tile[4 * t];
  asm volatile("cp.async.wait_group 0;\n" ::);
  for (int i = 0; i < 4; ++i) after[4 * t + i] = tile[4 * t + i];
}

void check_copies() {
  std::vector<float> src(128), before(32), after(128);
  for (int i = 0; i < 128; ++i) src[i] = i + 0.5f;
  bool ok = true;
  for (const char* mode : {"issue", "wait"}) {
    setenv("SIMT_CP_ASYNC", mode, 1);
    copies<<<1, 32, 512>>>(src.data(), before.data(), after.data(), 8);
    ok &= cudaGetLastError() == cudaSuccess;
    const bool at_wait = std::strcmp(mode, "wait") == 0;
    for (int t = 0; t < 32; ++t) {
      ok &= before[t] == (at_wait ? -1.0f : src[4 * t]);
      ok &= after[4 * t] == src[4 * t] && after[4 * t + 1] == src[4 * t + 1];
      ok &= after[4 * t + 2] == 0.0f && after[4 * t + 3] == 0.0f;  // beyond src-size: zeros
    }
  }
  unsetenv("SIMT_CP_ASYNC");
  expect(ok, "cp.async lands at issue or at the wait, zero-fills past src-size");
}

// ---- mbarriers and named barriers ---------------------------------------------------------

__device__ void wait_phase(unsigned bar, unsigned parity) {
  unsigned done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity));
  } while (!done);
}

// A warp-specialized ring of two stages: warp 0 copies tile i (128 floats) into stage i % 2
// with cp.async once warp 1 has released it (empty), and signals it (full) through
// cp.async.mbarrier.arrive; warp 1 waits for it, writes 2x each value out, releases it. Then
// a named barrier: warp 0 sets a flag and arrives, warp 1 syncs and reads it.
__global__ void ring(const float* src, float* out, int tiles, int* flag_seen) {
  __shared__ __align__(16) float stage[2][128];
  __shared__ __align__(8) unsigned long long full[2], empty[2];
  __shared__ int flag;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (threadIdx.x == 0)
    for (int s = 0; s < 2; ++s) {
      asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(shared_address(&full[s])), "r"(32));
      asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(shared_address(&empty[s])), "r"(32));
    }
  __syncthreads();
  for (int i = 0; i < tiles; ++i) {
    const int s = i % 2;
    const unsigned parity = (i / 2) & 1;
    if (warp == 0) {
      wait_phase(shared_address(&empty[s]), parity ^ 1);  // the first round passes at once
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(shared_address(&stage[s][4 * lane])),
                   "l"(src + 128 * i + 4 * lane));
      asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(shared_address(&full[s])));
    } else {
      wait_phase(shared_address(&full[s]), parity);
      for (int k = 0; k < 4; ++k) out[128 * i + 4 * lane + k] = 2.0f * stage[s][4 * ((lane + 1) % 32) + k];
      asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(shared_address(&empty[s])));
    }
  }
  if (warp == 0) {
    flag = 7;
    asm volatile("bar.arrive %0, %1;\n" ::"r"(1), "r"(64));
  } else {
    asm volatile("bar.sync %0, %1;\n" ::"r"(1), "r"(64));
    flag_seen[lane] = flag;
  }
}

// Waits for a phase no thread completes.
__global__ void stuck() {
  __shared__ __align__(8) unsigned long long bar;
  if (threadIdx.x == 0) asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(shared_address(&bar)), "r"(64));
  __syncthreads();
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(shared_address(&bar)));
  wait_phase(shared_address(&bar), 0);  // 32 of the 64 arrivals come
}

void check_barriers() {
  constexpr int kTiles = 6;
  std::vector<float> src(128 * kTiles), out(128 * kTiles);
  std::vector<int> seen(32);
  for (int i = 0; i < 128 * kTiles; ++i) src[i] = i + 0.25f;
  bool ok = true;
  for (const char* mode : {"issue", "wait"}) {
    setenv("SIMT_CP_ASYNC", mode, 1);
    std::fill(out.begin(), out.end(), -1.0f);
    ring<<<1, 64>>>(src.data(), out.data(), kTiles, seen.data());
    ok &= cudaGetLastError() == cudaSuccess;
    for (int i = 0; i < kTiles; ++i)
      for (int lane = 0; lane < 32; ++lane)
        for (int k = 0; k < 4; ++k)
          ok &= out[128 * i + 4 * lane + k] == 2.0f * src[128 * i + 4 * ((lane + 1) % 32) + k];
    for (int lane = 0; lane < 32; ++lane) ok &= seen[lane] == 7;
  }
  unsetenv("SIMT_CP_ASYNC");
  expect(ok, "an mbarrier ring of cp.async stages and a named barrier order producer and consumer");
  stuck<<<1, 32>>>();
  expect(cudaGetLastError() == cudaErrorLaunchFailure, "a phase that cannot complete is a deadlock");
}

// ---- Tensor copies (TMA) and transaction counts ------------------------------------------

PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  const cudaError_t e =
      cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found);
  return e == cudaSuccess && found == cudaDriverEntryPointSuccess
             ? reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn)
             : nullptr;
}

// A dense tensor of up to 4 dimensions (innermost first; unused ones 1) and one box of it.
struct Tensor {
  std::vector<unsigned char> data;
  cuuint64_t dims[4];
  int element_bytes;
};
struct Box {
  cuuint32_t size[4];
  int at[4];  // coordinates of its first element, which may lie outside the tensor
  unsigned bytes(int element_bytes) const { return size[0] * size[1] * size[2] * size[3] * element_bytes; }
};

// Bytes 1..250 that differ from element to element (never 0, nor the 0xfe poison).
Tensor make_tensor(cuuint64_t d0, cuuint64_t d1, cuuint64_t d2, cuuint64_t d3, int element_bytes) {
  Tensor t{std::vector<unsigned char>(d0 * d1 * d2 * d3 * element_bytes), {d0, d1, d2, d3}, element_bytes};
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<unsigned char>(1 + (i * 37 + i / 251) % 250);
  return t;
}

CUresult encode(CUtensorMap* map, const Tensor& t, CUtensorMapDataType type, int rank, const Box& box,
                CUtensorMapSwizzle swizzle) {
  cuuint64_t strides[3];
  strides[0] = t.dims[0] * t.element_bytes;
  for (int i = 1; i < 3; ++i) strides[i] = strides[i - 1] * t.dims[i];
  const cuuint32_t unit[4] = {1, 1, 1, 1};
  return tensor_map_encoder()(map, type, rank, const_cast<unsigned char*>(t.data.data()), t.dims, strides,
                              box.size, unit, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

// The shared bytes the box should give, worked out element by element: box-linear, zero
// outside the tensor, then each 16-byte chunk of a 128-byte row moved to chunk ^ (row mod 8)
// (128-byte swizzle), chunk ^ (row mod 4) (64-byte) or left in place.
std::vector<unsigned char> expected_box(const Tensor& t, const Box& box, int swizzle_bytes) {
  const int e = t.element_bytes;
  std::vector<unsigned char> image(box.bytes(e), 0xee);
  std::size_t o = 0;
  for (unsigned b3 = 0; b3 < box.size[3]; ++b3)
    for (unsigned b2 = 0; b2 < box.size[2]; ++b2)
      for (unsigned b1 = 0; b1 < box.size[1]; ++b1)
        for (unsigned b0 = 0; b0 < box.size[0]; ++b0)
          for (int byte = 0; byte < e; ++byte, ++o) {
            const long x[4] = {box.at[0] + static_cast<long>(b0), box.at[1] + static_cast<long>(b1),
                               box.at[2] + static_cast<long>(b2), box.at[3] + static_cast<long>(b3)};
            bool inside = true;
            for (int i = 0; i < 4; ++i) inside &= x[i] >= 0 && x[i] < static_cast<long>(t.dims[i]);
            const std::size_t row = o / 128, chunk = o / 16 % 8;
            const std::size_t moved = swizzle_bytes == 128 ? chunk ^ (row % 8)
                                      : swizzle_bytes == 64 ? chunk ^ (row % 4)
                                                            : chunk;
            const std::size_t at = row * 128 + moved * 16 + o % 16;
            const std::size_t element =
                ((x[3] * t.dims[2] + x[2]) * t.dims[1] + x[1]) * t.dims[0] + x[0];
            image[at] = inside ? t.data[element * e + byte] : 0;
          }
  return image;
}

struct TmaParams {
  CUtensorMap bytes128;  // UINT8, 4-D, 128-byte swizzle, boxes {128, 16, 1, 1}
  CUtensorMap bytes64;   // UINT8, 4-D, 64-byte swizzle, boxes {64, 16, 1, 1}
  CUtensorMap floats;    // FLOAT32, 3-D, no swizzle, boxes {8, 4, 2}
  CUtensorMap none;      // zeros: no tensor map
  int at[6][4];          // boxes a, b (bytes128), c, d (floats), e, f (bytes64)
};
constexpr unsigned kPhase0Bytes = 2 * 2048 + 2 * 256, kPhase1Bytes = 2 * 1024;

__device__ void expect_bytes(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ void arrive_once(unsigned bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ void copy_4d(void* dst, const CUtensorMap* map, const int* at, unsigned bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, "
      "%5}], [%6];\n" ::"r"(shared_address(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(at[0]), "r"(at[1]), "r"(at[2]), "r"(at[3]), "r"(bar)
      : "memory");
}
__device__ void copy_3d(void* dst, const CUtensorMap* map, const int* at, unsigned bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], "
      "[%5];\n" ::"r"(shared_address(dst)),
      "l"(map), "r"(at[0]), "r"(at[1]), "r"(at[2]), "r"(bar)
      : "memory");
}
__device__ unsigned init_landed(unsigned long long* landed, unsigned count) {
  const unsigned bar = shared_address(landed);
  if (threadIdx.x == 0) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  return bar;
}

// Phase 0: thread 0 expects every byte, starts boxes a-c, reads the stage before the phase
// can complete, gives the second of the two arrivals, then starts box d: the phase completes
// with d's bytes, after its arrivals. Phase 1: boxes e and f complete their bytes before
// thread 0 expects them; thread 32 gives the other arrival. Every thread waits for each
// phase, then copies the stage out.
__global__ void tensor_loads(const __grid_constant__ TmaParams p, unsigned char* out, unsigned char* before) {
  extern __shared__ __align__(1024) unsigned char stage[];
  __shared__ __align__(8) unsigned long long landed;
  const unsigned bar = init_landed(&landed, 2);
  const int t = threadIdx.x, n = blockDim.x;
  if (t == 0) {
    expect_bytes(bar, kPhase0Bytes);
    copy_4d(stage, &p.bytes128, p.at[0], bar);
    copy_4d(stage + 2048, &p.bytes128, p.at[1], bar);
    copy_3d(stage + 4096, &p.floats, p.at[2], bar);
    *before = stage[0];
    arrive_once(bar);
    copy_3d(stage + 4096 + 256, &p.floats, p.at[3], bar);
  }
  wait_phase(bar, 0);
  for (unsigned i = t; i < kPhase0Bytes; i += n) out[i] = stage[i];
  __syncthreads();
  if (t == 0) {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // generic reads, then TMA writes
    copy_4d(stage, &p.bytes64, p.at[4], bar);
    copy_4d(stage + 1024, &p.bytes64, p.at[5], bar);
    expect_bytes(bar, kPhase1Bytes);
  } else if (t == 32) {
    arrive_once(bar);
  }
  wait_phase(bar, 1);
  for (unsigned i = t; i < kPhase1Bytes; i += n) out[kPhase0Bytes + i] = stage[i];
}

// What the emulator must refuse: 0 a 128-byte swizzled box at a 128-byte (not 1024) aligned
// destination; 1 more bytes expected than copied (the phase never completes); 2 a copy in
// flight at the block's end (one of two arrivals); 3 a .4d copy with the 3-D map; 4 a copy
// with bytes that are no tensor map.
__global__ void tensor_fault(const __grid_constant__ TmaParams p, int kind) {
  extern __shared__ __align__(1024) unsigned char stage[];
  __shared__ __align__(8) unsigned long long landed;
  const unsigned bar = init_landed(&landed, kind == 2 ? 2 : 1);
  if (threadIdx.x == 0) {
    expect_bytes(bar, kind == 1 ? 2048 + 16 : kind == 3 ? 256 : 2048);
    if (kind == 0) copy_4d(stage + 128, &p.bytes128, p.at[0], bar);
    if (kind == 1 || kind == 2) copy_4d(stage, &p.bytes128, p.at[0], bar);
    if (kind == 3) copy_4d(stage, &p.floats, p.at[0], bar);
    if (kind == 4) copy_4d(stage, &p.none, p.at[0], bar);
  }
  if (kind != 2) wait_phase(bar, 0);
}

void check_tensor_copies() {
  const Tensor bytes128 = make_tensor(160, 24, 3, 4, 1), bytes64 = make_tensor(96, 20, 2, 3, 1);
  const Tensor floats = make_tensor(20, 6, 5, 1, 4);
  // a inside; b 32 columns before the tensor and 4 rows past it; c partly outside in every
  // dimension; d wholly outside; e inside; f 8 columns past and 6 rows before the tensor.
  const Box boxes[6] = {{{128, 16, 1, 1}, {16, 3, 1, 2}}, {{128, 16, 1, 1}, {-32, 12, 2, 3}},
                        {{8, 4, 2, 1}, {16, -2, 4, 0}},   {{8, 4, 2, 1}, {-8, 0, 0, 0}},
                        {{64, 16, 1, 1}, {32, 4, 1, 2}},  {{64, 16, 1, 1}, {40, -6, 0, 1}}};
  const Tensor* of[6] = {&bytes128, &bytes128, &floats, &floats, &bytes64, &bytes64};
  const int swizzles[6] = {128, 128, 0, 0, 64, 64};
  static TmaParams p;  // static: 128-byte aligned
  std::memset(&p, 0, sizeof p);
  bool ok = tensor_map_encoder() != nullptr;
  if (!ok) return expect(false, "cudaGetDriverEntryPointByVersion gives cuTensorMapEncodeTiled");
  ok &= encode(&p.bytes128, bytes128, CU_TENSOR_MAP_DATA_TYPE_UINT8, 4, boxes[0], CU_TENSOR_MAP_SWIZZLE_128B) == CUDA_SUCCESS;
  ok &= encode(&p.bytes64, bytes64, CU_TENSOR_MAP_DATA_TYPE_UINT8, 4, boxes[4], CU_TENSOR_MAP_SWIZZLE_64B) == CUDA_SUCCESS;
  ok &= encode(&p.floats, floats, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 3, boxes[2], CU_TENSOR_MAP_SWIZZLE_NONE) == CUDA_SUCCESS;
  for (int k = 0; k < 6; ++k) std::memcpy(p.at[k], boxes[k].at, sizeof p.at[k]);
  std::vector<unsigned char> want;
  for (int k = 0; k < 6; ++k) {
    const auto image = expected_box(*of[k], boxes[k], swizzles[k]);
    want.insert(want.end(), image.begin(), image.end());
  }
  ok &= want.size() == kPhase0Bytes + kPhase1Bytes;
  for (const char* mode : {"issue", "wait"}) {
    setenv("SIMT_CP_ASYNC", mode, 1);
    std::vector<unsigned char> out(want.size(), 0);
    unsigned char before = 0;
    tensor_loads<<<1, 64, 4096 + 512>>>(p, out.data(), &before);
    ok &= cudaGetLastError() == cudaSuccess && out == want;
    // Landed at issue, or not until the phase completes.
    ok &= before == (std::strcmp(mode, "wait") == 0 ? 0xfe : want[0]);
  }
  unsetenv("SIMT_CP_ASYNC");
  expect(ok, "tensor copies: 4-D UINT8 with 128- and 64-byte swizzles, 3-D FLOAT32, zero fill, tx counts either way");
  const char* faults[5] = {"a swizzled tensor copy to a misaligned destination faults",
                           "a phase waiting for bytes no copy brings is a deadlock",
                           "a block ending with a tensor copy in flight fails",
                           "a .4d tensor copy with a 3-D map faults",
                           "a tensor copy with no tensor map faults"};
  for (int kind = 0; kind < 5; ++kind) {
    tensor_fault<<<1, 32, 4096>>>(p, kind);
    expect(cudaGetLastError() == cudaErrorLaunchFailure, faults[kind]);
  }
}

// The driver's documented refusals (cuda.h, cuTensorMapEncodeTiled), and the entry point's
// answers for a symbol it lacks or a version too old or too new.
void check_tensor_map_encoder() {
  alignas(128) static unsigned char memory[4096];
  alignas(128) static CUtensorMap map;
  const auto encoder = tensor_map_encoder();
  if (!encoder) return expect(false, "cudaGetDriverEntryPointByVersion gives cuTensorMapEncodeTiled");
  struct Case {
    int rank;
    std::size_t offset;
    cuuint64_t dim0, stride0;
    cuuint32_t box0, box1, element_stride1;
    CUtensorMapSwizzle swizzle;
  };
  const Case good = {2, 0, 64, 64, 64, 8, 1, CU_TENSOR_MAP_SWIZZLE_64B};
  const auto run = [&](Case c) {
    const cuuint64_t dims[5] = {c.dim0, 8, 1, 1, 1}, strides[4] = {c.stride0, 512, 512, 512};
    const cuuint32_t box[5] = {c.box0, c.box1, 1, 1, 1}, unit[5] = {1, c.element_stride1, 1, 1, 1};
    return encoder(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, c.rank, memory + c.offset, dims, strides, box, unit,
                   CU_TENSOR_MAP_INTERLEAVE_NONE, c.swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                   CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  };
  bool ok = run(good) == CUDA_SUCCESS;
  Case bad[11];
  for (auto& c : bad) c = good;
  bad[0].rank = 0;
  bad[1].rank = 6;
  bad[2].offset = 8;                        // global address not 16-byte aligned
  bad[3].dim0 = 0;
  bad[4].dim0 = (cuuint64_t{1} << 32) + 1;  // past 2^32
  bad[5].stride0 = 72;                      // not a multiple of 16
  bad[6].stride0 = cuuint64_t{1} << 40;
  bad[7].box1 = 257;
  bad[8].box0 = 24, bad[8].swizzle = CU_TENSOR_MAP_SWIZZLE_NONE;  // 24 bytes: not 16s
  bad[9].box0 = 128;                        // past the 64-byte swizzle's span
  bad[10].element_stride1 = 0;
  for (const Case& c : bad) ok &= run(c) == CUDA_ERROR_INVALID_VALUE;
  Case widest = good;
  widest.dim0 = cuuint64_t{1} << 32, widest.stride0 = 0x10000;
  ok &= run(widest) == CUDA_SUCCESS;
  expect(ok, "cuTensorMapEncodeTiled takes a valid map and refuses what the driver documents");
  void* fn = &map;
  cudaDriverEntryPointQueryResult found{};
  ok = cudaGetDriverEntryPointByVersion("cuNoSuchFunction", &fn, 12000, cudaEnableDefault, &found) == cudaSuccess &&
       fn == nullptr && found == cudaDriverEntryPointSymbolNotFound;
  ok &= cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 11080, cudaEnableDefault, &found) ==
            cudaSuccess &&
        fn == nullptr && found == cudaDriverEntryPointVersionNotSufficent;
  ok &= cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 99000, cudaEnableDefault, &found) ==
        cudaErrorInvalidValue;
  expect(ok, "cudaGetDriverEntryPointByVersion: no symbol, too old a version, too new a version");
}

__global__ void powers_of_two(const float* x, float* y) {
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y[threadIdx.x]) : "f"(x[threadIdx.x]));
}

void check_ex2() {
  const std::vector<float> x = {0.0f, 3.0f, -1.0f, -130.0f, -INFINITY, 1e-40f};
  const std::vector<float> want = {1.0f, 8.0f, 0.5f, 0.0f, 0.0f, 1.0f};  // 2^-130 is subnormal: 0
  std::vector<float> y(x.size(), -1.0f);
  powers_of_two<<<1, static_cast<unsigned>(x.size())>>>(x.data(), y.data());
  bool ok = cudaGetLastError() == cudaSuccess;
  for (std::size_t i = 0; i < x.size(); ++i) ok &= y[i] == want[i];
  expect(ok, "ex2.approx.ftz: exact powers of two, subnormal inputs and results flushed");
}

// ---- ldmatrix and mma ---------------------------------------------------------------------

// Four 8x8 fp16 matrices m[i][r][c] = 1000 i + 10 r + c (exact in fp16 up to 3077) in shared
// memory; every lane records what ldmatrix .x4 and .x4.trans, .x2 and .x1 give it.
__global__ void load_matrices(const __half* m, unsigned* out) {
  extern __shared__ __align__(16) __half rows[];
  const int lane = threadIdx.x;
  for (int i = 0; i < 8; ++i) rows[lane * 8 + i] = m[lane * 8 + i];  // row `lane` of the 32
  __syncwarp();
  const unsigned address = shared_address(rows + lane * 8);
  unsigned r[4], t[4], x2[2], x1;
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(t[0]), "=r"(t[1]), "=r"(t[2]), "=r"(t[3])
               : "r"(address));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(x2[0]), "=r"(x2[1])
               : "r"(address));
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(x1) : "r"(address));
  const unsigned mine[11] = {r[0], r[1], r[2], r[3], t[0], t[1], t[2], t[3], x2[0], x2[1], x1};
  for (int k = 0; k < 11; ++k) out[lane * 11 + k] = mine[k];
}

unsigned pack(float lo, float hi) {
  const __half a = __float2half_rn(lo), b = __float2half_rn(hi);
  unsigned short x, y;
  std::memcpy(&x, &a, 2);
  std::memcpy(&y, &b, 2);
  return x | static_cast<unsigned>(y) << 16;
}

void check_ldmatrix() {
  std::vector<__half> m(4 * 64);
  const auto value = [](int i, int r, int c) { return 1000.0f * i + 10.0f * r + c; };
  for (int i = 0; i < 4; ++i)
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c) m[i * 64 + r * 8 + c] = __float2half_rn(value(i, r, c));
  std::vector<unsigned> out(32 * 11);
  load_matrices<<<1, 32, 512>>>(m.data(), out.data());
  bool ok = cudaGetLastError() == cudaSuccess;
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i) {
      ok &= out[lane * 11 + i] == pack(value(i, g, 2 * t), value(i, g, 2 * t + 1));
      ok &= out[lane * 11 + 4 + i] == pack(value(i, 2 * t, g), value(i, 2 * t + 1, g));
    }
    for (int i = 0; i < 2; ++i)
      ok &= out[lane * 11 + 8 + i] == pack(value(i, g, 2 * t), value(i, g, 2 * t + 1));
    ok &= out[lane * 11 + 10] == pack(value(0, g, 2 * t), value(0, g, 2 * t + 1));
  }
  expect(ok, "ldmatrix .x1/.x2/.x4 and .trans against the PTX fragment table");
}

// D = A B + C with each lane's fragments packed on the host from the PTX table.
__global__ void multiply(const unsigned* a, const unsigned* b, const float* c, float* d) {
  const int lane = threadIdx.x;
  float acc[4] = {c[lane * 4], c[lane * 4 + 1], c[lane * 4 + 2], c[lane * 4 + 3]};
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
      : "r"(a[lane * 4]), "r"(a[lane * 4 + 1]), "r"(a[lane * 4 + 2]), "r"(a[lane * 4 + 3]),
        "r"(b[lane * 2]), "r"(b[lane * 2 + 1]));
  for (int i = 0; i < 4; ++i) d[lane * 4 + i] = acc[i];
}

void check_mma() {
  float A[16][16], B[16][8], C[16][8];
  for (int r = 0; r < 16; ++r)
    for (int k = 0; k < 16; ++k) A[r][k] = static_cast<float>((r * 7 + k * 3) % 11 - 5) / 4;
  for (int k = 0; k < 16; ++k)
    for (int n = 0; n < 8; ++n) B[k][n] = static_cast<float>((k * 5 + n * 9) % 13 - 6) / 8;
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 8; ++n) C[r][n] = static_cast<float>(r - n);
  std::vector<unsigned> a(32 * 4), b(32 * 2);
  std::vector<float> c(32 * 4), d(32 * 4);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    a[lane * 4] = pack(A[g][2 * t], A[g][2 * t + 1]);
    a[lane * 4 + 1] = pack(A[g + 8][2 * t], A[g + 8][2 * t + 1]);
    a[lane * 4 + 2] = pack(A[g][2 * t + 8], A[g][2 * t + 9]);
    a[lane * 4 + 3] = pack(A[g + 8][2 * t + 8], A[g + 8][2 * t + 9]);
    b[lane * 2] = pack(B[2 * t][g], B[2 * t + 1][g]);
    b[lane * 2 + 1] = pack(B[2 * t + 8][g], B[2 * t + 9][g]);
    const float mine[4] = {C[g][2 * t], C[g][2 * t + 1], C[g + 8][2 * t], C[g + 8][2 * t + 1]};
    for (int i = 0; i < 4; ++i) c[lane * 4 + i] = mine[i];
  }
  multiply<<<1, 32>>>(a.data(), b.data(), c.data(), d.data());
  bool ok = cudaGetLastError() == cudaSuccess;
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const int row = lane / 4 + 8 * (i / 2), col = 2 * (lane % 4) + i % 2;
      double want = C[row][col];
      for (int k = 0; k < 16; ++k) want += static_cast<double>(A[row][k]) * B[k][col];
      ok &= std::fabs(d[lane * 4 + i] - want) < 1e-5;
    }
  expect(ok, "mma.m16n8k16 f16 against a host product, fragments packed from the PTX table");
}

// The same for the int8 product: D = A B + C in int32, four int8 a register.
__global__ void multiply_s8(const unsigned* a, const unsigned* b, const int* c, int* d) {
  const int lane = threadIdx.x;
  int acc[4] = {c[lane * 4], c[lane * 4 + 1], c[lane * 4 + 2], c[lane * 4 + 3]};
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(acc[0]), "+r"(acc[1]), "+r"(acc[2]), "+r"(acc[3])
      : "r"(a[lane * 4]), "r"(a[lane * 4 + 1]), "r"(a[lane * 4 + 2]), "r"(a[lane * 4 + 3]),
        "r"(b[lane * 2]), "r"(b[lane * 2 + 1]));
  for (int i = 0; i < 4; ++i) d[lane * 4 + i] = acc[i];
}

void check_mma_s8() {
  int A[16][32], B[32][8], C[16][8];
  for (int r = 0; r < 16; ++r)
    for (int k = 0; k < 32; ++k) A[r][k] = (r * 37 + k * 11) % 255 - 127;
  for (int k = 0; k < 32; ++k)
    for (int n = 0; n < 8; ++n) B[k][n] = (k * 23 + n * 59) % 255 - 127;
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 8; ++n) C[r][n] = 1000 * r - 77 * n;
  const auto bytes = [](int x0, int x1, int x2, int x3) {
    return static_cast<unsigned>(x0 & 0xff) | static_cast<unsigned>(x1 & 0xff) << 8 |
           static_cast<unsigned>(x2 & 0xff) << 16 | static_cast<unsigned>(x3 & 0xff) << 24;
  };
  std::vector<unsigned> a(32 * 4), b(32 * 2);
  std::vector<int> c(32 * 4), d(32 * 4);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i % 2), k = 4 * t + 16 * (i / 2);
      a[lane * 4 + i] = bytes(A[row][k], A[row][k + 1], A[row][k + 2], A[row][k + 3]);
    }
    for (int i = 0; i < 2; ++i) {
      const int k = 4 * t + 16 * i;
      b[lane * 2 + i] = bytes(B[k][g], B[k + 1][g], B[k + 2][g], B[k + 3][g]);
    }
    const int mine[4] = {C[g][2 * t], C[g][2 * t + 1], C[g + 8][2 * t], C[g + 8][2 * t + 1]};
    for (int i = 0; i < 4; ++i) c[lane * 4 + i] = mine[i];
  }
  multiply_s8<<<1, 32>>>(a.data(), b.data(), c.data(), d.data());
  bool ok = cudaGetLastError() == cudaSuccess;
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const int row = lane / 4 + 8 * (i / 2), col = 2 * (lane % 4) + i % 2;
      int want = C[row][col];
      for (int k = 0; k < 32; ++k) want += A[row][k] * B[k][col];
      ok &= d[lane * 4 + i] == want;
    }
  expect(ok, "mma.m16n8k32 s8 against a host product, fragments packed from the PTX table");
}

// ---- Faults the emulator must report ------------------------------------------------------

__global__ void shuffle_after_exit(int* out) {
  if (threadIdx.x == 0) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1);
}
__global__ void deadlock(int* out) {
  if (threadIdx.x < 16)
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1);
  else
    __syncthreads();
}
__global__ void misaligned(const char* p, int* out) {
  out[threadIdx.x] = reinterpret_cast<const int4*>(p + 4)->x;
}
__global__ void past_shared(int* out) {
  extern __shared__ int words[];
  words[threadIdx.x + 32] = 1;  // 32 threads, 32 words of dynamic shared memory
  out[threadIdx.x] = 0;
}
__global__ void __launch_bounds__(32) bounded(int* out) { out[threadIdx.x] = 0; }
__global__ void copy_never_waited(const float* src) {
  extern __shared__ __align__(16) float tile[];
  asm volatile(
      "cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(shared_address(tile + 4 * threadIdx.x)),
      "l"(src + 4 * threadIdx.x));
  asm volatile("cp.async.commit_group;\n" ::);
}
__global__ void big_shared(int* out) {
  extern __shared__ int words[];
  words[threadIdx.x] = 1;
  out[threadIdx.x] = words[threadIdx.x];
}

void check_faults() {
  std::vector<int> out(1024);
  std::vector<float> src(128);
  alignas(16) static char bytes[64];
  shuffle_after_exit<<<1, 32>>>(out.data());
  expect(cudaGetLastError() == cudaErrorLaunchFailure, "a shuffle naming an exited lane faults");
  deadlock<<<1, 64>>>(out.data());
  expect(cudaGetLastError() == cudaErrorLaunchFailure, "a deadlock is reported");
  misaligned<<<1, 32>>>(bytes, out.data());
  expect(cudaGetLastError() == cudaErrorLaunchFailure, "a misaligned 16-byte load faults");
  past_shared<<<1, 32, 32 * sizeof(int)>>>(out.data());
  expect(cudaGetLastError() == cudaErrorLaunchFailure, "a write past dynamic shared memory faults");
  bounded<<<1, 64>>>(out.data());
  expect(cudaGetLastError() == cudaErrorLaunchFailure, "more threads than __launch_bounds__ fault");
  copy_never_waited<<<1, 32, 512>>>(src.data());
  expect(cudaGetLastError() == cudaErrorLaunchFailure, "an exit with cp.async in flight faults");
  bounded<<<dim3(1, 0), 32>>>(out.data());
  expect(cudaGetLastError() == cudaErrorInvalidConfiguration, "a zero grid dimension is refused");
}

void check_shared_opt_in() {
  std::vector<int> out(32);
  big_shared<<<1, 32, 64 * 1024>>>(out.data());
  expect(cudaGetLastError() == cudaErrorInvalidValue,
         "64 KiB of shared memory without the opt-in is refused");
  expect(cudaFuncSetAttribute(big_shared, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024) ==
             cudaSuccess,
         "the opt-in to 64 KiB is accepted");
  big_shared<<<1, 32, 64 * 1024>>>(out.data());
  expect(cudaGetLastError() == cudaSuccess && out[5] == 1, "64 KiB after the opt-in runs");
}

}  // namespace

// movmatrix.trans: lane (g, t) gives row g, columns 2t, 2t+1 of an 8x8 matrix, and must get
// back the same of its transpose.
__global__ void transpose(unsigned* out) {
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  const unsigned mine = (16u * g + 2 * t) | (16u * g + 2 * t + 1) << 16;  // element (r, c) = 16 r + c
  unsigned moved;
  asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;\n" : "=r"(moved) : "r"(mine));
  out[lane] = moved;
}

void check_movmatrix() {
  std::vector<unsigned> out(32);
  transpose<<<1, 32>>>(out.data());
  bool ok = cudaGetLastError() == cudaSuccess;
  for (int lane = 0; lane < 32; ++lane) {
    const unsigned g = lane / 4, t = lane % 4;
    ok &= out[lane] == ((16u * (2 * t) + g) | (16u * (2 * t + 1) + g) << 16);
  }
  expect(ok, "movmatrix .trans against the PTX fragment table");
}

int main() {
  for (const char* order : {"forward", "reverse"}) {
    setenv("SIMT_ORDER", order, 1);
    std::printf("-- threads in %s order\n", order);
    check_collectives();
    check_block_work();
    check_atomics();
    check_copies();
    check_barriers();
    check_tensor_copies();
    check_ex2();
    check_ldmatrix();
    check_movmatrix();
    check_mma();
    check_mma_s8();
    check_faults();  // the simt: lines on stderr are the faults it provokes
  }
  check_shared_opt_in();
  check_tensor_map_encoder();
  std::printf("%d failed\n", g_failures);
  return g_failures ? 1 : 0;
}
