// The emulator's scheduler, fibers, shared window, warp collectives and PTX instructions
// (declared in simt.hpp and ptx.hpp).
#include "simt.hpp"

#include <sys/mman.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace simt {

Thread* current_thread = nullptr;
Block* current_block = nullptr;
dim3 current_grid, current_block_dim;
Warp* current_warps = nullptr;

namespace {
Options g_options;
bool env_is(const char* name, const char* value) {
  const char* set = std::getenv(name);
  return set && std::strcmp(set, value) == 0;
}
}  // namespace

const Options& options() { return g_options; }

void record_launch_error(cudaError_t error);  // cuda_runtime_stub.cpp
int opted_in_shared_bytes(const void* kernel);

namespace {

constexpr std::size_t kStackBytes = 256 * 1024;
constexpr std::size_t kGuardBytes = 4096;   // a PROT_NONE page under each stack
constexpr std::size_t kSharedGuard = 4096;  // poisoned bytes past the dynamic shared memory
constexpr unsigned char kPoison = 0xfe;     // NaN in fp16, bf16 and fp32

// A bulk (TMA) copy's bytes, read from global memory at issue, and where they go: the
// 16 bytes at offset o to dst + swizzled(o, swizzle_span).
struct BulkCopy {
  unsigned char* dst;
  std::vector<unsigned char> bytes;  // a multiple of 16
  int swizzle_span;                  // 0, 32, 64 or 128
};

// One running launch: its threads, warps, shared window and scheduling state.
struct Launch {
  const char* name = "";
  const std::function<void()>* body = nullptr;
  std::vector<Thread> threads;
  std::vector<Warp> warps;
  Block block;
  std::size_t dynamic_bytes = 0;
  std::map<std::string, std::size_t> statics;  // site -> offset from the window's start
  std::size_t static_bytes = 0;                // carved from the top of the window
  std::vector<int> runnable;                   // ring of threads ready to run
  std::size_t head = 0, count = 0;
  int exited = 0;
  bool faulted = false;
  bool deadlocked = false;
  void* scheduler = nullptr;  // the context run_block waits in
  // The block's mbarriers (by shared address) and named barriers (by id).
  struct MBarrier {
    uint32_t count = 0, pending = 0;
    int64_t tx = 0;               // the phase's tx-count: bytes expected less bytes completed
    uint32_t phase = 0;           // phases completed
    std::vector<int> waiters;     // threads in try_wait
    std::vector<Copy> copies;     // tracked by cp.async.mbarrier.arrive, landing with the phase
    std::vector<BulkCopy> bulk;   // completed on the phase, landing with it (SIMT_CP_ASYNC=wait)
    int bulk_in_phase = 0;        // bulk copies completed on the phase, landed or not
  };
  std::map<uint32_t, MBarrier> mbarriers;
  std::map<uint32_t, Barrier> named;  // `alive`: the threads the barrier instruction names
};
Launch* g_launch = nullptr;

// 1024-byte aligned: the most a tensor copy's destination needs (the 128-byte swizzle), which
// kernels declare on their dynamic shared memory.
alignas(1024) unsigned char g_shared[kSharedWindow];

// ---- Fibers --------------------------------------------------------------------------------
// A context is a void*: on x86-64 the saved stack pointer, elsewhere a ucontext_t*.

std::vector<unsigned char*> g_stacks;  // top of each thread's stack, made on first use

unsigned char* stack_top(int index) {
  while (static_cast<int>(g_stacks.size()) <= index) {
    void* region = mmap(nullptr, kStackBytes + kGuardBytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) {
      std::perror("simt: stack");
      std::abort();
    }
    mprotect(region, kGuardBytes, PROT_NONE);  // an overflow faults instead of corrupting
    g_stacks.push_back(static_cast<unsigned char*>(region) + kGuardBytes + kStackBytes);
  }
  return g_stacks[index];
}

extern "C" [[noreturn]] void simt_fiber_start();

#if defined(__x86_64__)
// Saves the callee-saved registers on the current stack, stores its pointer in *save and
// continues on the stack `load` (saved the same way, or made by new_context).
extern "C" void simt_switch(void** save, void* load);
asm(R"(
  .text
  .p2align 4
  .type simt_switch, @function
simt_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size simt_switch, .-simt_switch
)");

void* new_context(int index) {
  auto* sp = reinterpret_cast<uint64_t*>(stack_top(index));
  *--sp = 0;  // where simt_fiber_start's return address would be: entered 8 off 16-aligned
  *--sp = reinterpret_cast<uint64_t>(&simt_fiber_start);
  for (int i = 0; i < 6; ++i) *--sp = 0;  // rbp rbx r12-r15
  return sp;
}
void* scheduler_context() { return nullptr; }  // filled in by the first switch
void transfer(void** from, void* to) { simt_switch(from, to); }
#else
// Elsewhere (aarch64 hosts), ucontext: slower (a signal-mask system call per switch).
std::vector<ucontext_t> g_contexts;
ucontext_t g_scheduler_context;

void* new_context(int index) {
  if (g_contexts.empty()) g_contexts.resize(1024);
  ucontext_t& c = g_contexts[index];
  getcontext(&c);
  c.uc_stack.ss_sp = stack_top(index) - kStackBytes;
  c.uc_stack.ss_size = kStackBytes;
  c.uc_link = nullptr;
  makecontext(&c, reinterpret_cast<void (*)()>(&simt_fiber_start), 0);
  return &c;
}
void* scheduler_context() { return &g_scheduler_context; }
void transfer(void** from, void* to) {
  swapcontext(static_cast<ucontext_t*>(*from), static_cast<ucontext_t*>(to));
}
#endif

void thread_exit();

extern "C" [[noreturn]] void simt_fiber_start() {
  (*g_launch->body)();
  thread_exit();
  std::abort();  // never resumed
}

std::string where() {
  const Thread& t = *current_thread;
  const uint3 b = current_block->bid;
  char text[160];
  std::snprintf(text, sizeof text, "block (%u,%u,%u) thread %d (warp %d lane %d)", b.x, b.y, b.z,
                t.linear, t.linear / 32, t.linear % 32);
  return text;
}

void make_runnable(int thread) {
  Launch& l = *g_launch;
  l.runnable[(l.head + l.count++) % l.runnable.size()] = thread;
}

// The current thread blocks (or has exited): run the next runnable one, or go back to the
// block's scheduler when none is left (every thread exited, or a deadlock).
void run_next() {
  Launch& l = *g_launch;
  Thread& from = *current_thread;
  if (l.count == 0) {
    if (l.exited < static_cast<int>(l.threads.size()) && !l.faulted) {
      std::fprintf(stderr,
                   "simt: %s: block (%u,%u,%u): deadlock: every live thread waits at a barrier or "
                   "warp collective that the others never reach\n",
                   l.name, l.block.bid.x, l.block.bid.y, l.block.bid.z);
      l.deadlocked = true;
    }
    return transfer(&from.sp, l.scheduler);
  }
  Thread& to = l.threads[l.runnable[l.head]];
  l.head = (l.head + 1) % l.runnable.size();
  --l.count;
  current_thread = &to;
  transfer(&from.sp, to.sp);
}

}  // namespace

