#include "emulated_session.hpp"

#include <algorithm>
#include <attnbench/core/random_tensor.hpp>
#include <attnbench/numeric.hpp>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <stdexcept>

namespace attnbench::emulation {

GuardedBuffer::GuardedBuffer(std::size_t bytes, uint8_t fill) : bytes_(bytes) {
  const std::size_t total = (2 * kGuard + bytes + 255) / 256 * 256;
  storage_.reset(static_cast<unsigned char*>(std::aligned_alloc(256, total)));
  if (!storage_) throw std::bad_alloc();
  std::memset(storage_.get(), kGuardByte, total);
  std::memset(storage_.get() + kGuard, fill, bytes);
}

std::string GuardedBuffer::guard_damage() const {
  const unsigned char* p = storage_.get();
  for (std::size_t i = 0; i < kGuard; ++i) {
    if (p[i] != kGuardByte)
      return "byte " + std::to_string(static_cast<long>(i) - static_cast<long>(kGuard)) +
             " (before the start) was written";
    if (p[kGuard + bytes_ + i] != kGuardByte)
      return "byte " + std::to_string(bytes_ + i) + " (past the end of " + std::to_string(bytes_) +
             ") was written";
  }
  return "";
}

namespace {

// The ABI view of `table` over the pool; its index arrays live in `arrays` (guarded too).
struct CacheView {
  GuardedBuffer indptr, indices, last;
  AttnbPagedKv view{};
  CacheView(const PageTable& table, void* pool, std::size_t page_bytes, int64_t num_pages)
      : indptr(GuardedBuffer::of(table.indptr())),
        indices(GuardedBuffer::of(table.indices())),
        last(GuardedBuffer::of(table.last_page_len())) {
    view.struct_size = sizeof view;
    view.pages = pool;
    view.page_bytes = page_bytes;
    view.num_pages = num_pages;
    view.batch = table.batch();
    view.page_indptr = view.page_indptr_host = static_cast<const int32_t*>(indptr.data());
    view.page_indices = view.page_indices_host = static_cast<const int32_t*>(indices.data());
    view.last_page_len = view.last_page_len_host = static_cast<const int32_t*>(last.data());
  }
};

}  // namespace

EmulatedSession::EmulatedSession(const LoadedPlugin& plugin, const AttnbProblem& problem,
                                 int64_t num_pages, uint64_t seed)
    : problem_(problem),
      op_(plugin.create(problem)),
      num_pages_(num_pages),
      page_bytes_(plugin.kv_page_bytes(problem)),
      pool_(static_cast<std::size_t>(num_pages) * page_bytes_),
      workspace_(plugin.workspace_bytes(problem)),
      ledger_(problem, num_pages, seed) {}

void EmulatedSession::check_memory(const char* call,
                                   const std::vector<const GuardedBuffer*>& inputs) const {
  const char* names[] = {"page pool", "workspace"};
  const GuardedBuffer* own[] = {&pool_, &workspace_};
  for (int i = 0; i < 2; ++i) {
    const std::string damage = own[i]->guard_damage();
    if (!damage.empty())
      throw std::runtime_error(std::string(call) + ": " + names[i] + ": " + damage);
  }
  for (const GuardedBuffer* b : inputs) {
    const std::string damage = b->guard_damage();
    if (!damage.empty()) throw std::runtime_error(std::string(call) + ": an argument: " + damage);
  }
  const auto* pool = static_cast<const unsigned char*>(pool_.data());
  for (int32_t page : ledger_.free_pages())
    for (std::size_t i = 0; i < page_bytes_; ++i)
      if (pool[page * page_bytes_ + i] != 0xff)
        throw std::runtime_error(std::string(call) + ": page " + std::to_string(page) +
                                 ", owned by no sequence, was written at byte " +
                                 std::to_string(i));
}

void EmulatedSession::append(const std::vector<int32_t>& new_tokens, const std::vector<float>& k,
                             const std::vector<float>& v) {
  const std::vector<int32_t> indptr = ledger_.append(new_tokens, k, v);
  const CacheView cache(ledger_.table(), pool_.data(), page_bytes_, num_pages_);
  const GuardedBuffer k_dev = GuardedBuffer::of(pack_as(k, problem_.dtype));
  const GuardedBuffer v_dev = GuardedBuffer::of(pack_as(v, problem_.dtype));
  const GuardedBuffer indptr_dev = GuardedBuffer::of(indptr);
  AttnbAppendArgs args{};
  args.struct_size = sizeof args;
  args.cache = &cache.view;
  args.k = k_dev.data();
  args.v = v_dev.data();
  args.new_indptr = static_cast<const int32_t*>(indptr_dev.data());
  args.new_indptr_host = indptr.data();
  args.workspace = workspace_.data();
  args.workspace_bytes = workspace_.bytes();
  op_->append_kv(args);
  check_memory("append_kv",
               {&k_dev, &v_dev, &indptr_dev, &cache.indptr, &cache.indices, &cache.last});
}

std::vector<float> EmulatedSession::attend(const std::vector<int32_t>& q_lens,
                                           const std::vector<float>& q, bool decode) {
  const std::vector<int32_t> indptr = prefix_sum(q_lens);
  if (q_lens.size() != ledger_.table().lengths.size())
    throw std::invalid_argument("attend: one query count per sequence expected");
  const CacheView cache(ledger_.table(), pool_.data(), page_bytes_, num_pages_);
  const GuardedBuffer q_dev = GuardedBuffer::of(pack_as(q, problem_.dtype));
  GuardedBuffer o_dev(q.size() * dtype_size(problem_.dtype));  // NaN until written
  const GuardedBuffer indptr_dev = GuardedBuffer::of(indptr);
  AttnbAttendArgs args{};
  args.struct_size = sizeof args;
  args.cache = &cache.view;
  args.q = q_dev.data();
  args.o = o_dev.data();
  args.q_indptr = static_cast<const int32_t*>(indptr_dev.data());
  args.q_indptr_host = indptr.data();
  args.workspace = workspace_.data();
  args.workspace_bytes = workspace_.bytes();
  if (decode)
    op_->decode(args);
  else
    op_->prefill(args);
  check_memory(decode ? "decode" : "prefill",
               {&q_dev, &o_dev, &indptr_dev, &cache.indptr, &cache.indices, &cache.last});
  const auto* bytes = static_cast<const uint8_t*>(o_dev.data());
  return unpack_from(std::vector<uint8_t>(bytes, bytes + o_dev.bytes()), problem_.dtype);
}

std::vector<double> EmulatedSession::reference(const std::vector<int32_t>& q_lens,
                                               const std::vector<float>& q) const {
  return ledger_.reference(q_lens, q);
}

}  // namespace attnbench::emulation
