// The fused plugin against the fp64 reference, on fresh random inputs: every dtype x head
// dim x group size x mask it declares at lengths on the edges of its tiles; every allowed
// tile shape; split-KV decode against unsplit decode (which exercises the log-sum-exp merge,
// empty splits included). On the CPU here; the same tests on CUDA where there is a GPU.
#include "test_support.hpp"

#include <attnbench/core/attention_session.hpp>
#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/problem_checks.hpp>

#include <algorithm>
#include <numeric>
#include <random>

using namespace attnbench;

namespace {

struct Mask {
  bool causal;
  int32_t window;
  const char* name;
};

const Mask kMasks[] = {{true, 0, "causal"},
                       {false, 0, "full"},
                       {true, 1, "causal, window 1"},
                       {true, 37, "causal, window 37"},
                       {false, 50, "full, window 50"}};

// Small tiles (64 query rows, 32 keys), so short sequences cross many tile edges: the
// lengths below are 1, tile - 1, tile, tile + 1 of both, and 100, a multiple of neither.
const std::vector<std::pair<std::string, int64_t>> kSmallTiles = {{"tile_q", 64}, {"tile_kv", 32}};
const ValidationCase kPrefillAtEdges{
    "prefill at tile edges", false, {1, 33, 63, 64, 100}, {1, 31, 63, 64, 65}};
const ValidationCase kDecodeAtEdges{
    "decode at tile edges", true, {1, 31, 32, 33, 63, 64, 65, 100}, std::vector<int32_t>(8, 1)};

// Page sizes the configurations rotate through: tiles within a page, spanning pages, and a
// page per token.
const int32_t kPageSizes[] = {16, 7, 64, 1};

class FusedPlugin : public testing::TestWithParam<AttnbDevice> {
 protected:
  void SetUp() override {
    if (GetParam() == ATTNB_DEVICE_CUDA) ATTNB_SKIP_WITHOUT_GPU();
    plugin_ = test::plugin("fused");
    ASSERT_NE(plugin_, nullptr);
  }

  // The query dtypes the plugin declares on this device.
  std::vector<int32_t> dtypes() const {
    const AttnbDescriptor& d = plugin_->descriptor();
    const uint32_t mask = GetParam() == ATTNB_DEVICE_CUDA ? d.cuda_dtypes : d.cpu_dtypes;
    std::vector<int32_t> out;
    for (int32_t t = ATTNB_DTYPE_F32; t <= ATTNB_DTYPE_BF16; ++t)
      if (mask & ATTNB_BIT(t)) out.push_back(t);
    return out;
  }

  AttnbProblem problem(int32_t dtype, int32_t q_heads, int32_t kv_heads, int32_t head_dim,
                       const Mask& mask, int32_t page_size = 16) const {
    AttnbProblem p = make_problem(GetParam(), dtype, q_heads, kv_heads, head_dim, mask.causal,
                                  mask.window, 1, 1, 1, page_size);
    EXPECT_EQ(plugin_->why_not(p), "") << "the plugin refuses a configuration it declares";
    return p;
  }