// ---- Faults, barriers, collectives ----------------------------------------------------------

void fault(const char* format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
  std::fprintf(stderr, "simt: %s: %s: %s\n", g_launch->name, where().c_str(), message);
  g_launch->faulted = true;
  transfer(&current_thread->sp, g_launch->scheduler);
  std::abort();  // a faulted launch never resumes its threads
}

void Barrier::reset(int participants) {
  arrived = 0;
  alive = participants;
  generation = 0;
  waiters.clear();
}

namespace {
// The waiting threads run again, in the order the driver chose.
void wake(std::vector<int>& waiters) {
  if (options().reverse_order)
    std::sort(waiters.begin(), waiters.end(), std::greater<int>());
  else
    std::sort(waiters.begin(), waiters.end());
  for (int t : waiters) make_runnable(t);
  waiters.clear();
}

void release(Barrier& b) {
  b.arrived = 0;
  ++b.generation;
  wake(b.waiters);
}
}  // namespace

void Barrier::wait() {
  if (++arrived == alive) return release(*this);
  waiters.push_back(current_thread->linear);
  run_next();
}

void Barrier::leave() {
  --alive;
  if (alive > 0 && arrived == alive) release(*this);
}

namespace {

void thread_exit() {
  Thread& t = *current_thread;
  if (!t.open_copies.empty() || !t.copy_groups.empty())
    fault("exits with cp.async copies it never waited for");
  if (!t.open_wgmmas.empty() || !t.wgmma_groups.empty())
    fault("exits with wgmma groups it never waited for");
  Warp& w = my_warp();
  if (w.barrier.arrived > 0)  // they named this lane in their mask: undefined on the GPU
    fault("exits while other lanes of its warp wait for it in a warp collective");
  t.done = true;
  ++g_launch->exited;
  w.alive_mask &= ~(1u << lane());
  w.barrier.leave();
  current_block->barrier.leave();
  run_next();
}

}  // namespace

const uint64_t (*exchange(Collective kind, unsigned mask, const uint64_t* words, int count))[8] {
  Warp& w = my_warp();
  if (mask != w.alive_mask) {
    if (mask & ~w.alive_mask)
      fault("a warp collective names lanes %#x that have exited or do not exist",
            mask & ~w.alive_mask);
    fault("a warp collective leaves out live lanes %#x (only whole-warp collectives are emulated)",
          w.alive_mask & ~mask);
  }
  const int l = lane(), parity = w.parity[l];
  w.parity[l] ^= 1;
  std::memcpy(w.slot[parity][l], words, count * sizeof(uint64_t));
  w.kind[parity][l] = kind;
  if (w.barrier.arrived + 1 == w.barrier.alive)  // the last to arrive checks for everyone
    for (int other = 0; other < 32; ++other)
      if ((w.alive_mask >> other & 1) && w.kind[parity][other] != kind)
        fault("lanes %d and %d of the warp are in different collectives (%d and %d)", l, other,
              static_cast<int>(kind), static_cast<int>(w.kind[parity][other]));
  w.barrier.wait();
  return w.slot[parity];
}

// ---- Shared memory ----------------------------------------------------------------------------

unsigned char* shared_base() { return g_shared; }

void* static_shared(const char* function, const char* site, std::size_t bytes, std::size_t align) {
  Launch& l = *g_launch;
  const std::string key = std::string(function) + " @ " + site;
  auto found = l.statics.find(key);
  if (found == l.statics.end()) {
    // Carved downwards from the top of the window; every block of the launch has the same.
    const std::size_t top = kSharedWindow - l.static_bytes;
    const std::size_t offset = (top - bytes) / align * align;
    l.static_bytes = kSharedWindow - offset;
    if (l.static_bytes > kStaticSharedLimit)
      fault("more than 48 KiB of static __shared__ variables");
    if (l.static_bytes + l.dynamic_bytes > kSharedWindow)
      fault("static and dynamic shared memory exceed the 227 KiB an H100 block has");
    std::memset(g_shared + offset, kPoison, top - offset);
    found = l.statics.emplace(key, offset).first;
  }
  return g_shared + found->second;
}

