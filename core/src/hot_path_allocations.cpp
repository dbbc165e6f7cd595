#include <attnbench/core/hot_path_allocations.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdlib>

#if defined(__GLIBC__)
#include <dlfcn.h>
#include <malloc.h>
#endif

namespace attnbench {

namespace {

// Plain zero-initialized thread-locals with the initial-exec model: reading them from
// inside malloc never allocates (no lazy TLS block, no constructor guard).
#define ATTNB_TLS __attribute__((tls_model("initial-exec"))) thread_local
ATTNB_TLS int open_kind = -1;  // the HotPathKind of the call open on this thread, or -1
ATTNB_TLS uint64_t calls[3];
ATTNB_TLS uint64_t allocations[3];
#undef ATTNB_TLS

}  // namespace

HotPathCall::HotPathCall(HotPathKind kind) noexcept : previous_(open_kind) {
  open_kind = static_cast<int>(kind);
  ++calls[open_kind];
}

HotPathCall::~HotPathCall() { open_kind = previous_; }

HotPathAllocations hot_path_allocations() {
  HotPathAllocations totals;
  for (int i = 0; i < 3; ++i) {
    totals.calls[i] = calls[i];
    totals.allocations[i] = allocations[i];
  }
  return totals;
}

static inline void note_allocation() {
  if (open_kind >= 0) ++allocations[open_kind];
}

}  // namespace attnbench

#if defined(__GLIBC__)
// The counting allocator: the same glibc allocator underneath (free() needs no wrapper),
// with a count on the way in. Defined in the executable, these win over libc's for every
// library the process loads, plugins included.
extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);

void* malloc(std::size_t size) noexcept {
  attnbench::note_allocation();
  return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) noexcept {
  attnbench::note_allocation();
  return __libc_calloc(count, size);
}
void* realloc(void* p, std::size_t size) noexcept {
  attnbench::note_allocation();
  return __libc_realloc(p, size);
}
void* memalign(std::size_t alignment, std::size_t size) noexcept {
  attnbench::note_allocation();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  attnbench::note_allocation();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  attnbench::note_allocation();
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = __libc_memalign(alignment, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}  // extern "C"

bool attnbench::hot_path_allocations_counted() {
  // A plugin's malloc binds to the first definition in the global scope: ours only when the
  // executable exports it (it does when linked against libstdc++ / libc as shared objects).
  return dlsym(RTLD_DEFAULT, "malloc") == reinterpret_cast<void*>(&malloc);
}
#else
bool attnbench::hot_path_allocations_counted() { return false; }
#endif
