#include <attnbench/core/bench_workload.hpp>

#include <attnbench/core/cuda_check.hpp>
#include <attnbench/core/reference_attention.hpp>
#include <attnbench/core/random_tensor.hpp>
#include <attnbench/numeric.hpp>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

namespace attnbench {

namespace {

// Where in the random block each tensor starts, so no two tensors hold the same values.
enum Salt : std::size_t { kSaltQ = 0, kSaltK = 211, kSaltV = 433, kSaltTemplateK = 659, kSaltTemplateV = 877 };

// The decode context is tiled from this many pages written by the plugin itself.
constexpr int32_t kTemplatePages = 8;

std::vector<int32_t> indptr_of(int32_t batch, int32_t per_sequence) {
  std::vector<int32_t> out(static_cast<std::size_t>(batch) + 1);
  for (int32_t b = 0; b <= batch; ++b) out[b] = b * per_sequence;
  return out;
}

// The case's sequences, each holding its first pages_for(length) pages.
PageTable table_of(const std::vector<std::vector<int32_t>>& pages, int32_t page_size, int64_t length) {
  PageTable t;
  t.page_size = page_size;
  for (const auto& p : pages) {
    t.pages.emplace_back(p.begin(), p.begin() + pages_for(length, page_size));
    t.lengths.push_back(length);
  }
  return t;
}

// Bytes a PagedKvView of `batch` sequences over `pages` pages puts on the device.
std::size_t view_bytes(int64_t batch, int64_t pages) {
  return static_cast<std::size_t>((batch + 1) + pages + batch) * sizeof(int32_t);
}

// The lengths every call of a sample sees: the prompt (then each step of a generate), or the
// decode context.
std::vector<int64_t> call_lengths(const BenchCase& c) {
  if (c.phase == Phase::decode) return {c.context};
  std::vector<int64_t> lengths{c.context};
  if (c.phase == Phase::generate)
    for (int32_t i = 1; i <= c.steps; ++i) lengths.push_back(c.context + i);
  return lengths;
}

int32_t template_pages_for(const BenchCase& c) {
  if (c.phase != Phase::decode || c.context < 2) return 0;
  return std::max(1, std::min<int32_t>(kTemplatePages, c.context / c.page_size));
}

int64_t template_tokens_for(const BenchCase& c) {
  return std::min<int64_t>(static_cast<int64_t>(template_pages_for(c)) * c.page_size, c.context);
}

void copy_within(Buffer& b, std::size_t from, std::size_t to, std::size_t bytes) {
  char* base = static_cast<char*>(b.data());
#ifdef ATTNB_WITH_CUDA
  if (b.device() == ATTNB_DEVICE_CUDA) {
    ATTNB_CUDA_CHECK(cudaMemcpy(base + to, base + from, bytes, cudaMemcpyDeviceToDevice));
    return;
  }
#endif
  std::memcpy(base + to, base + from, bytes);
}

}  // namespace

std::size_t BenchWorkload::planned_bytes(const LoadedPlugin& plugin, const BenchCase& c) {
  const AttnbProblem p = problem_for(c);
  const std::size_t elem = dtype_size(c.dtype);
  const std::size_t q_tokens = static_cast<std::size_t>(p.max_q_tokens);
  const int64_t pages = static_cast<int64_t>(c.batch) * pages_for(c.max_len(), c.page_size);
  std::size_t bytes = static_cast<std::size_t>(pages) * plugin.kv_page_bytes(p) + plugin.workspace_bytes(p);
  bytes += 2 * q_tokens * p.num_q_heads * p.head_dim * elem;   // q, o
  bytes += 2 * q_tokens * p.num_kv_heads * p.head_dim * elem;  // new k, v
  bytes += 2 * (static_cast<std::size_t>(c.batch) + 1) * sizeof(int32_t);  // the two indptrs
  for (int64_t length : call_lengths(c)) bytes += view_bytes(c.batch, c.batch * pages_for(length, c.page_size));
  if (const int32_t tp = template_pages_for(c)) {
    bytes += 2 * static_cast<std::size_t>(template_tokens_for(c)) * p.num_kv_heads * p.head_dim * elem;
    bytes += view_bytes(1, tp) + 2 * sizeof(int32_t);  // the largest page table while filling
  }
  return bytes;
}

BenchWorkload::BenchWorkload(const LoadedPlugin& plugin, const BenchCase& c, uint64_t seed)
    : c_(c), problem_(problem_for(c)), source_(shared_random_source(c.dtype, seed)), op_(plugin.create(problem_)),
      page_bytes_(plugin.kv_page_bytes(problem_)),
      num_pages_(static_cast<int64_t>(c.batch) * pages_for(c.max_len(), c.page_size)),
      pool_(device(), static_cast<std::size_t>(num_pages_) * page_bytes_),
      workspace_(device(), plugin.workspace_bytes(problem_)) {
  for (const auto& [name, value] : c.tunables) op_->set_tunable(name, value);

  const std::size_t elem = dtype_size(c.dtype);
  const std::size_t q_tokens = static_cast<std::size_t>(problem_.max_q_tokens);
  const std::size_t q_row = static_cast<std::size_t>(problem_.num_q_heads) * problem_.head_dim;
  const std::size_t kv_row = static_cast<std::size_t>(problem_.num_kv_heads) * problem_.head_dim;
  q_ = Buffer(device(), q_tokens * q_row * elem);
  o_ = Buffer(device(), q_tokens * q_row * elem);
  k_ = Buffer(device(), q_tokens * kv_row * elem);
  v_ = Buffer(device(), q_tokens * kv_row * elem);
  source_.fill(q_, q_tokens * q_row, kSaltQ);
  source_.fill(k_, q_tokens * kv_row, kSaltK);
  source_.fill(v_, q_tokens * kv_row, kSaltV);

  prompt_indptr_ = indptr_of(c.batch, c.context);
  step_indptr_ = indptr_of(c.batch, 1);
  prompt_indptr_dev_ = Buffer::from_vector(device(), prompt_indptr_);
  step_indptr_dev_ = Buffer::from_vector(device(), step_indptr_);

  // Pages in order, or scattered over the pool as they would be after a server's churn.
  std::vector<int32_t> order(static_cast<std::size_t>(num_pages_));
  std::iota(order.begin(), order.end(), 0);
  if (c.shuffled_pages) {
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
  }
  const int64_t per_sequence = pages_for(c.max_len(), c.page_size);
  for (int32_t b = 0; b < c.batch; ++b)
    pages_.emplace_back(order.begin() + b * per_sequence, order.begin() + (b + 1) * per_sequence);
  for (int64_t length : call_lengths(c))
    views_.push_back(std::make_unique<PagedKvView>(table_of(pages_, c.page_size, length), device(),
                                                   pool_.data(), page_bytes_, num_pages_));
  if (template_pages_for(c) > 0) fill_decode_context();
  synchronize(device());
}

// The plugin writes a few template pages itself (its format is its own), which are then
// copied over the whole pool: page p holds template page p % template_pages. Pages are
// self-contained in the ABI, so every copy is a valid page of the plugin's format.
void BenchWorkload::fill_decode_context() {
  template_pages_ = template_pages_for(c_);
  const int64_t tokens = template_tokens_for(c_);
  const std::size_t elem = dtype_size(c_.dtype);
  const std::size_t kv_row = static_cast<std::size_t>(problem_.num_kv_heads) * problem_.head_dim;
  template_k_ = Buffer(device(), static_cast<std::size_t>(tokens) * kv_row * elem);
  template_v_ = Buffer(device(), static_cast<std::size_t>(tokens) * kv_row * elem);
  source_.fill(template_k_, static_cast<std::size_t>(tokens) * kv_row, kSaltTemplateK);
  source_.fill(template_v_, static_cast<std::size_t>(tokens) * kv_row, kSaltTemplateV);

  std::vector<int32_t> template_pages(static_cast<std::size_t>(template_pages_));
  std::iota(template_pages.begin(), template_pages.end(), 0);
  for (int64_t done = 0; done < tokens;) {
    const int32_t n = static_cast<int32_t>(std::min<int64_t>(c_.batch, tokens - done));  // max_q_tokens
    const PagedKvView view(table_of({template_pages}, c_.page_size, done + n), device(), pool_.data(),
                           page_bytes_, num_pages_);
    const std::vector<int32_t> indptr{0, n};
    const Buffer indptr_dev = Buffer::from_vector(device(), indptr);
    const std::size_t offset = static_cast<std::size_t>(done) * kv_row * elem;
    op_->append_kv(append_args(view, static_cast<const char*>(template_k_.data()) + offset,
                               static_cast<const char*>(template_v_.data()) + offset, indptr_dev, indptr));
    synchronize(device());
    done += n;
  }
  for (int64_t filled = template_pages_; filled < num_pages_;) {
    const int64_t n = std::min(filled, num_pages_ - filled);
    copy_within(pool_, 0, static_cast<std::size_t>(filled) * page_bytes_, static_cast<std::size_t>(n) * page_bytes_);
    filled += n;
  }
}

AttnbAppendArgs BenchWorkload::append_args(const PagedKvView& view, const void* k, const void* v,
                                           const Buffer& indptr_dev, const std::vector<int32_t>& indptr) const {
  AttnbAppendArgs a{};
  a.struct_size = sizeof a;
  a.cache = &view.get();
  a.k = k;
  a.v = v;
  a.new_indptr = static_cast<const int32_t*>(indptr_dev.data());
  a.new_indptr_host = indptr.data();
  a.workspace = workspace_.data();
  a.workspace_bytes = workspace_.bytes();
  return a;
}

// Prefill: every prompt row of k_, v_ and q_. A decode step: their first `batch` rows, one
// new token per sequence.
void BenchWorkload::call(const PagedKvView& view, bool decode) {
  const std::vector<int32_t>& indptr = decode ? step_indptr_ : prompt_indptr_;
  const Buffer& indptr_dev = decode ? step_indptr_dev_ : prompt_indptr_dev_;
  op_->append_kv(append_args(view, k_.data(), v_.data(), indptr_dev, indptr));
  AttnbAttendArgs q{};
  q.struct_size = sizeof q;
  q.cache = &view.get();
  q.q = q_.data();
  q.o = o_.data();
  q.q_indptr = static_cast<const int32_t*>(indptr_dev.data());
  q.q_indptr_host = indptr.data();
  q.workspace = workspace_.data();
  q.workspace_bytes = workspace_.bytes();
  if (decode)
    op_->decode(q);
  else
    op_->prefill(q);
}

Sample BenchWorkload::run(DeviceTimer& timer) {
  if (c_.phase == Phase::decode) return {timer.time([&] { call(*views_[0], true); })};
  Sample sample{timer.time([&] { call(*views_[0], false); })};
  for (std::size_t i = 1; i < views_.size(); ++i) sample.push_back(timer.time([&] { call(*views_[i], true); }));
  return sample;
}

float BenchWorkload::cached_value(bool is_v, int64_t t, int32_t e) const {
  const std::size_t kv_row = static_cast<std::size_t>(problem_.num_kv_heads) * problem_.head_dim;
  const std::size_t salt = is_v ? kSaltV : kSaltK;
  int64_t row = t;  // prefill: sequence 0's prompt rows come first
  if (c_.phase == Phase::decode) {
    if (t == c_.context - 1) return source_.value(static_cast<std::size_t>(e), salt);
    const int32_t page = pages_[0][static_cast<std::size_t>(t / c_.page_size)];
    const int64_t token = static_cast<int64_t>(page % template_pages_) * c_.page_size + t % c_.page_size;
    return source_.value(static_cast<std::size_t>(token) * kv_row + e, is_v ? kSaltTemplateV : kSaltTemplateK);
  }
  if (c_.phase == Phase::generate && t >= c_.context) row = 0;  // every step appends row 0
  return source_.value(static_cast<std::size_t>(row) * kv_row + e, salt);
}

Comparison BenchWorkload::check(Tolerance tolerance) {
  for (std::size_t i = 0; i < views_.size(); ++i) call(*views_[i], c_.phase == Phase::decode || i > 0);
  synchronize(device());

  const int32_t hq = problem_.num_q_heads, d = problem_.head_dim;
  const int32_t group = hq / problem_.num_kv_heads;
  const int64_t kv_len = c_.max_len();
  // The last call's query of sequence 0: its last prompt token, or its one decode token.
  const std::size_t row = c_.phase == Phase::prefill ? static_cast<std::size_t>(c_.context - 1) : 0;
  const std::size_t elem = dtype_size(c_.dtype);
  std::vector<uint8_t> bytes(static_cast<std::size_t>(group) * d * elem);
  o_.download(bytes.data(), bytes.size(), row * hq * d * elem);
  const std::vector<float> got = unpack_from(bytes, c_.dtype);

  std::vector<double> q(static_cast<std::size_t>(group) * d), k, v;
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = source_.value(row * hq * d + i, kSaltQ);
  for (int64_t t = 0; t < kv_len; ++t)
    for (int32_t e = 0; e < d; ++e) {
      k.push_back(cached_value(false, t, e));
      v.push_back(cached_value(true, t, e));
    }
  AttentionShape shape;
  shape.num_q_heads = group;
  shape.num_kv_heads = 1;
  shape.head_dim = d;
  shape.causal = true;
  shape.window = problem_.window;
  shape.q_indptr = {0, 1};
  shape.kv_indptr = {0, static_cast<int32_t>(kv_len)};
  return compare(got, reference_attention(shape, q, k, v), tolerance);
}

}  // namespace attnbench