uint32_t shared_offset(const void* p, std::size_t bytes, const char* what) {
  const auto* c = static_cast<const unsigned char*>(p);
  const Launch& l = *g_launch;
  if (c >= g_shared && c + bytes <= g_shared + kSharedWindow) {
    const auto offset = static_cast<std::size_t>(c - g_shared);
    if (offset + bytes <= l.dynamic_bytes || offset >= kSharedWindow - l.static_bytes)
      return static_cast<uint32_t>(offset);
  }
  fault("%s: %zu bytes at %p are not in the block's shared memory (%zu dynamic bytes)", what, bytes,
        p, l.dynamic_bytes);
}

unsigned char* shared_at(uint32_t offset, std::size_t bytes, const char* what) {
  const Launch& l = *g_launch;
  if (offset + bytes <= l.dynamic_bytes ||
      (offset >= kSharedWindow - l.static_bytes && offset + bytes <= kSharedWindow))
    return g_shared + offset;
  fault(
      "%s: shared address %#x (+%zu bytes) is outside the block's shared memory (%zu dynamic "
      "bytes)",
      what, offset, bytes, l.dynamic_bytes);
}

void check_launch_bounds(long max_threads) {
  const long threads =
      static_cast<long>(current_block_dim.x) * current_block_dim.y * current_block_dim.z;
  if (threads > max_threads)
    fault("%ld threads per block exceed __launch_bounds__(%ld)", threads, max_threads);
}

// ---- Launch ---------------------------------------------------------------------------------

namespace {

bool valid_config(const char* name, const Config& c) {
  const unsigned long threads = static_cast<unsigned long>(c.block.x) * c.block.y * c.block.z;
  const char* problem = nullptr;
  if (c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 || threads == 0)
    problem = "a grid or block dimension is 0";
  else if (c.grid.x > 2147483647u || c.grid.y > 65535 || c.grid.z > 65535)
    problem = "grid dimensions above (2^31-1, 65535, 65535)";
  else if (threads > 1024 || c.block.z > 64)
    problem = "more than 1024 threads per block (or block.z > 64)";
  if (problem) {
    std::fprintf(stderr, "simt: %s: invalid launch configuration: %s\n", name, problem);
    record_launch_error(cudaErrorInvalidConfiguration);
    return false;
  }
  return true;
}

bool valid_shared(const char* name, const void* kernel, std::size_t bytes) {
  const std::size_t allowed = std::max<std::size_t>(48 * 1024, opted_in_shared_bytes(kernel));
  if (bytes <= allowed && bytes <= kSharedWindow) return true;
  std::fprintf(stderr,
               "simt: %s: %zu bytes of dynamic shared memory, %zu allowed (cudaFuncSetAttribute "
               "opt-in, at most 227 KiB)\n",
               name, bytes, allowed);
  record_launch_error(cudaErrorInvalidValue);
  return false;
}

// Runs one block's threads until all have exited; false if it faulted or deadlocked.
bool run_block(Launch& l) {
  const int first = l.runnable[l.head];
  l.head = (l.head + 1) % l.runnable.size();
  --l.count;
  current_thread = &l.threads[first];
  l.scheduler = scheduler_context();
  transfer(&l.scheduler, l.threads[first].sp);
  return !l.faulted && !l.deadlocked;
}

void start_block(Launch& l, uint3 bid, const Config& c) {
  const int n = static_cast<int>(l.threads.size());
  l.block.bid = bid;
  l.block.barrier.reset(n);
  l.exited = 0;
  l.head = 0;
  l.count = 0;
  for (int k = 0; k < n; ++k) {
    const int i = options().reverse_order ? n - 1 - k : k;
    Thread& t = l.threads[i];
    t.linear = i;
    t.tid = {i % c.block.x, i / c.block.x % c.block.y, i / (c.block.x * c.block.y)};
    t.done = false;
    t.open_copies.clear();
    t.copy_groups.clear();
    t.open_wgmmas.clear();
    t.wgmma_groups.clear();
    t.sp = new_context(i);
    make_runnable(i);
  }
  for (std::size_t w = 0; w < l.warps.size(); ++w) {
    Warp& warp = l.warps[w];
    const int lanes = std::min(32, n - static_cast<int>(w) * 32);
    warp.barrier.reset(lanes);
    warp.alive_mask = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
    std::fill(std::begin(warp.parity), std::end(warp.parity), 0);
  }
  l.mbarriers.clear();
  l.named.clear();
  // Fresh poison for the dynamic part, a guard past it and the static variables.
  std::memset(g_shared, kPoison, std::min(kSharedWindow, l.dynamic_bytes + kSharedGuard));
  std::memset(g_shared + kSharedWindow - l.static_bytes, kPoison, l.static_bytes);
}

bool guard_intact(const Launch& l) {
  const std::size_t end = std::min(kSharedWindow - l.static_bytes, l.dynamic_bytes + kSharedGuard);
  for (std::size_t i = l.dynamic_bytes; i < end; ++i)
    if (g_shared[i] != kPoison) {
      std::fprintf(stderr,
                   "simt: %s: block (%u,%u,%u) wrote shared memory at offset %zu, past its %zu "
                   "dynamic bytes\n",
                   l.name, l.block.bid.x, l.block.bid.y, l.block.bid.z, i, l.dynamic_bytes);
      return false;
    }
  return true;
}

// A bulk copy still in flight when the block ends would write the shared memory of a block
// that is gone: its phase must have completed (someone need not have waited for it).
bool bulk_copies_landed(const Launch& l) {
  for (const auto& [bar, b] : l.mbarriers)
    if (b.bulk_in_phase > 0) {
      std::fprintf(stderr,
                   "simt: %s: block (%u,%u,%u) ends with %d bulk copies on the mbarrier at %#x in "
                   "flight (its phase never completed: %u arrivals and %lld bytes missing)\n",
                   l.name, l.block.bid.x, l.block.bid.y, l.block.bid.z, b.bulk_in_phase, bar,
                   b.pending, static_cast<long long>(b.tx));
      return false;
    }
  return true;
}

}  // namespace

