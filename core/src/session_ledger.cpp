#include <attnbench/core/session_ledger.hpp>

#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/reference_attention.hpp>

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

namespace attnbench {

std::vector<int32_t> prefix_sum(const std::vector<int32_t>& counts) {
  std::vector<int32_t> out{0};
  for (int32_t c : counts) out.push_back(out.back() + c);
  return out;
}

SessionLedger::SessionLedger(const AttnbProblem& problem, int64_t num_pages, uint64_t seed)
    : problem_(problem), num_pages_(num_pages) {
  table_.page_size = problem.page_size;
  free_pages_.resize(static_cast<std::size_t>(num_pages));
  std::iota(free_pages_.begin(), free_pages_.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(free_pages_.begin(), free_pages_.end(), rng);
}

std::vector<int32_t> SessionLedger::append(const std::vector<int32_t>& new_tokens,
                                           const std::vector<float>& k, const std::vector<float>& v) {
  const std::size_t row = static_cast<std::size_t>(problem_.num_kv_heads) * problem_.head_dim;
  std::vector<int32_t> indptr = prefix_sum(new_tokens);
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
  return indptr;
}

std::vector<double> SessionLedger::reference(const std::vector<int32_t>& q_lens,
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

}  // namespace attnbench
