// A small SIMT emulator that runs the fused CUDA kernels on the CPU, so their index math,
// fragment layouts, masks and pipelines can be checked on a machine without a GPU. Every
// CUDA thread is a ucontext fiber; a block's fibers take turns on one OS thread, and the
// warp collectives (shuffles, votes, and, in shadow/tensor_core_ptx.cuh, ldmatrix and mma)
// and barriers yield until every live participant has arrived. Slow (a fiber switch per
// thread per collective), exact in what it models, silent about timing.
#pragma once

#include <cuda_runtime.h>  // dim3, uint3, cudaStream_t; no device code is compiled
#include <ucontext.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

namespace simt {

inline void yield();

// Threads arrive; the last live one releases the others (exited threads no longer count).
struct Barrier {
  int arrived = 0, alive = 0;
  unsigned generation = 0;
  void release_if_complete() {
    if (alive > 0 && arrived == alive) arrived = 0, ++generation;
  }
  void wait() {
    const unsigned mine = generation;
    ++arrived;
    release_if_complete();
    while (generation == mine) yield();
  }
};

struct Thread {
  uint3 tid, bid;
  ucontext_t context;
  std::vector<char> stack;
  bool done = false;
};

struct Warp {
  Barrier barrier{0, 32, 0};
  uint64_t slot[2][32][8];  // what each lane published, double-buffered by collective parity
  int parity[32] = {};
};

// cp.async: each thread's copies, grouped by commit, done at issue or at the wait.
struct Copy {
  void* dst;
  const void* src;
  bool valid;
};
struct PendingCopies {
  std::vector<Copy> open;
  std::vector<std::vector<Copy>> groups;
};

struct Block {
  std::vector<Thread> threads;
  std::vector<Warp> warps;
  std::vector<PendingCopies> copies;
  std::vector<unsigned char> shared;
  Barrier barrier;
  ucontext_t scheduler;
  int current = 0;
};

struct State {
  Block* block = nullptr;
  dim3 grid, threads;
  bool copy_at_wait = false;  // false: cp.async lands at issue (shows a copy overwriting data
                              // still in use); true: at the wait (shows data used too early)
  std::function<void()> body;
};
inline State& state() {
  static State s;
  return s;
}
inline Block& block() { return *state().block; }
inline Thread& self() { return block().threads[block().current]; }
inline int lane() { return static_cast<int>(self().tid.x % 32); }
inline Warp& my_warp() { return block().warps[self().tid.x / 32]; }
inline void yield() { swapcontext(&self().context, &block().scheduler); }
inline void block_barrier() { block().barrier.wait(); }
inline void warp_barrier() { my_warp().barrier.wait(); }

// Publishes `count` words for the warp and returns every lane's, once all have published.
// Two slot sets alternate: a lane can be one collective ahead, never two.
inline const uint64_t (*exchange(const uint64_t* words, int count))[8] {
  Warp& w = my_warp();
  const int l = lane(), parity = w.parity[l];
  w.parity[l] ^= 1;
  std::memcpy(w.slot[parity][l], words, count * sizeof(uint64_t));
  warp_barrier();
  return w.slot[parity];
}

inline void do_copy(const Copy& c) {
  if (c.valid)
    std::memcpy(c.dst, c.src, 16);
  else
    std::memset(c.dst, 0, 16);
}

inline void fiber_main() {
  state().body();
  Block& b = block();
  Thread& t = self();
  t.done = true;
  // A thread that exits no longer holds back barriers (as on the GPU).
  for (Barrier* barrier : {&b.barrier, &b.warps[t.tid.x / 32].barrier}) {
    --barrier->alive;
    barrier->release_if_complete();
  }
  swapcontext(&t.context, &b.scheduler);
}

// kernel<<<grid, threads, shared_bytes>>>(args...), one block after another.
template <typename Kernel, typename... Args>
void launch(Kernel kernel, dim3 grid, dim3 threads, std::size_t shared_bytes, cudaStream_t,
            Args... args) {
  if (threads.y != 1 || threads.z != 1 || threads.x % 32 != 0) {
    std::fprintf(stderr, "simt: only 1-D blocks of whole warps\n");
    std::abort();
  }
  State& s = state();
  s.grid = grid;
  s.threads = threads;
  s.body = [&] { kernel(args...); };
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        Block b;
        b.threads.resize(threads.x);
        b.warps.resize(threads.x / 32);
        b.copies.resize(threads.x);
        b.shared.assign(shared_bytes, 0xcd);  // garbage, as real shared memory starts
        b.barrier.alive = static_cast<int>(threads.x);
        s.block = &b;
        for (unsigned i = 0; i < threads.x; ++i) {
          Thread& t = b.threads[i];
          t.tid = {i, 0, 0};
          t.bid = {x, y, z};
          t.stack.resize(256 * 1024);
          getcontext(&t.context);
          t.context.uc_stack.ss_sp = t.stack.data();
          t.context.uc_stack.ss_size = t.stack.size();
          t.context.uc_link = nullptr;
          makecontext(&t.context, &fiber_main, 0);
        }
        for (bool running = true; running;) {
          running = false;
          for (unsigned i = 0; i < threads.x; ++i) {
            if (b.threads[i].done) continue;
            b.current = static_cast<int>(i);
            swapcontext(&b.scheduler, &b.threads[i].context);
            running |= !b.threads[i].done;
          }
        }
        for (const PendingCopies& c : b.copies)
          if (!c.open.empty() || !c.groups.empty())
            std::fprintf(stderr, "simt: a thread exited with copies in flight\n");
        s.block = nullptr;
      }
}

}  // namespace simt

// The CUDA built-ins the kernels use, for the code compiled after this header.
#define threadIdx (simt::self().tid)
#define blockIdx (simt::self().bid)
#define blockDim (simt::state().threads)
#define gridDim (simt::state().grid)
#undef __launch_bounds__
#define __launch_bounds__(...)
inline void __syncthreads() { simt::block_barrier(); }
inline void __syncwarp(unsigned = 0xffffffffu) { simt::warp_barrier(); }
inline float __shfl_xor_sync(unsigned, float value, int lane_mask) {
  uint64_t word = 0;
  std::memcpy(&word, &value, sizeof value);
  const auto slots = simt::exchange(&word, 1);
  float out;
  std::memcpy(&out, &slots[simt::lane() ^ lane_mask][0], sizeof out);
  return out;
}
inline bool __any_sync(unsigned, bool predicate) {
  const uint64_t word = predicate;
  const auto slots = simt::exchange(&word, 1);
  for (int l = 0; l < 32; ++l)
    if (slots[l][0]) return true;
  return false;
}
using std::max;
using std::min;
