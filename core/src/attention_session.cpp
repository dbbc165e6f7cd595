#include <attnbench/core/attention_session.hpp>

#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/reference_attention.hpp>
#include <attnbench/numeric.hpp>

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace attnbench {

AttentionSession::AttentionSession(const LoadedPlugin& plugin, const AttnbProblem& problem,
                                   int64_t num_pages, uint64_t seed)
    : problem_(problem), op_(plugin.create(problem)), num_pages_(num_pages),
      page_bytes_(plugin.kv_page_bytes(problem)),
      pool_(device(), static_cast<std::size_t>(num_pages) * page_bytes_),
      workspace_(device(), plugin.workspace_bytes(problem)), ledger_(problem, num_pages, seed) {
  // Garbage, not zeros, in pages the plugin has not written: reading them must show.
  pool_.fill_bytes(0x7b);
}

void AttentionSession::append(const std::vector<int32_t>& new_tokens, const std::vector<float>& k,
                              const std::vector<float>& v) {
  const std::vector<int32_t> indptr = ledger_.append(new_tokens, k, v);
  const PagedKvView cache(ledger_.table(), device(), pool_.data(), page_bytes_, num_pages_);
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
  if (q_lens.size() != ledger_.table().lengths.size())
    throw std::invalid_argument("attend: one query count per sequence expected");
  if (q.size() != indptr.back() * row) throw std::invalid_argument("attend: q size mismatch");
  const PagedKvView cache(ledger_.table(), device(), pool_.data(), page_bytes_, num_pages_);
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
  return attend(std::vector<int32_t>(ledger_.table().lengths.size(), 1), q, true);
}

std::vector<double> AttentionSession::reference(const std::vector<int32_t>& q_lens,
                                                const std::vector<float>& q) const {
  return ledger_.reference(q_lens, q);
}

}  // namespace attnbench