void run_grid(const char* name, const void* kernel, const Config& c,
              const std::function<void()>& body) {
  if (g_launch) {
    std::fprintf(stderr, "simt: %s launched from inside a kernel\n", name);
    std::abort();
  }
  if (!valid_config(name, c) || !valid_shared(name, kernel, c.shared_bytes)) return;
  g_options.async_completes_at_wait = env_is("SIMT_CP_ASYNC", "wait");
  g_options.reverse_order = env_is("SIMT_ORDER", "reverse");
  Launch l;
  l.name = name;
  l.body = &body;
  l.dynamic_bytes = c.shared_bytes;
  const int n = static_cast<int>(c.block.x * c.block.y * c.block.z);
  l.threads.resize(n);
  l.warps.resize((n + 31) / 32);
  l.runnable.resize(n);
  g_launch = &l;
  current_block = &l.block;
  current_warps = l.warps.data();
  current_grid = c.grid;
  current_block_dim = c.block;
  bool ok = true;
  for (unsigned z = 0; ok && z < c.grid.z; ++z)
    for (unsigned y = 0; ok && y < c.grid.y; ++y)
      for (unsigned x = 0; ok && x < c.grid.x; ++x) {
        start_block(l, {x, y, z}, c);
        ok = run_block(l) && guard_intact(l) && bulk_copies_landed(l);
        if (!ok) break;
      }
  g_launch = nullptr;
  current_thread = nullptr;
  if (!ok) record_launch_error(cudaErrorLaunchFailure);
}

// ---- Votes and reductions ---------------------------------------------------------------------

namespace {

// Every live lane's word, once all have given theirs.
template <typename F>
uint64_t reduce(Collective kind, unsigned mask, uint64_t word, uint64_t init, F combine) {
  const auto slots = exchange(kind, mask, &word, 1);
  uint64_t out = init;
  for (int l = 0; l < 32; ++l)
    if (mask >> l & 1) out = combine(out, slots[l][0], l);
  return out;
}

// __syncthreads_*: a barrier that also counts the threads with a true predicate. The counts
// alternate by barrier generation; the first thread to arrive clears its slot.
struct Votes {
  int yes[2] = {}, voters[2] = {};
};
Votes g_votes;

std::pair<int, int> block_vote(int predicate) {
  Barrier& b = current_block->barrier;
  const int parity = b.generation & 1;
  if (b.arrived == 0) g_votes.yes[parity] = g_votes.voters[parity] = 0;
  g_votes.yes[parity] += predicate != 0;
  ++g_votes.voters[parity];
  b.wait();
  return {g_votes.yes[parity], g_votes.voters[parity]};
}

}  // namespace

}  // namespace simt

unsigned __ballot_sync(unsigned mask, int predicate) {
  return static_cast<unsigned>(
      simt::reduce(simt::Collective::kVote, mask, predicate != 0, 0,
                   [](uint64_t acc, uint64_t w, int l) { return acc | (w ? 1ull << l : 0); }));
}
unsigned __reduce_add_sync(unsigned mask, unsigned value) {
  return static_cast<unsigned>(
      simt::reduce(simt::Collective::kReduce, mask, value, 0,
                   [](uint64_t a, uint64_t w, int) { return static_cast<unsigned>(a + w); }));
}
unsigned __reduce_min_sync(unsigned mask, unsigned value) {
  return static_cast<unsigned>(
      simt::reduce(simt::Collective::kReduce, mask, value, ~0u,
                   [](uint64_t a, uint64_t w, int) { return std::min(a, w); }));
}
unsigned __reduce_max_sync(unsigned mask, unsigned value) {
  return static_cast<unsigned>(
      simt::reduce(simt::Collective::kReduce, mask, value, 0,
                   [](uint64_t a, uint64_t w, int) { return std::max(a, w); }));
}
int __reduce_min_sync(unsigned mask, int value) {
  return static_cast<int>(simt::reduce(
      simt::Collective::kReduce, mask, static_cast<uint32_t>(value), 0x7fffffff,
      [](uint64_t a, uint64_t w, int) {
        return static_cast<uint64_t>(
            static_cast<uint32_t>(std::min(static_cast<int32_t>(a), static_cast<int32_t>(w))));
      }));
}
int __reduce_max_sync(unsigned mask, int value) {
  return static_cast<int>(simt::reduce(
      simt::Collective::kReduce, mask, static_cast<uint32_t>(value), 0x80000000u,
      [](uint64_t a, uint64_t w, int) {
        return static_cast<uint64_t>(
            static_cast<uint32_t>(std::max(static_cast<int32_t>(a), static_cast<int32_t>(w))));
      }));
}
int __syncthreads_count(int predicate) { return simt::block_vote(predicate).first; }
int __syncthreads_and(int predicate) {
  const auto [yes, voters] = simt::block_vote(predicate);
  return yes == voters;
}
int __syncthreads_or(int predicate) { return simt::block_vote(predicate).first > 0; }

// ---- PTX ------------------------------------------------------------------------------------

