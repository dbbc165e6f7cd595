#include "emulated_session.hpp"

#include <algorithm>
#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/reference_attention.hpp>
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

std::vector<int32_t> prefix_sum(const std::vector<int32_t>& counts) {
  std::vector<int32_t> out{0};
  for (int32_t c : counts) out.push_back(out.back() + c);
  return out;
}

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
      workspace_(plugin.workspace_bytes(problem)) {
  table_.page_size = problem.page_size;
  free_pages_.resize(static_cast<std::size_t>(num_pages));
  std::iota(free_pages_.begin(), free_pages_.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(free_pages_.begin(), free_pages_.end(), rng);
}

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
  for (int32_t page : free_pages_)
    for (std::size_t i = 0; i < page_bytes_; ++i)
      if (pool[page * page_bytes_ + i] != 0xff)
        throw std::runtime_error(std::string(call) + ": page " + std::to_string(page) +
                                 ", owned by no sequence, was written at byte " +
                                 std::to_string(i));
}

void EmulatedSession::append(const std::vector<int32_t>& new_tokens, const std::vector<float>& k,
                             const std::vector<float>& v) {
  const std::size_t row = static_cast<std::size_t>(problem_.num_kv_heads) * problem_.head_dim;
  const std::vector<int32_t> indptr = prefix_sum(new_tokens);
  if (k.size() != indptr.back() * row || v.size() != k.size())
    throw std::invalid_argument("append: k/v size does not match the token counts");
  table_.lengths.resize(new_tokens.size(), 0);
  table_.pages.resize(new_tokens.size());
  k_history_.resize(new_tokens.size());
  v_history_.resize(new_tokens.size());
  for (std::size_t b = 0; b < new_tokens.size(); ++b) {
    table_.lengths[b] += new_tokens[b];
    while (static_cast<int64_t>(table_.pages[b].size()) <
           pages_for(table_.lengths[b], table_.page_size)) {
      if (free_pages_.empty()) throw std::runtime_error("append: page pool exhausted");
      table_.pages[b].push_back(free_pages_.back());
      free_pages_.pop_back();
    }
    k_history_[b].insert(k_history_[b].end(), k.begin() + indptr[b] * row,
                         k.begin() + indptr[b + 1] * row);
    v_history_[b].insert(v_history_[b].end(), v.begin() + indptr[b] * row,
                         v.begin() + indptr[b + 1] * row);
  }
  const CacheView cache(table_, pool_.data(), page_bytes_, num_pages_);
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
  if (q_lens.size() != table_.lengths.size())
    throw std::invalid_argument("attend: one query count per sequence expected");
  const CacheView cache(table_, pool_.data(), page_bytes_, num_pages_);
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
  AttentionShape shape = attention_shape_of(problem_);
  shape.q_indptr = prefix_sum(q_lens);
  shape.kv_indptr = {0};
  std::vector<float> k, v;
  for (std::size_t b = 0; b < k_history_.size(); ++b) {
    k.insert(k.end(), k_history_[b].begin(), k_history_[b].end());
    v.insert(v.end(), v_history_[b].begin(), v_history_[b].end());
    shape.kv_indptr.push_back(shape.kv_indptr.back() + static_cast<int32_t>(table_.lengths[b]));
  }
  return reference_attention(shape, to_double(q), to_double(k), to_double(v));
}

}  // namespace attnbench::emulation
