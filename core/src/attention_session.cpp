#include <attnbench/core/attention_session.hpp>

#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/reference_attention.hpp>
#include <attnbench/numeric.hpp>

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace attnbench {

namespace {
std::vector<int32_t> prefix_sum(const std::vector<int32_t>& counts) {
  std::vector<int32_t> out{0};
  for (int32_t c : counts) out.push_back(out.back() + c);
  return out;
}
}  // namespace

AttentionSession::AttentionSession(const LoadedPlugin& plugin, const AttnbProblem& problem,
                                   int64_t num_pages, uint64_t seed)
    : problem_(problem), op_(plugin.create(problem)), num_pages_(num_pages),
      page_bytes_(plugin.kv_page_bytes(problem)),
      pool_(device(), static_cast<std::size_t>(num_pages) * page_bytes_),
      workspace_(device(), plugin.workspace_bytes(problem)) {
  table_.page_size = problem.page_size;
  free_pages_.resize(static_cast<std::size_t>(num_pages));
  std::iota(free_pages_.begin(), free_pages_.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(free_pages_.begin(), free_pages_.end(), rng);
  // Garbage, not zeros, in pages the plugin has not written: reading them must show.
  pool_.fill_bytes(0x7b);
}

void AttentionSession::append(const std::vector<int32_t>& new_tokens, const std::vector<float>& k,
                              const std::vector<float>& v) {
  const std::size_t row = static_cast<std::size_t>(problem_.num_kv_heads) * problem_.head_dim;
  const std::vector<int32_t> indptr = prefix_sum(new_tokens);
  if (k.size() != indptr.back() * row || v.size() != k.size())
    throw std::invalid_argument("append: k/v size does not match the token counts");
  if (new_tokens.size() < table_.lengths.size())
    throw std::invalid_argument("append: fewer sequences than the batch already has");
  table_.lengths.resize(new_tokens.size(), 0);
  table_.pages.resize(new_tokens.size());
  k_history_.resize(new_tokens.size());
  v_history_.resize(new_tokens.size());
  for (std::size_t b = 0; b < new_tokens.size(); ++b) {
    table_.lengths[b] += new_tokens[b];
    while (static_cast<int64_t>(table_.pages[b].size()) < pages_for(table_.lengths[b], table_.page_size)) {
      if (free_pages_.empty()) throw std::runtime_error("append: page pool exhausted");
      table_.pages[b].push_back(free_pages_.back());
      free_pages_.pop_back();
    }
    k_history_[b].insert(k_history_[b].end(), k.begin() + indptr[b] * row, k.begin() + indptr[b + 1] * row);
    v_history_[b].insert(v_history_[b].end(), v.begin() + indptr[b] * row, v.begin() + indptr[b + 1] * row);
  }
  const PagedKvView cache(table_, device(), pool_.data(), page_bytes_, num_pages_);
  const Buffer k_dev = Buffer::from_vector(device(), pack_as(k, problem_.dtype));
  const Buffer v_dev = Buffer::from_vector(device(), pack_as(v, problem_.dtype));
  const Buffer indptr_dev = Buffer::from_vector(device(), indptr);
  AttnbAppendArgs args{};
  args.struct_size = sizeof args;
  args.cache = &cache.get();
  args.k = k_dev.data();
  args.v = v_dev.data();
  args.new_indptr = static_cast<const int32_t*>(indptr_dev.data());
  args.new_indptr_host = indptr.data();
  args.workspace = workspace_.data();
  args.workspace_bytes = workspace_.bytes();
  op_->append_kv(args);
  synchronize(device());
}

std::vector<float> AttentionSession::attend(const std::vector<int32_t>& q_lens,
                                            const std::vector<float>& q, bool decode) {
  const std::size_t row = static_cast<std::size_t>(problem_.num_q_heads) * problem_.head_dim;
  const std::vector<int32_t> indptr = prefix_sum(q_lens);
  if (q_lens.size() != table_.lengths.size())
    throw std::invalid_argument("attend: one query count per sequence expected");
  if (q.size() != indptr.back() * row) throw std::invalid_argument("attend: q size mismatch");
  const PagedKvView cache(table_, device(), pool_.data(), page_bytes_, num_pages_);
  const Buffer q_dev = Buffer::from_vector(device(), pack_as(q, problem_.dtype));
  Buffer o_dev(device(), q.size() * dtype_size(problem_.dtype));
  o_dev.fill_bytes(0xff);  // NaN poison: an element the plugin does not write fails the check
  const Buffer indptr_dev = Buffer::from_vector(device(), indptr);
  AttnbAttendArgs args{};
  args.struct_size = sizeof args;
  args.cache = &cache.get();
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
  synchronize(device());
  std::vector<uint8_t> bytes(o_dev.bytes());
  o_dev.download(bytes.data(), bytes.size());
  return unpack_from(bytes, problem_.dtype);
}

std::vector<float> AttentionSession::prefill(const std::vector<int32_t>& q_lens,
                                             const std::vector<float>& q) {
  return attend(q_lens, q, false);
}

std::vector<float> AttentionSession::decode(const std::vector<float>& q) {
  return attend(std::vector<int32_t>(table_.lengths.size(), 1), q, true);
}

std::vector<double> AttentionSession::reference(const std::vector<int32_t>& q_lens,
                                                const std::vector<float>& q) const {
  AttentionShape shape = attention_shape_of(problem_);
  shape.q_indptr = prefix_sum(q_lens);
  std::vector<double> k, v;
  shape.kv_indptr = {0};
  for (std::size_t b = 0; b < k_history_.size(); ++b) {
    k.insert(k.end(), k_history_[b].begin(), k_history_[b].end());
    v.insert(v.end(), v_history_[b].begin(), v_history_[b].end());
    shape.kv_indptr.push_back(shape.kv_indptr.back() + static_cast<int32_t>(table_.lengths[b]));
  }
  return reference_attention(shape, to_double(q), k, v);
}

}  // namespace attnbench