namespace simt::ptx {

namespace {

void land(const Copy& c) {
  std::memcpy(c.dst, c.src, c.src_bytes);
  std::memset(c.dst + c.src_bytes, 0, c.bytes - c.src_bytes);
}

// commit_group and wait_group of one kind of asynchronous work (cp.async copies, wgmmas):
// the open items become the newest group; groups beyond the `pending` newest retire, oldest
// first, each item completed by `complete`.
template <typename Item>
void commit_group(std::vector<Item>& open, std::vector<std::vector<Item>>& groups) {
  groups.push_back(std::move(open));
  open.clear();
}

template <typename Item, typename Complete>
void retire_groups(std::vector<std::vector<Item>>& groups, int pending, Complete complete) {
  const std::size_t keep = static_cast<std::size_t>(std::max(pending, 0));
  while (groups.size() > keep) {
    for (const Item& item : groups.front()) complete(item);
    groups.erase(groups.begin());
  }
}

uint16_t element_at(uint64_t row_address, int index) {
  uint16_t v;
  std::memcpy(&v, shared_at(static_cast<uint32_t>(row_address), 16, "ldmatrix row") + 2 * index, 2);
  return v;
}

float to_float(Element type, uint16_t bits) {
  if (type == Element::kF16) {
    __half x;
    std::memcpy(&x, &bits, 2);
    return __half2float(x);
  }
  __nv_bfloat16 x;
  std::memcpy(&x, &bits, 2);
  return __bfloat162float(x);
}

}  // namespace

void cp_async(uint32_t dst, const void* src, int cp_size, int src_size, bool cg) {
  if (cp_size != 4 && cp_size != 8 && cp_size != 16) fault("cp.async of %d bytes", cp_size);
  if (cg && cp_size != 16) fault("cp.async.cg copies 16 bytes, not %d", cp_size);
  if (src_size < 0 || src_size > cp_size)
    fault("cp.async src-size %d outside 0..%d", src_size, cp_size);
  if (dst % cp_size != 0 || reinterpret_cast<std::uintptr_t>(src) % cp_size != 0)
    fault("cp.async addresses (shared %#x, global %p) not %d-byte aligned", dst, src, cp_size);
  const auto* source = static_cast<const unsigned char*>(src);
  if (source + cp_size > g_shared && source < g_shared + kSharedWindow)
    fault("cp.async source %p is in shared memory, not global", src);
  const Copy copy{shared_at(dst, cp_size, "cp.async destination"), source, cp_size, src_size};
  if (!options().async_completes_at_wait) land(copy);
  current_thread->open_copies.push_back(copy);
}

void cp_async_commit() { commit_group(current_thread->open_copies, current_thread->copy_groups); }

void cp_async_wait_group(int pending) {
  retire_groups(current_thread->copy_groups, pending, [](const Copy& c) {
    if (options().async_completes_at_wait) land(c);  // else it landed at issue
  });
}

// ---- mbarriers and named barriers ----------------------------------------------------------

namespace {

unsigned char* mbarrier_bytes(uint32_t bar, const char* what) {
  if (bar % 8 != 0) fault("%s: mbarrier address %#x is not 8-byte aligned", what, bar);
  return shared_at(bar, 8, what);
}

Launch::MBarrier& mbarrier_at(uint32_t bar, const char* what) {
  mbarrier_bytes(bar, what);
  auto found = g_launch->mbarriers.find(bar);
  if (found == g_launch->mbarriers.end()) fault("%s: no mbarrier initialized at %#x", what, bar);
  return found->second;
}

// Byte offset o of a box, placed under a swizzle of `span` bytes ("Tensors", swizzling modes):
// the 16-byte chunk bits (4..) XOR the 128-byte row bits (7..), 3 of them for the 128-byte
// swizzle, 2 for 64, 1 for 32.
std::size_t swizzled(std::size_t o, int span) {
  if (span == 0) return o;
  const std::size_t bits = static_cast<std::size_t>(span / 16 - 1);
  return o ^ ((o >> 7 & bits) << 4);
}

void land(const BulkCopy& c) {
  for (std::size_t o = 0; o < c.bytes.size(); o += 16)
    std::memcpy(c.dst + swizzled(o, c.swizzle_span), c.bytes.data() + o, 16);
}

// The shared bytes a bulk copy covers from its destination: its size, or more where a swizzle
// moves chunks of a last, partial 128-byte row past it.
std::size_t footprint(const BulkCopy& c) {
  std::size_t end = 0;
  for (std::size_t o = 0; o < c.bytes.size(); o += 16)
    end = std::max(end, swizzled(o, c.swizzle_span) + 16);
  return end;
}

// The phase completes once all its arrivals have come and its tx-count is back to 0, in
// whichever order ("Phase Completion of the mbarrier object"): the copies tracked on it land
// (those that did not at issue), its waiters run again, and the next phase begins.
void complete_if_done(Launch::MBarrier& b) {
  if (b.pending > 0 || b.tx != 0) return;
  for (const Copy& c : b.copies) land(c);
  b.copies.clear();
  for (const BulkCopy& c : b.bulk) land(c);
  b.bulk.clear();
  b.bulk_in_phase = 0;
  ++b.phase;
  b.pending = b.count;
  wake(b.waiters);
}

void arrive(Launch::MBarrier& b, const char* what) {
  if (b.pending == 0) fault("%s: more arrivals in one phase than the mbarrier's count %u", what, b.count);
  --b.pending;
  complete_if_done(b);
}

// The tx-count moves by `bytes`: up for an expect-tx, down as copies complete. It stays within
// +-(2^20 - 1) ("Contents of the mbarrier object").
void add_tx(Launch::MBarrier& b, int64_t bytes, const char* what) {
  b.tx += bytes;
  constexpr int64_t kLimit = (1 << 20) - 1;
  if (b.tx > kLimit || b.tx < -kLimit)
    fault("%s: the mbarrier's tx-count %lld leaves +-(2^20 - 1)", what, static_cast<long long>(b.tx));
}

// A bulk copy completes its bytes on `b` (complete_tx), landing now or, with
// SIMT_CP_ASYNC=wait, when the phase completes: the latest the GPU may land it, so that a
// stage read before its wait shows the poison.
void complete_tx(Launch::MBarrier& b, BulkCopy copy, const char* what) {
  const auto bytes = static_cast<int64_t>(copy.bytes.size());
  ++b.bulk_in_phase;
  if (options().async_completes_at_wait)
    b.bulk.push_back(std::move(copy));
  else
    land(copy);
  add_tx(b, -bytes, what);
  complete_if_done(b);
}

void check_global(const void* src, std::size_t bytes, const char* what) {
  const auto* source = static_cast<const unsigned char*>(src);
  if (source + bytes > g_shared && source < g_shared + kSharedWindow)
    fault("%s: %p is in shared memory, not global", what, src);
}

}  // namespace

void mbarrier_init(uint32_t bar, uint32_t count) {
  std::memset(mbarrier_bytes(bar, "mbarrier.init"), 0, 8);
  if (count == 0 || count > (1u << 20) - 1) fault("mbarrier.init: count %u outside 1..2^20-1", count);
  Launch::MBarrier& b = g_launch->mbarriers[bar];
  if (!b.waiters.empty() || !b.copies.empty() || b.bulk_in_phase > 0)
    fault("mbarrier.init on a barrier in use");
  b.count = b.pending = count;
  b.tx = 0;
  b.phase = 0;
}

void mbarrier_arrive(uint32_t bar) { arrive(mbarrier_at(bar, "mbarrier.arrive"), "mbarrier.arrive"); }

void mbarrier_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  const char* what = "mbarrier.arrive.expect_tx";
  Launch::MBarrier& b = mbarrier_at(bar, what);
  if (bytes > (1u << 20) - 1) fault("%s: %u bytes exceed 2^20 - 1", what, bytes);
  add_tx(b, bytes, what);  // the expect-tx before the arrive-on, as the ISA orders them
  arrive(b, what);
}

