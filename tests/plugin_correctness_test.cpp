// Every loaded plugin, on every device it claims (CUDA skipped without a GPU), against the
// fp64 reference on fresh random inputs: the standard cases for each dtype, group size and
// mask it declares; continuous-batching decode step by step; and the refusals.
#include "test_support.hpp"

#include <attnbench/core/attention_session.hpp>
#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/problem_checks.hpp>

#include <random>

using namespace attnbench;

namespace {

struct Target {
  std::string plugin;
  AttnbDevice device;
};

void PrintTo(const Target& t, std::ostream* out) { *out << t.plugin << "/" << device_name(t.device); }

std::vector<Target> targets() {
  std::vector<Target> out;
  for (const auto& p : test::registry().plugins())
    for (AttnbDevice dev : {ATTNB_DEVICE_CPU, ATTNB_DEVICE_CUDA})
      if (p->descriptor().devices & ATTNB_BIT(dev)) out.push_back({p->name(), dev});
  return out;
}

std::string target_name(const testing::TestParamInfo<Target>& info) {
  return info.param.plugin + "_" + device_name(info.param.device);
}

class PluginCorrectness : public testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    if (GetParam().device == ATTNB_DEVICE_CUDA) ATTNB_SKIP_WITHOUT_GPU();
    plugin_ = test::plugin(GetParam().plugin);
    ASSERT_NE(plugin_, nullptr);
  }

  // Each (dtype, head dim, KV heads for 8 query heads, mask) the descriptor allows and the
  // plugin accepts, for the query dtype of the device.
  std::vector<AttnbProblem> declared_problems() const {
    const AttnbDescriptor& d = plugin_->descriptor();
    const AttnbDevice dev = GetParam().device;
    std::vector<AttnbProblem> out;
    for (int32_t dtype = ATTNB_DTYPE_F32; dtype <= ATTNB_DTYPE_BF16; ++dtype)
      for (std::size_t i = 0; i < d.num_head_dims; ++i)
        for (int32_t kv_heads : {8, 4, 2, 1})
          for (int32_t window : {0, 1, 5, 1000}) {
            AttnbProblem p = make_problem(dev, dtype, 8, kv_heads, d.head_dims[i], true, window, 1, 1, 1);
            p.kv_cache_dtype = kv_cache_dtype_for(d, dtype);
            if (plugin_->why_not(p).empty()) out.push_back(p);
          }
    return out;
  }

  std::shared_ptr<LoadedPlugin> plugin_;
};

TEST_P(PluginCorrectness, StandardCasesMatchTheReference) {
  const auto problems = declared_problems();
  ASSERT_FALSE(problems.empty()) << "the plugin accepts none of its declared configurations";
  uint64_t seed = std::random_device{}();
  for (const AttnbProblem& p : problems)
    for (const ValidationCase& c : standard_cases()) {
      const CaseOutcome out = run_case(*plugin_, p, c, ++seed);
      EXPECT_TRUE(out.passed()) << c.name << " dtype " << dtype_name(p.dtype) << " D " << p.head_dim
                                << " heads 8/" << p.num_kv_heads << " window " << p.window << ": "
                                << out.error << " max_abs " << out.comparison.max_abs_error
                                << " violations " << out.comparison.violations << " seed " << seed;
    }
}

