// The inline-PTX instructions of the kernels, as translate.py rewrites their asm statements.
// Written from the PTX ISA's descriptions, not from the kernels' use of them, so that a
// kernel that gets a layout wrong shows it:
//   cp.async:  "Data Movement and Conversion Instructions: cp.async"
//   ldmatrix:  "Warp-level matrix load instruction: ldmatrix"
//   mma:       "Matrix Fragments for mma.m16n8k16 with floating point type", "... for
//              mma.m16n8k32" (integer types)
//   movmatrix: "Warp-level matrix transpose instruction: movmatrix"
//   wgmma:     "Asynchronous Warpgroup Level Matrix Multiply-Accumulate Instructions"
//   mbarrier, bar, setmaxnreg: "Parallel Synchronization and Communication Instructions"
//   cp.async.bulk, cp.async.bulk.tensor: "Data Movement and Conversion Instructions", with
//              the "Tensors" chapter (tiled mode, bounding box, swizzling modes)
// Shared-memory operands are 32-bit offsets into the block's shared window (what
// __cvta_generic_to_shared gives); they are checked against it.
#pragma once

#include <cstdint>

namespace simt::ptx {

// An "l" operand holding a generic address: a pointer, or the integer it was cast to.
template <typename T>
inline const void* generic_address(T value) {
  if constexpr (std::is_pointer_v<T>)
    return value;
  else
    return reinterpret_cast<const void*>(static_cast<std::uintptr_t>(value));
}

// cp.async.{ca,cg}.shared.global [dst], [src], cp_size{, src_size}: copies src_size bytes
// (cp_size when absent) and zero-fills the rest of cp_size. .cg takes 16 bytes only.
void cp_async(uint32_t dst, const void* src, int cp_size, int src_size, bool cg);
void cp_async_commit();
// cp.async.wait_group N: until at most N of this thread's committed groups are in flight.
void cp_async_wait_group(int pending);

// ldmatrix.sync.aligned.m8n8.x{1,2,4}{.trans}.shared.b16: lanes 8i .. 8i+7 give the row
// addresses of matrix i; lane (g = lane / 4, t = lane % 4) receives in register i row g,
// columns 2t and 2t+1 of matrix i (with .trans rows 2t and 2t+1 of column g), the lower
// index in the low half.
void ldmatrix(bool trans, uint32_t address, uint32_t* const* regs, int count);
template <bool Trans, typename... Regs>
inline void ldmatrix(uint32_t address, Regs&... regs) {
  static_assert(sizeof...(Regs) == 1 || sizeof...(Regs) == 2 || sizeof...(Regs) == 4,
                ".x1/.x2/.x4");
  uint32_t* const pointers[] = {&regs...};
  ldmatrix(Trans, address, pointers, static_cast<int>(sizeof...(Regs)));
}

// movmatrix.sync.aligned.m8n8.trans.b16 d, a: lane (g = lane / 4, t = lane % 4) gives row g,
// columns 2t and 2t+1 of an 8x8 matrix of 16-bit elements (the lower column in the low half)
// and receives the same of its transpose.
uint32_t movmatrix_trans(uint32_t a);

// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 d, a, b, c: D = A B + C
// with, for lane (g, t): a0 = A[g][2t..2t+1], a1 = A[g+8][2t..], a2 = A[g][2t+8..],
// a3 = A[g+8][2t+8..]; b0 = B[2t..2t+1][g], b1 = B[2t+8..2t+9][g]; c0, c1 = C[g][2t..2t+1],
// c2, c3 = C[g+8][2t..2t+1] (and D likewise).
enum class Element { kF16, kBF16 };
void mma_m16n8k16(Element type, float* d, const uint32_t* a, const uint32_t* b, const float* c);
template <typename T>
inline void mma_m16n8k16(float& d0, float& d1, float& d2, float& d3, uint32_t a0, uint32_t a1,
                         uint32_t a2, uint32_t a3, uint32_t b0, uint32_t b1, float c0, float c1,
                         float c2, float c3) {
  static_assert(std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>, "f16 or bf16");
  const uint32_t a[4] = {a0, a1, a2, a3}, b[2] = {b0, b1};
  const float c[4] = {c0, c1, c2, c3};
  float d[4];
  mma_m16n8k16(std::is_same_v<T, __half> ? Element::kF16 : Element::kBF16, d, a, b, c);
  d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
}

// mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 d, a, b, c: D = A B + C in int32 (wrapping),
// with, for lane (g, t), four int8 a register, the lowest index in the lowest byte:
// a0 = A[g][4t..4t+3], a1 = A[g+8][4t..], a2 = A[g][16+4t..], a3 = A[g+8][16+4t..];
// b0 = B[4t..4t+3][g], b1 = B[16+4t..][g]; c and d as for m16n8k16.
void mma_m16n8k32_s8(int32_t* d, const uint32_t* a, const uint32_t* b, const int32_t* c);
inline void mma_m16n8k32_s8(int32_t& d0, int32_t& d1, int32_t& d2, int32_t& d3, uint32_t a0,
                            uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0, uint32_t b1,
                            int32_t c0, int32_t c1, int32_t c2, int32_t c3) {
  const uint32_t a[4] = {a0, a1, a2, a3}, b[2] = {b0, b1};
  const int32_t c[4] = {c0, c1, c2, c3};
  int32_t d[4];
  mma_m16n8k32_s8(d, a, b, c);
  d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
}

// wgmma.mma_async.sync.aligned.m64nNk16.f32.{f16,bf16}: D = A B (+ D when scale_d) for the
// warpgroup (4 consecutive warps) of the calling thread. A is 64x16, from shared memory by
// descriptor (a_regs null; K-major, or M-major with trans_a) or from the 4 registers a_regs
// (the m16n8k16 A fragment of rows 16w .. 16w + 15 in warp w of the group); B is 16xN from
// shared memory by descriptor (K-major, or N-major with trans_b). d holds the thread's N / 2
// accumulators: d[4j + i] = D[16w + g + 8 (i / 2)][8j + 2t + i % 2]. Descriptors follow the
// ISA's canonical layouts; only the 128-byte swizzle is emulated. Each thread computes its
// own elements (the rows of A in registers come from its warp, as they were at issue), at
// issue or, with SIMT_CP_ASYNC=wait, when the wait_group that retires its group runs.
void wgmma(Element type, int n, float* const* d, const uint32_t* a_regs, uint64_t a_desc,
           uint64_t b_desc, bool scale_d, int trans_a, int trans_b);
// wgmma.commit_group / wait_group N: until at most N of this thread's committed groups are
// in flight (groups retire in order).
void wgmma_commit();
void wgmma_wait(int pending);
// wgmma.fence, fence.proxy.async: ordering only; the emulator's memory is sequentially
// consistent.
inline void wgmma_fence() {}
inline void fence_proxy_async() {}

// mbarrier.init.shared::cta.b64 [bar], count: `count` arrivals complete a phase (with its
// tx-count at 0); phase 0 first. The barrier's state lives beside the block's shared memory,
// keyed by its address.
void mbarrier_init(uint32_t bar, uint32_t count);
// mbarrier.arrive.shared::cta.b64 _, [bar]: one arrival on the current phase.
void mbarrier_arrive(uint32_t bar);
// mbarrier.arrive.expect_tx.shared::cta.b64 _, [bar], bytes: the current phase's tx-count
// rises by `bytes`, then one arrival. A phase completes once all its arrivals have come and
// its tx-count is back to 0, in either order: copies may complete their bytes (complete_tx)
// before or after the expect_tx ("Phase Completion of the mbarrier object").
void mbarrier_arrive_expect_tx(uint32_t bar, uint32_t bytes);
// fence.mbarrier_init.release.cluster: ordering only, as fence.proxy.async.
inline void fence_mbarrier_init() {}
// mbarrier.try_wait.parity.shared::cta.b64 p, [bar], parity: true once the phase of that
// parity has completed (the current phase's parity differs). A try_wait may suspend the
// thread for a time the GPU chooses; here it waits until then, so a barrier that can never
// complete shows as a deadlock.
bool mbarrier_try_wait_parity(uint32_t bar, uint32_t parity);
// cp.async.mbarrier.arrive.noinc.shared::cta.b64 [bar]: one arrival once every cp.async the
// thread issued before has landed. With SIMT_CP_ASYNC=wait those copies land when the phase
// completes: the latest the GPU may land them.
void cp_async_mbarrier_arrive(uint32_t bar);

// What the emulated cuTensorMapEncodeTiled (cuda_runtime_stub.cpp) keeps of a tiled tensor in
// the 128 opaque bytes of a CUtensorMap, for cp.async.bulk.tensor to read back; `magic` tells
// a map it encoded from bytes that are none.
struct TensorMap {
  static constexpr uint32_t kMagic = 0x50414d54;  // "TMAP"
  uint32_t magic;
  uint8_t rank;           // 1 to 5
  uint8_t element_bytes;  // 1, 2, 4 or 8
  uint8_t swizzle_span;   // 0 (none), 32, 64 or 128 bytes
  const unsigned char* address;
  uint64_t dims[5];     // elements, innermost first
  uint64_t strides[5];  // bytes between consecutive indices of dimension i >= 1
  uint16_t box[5];      // elements
};
static_assert(sizeof(TensorMap) <= 128, "a CUtensorMap has 128 bytes");
// cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [dst], [src], size, [bar]:
// copies `bytes` (a multiple of 16; both addresses 16-byte aligned) and completes them as
// transactions on `bar`. Bulk copies land at issue or, with SIMT_CP_ASYNC=wait, when the
// phase they complete on completes: the latest the GPU may land them.
void cp_async_bulk(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar);
// cp.async.bulk.tensor.Nd.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// [dst], [map, {c0, ..}], [bar]: copies the box of the tensor map at coordinates c (innermost
// first, int32), elements outside the tensor zero-filled, box-linear (innermost fastest) with
// the map's swizzle on the byte offset o into dst (bits 4.. of o XOR bits 7..: 3, 2 or 1 bits
// for the 128-, 64- and 32-byte swizzles), dst 128-byte aligned, 8 swizzle spans with one;
// then completes the whole box's bytes, zero-filled ones too, on `bar`, as cp_async_bulk.
void cp_async_bulk_tensor(uint32_t dst, const void* map, const int32_t* coords, int dims, uint32_t bar);
template <typename Map, typename... Coords>
inline void cp_async_bulk_tensor(uint32_t dst, Map map, uint32_t bar, Coords... coords) {
  const int32_t c[] = {static_cast<int32_t>(coords)...};
  cp_async_bulk_tensor(dst, generic_address(map), c, static_cast<int>(sizeof...(Coords)), bar);
}
// bar.sync / bar.arrive id, threads: named barrier `id` (1-15) completes when `threads`
// threads (whole warps) have arrived; sync waits for that, arrive does not.
void named_barrier(uint32_t id, uint32_t threads, bool wait);
// setmaxnreg.{inc,dec}.sync.aligned.u32 n: registers are not emulated; n is checked.
void setmaxnreg(uint32_t registers);

// ex2.approx.ftz.f32: 2^x with subnormal inputs and results flushed to (signed) zero; libm's
// exp2f stands in for the GPU's approximation (within 2 ulp of it).
float ex2_approx_ftz(float x);

}  // namespace simt::ptx