bool mbarrier_try_wait_parity(uint32_t bar, uint32_t parity) {
  Launch::MBarrier& b = mbarrier_at(bar, "mbarrier.try_wait");
  while ((b.phase & 1u) == (parity & 1u)) {  // the phase of that parity is still open
    b.waiters.push_back(current_thread->linear);
    run_next();
  }
  return true;
}

void cp_async_mbarrier_arrive(uint32_t bar) {
  Launch::MBarrier& b = mbarrier_at(bar, "cp.async.mbarrier.arrive");
  Thread& t = *current_thread;
  if (options().async_completes_at_wait) {  // else they landed at issue
    b.copies.insert(b.copies.end(), t.open_copies.begin(), t.open_copies.end());
    for (auto& group : t.copy_groups) {
      b.copies.insert(b.copies.end(), group.begin(), group.end());
      group.clear();  // the group stays, empty: wait_group still counts it
    }
  }
  t.open_copies.clear();
  arrive(b, "cp.async.mbarrier.arrive");
}

void cp_async_bulk(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
  const char* what = "cp.async.bulk";
  if (bytes % 16 != 0) fault("%s of %u bytes, not a multiple of 16", what, bytes);
  if (dst % 16 != 0 || reinterpret_cast<std::uintptr_t>(src) % 16 != 0)
    fault("%s addresses (shared %#x, global %p) not 16-byte aligned", what, dst, src);
  check_global(src, bytes, what);
  Launch::MBarrier& b = mbarrier_at(bar, what);
  const auto* source = static_cast<const unsigned char*>(src);
  complete_tx(b, {shared_at(dst, bytes, "cp.async.bulk destination"), {source, source + bytes}, 0}, what);
}

namespace {

// The tensor map at a generic address, as the emulated cuTensorMapEncodeTiled wrote it (on
// the GPU a kernel parameter, constant or global memory, 64-byte aligned).
TensorMap tensor_map_at(const void* address, const char* what) {
  if (!address || reinterpret_cast<std::uintptr_t>(address) % 64 != 0)
    fault("%s: tensor map address %p is not 64-byte aligned", what, address);
  check_global(address, 128, what);
  TensorMap m;
  std::memcpy(&m, address, sizeof m);
  if (m.magic != TensorMap::kMagic)
    fault("%s: %p holds no tensor map made by cuTensorMapEncodeTiled", what, address);
  return m;
}

// The box of `m` at `coords` as box-linear bytes (innermost dimension fastest), elements
// outside [0, dims) zero ("Tensors": tiled mode, bounding box; element strides 1). A row (the
// innermost dimension) at a time, which lies inside or outside in the outer ones as a whole.
std::vector<unsigned char> gather_box(const TensorMap& m, const int32_t* coords) {
  const std::size_t row_bytes = std::size_t{m.box[0]} * m.element_bytes;
  std::size_t rows = 1;
  for (int i = 1; i < m.rank; ++i) rows *= m.box[i];
  std::vector<unsigned char> box(rows * row_bytes, 0);
  const int64_t first = std::max<int64_t>(0, -int64_t{coords[0]});
  const int64_t end = std::min<int64_t>(m.box[0], static_cast<int64_t>(m.dims[0]) - coords[0]);
  for (std::size_t r = 0; r < rows && first < end; ++r) {
    std::size_t rest = r;
    int64_t offset = (coords[0] + first) * m.element_bytes;
    bool inside = true;
    for (int i = 1; i < m.rank; ++i) {
      const int64_t x = int64_t{coords[i]} + static_cast<int64_t>(rest % m.box[i]);
      rest /= m.box[i];
      inside &= x >= 0 && x < static_cast<int64_t>(m.dims[i]);
      offset += x * static_cast<int64_t>(m.strides[i]);
    }
    if (inside)
      std::memcpy(&box[r * row_bytes + first * m.element_bytes], m.address + offset,
                  (end - first) * m.element_bytes);
  }
  return box;
}

}  // namespace