// Decoding token by token over a ragged batch equals the rows of a causal prefill of the
// same tokens, and both equal the reference.
TEST_P(PluginCorrectness, TokenByTokenDecodeEqualsCausalPrefill) {
  for (AttnbProblem p : declared_problems()) {
    if (p.window != 0 && p.window != 5) continue;
    const int32_t steps = 20;
    const std::vector<int32_t> start = {1, 18};  // the two sequences are 17 tokens apart
    const std::vector<int32_t> total = {start[0] + steps, start[1] + steps};
    p.max_batch = 2;
    p.max_q_tokens = total[0] + total[1];
    p.max_kv_len = total[1];
    const std::size_t kv_row = static_cast<std::size_t>(p.num_kv_heads) * p.head_dim;
    const std::size_t q_row = static_cast<std::size_t>(p.num_q_heads) * p.head_dim;
    std::mt19937_64 rng(std::random_device{}());
    // Per sequence: all tokens' K, V and Q.
    std::vector<std::vector<float>> k(2), v(2), q(2);
    for (int b = 0; b < 2; ++b) {
      k[b] = random_normal(total[b] * kv_row, p.dtype, rng);
      v[b] = random_normal(total[b] * kv_row, p.dtype, rng);
      q[b] = random_normal(total[b] * q_row, p.dtype, rng);
    }
    auto cat = [](const std::vector<float>& a, const std::vector<float>& b) {
      std::vector<float> out(a);
      out.insert(out.end(), b.begin(), b.end());
      return out;
    };
    auto slice = [](const std::vector<float>& a, std::size_t row, int32_t from, int32_t count) {
      return std::vector<float>(a.begin() + from * row, a.begin() + (from + count) * row);
    };

    AttentionSession whole(*plugin_, p, 16, 1);
    whole.append(total, cat(k[0], k[1]), cat(v[0], v[1]));
    const std::vector<float> prefill = whole.prefill(total, cat(q[0], q[1]));
    const Tolerance tol = tolerance_for(p.dtype, p.kv_cache_dtype);
    ASSERT_TRUE(compare(prefill, whole.reference(total, cat(q[0], q[1])), tol).passed());

    AttentionSession stepwise(*plugin_, p, 16, 2);
    stepwise.append(start, cat(slice(k[0], kv_row, 0, start[0]), slice(k[1], kv_row, 0, start[1])),
                    cat(slice(v[0], kv_row, 0, start[0]), slice(v[1], kv_row, 0, start[1])));
    for (int32_t step = 0; step <= steps; ++step) {
      const int32_t pos0 = start[0] - 1 + step, pos1 = start[1] - 1 + step;
      if (step > 0)
        stepwise.append({1, 1}, cat(slice(k[0], kv_row, pos0, 1), slice(k[1], kv_row, pos1, 1)),
                        cat(slice(v[0], kv_row, pos0, 1), slice(v[1], kv_row, pos1, 1)));
      const std::vector<float> q_step = cat(slice(q[0], q_row, pos0, 1), slice(q[1], q_row, pos1, 1));
      const std::vector<float> got = stepwise.decode(q_step);
      ASSERT_TRUE(compare(got, stepwise.reference({1, 1}, q_step), tol).passed())
          << "step " << step << " window " << p.window;
      // The same rows of the causal prefill (sequence 1's rows start after sequence 0's).
      std::vector<double> rows = to_double(cat(slice(prefill, q_row, pos0, 1),
                                               slice(prefill, q_row, total[0] + pos1, 1)));
      const Comparison c = compare(got, rows, {2 * tol.atol, 2 * tol.rtol});
      EXPECT_TRUE(c.passed()) << "step " << step << " dtype " << dtype_name(p.dtype)
                              << " max_abs " << c.max_abs_error;
    }
  }
}

TEST_P(PluginCorrectness, RefusesWhatItCannotDoWithAReason) {
  const AttnbDescriptor& d = plugin_->descriptor();
  const int32_t dtype = ATTNB_DTYPE_F16;
  // In the plugin's own cache dtype (int8 for a quantized cache), so the refusal is for the
  // reason under test.
  auto problem = [&](int32_t q_heads, int32_t kv_heads, int32_t head_dim, int32_t window) {
    AttnbProblem p = make_problem(GetParam().device, dtype, q_heads, kv_heads, head_dim, true, window, 1, 1, 1);
    p.kv_cache_dtype = kv_cache_dtype_for(d, dtype);
    return p;
  };
  // 6 query heads over 4 KV heads is no group size at all.
  AttnbProblem p = problem(6, 4, d.head_dims[0], 0);
  EXPECT_NE(plugin_->why_not(p).find("not a multiple"), std::string::npos);
  // A head dim nobody has.
  p = problem(4, 4, 72, 0);
  EXPECT_NE(plugin_->why_not(p).find("head_dim 72"), std::string::npos);
  if (!(d.flags & ATTNB_FLAG_SLIDING_WINDOW)) {
    const int32_t kv_heads = d.max_kv_heads > 0 ? d.max_kv_heads : 4;  // MQA allows one
    p = problem(4, kv_heads, d.head_dims[0], 8);
    EXPECT_NE(plugin_->why_not(p).find("sliding window not supported"), std::string::npos);
  }
  // And create() refuses the same way rather than reaching a kernel.
  EXPECT_THROW(plugin_->create(problem(6, 4, d.head_dims[0], 0)), PluginError);
}

INSTANTIATE_TEST_SUITE_P(AllPlugins, PluginCorrectness, testing::ValuesIn(targets()), target_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PluginCorrectness);

}  // namespace