  std::shared_ptr<LoadedPlugin> plugin_;
};

std::string describe(const AttnbProblem& p, const Mask& mask) {
  return std::string(dtype_name(p.dtype)) + " D " + std::to_string(p.head_dim) + " heads " +
         std::to_string(p.num_q_heads) + "/" + std::to_string(p.num_kv_heads) + " " + mask.name +
         " page " + std::to_string(p.page_size);
}

void expect_passes(const CaseOutcome& out, const std::string& what, uint64_t seed) {
  EXPECT_TRUE(out.passed()) << what << ": " << out.error << " max_abs "
                            << out.comparison.max_abs_error << " violations "
                            << out.comparison.violations << " seed " << seed;
}

TEST_P(FusedPlugin, MatchesTheReferenceInEveryConfiguration) {
  uint64_t seed = std::random_device{}();
  int index = 0;
  for (int32_t dtype : dtypes())
    for (int32_t head_dim : {64, 128})
      for (int32_t kv_heads : {4, 2, 1})  // MHA, GQA, MQA over 4 query heads
        for (const Mask& mask : kMasks) {
          const AttnbProblem p =
              problem(dtype, 4, kv_heads, head_dim, mask, kPageSizes[index++ % 4]);
          for (const ValidationCase& c : {kPrefillAtEdges, kDecodeAtEdges})
            expect_passes(run_case(*plugin_, p, c, ++seed, kSmallTiles),
                          c.name + (", " + describe(p, mask)), seed);
        }
}

// Groups of more than 16 query heads take several 16-row MMA tiles per KV head in CUDA decode.
TEST_P(FusedPlugin, LargeGroupsMatchTheReference) {
  uint64_t seed = std::random_device{}();
  const Mask mask{true, 40, "causal, window 40"};
  for (int32_t dtype : dtypes())
    for (int32_t head_dim : {64, 128}) {
      const AttnbProblem p = problem(dtype, 20, 1, head_dim, mask);
      for (const ValidationCase& c : {kPrefillAtEdges, kDecodeAtEdges})
        expect_passes(run_case(*plugin_, p, c, ++seed, kSmallTiles),
                      c.name + (", " + describe(p, mask)), seed);
    }
}

// One session holding random K/V for `kv_lens`, and random queries for `q_lens` newest
// positions of each sequence: the same inputs for every tunable value tried on it.
struct Inputs {
  Inputs(const LoadedPlugin& plugin, AttnbProblem p, const std::vector<int32_t>& kv_lens,
         const std::vector<int32_t>& q_lens, uint64_t seed)
      : q_lens(q_lens),
        session(plugin, sized(p, kv_lens, q_lens), pages(kv_lens, p.page_size), seed) {
    std::mt19937_64 rng(seed);
    const int32_t tokens = std::accumulate(kv_lens.begin(), kv_lens.end(), 0);
    const std::size_t kv_row = static_cast<std::size_t>(p.num_kv_heads) * p.head_dim;
    session.append(kv_lens, random_normal(tokens * kv_row, p.dtype, rng),
                   random_normal(tokens * kv_row, p.dtype, rng));
    q = random_normal(std::accumulate(q_lens.begin(), q_lens.end(), 0) *
                          static_cast<std::size_t>(p.num_q_heads) * p.head_dim,
                      p.dtype, rng);
    reference = session.reference(q_lens, q);
  }

  static AttnbProblem sized(AttnbProblem p, const std::vector<int32_t>& kv_lens,
                            const std::vector<int32_t>& q_lens) {
    p.max_batch = static_cast<int32_t>(kv_lens.size());
    p.max_q_tokens = std::accumulate(q_lens.begin(), q_lens.end(), 0);
    p.max_kv_len = *std::max_element(kv_lens.begin(), kv_lens.end());
    return p;
  }
  static int64_t pages(const std::vector<int32_t>& kv_lens, int32_t page_size) {
    int64_t n = 0;
    for (int32_t len : kv_lens) n += pages_for(len, page_size);
    return n;
  }

  bool decode() const {
    return std::all_of(q_lens.begin(), q_lens.end(), [](int32_t n) { return n == 1; });
  }
  std::vector<float> run() { return decode() ? session.decode(q) : session.prefill(q_lens, q); }