void cp_async_bulk_tensor(uint32_t dst, const void* map, const int32_t* coords, int dims, uint32_t bar) {
  const char* what = "cp.async.bulk.tensor";
  const TensorMap m = tensor_map_at(map, what);
  if (dims != m.rank) fault("%s: a .%dd copy with a tensor map of rank %d", what, dims, m.rank);
  const uint32_t align = m.swizzle_span ? 8u * m.swizzle_span : 128u;
  if (dst % align != 0)
    fault("%s: shared destination %#x is not %u-byte aligned (swizzle span %d)", what, dst, align,
          m.swizzle_span);
  Launch::MBarrier& b = mbarrier_at(bar, what);
  BulkCopy copy{nullptr, gather_box(m, coords), m.swizzle_span};
  copy.dst = shared_at(dst, footprint(copy), "cp.async.bulk.tensor destination");
  complete_tx(b, std::move(copy), what);
}

void named_barrier(uint32_t id, uint32_t threads, bool wait) {
  if (id < 1 || id > 15) fault("bar %u: named barriers here are 1 to 15 (0 is __syncthreads')", id);
  const unsigned block_threads = current_block_dim.x * current_block_dim.y * current_block_dim.z;
  if (threads == 0 || threads % 32 != 0 || threads > block_threads)
    fault("bar %u: %u threads is not a positive multiple of 32 within the block", id, threads);
  Barrier& b = g_launch->named[id];
  if (b.arrived > 0 && b.alive != static_cast<int>(threads))
    fault("bar %u: %u threads expected, %d arrived for %d", id, threads, b.arrived, b.alive);
  b.alive = static_cast<int>(threads);
  if (wait) return b.wait();
  if (++b.arrived == b.alive) release(b);
}

float ex2_approx_ftz(float x) {
  if (std::fpclassify(x) == FP_SUBNORMAL) x = 0.0f;
  const float y = std::exp2(x);
  return std::fpclassify(y) == FP_SUBNORMAL ? 0.0f : y;
}

void setmaxnreg(uint32_t registers) {
  if (registers < 24 || registers > 256 || registers % 8 != 0)
    fault("setmaxnreg %u: expected a multiple of 8 from 24 to 256", registers);
}

void ldmatrix(bool trans, uint32_t address, uint32_t* const* regs, int count) {
  const uint64_t word = address;
  const auto rows = exchange(Collective::kLdmatrix, 0xffffffffu, &word, 1);
  for (int lane = 0; lane < 8 * count; ++lane)
    if (rows[lane][0] % 16 != 0)
      fault("ldmatrix: lane %d gives row address %#llx, not 16-byte aligned", lane,
            static_cast<unsigned long long>(rows[lane][0]));
  const int g = simt::lane() / 4, t = simt::lane() % 4;
  for (int i = 0; i < count; ++i) {
    const uint16_t lo =
        trans ? element_at(rows[8 * i + 2 * t][0], g) : element_at(rows[8 * i + g][0], 2 * t);
    const uint16_t hi = trans ? element_at(rows[8 * i + 2 * t + 1][0], g)
                              : element_at(rows[8 * i + g][0], 2 * t + 1);
    *regs[i] = lo | static_cast<uint32_t>(hi) << 16;
  }
}

uint32_t movmatrix_trans(uint32_t a) {
  const uint64_t word = a;
  const auto lanes = exchange(Collective::kMovmatrix, 0xffffffffu, &word, 1);
  // Element (row, col) of the input: lane 4 row + col / 2, half col % 2.
  const auto element = [&](int row, int col) {
    return static_cast<uint32_t>(lanes[4 * row + col / 2][0] >> (16 * (col % 2))) & 0xffffu;
  };
  const int g = simt::lane() / 4, t = simt::lane() % 4;
  return element(2 * t, g) | element(2 * t + 1, g) << 16;
}

