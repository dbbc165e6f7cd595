// sliding_window against the fp64 reference at the window's edges (W = 1, W = context,
// W > context), a window at or past the context equal to plain causal attention, and the
// point of the variant: pages that fell out of the window are never read (they are filled
// with NaN before the call and the output must not notice). CPU, and CUDA with a GPU.
#include "test_support.hpp"

#include <attnbench/core/buffer.hpp>
#include <attnbench/core/page_table.hpp>
#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/reference_attention.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>

#include <algorithm>
#include <random>

using namespace attnbench;

namespace {

std::vector<int32_t> prefix_sum(const std::vector<int32_t>& counts) {
  std::vector<int32_t> out{0};
  for (int32_t c : counts) out.push_back(out.back() + c);
  return out;
}

struct CallOutcome {
  std::vector<float> got;
  std::vector<double> want;
  int32_t poisoned_pages = 0;
};

// Appends every sequence's tokens into a pool of pages laid out in reverse, optionally fills
// with NaN each page wholly before the first key any of the call's queries may see, runs
// decode (q_lens all 1) or prefill, and returns the output with the reference computed
// under `reference_window` (which may differ from the problem's, to compare two masks).
CallOutcome run_call(const LoadedPlugin& plugin, AttnbProblem p, const std::vector<int32_t>& kv_lens,
                     const std::vector<int32_t>& q_lens, bool decode, bool poison_outside_window,
                     int32_t reference_window) {
  const AttnbDevice dev = static_cast<AttnbDevice>(p.device);
  const int32_t batch = static_cast<int32_t>(kv_lens.size());
  const std::vector<int32_t> kv_indptr = prefix_sum(kv_lens), q_indptr = prefix_sum(q_lens);
  p.max_batch = batch;
  p.max_q_tokens = q_indptr.back();
  p.max_kv_len = *std::max_element(kv_lens.begin(), kv_lens.end());
  const auto op = plugin.create(p);
  const std::size_t page_bytes = plugin.kv_page_bytes(p);

  PageTable table;
  table.page_size = p.page_size;
  int64_t num_pages = 0;
  for (int32_t len : kv_lens) num_pages += pages_for(len, p.page_size);
  int32_t next_page = static_cast<int32_t>(num_pages);
  for (int32_t len : kv_lens) {
    table.lengths.push_back(len);
    table.pages.emplace_back();
    for (int64_t i = 0; i < pages_for(len, p.page_size); ++i) table.pages.back().push_back(--next_page);
  }
  Buffer pool(dev, static_cast<std::size_t>(num_pages) * page_bytes);
  const Buffer workspace(dev, plugin.workspace_bytes(p));
  const PagedKvView cache(table, dev, pool.data(), page_bytes, num_pages);

  std::mt19937_64 rng(std::random_device{}());
  const std::size_t kv_row = static_cast<std::size_t>(p.num_kv_heads) * p.head_dim;
  const std::size_t q_row = static_cast<std::size_t>(p.num_q_heads) * p.head_dim;
  const std::vector<float> k = random_normal(kv_indptr.back() * kv_row, p.dtype, rng);
  const std::vector<float> v = random_normal(kv_indptr.back() * kv_row, p.dtype, rng);
  const std::vector<float> q = random_normal(q_indptr.back() * q_row, p.dtype, rng);

  const Buffer k_dev = Buffer::from_vector(dev, pack_as(k, p.dtype));
  const Buffer v_dev = Buffer::from_vector(dev, pack_as(v, p.dtype));
  const Buffer kv_indptr_dev = Buffer::from_vector(dev, kv_indptr);
  AttnbAppendArgs append{};
  append.struct_size = sizeof append;
  append.cache = &cache.get();
  append.k = k_dev.data();
  append.v = v_dev.data();
  append.new_indptr = static_cast<const int32_t*>(kv_indptr_dev.data());
  append.new_indptr_host = kv_indptr.data();
  append.workspace = workspace.data();
  append.workspace_bytes = workspace.bytes();
  op->append_kv(append);
  synchronize(dev);

  CallOutcome outcome;
  if (poison_outside_window) {
    const std::vector<uint8_t> nan_page(page_bytes, 0xff);
    for (int32_t b = 0; b < batch; ++b) {
      const int64_t first_key = std::max<int64_t>(0, kv_lens[b] - q_lens[b] - p.window + 1);
      for (int64_t i = 0; (i + 1) * p.page_size <= first_key; ++i, ++outcome.poisoned_pages)
        pool.upload(nan_page.data(), page_bytes, static_cast<std::size_t>(table.pages[b][i]) * page_bytes);
    }
  }

  const Buffer q_dev = Buffer::from_vector(dev, pack_as(q, p.dtype));
  Buffer o_dev(dev, q.size() * dtype_size(p.dtype));
  o_dev.fill_bytes(0xff);
  const Buffer q_indptr_dev = Buffer::from_vector(dev, q_indptr);
  AttnbAttendArgs attend{};
  attend.struct_size = sizeof attend;
  attend.cache = &cache.get();
  attend.q = q_dev.data();
  attend.o = o_dev.data();
  attend.q_indptr = static_cast<const int32_t*>(q_indptr_dev.data());
  attend.q_indptr_host = q_indptr.data();
  attend.workspace = workspace.data();
  attend.workspace_bytes = workspace.bytes();
  if (decode)
    op->decode(attend);
  else
    op->prefill(attend);
  synchronize(dev);
  std::vector<uint8_t> bytes(o_dev.bytes());
  o_dev.download(bytes.data(), bytes.size());
  outcome.got = unpack_from(bytes, p.dtype);

  AttentionShape shape;
  shape.num_q_heads = p.num_q_heads;
  shape.num_kv_heads = p.num_kv_heads;
  shape.head_dim = p.head_dim;
  shape.causal = p.causal != 0;
  shape.window = reference_window;
  shape.q_indptr = q_indptr;
  shape.kv_indptr = kv_indptr;
  outcome.want = reference_attention(shape, to_double(q), to_double(k), to_double(v));
  return outcome;
}

class SlidingWindow : public testing::TestWithParam<AttnbDevice> {
 protected:
  void SetUp() override {
    if (GetParam() == ATTNB_DEVICE_CUDA) ATTNB_SKIP_WITHOUT_GPU();
    plugin_ = test::plugin("sliding_window");
    ASSERT_NE(plugin_, nullptr);
  }
  AttnbProblem problem(int32_t q_heads, int32_t kv_heads, int32_t head_dim, int32_t window,
                       int32_t dtype = ATTNB_DTYPE_F16) const {
    return make_problem(GetParam(), dtype, q_heads, kv_heads, head_dim, true, window, 1, 1, 1);
  }
  std::shared_ptr<LoadedPlugin> plugin_;
};

// The context is 37 tokens: W = 1 sees only the token itself, W = 37 exactly the context,
// W = 38 and 1000 more than there is.
TEST_P(SlidingWindow, EdgeWindowsMatchTheReference) {
  const std::vector<ValidationCase> cases = {
      {"prefill prompt of 37", false, {37}, {37}},
      {"prefill chunk ending at 37", false, {37, 5}, {12, 5}},
      {"decode at 37, ragged", true, {37, 1, 16, 17}, {1, 1, 1, 1}},
  };
  const struct { int32_t q, kv, d; } shapes[] = {{8, 8, 64}, {8, 2, 128}, {8, 1, 64}};
  uint64_t seed = std::random_device{}();
  for (int32_t window : {1, 37, 38, 1000})
    for (const auto& s : shapes)
      for (const ValidationCase& c : cases) {
        const CaseOutcome out = run_case(*plugin_, problem(s.q, s.kv, s.d, window), c, ++seed);
        EXPECT_TRUE(out.passed()) << "W " << window << " heads " << s.q << "/" << s.kv << " D " << s.d
                                  << " " << c.name << ": " << out.error << " max_abs "
                                  << out.comparison.max_abs_error << " seed " << seed;
      }
}

TEST_P(SlidingWindow, WindowAtOrPastTheContextIsFullCausal) {
  const Tolerance tol = tolerance_for(ATTNB_DTYPE_F16);
  for (int32_t window : {37, 38, 1000}) {
    const CallOutcome prefill =
        run_call(*plugin_, problem(8, 2, 64, window), {37}, {37}, false, false, /*reference_window=*/0);
    const Comparison c = compare(prefill.got, prefill.want, tol);
    EXPECT_TRUE(c.passed()) << "prefill W " << window << " max_abs " << c.max_abs_error;
    const CallOutcome decode =
        run_call(*plugin_, problem(8, 2, 64, window), {37, 20}, {1, 1}, true, false, 0);
    const Comparison d = compare(decode.got, decode.want, tol);
    EXPECT_TRUE(d.passed()) << "decode W " << window << " max_abs " << d.max_abs_error;
  }
}

// Pages wholly before the window hold NaN: if a kernel read them (even with zero weight),
// NaN would reach the output.
TEST_P(SlidingWindow, PagesOutsideTheWindowAreNeverRead) {
  const int32_t window = 20;
  for (int32_t head_dim : {64, 128}) {
    const AttnbProblem p = problem(8, 2, head_dim, window);
    const CallOutcome decode = run_call(*plugin_, p, {100, 37, 5}, {1, 1, 1}, true, true, window);
    EXPECT_EQ(decode.poisoned_pages, 6);  // 5 of the 100-token sequence, 1 of the 37
    const Comparison d = compare(decode.got, decode.want, tolerance_for(p.dtype));
    EXPECT_TRUE(d.passed()) << "decode D " << head_dim << " max_abs " << d.max_abs_error
                            << " violations " << d.violations;
    // A chunked prefill: the chunk's first query (position 93) needs nothing before 74.
    const CallOutcome prefill = run_call(*plugin_, p, {100, 37, 5}, {7, 1, 5}, false, true, window);
    EXPECT_EQ(prefill.poisoned_pages, 5);
    const Comparison c = compare(prefill.got, prefill.want, tolerance_for(p.dtype));
    EXPECT_TRUE(c.passed()) << "prefill D " << head_dim << " max_abs " << c.max_abs_error
                            << " violations " << c.violations;
  }
}

// A window longer than the CUDA decode's split length, so the window's keys are spread
// over several blocks that must all start inside it.
TEST_P(SlidingWindow, LongContextDecodeWithAWideWindow) {
  const int32_t window = 700;
  const AttnbProblem p = problem(8, 2, 128, window, ATTNB_DTYPE_BF16);
  const CallOutcome decode = run_call(*plugin_, p, {1500, 650, 3}, {1, 1, 1}, true, true, window);
  EXPECT_EQ(decode.poisoned_pages, 50);  // keys 0..799 of the 1500-token sequence
  const Comparison d = compare(decode.got, decode.want, tolerance_for(p.dtype));
  EXPECT_TRUE(d.passed()) << "max_abs " << d.max_abs_error << " violations " << d.violations;
}

INSTANTIATE_TEST_SUITE_P(Devices, SlidingWindow, testing::Values(ATTNB_DEVICE_CPU, ATTNB_DEVICE_CUDA),
                         [](const testing::TestParamInfo<AttnbDevice>& info) {
                           return std::string(device_name(info.param));
                         });

}  // namespace
