// sliding_window against the fp64 reference at the window's edges (W = 1, W = context,
// W > context), a window at or past the context equal to plain causal attention, and the
// point of the variant: keys that fell out of the window (and so the pages that hold only
// such keys) are never read: they are NaN, and the output must not notice. CPU, and CUDA
// with a GPU.
#include "test_support.hpp"

#include <attnbench/core/attention_session.hpp>
#include <attnbench/core/page_table.hpp>
#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/reference_attention.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>

#include <algorithm>
#include <limits>
#include <random>

using namespace attnbench;

namespace {

struct CallOutcome {
  std::vector<float> got;
  std::vector<double> want;  // the fp64 reference under the problem's window
  int64_t poisoned_tokens = 0;
};

// Appends every sequence's tokens, those before the first key any of the call's queries may
// see set to NaN (the reference never looks at them), then runs decode (q_lens all 1) or a
// prefill of the last q_lens tokens.
CallOutcome run_poisoned(const LoadedPlugin& plugin, AttnbProblem p, const std::vector<int32_t>& kv_lens,
                         const std::vector<int32_t>& q_lens, bool decode) {
  p.max_batch = static_cast<int32_t>(kv_lens.size());
  p.max_q_tokens = 0;
  p.max_kv_len = *std::max_element(kv_lens.begin(), kv_lens.end());
  int64_t pages = 0, tokens = 0;
  for (std::size_t b = 0; b < kv_lens.size(); ++b) {
    p.max_q_tokens += q_lens[b];
    pages += pages_for(kv_lens[b], p.page_size);
    tokens += kv_lens[b];
  }
  const uint64_t seed = std::random_device{}();
  AttentionSession session(plugin, p, pages + 1, seed);
  std::mt19937_64 rng(seed);
  const std::size_t kv_row = static_cast<std::size_t>(p.num_kv_heads) * p.head_dim;
  std::vector<float> k = random_normal(tokens * kv_row, p.dtype, rng);
  std::vector<float> v = random_normal(tokens * kv_row, p.dtype, rng);
  CallOutcome outcome;
  std::size_t row = 0;
  for (std::size_t b = 0; b < kv_lens.size(); row += kv_lens[b] * kv_row, ++b) {
    const int64_t first_key = p.window > 0 ? std::max<int64_t>(0, kv_lens[b] - q_lens[b] - p.window + 1) : 0;
    std::fill_n(k.begin() + row, first_key * kv_row, std::numeric_limits<float>::quiet_NaN());
    std::fill_n(v.begin() + row, first_key * kv_row, std::numeric_limits<float>::quiet_NaN());
    outcome.poisoned_tokens += first_key;
  }
  session.append(kv_lens, k, v);
  const std::vector<float> q = random_normal(p.max_q_tokens * p.num_q_heads * p.head_dim, p.dtype, rng);
  outcome.got = decode ? session.decode(q) : session.prefill(q_lens, q);
  outcome.want = session.reference(q_lens, q);
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
    // Bounds the calls below stay within (workspace is sized from them).
    return make_problem(GetParam(), dtype, q_heads, kv_heads, head_dim, true, window, 8, 4096, 4096);
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

// The same inputs through the reference without a window: nothing may change.
TEST_P(SlidingWindow, WindowAtOrPastTheContextIsFullCausal) {
  const int32_t context = 37;
  for (int32_t window : {context, context + 1, 1000}) {
    const AttnbProblem p = problem(8, 2, 64, window);
    AttentionSession session(*plugin_, p, 4, std::random_device{}());
    std::mt19937_64 rng(std::random_device{}());
    const std::size_t kv = static_cast<std::size_t>(context) * 2 * 64, q_size = context * 8 * 64;
    const std::vector<float> k = random_normal(kv, p.dtype, rng), v = random_normal(kv, p.dtype, rng);
    const std::vector<float> q = random_normal(q_size, p.dtype, rng);
    session.append({context}, k, v);
    AttentionShape causal;
    causal.num_q_heads = 8;
    causal.num_kv_heads = 2;
    causal.head_dim = 64;
    causal.q_indptr = causal.kv_indptr = {0, context};
    const std::vector<double> want = reference_attention(causal, to_double(q), to_double(k), to_double(v));
    const Comparison c = compare(session.prefill({context}, q), want, tolerance_for(p.dtype));
    EXPECT_TRUE(c.passed()) << "prefill W " << window << " max_abs " << c.max_abs_error;
    // Decode at the last position is the last query row of the prefill.
    const std::vector<float> last(q.end() - 8 * 64, q.end());
    const std::vector<double> want_last(want.end() - 8 * 64, want.end());
    const Comparison d = compare(session.decode(last), want_last, tolerance_for(p.dtype));
    EXPECT_TRUE(d.passed()) << "decode W " << window << " max_abs " << d.max_abs_error;
  }
}

// Keys before the window hold NaN: a kernel that read them (even with zero weight) would
// put NaN in the output. That covers the pages holding only such keys, and the start of the
// first page the window reaches into.
TEST_P(SlidingWindow, KeysAndPagesOutsideTheWindowAreNeverRead) {
  const int32_t window = 20;
  for (int32_t head_dim : {64, 128}) {
    const AttnbProblem p = problem(8, 2, head_dim, window);
    const CallOutcome decode = run_poisoned(*plugin_, p, {100, 37, 5}, {1, 1, 1}, true);
    EXPECT_EQ(decode.poisoned_tokens, 80 + 17);
    const Comparison d = compare(decode.got, decode.want, tolerance_for(p.dtype));
    EXPECT_TRUE(d.passed()) << "decode D " << head_dim << " max_abs " << d.max_abs_error
                            << " violations " << d.violations;
    // A chunked prefill: the chunk's first query (position 93) needs nothing before 74.
    const CallOutcome prefill = run_poisoned(*plugin_, p, {100, 37, 5}, {7, 1, 5}, false);
    EXPECT_EQ(prefill.poisoned_tokens, 74 + 17);
    const Comparison c = compare(prefill.got, prefill.want, tolerance_for(p.dtype));
    EXPECT_TRUE(c.passed()) << "prefill D " << head_dim << " max_abs " << c.max_abs_error
                            << " violations " << c.violations;
  }
}

// A window longer than the CUDA decode's split length, so the window's keys are spread
// over several blocks that must all start inside it.
TEST_P(SlidingWindow, LongContextDecodeWithAWideWindow) {
  const AttnbProblem p = problem(8, 2, 128, 700, ATTNB_DTYPE_BF16);
  const CallOutcome decode = run_poisoned(*plugin_, p, {1500, 650, 3}, {1, 1, 1}, true);
  EXPECT_EQ(decode.poisoned_tokens, 800);  // keys 0..799 of the 1500-token sequence
  const Comparison d = compare(decode.got, decode.want, tolerance_for(p.dtype));
  EXPECT_TRUE(d.passed()) << "max_abs " << d.max_abs_error << " violations " << d.violations;
}

INSTANTIATE_TEST_SUITE_P(Devices, SlidingWindow, testing::Values(ATTNB_DEVICE_CPU, ATTNB_DEVICE_CUDA),
                         [](const testing::TestParamInfo<AttnbDevice>& info) {
                           return std::string(device_name(info.param));
                         });

}  // namespace