namespace {

// mma.m16n8kK with E elements a 32-bit register (K = 8 E), from the fragment tables: A's
// element (row, k) is in lane 4 (row % 8) + (k % 4E) / E, register (row >= 8) + 2 (k >= 4E);
// B's (k, col) in lane 4 col + (k % 4E) / E, register 4 + (k >= 4E); both at position k % E of
// the register, which `element(word, position)` reads. D = A B + C, summed in Sum.
template <int E, typename Sum, typename Out, typename ElementOf>
void mma_m16n8(Out* d, const uint32_t* a, const uint32_t* b, const Out* c, ElementOf element) {
  const uint64_t words[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
  const auto lanes = exchange(Collective::kMma, 0xffffffffu, words, 6);
  const auto at = [&](int lane, int reg, int k) { return element(lanes[lane][reg], k % E); };
  const auto A = [&](int row, int k) {
    return at(4 * (row % 8) + (k % (4 * E)) / E, (row >= 8 ? 1 : 0) + (k >= 4 * E ? 2 : 0), k);
  };
  const auto B = [&](int k, int col) { return at(4 * col + (k % (4 * E)) / E, 4 + (k >= 4 * E), k); };
  const int g = simt::lane() / 4, t = simt::lane() % 4;
  for (int i = 0; i < 4; ++i) {
    const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
    auto sum = static_cast<Sum>(c[i]);
    for (int k = 0; k < 8 * E; ++k) sum += static_cast<Sum>(A(row, k) * B(k, col));
    d[i] = static_cast<Out>(sum);
  }
}

}  // namespace

void mma_m16n8k16(Element type, float* d, const uint32_t* a, const uint32_t* b, const float* c) {
  mma_m16n8<2, float>(d, a, b, c, [&](uint64_t word, int half) {
    return to_float(type, static_cast<uint16_t>(word >> (16 * half)));
  });
}

void mma_m16n8k32_s8(int32_t* d, const uint32_t* a, const uint32_t* b, const int32_t* c) {
  // Summed in uint32_t: int32 wraps in two's complement, as the GPU's does.
  mma_m16n8<4, uint32_t>(d, a, b, c, [](uint64_t word, int byte) {
    return static_cast<int32_t>(static_cast<int8_t>(word >> (8 * byte)));
  });
}

namespace {

// Byte address in the shared window of element (mn, k) of a wgmma operand in shared memory,
// from its descriptor: the ISA's canonical layouts for the 128-byte swizzle, in bytes and
// 16-bit elements,
//   K-major:  ((8, m), (8, 2k)) : ((128, SBO), (2, 16))
//   MN-major: ((8, 8, m), (8, k)) : ((2, 16, LBO), (128, SBO))
// then Swizzle<3, 4, 3> on the address: bits 4..6 ^= bits 7..9.
uint32_t wgmma_operand_address(uint64_t desc, int mn, int k, bool mn_major) {
  const uint32_t start = static_cast<uint32_t>(desc & 0x3fff) << 4;
  const uint32_t lbo = static_cast<uint32_t>(desc >> 16 & 0x3fff) << 4;
  const uint32_t sbo = static_cast<uint32_t>(desc >> 32 & 0x3fff) << 4;
  const int base_offset = static_cast<int>(desc >> 49 & 7), swizzle = static_cast<int>(desc >> 62);
  if (swizzle != 1) fault("wgmma: descriptor swizzle mode %d (only 1, 128-byte, is emulated)", swizzle);
  if (base_offset != 0) fault("wgmma: descriptor base offset %d (only 0 is emulated)", base_offset);
  const uint32_t offset =
      mn_major ? (mn % 8) * 2 + (mn / 8 % 8) * 16 + (mn / 64) * lbo + (k % 8) * 128 + (k / 8) * sbo
               : (mn % 8) * 128 + (mn / 8) * sbo + (k % 8) * 2 + (k / 8) * 16;
  const uint32_t address = start + offset;
  return address ^ ((address >> 7 & 7) << 4);
}

float wgmma_operand(Element type, uint64_t desc, int mn, int k, bool mn_major) {
  uint16_t bits;
  std::memcpy(&bits, shared_at(wgmma_operand_address(desc, mn, k, mn_major), 2, "wgmma operand"), 2);
  return to_float(type, bits);
}

}  // namespace

namespace {

// The calling thread's part of a wgmma: its two rows of A (g and g + 8 of its warp's 16) and
// its 2 N / 8 columns of B, each read once, then their products.
void compute_wgmma(const PendingWgmma& w) {
  const Element type = w.bf16 ? Element::kBF16 : Element::kF16;
  const int warp_in_group = current_thread->linear / 32 % 4;
  const int g = simt::lane() / 4, t = simt::lane() % 4;
  float a[2][16];
  for (int half = 0; half < 2; ++half)
    for (int k = 0; k < 16; ++k) {
      const int row = g + 8 * half;
      if (w.a_in_registers) {  // element (row, k) as the m16n8k16 A fragment
        const uint32_t reg = w.a[4 * (row % 8) + (k % 8) / 2][half + (k >= 8 ? 2 : 0)];
        a[half][k] = to_float(type, static_cast<uint16_t>(reg >> (16 * (k % 2))));
      } else {
        a[half][k] = wgmma_operand(type, w.a_desc, 16 * warp_in_group + row, k, w.trans_a);
      }
    }
  std::vector<float> b(static_cast<std::size_t>(w.n / 4) * 16);  // [column pair j, c][k]
  for (int j = 0; j < w.n / 8; ++j)
    for (int c = 0; c < 2; ++c)
      for (int k = 0; k < 16; ++k)
        b[(2 * j + c) * 16 + k] = wgmma_operand(type, w.b_desc, 8 * j + 2 * t + c, k, w.trans_b);
  for (int j = 0; j < w.n / 8; ++j)
    for (int i = 0; i < 4; ++i) {
      const float* col = &b[(2 * j + i % 2) * 16];
      float sum = w.scale_d ? *w.d[4 * j + i] : 0.0f;
      for (int k = 0; k < 16; ++k) sum += a[i / 2][k] * col[k];
      *w.d[4 * j + i] = sum;
    }
}

}  // namespace

void wgmma(Element type, int n, float* const* d, const uint32_t* a_regs, uint64_t a_desc,
           uint64_t b_desc, bool scale_d, int trans_a, int trans_b) {
  if (n % 8 != 0 || n < 8 || n > 256) fault("wgmma: N = %d", n);
  if (current_block_dim.x * current_block_dim.y * current_block_dim.z % 128 != 0)
    fault("wgmma in a block of %u threads, not whole warpgroups",
          current_block_dim.x * current_block_dim.y * current_block_dim.z);
  // The warp meets as in any collective; its lanes must agree on the descriptors.
  uint64_t words[7] = {a_desc, b_desc, static_cast<uint64_t>(scale_d), 0, 0, 0, 0};
  if (a_regs)
    for (int r = 0; r < 4; ++r) words[3 + r] = a_regs[r];
  const auto lanes = exchange(Collective::kWgmma, 0xffffffffu, words, 7);
  for (int l = 0; l < 32; ++l)
    if (lanes[l][0] != a_desc || lanes[l][1] != b_desc || lanes[l][2] != words[2])
      fault("wgmma: lanes %d and %d give different descriptors or scale-d", simt::lane(), l);
  PendingWgmma w{type == Element::kBF16, n, std::vector<float*>(d, d + n / 2), a_regs != nullptr,
                 {}, a_desc, b_desc, scale_d, trans_a, trans_b};
  for (int l = 0; l < 32; ++l)
    for (int r = 0; r < 4; ++r) w.a[l][r] = static_cast<uint32_t>(lanes[l][3 + r]);
  if (options().async_completes_at_wait)
    current_thread->open_wgmmas.push_back(std::move(w));
  else
    compute_wgmma(w);
}

void wgmma_commit() { commit_group(current_thread->open_wgmmas, current_thread->wgmma_groups); }

void wgmma_wait(int pending) { retire_groups(current_thread->wgmma_groups, pending, compute_wgmma); }

}  // namespace simt::ptx