  std::vector<int32_t> q_lens;
  AttentionSession session;
  std::vector<float> q;
  std::vector<double> reference;
};

// Every (tile_q, tile_kv, warp_rows), in prefill every kernel (wgmma) and in decode every
// decode_stages, gives the reference's result, and the same result as the defaults within
// the dtype's tolerance.
TEST_P(FusedPlugin, EveryTileShapeGivesTheSameResult) {
  const uint64_t seed = std::random_device{}();
  const Mask mask{true, 100, "causal, window 100"};
  const AttnbDescriptor& d = plugin_->descriptor();
  const auto values = [&](const char* name) {
    const AttnbTunable* t = find_tunable(d, name);
    EXPECT_NE(t, nullptr) << name;
    return t ? std::vector<int64_t>(t->values, t->values + t->num_values) : std::vector<int64_t>{};
  };
  for (int32_t dtype : dtypes())
    for (int32_t head_dim : {64, 128}) {
      const AttnbProblem p = problem(dtype, 4, 2, head_dim, mask);
      const Tolerance tol = tolerance_for(dtype);
      // Around the 128-row and 32/64/128-key tiles; the last sequence is a chunked prefill.
      for (const bool decode : {false, true}) {
        const std::vector<int32_t> kv_lens = {1, 127, 128, 129, 300};
        const std::vector<int32_t> q_lens =
            decode ? std::vector<int32_t>(5, 1) : std::vector<int32_t>{1, 127, 128, 129, 45};
        Inputs in(*plugin_, p, kv_lens, q_lens, seed);
        const std::vector<float> defaults = in.run();
        ASSERT_TRUE(compare(defaults, in.reference, tol).passed())
            << describe(p, mask) << " seed " << seed;
        // Decode has no query tile and prefill no decode stages: each sweeps its own knobs.
        const std::vector<int64_t> stages = decode ? values("decode_stages") : std::vector<int64_t>{2};
        const std::vector<int64_t> kernels = decode ? std::vector<int64_t>{1} : values("wgmma");
        for (int64_t tile_q : values("tile_q"))
          for (int64_t tile_kv : values("tile_kv"))
            for (int64_t warp_rows : values("warp_rows"))
              for (int64_t decode_stages : stages)
                for (int64_t wgmma : kernels) {
                  in.session.op().set_tunable("tile_q", tile_q);
                  in.session.op().set_tunable("tile_kv", tile_kv);
                  in.session.op().set_tunable("warp_rows", warp_rows);
                  in.session.op().set_tunable("decode_stages", decode_stages);
                  in.session.op().set_tunable("wgmma", wgmma);
                  const std::vector<float> got = in.run();
                  const Comparison vs_ref = compare(got, in.reference, tol),
                                   vs_defaults = compare(got, to_double(defaults), tol);
                  EXPECT_TRUE(vs_ref.passed() && vs_defaults.passed())
                      << (decode ? "decode " : "prefill ") << describe(p, mask) << " tile_q " << tile_q
                      << " tile_kv " << tile_kv << " warp_rows " << warp_rows << " decode_stages "
                      << decode_stages << " wgmma " << wgmma << ": max_abs vs reference " << vs_ref.max_abs_error
                      << ", vs defaults " << vs_defaults.max_abs_error << " seed " << seed;
                }
      }
    }
}

// Decode split into 2 .. 32 key ranges (and the automatic choice) equals decode in one
// range: long sequences next to short ones, whose later splits are empty.
TEST_P(FusedPlugin, SplitDecodeEqualsUnsplitDecode) {
  const uint64_t seed = std::random_device{}();
  const AttnbTunable* splits = find_tunable(plugin_->descriptor(), "num_splits");
  ASSERT_NE(splits, nullptr);
  for (int32_t dtype : dtypes())
    for (const Mask& mask : {Mask{true, 0, "causal"}, Mask{true, 300, "causal, window 300"}})
      for (int32_t tile_kv : {32, 128}) {
        const AttnbProblem p = problem(dtype, 8, 2, 128, mask);
        Inputs in(*plugin_, p, {1, 17, 64, 700, 1500}, std::vector<int32_t>(5, 1), seed);
        in.session.op().set_tunable("tile_kv", tile_kv);
        in.session.op().set_tunable("num_splits", 1);
        const std::vector<float> unsplit = in.run();
        const Tolerance tol = tolerance_for(dtype);
        ASSERT_TRUE(compare(unsplit, in.reference, tol).passed())
            << describe(p, mask) << " seed " << seed;
        for (std::size_t i = 0; i < splits->num_values; ++i) {
          in.session.op().set_tunable("num_splits", splits->values[i]);
          const std::vector<float> got = in.run();
          const Comparison vs_ref = compare(got, in.reference, tol),
                           vs_unsplit = compare(got, to_double(unsplit), tol);
          EXPECT_TRUE(vs_ref.passed() && vs_unsplit.passed())
              << describe(p, mask) << " tile_kv " << tile_kv << " num_splits " << splits->values[i]
              << ": max_abs vs reference " << vs_ref.max_abs_error << ", vs unsplit "
              << vs_unsplit.max_abs_error << " seed " << seed;
        }
      }
}

INSTANTIATE_TEST_SUITE_P(Devices, FusedPlugin, testing::Values(ATTNB_DEVICE_CPU, ATTNB_DEVICE_CUDA),
                         [](const testing::TestParamInfo<AttnbDevice>& info) {
                           return std::string(device_name(info.param));
                         });

}  // namespace
