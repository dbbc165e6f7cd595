// `attnbench check`'s conformance suite: it passes the SDK template and a correct plugin of
// an older ABI, and each plugin that breaks one rule fails exactly that check.
#include "compat_plugins/compat_support.hpp"
#include "test_support.hpp"

#include <attnbench/core/conformance.hpp>
#include <attnbench/core/hot_path_allocations.hpp>

#include <cstdlib>

using namespace attnbench;

namespace {

std::vector<CheckLine> run_check(const std::string& file) {
  std::vector<CheckLine> lines;
  ConformanceOptions options;
  options.seed = 42;
  const bool passed = check_conformance(file, options, [&](const CheckLine& l) { lines.push_back(l); });
  bool any_failed = false;
  for (const CheckLine& l : lines) any_failed |= l.verdict == Verdict::kFail;
  EXPECT_EQ(passed, !any_failed) << "the result must agree with the lines";
  return lines;
}

std::vector<CheckLine> lines_of(const std::vector<CheckLine>& lines, Verdict verdict, const std::string& check = "") {
  std::vector<CheckLine> out;
  for (const CheckLine& l : lines)
    if (l.verdict == verdict && (check.empty() || l.check == check)) out.push_back(l);
  return out;
}

std::string text(const std::vector<CheckLine>& lines) {
  std::string all;
  for (const CheckLine& l : lines) all += std::string(verdict_name(l.verdict)) + " " + l.check + " " + l.detail + "\n";
  return all;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(HotPathAllocations, CountsOnlyInsideAHotPathCall) {
  ASSERT_TRUE(hot_path_allocations_counted()) << "this test host should interpose malloc (glibc)";
  void* (*volatile allocate)(std::size_t) = &std::malloc;  // not elided by the optimizer
  const HotPathAllocations before = hot_path_allocations();
  std::free(allocate(16));  // outside: not counted
  {
    const HotPathCall call(HotPathKind::kDecode);
    std::free(allocate(16));
    std::free(allocate(32));
  }
  const HotPathAllocations after = hot_path_allocations();
  EXPECT_EQ(after.calls[2] - before.calls[2], 1u);
  EXPECT_EQ(after.allocations[2] - before.allocations[2], 2u);
  EXPECT_EQ(after.total_allocations() - before.total_allocations(), 2u);
}

TEST(Conformance, TheSdkTemplateConforms) {
  const auto lines = run_check(test::compat_plugin("my_attention.so"));
  EXPECT_TRUE(lines_of(lines, Verdict::kFail).empty()) << text(lines);
  EXPECT_EQ(lines_of(lines, Verdict::kPass, "correctness").size(), 3u) << text(lines);  // fp32, fp16, bf16
  EXPECT_EQ(lines_of(lines, Verdict::kPass, "allocations").size(), 1u) << text(lines);
  EXPECT_FALSE(lines_of(lines, Verdict::kPass, "refuses").empty()) << text(lines);
}

TEST(Conformance, AnOlderAbiPluginConformsWithoutTunables) {
  const auto lines = run_check(test::compat_plugin("compat_abi_1_0.so"));
  EXPECT_TRUE(lines_of(lines, Verdict::kFail).empty()) << text(lines);
  EXPECT_TRUE(contains(text(lines), "gets ABI 1.0 and a complete function table")) << text(lines);
  const auto skipped = lines_of(lines, Verdict::kSkip, "tunables");
  ASSERT_EQ(skipped.size(), 1u) << text(lines);
  EXPECT_TRUE(contains(skipped[0].detail, "ABI 1.0 plugin")) << skipped[0].detail;
}

TEST(Conformance, AllocationInDecodeIsCaughtAndCounted) {
  const auto lines = run_check(test::compat_plugin("compat_allocates.so"));
  const auto failed = lines_of(lines, Verdict::kFail);
  ASSERT_EQ(failed.size(), 1u) << text(lines);
  EXPECT_EQ(failed[0].check, "allocations");
  // The standard cases make one decode call, and the plugin mallocs once per decode call.
  EXPECT_TRUE(contains(failed[0].detail, "append_kv 0, prefill 0, decode 1")) << failed[0].detail;
}

TEST(Conformance, AcceptingWhatTheDescriptorRulesOutIsCaught) {
  const auto lines = run_check(test::compat_plugin("compat_accepts_everything.so"));
  const auto failed = lines_of(lines, Verdict::kFail);
  ASSERT_FALSE(failed.empty()) << text(lines);
  for (const CheckLine& l : failed) {
    EXPECT_EQ(l.check, "refuses") << l.detail;
    EXPECT_TRUE(contains(l.detail, "can_implement accepted it")) << l.detail;
  }
  EXPECT_TRUE(contains(text(failed), "head dim 8")) << text(failed);
  EXPECT_TRUE(contains(text(failed), "sliding window")) << text(failed);
}

TEST(Conformance, ATunableValueThatBreaksResultsIsCaught) {
  const auto lines = run_check(test::compat_plugin("compat_tunable_knobs.so"));
  const auto passed = lines_of(lines, Verdict::kPass, "tunables");
  const auto failed = lines_of(lines, Verdict::kFail, "tunables");
  ASSERT_EQ(failed.size(), 1u) << text(lines);
  EXPECT_TRUE(contains(failed[0].detail, "breaks_results=1")) << failed[0].detail;
  ASSERT_EQ(passed.size(), 2u) << text(lines);  // `harmless`, and the unknown name refused
  EXPECT_TRUE(contains(passed[0].detail, "harmless: every value (0,1)")) << passed[0].detail;
  EXPECT_TRUE(contains(passed[1].detail, "unknown tunable name is refused")) << passed[1].detail;
}

TEST(Conformance, FailingCallsFailCorrectness) {
  const auto lines = run_check(test::fault_plugin_dir() + "/fault_failing_calls.so");
  const auto failed = lines_of(lines, Verdict::kFail);
  ASSERT_EQ(failed.size(), 1u) << text(lines);
  EXPECT_EQ(failed[0].check, "correctness");
  EXPECT_TRUE(contains(failed[0].detail, "planted append failure")) << failed[0].detail;
}

TEST(Conformance, PluginsTheHostRefusesFailAtLoad) {
  for (const std::string file : {"compat_other_major.so", "compat_insists_on_newer.so"}) {
    const auto lines = run_check(test::compat_plugin(file));
    const auto failed = lines_of(lines, Verdict::kFail, "load");
    ASSERT_EQ(failed.size(), 1u) << file << "\n" << text(lines);
    EXPECT_TRUE(contains(failed[0].detail, "host ABI 1.0-")) << failed[0].detail;
  }
}

TEST(Conformance, NotAPluginIsBadInput) {
  ConformanceOptions options;
  const auto ignore = [](const CheckLine&) {};
  EXPECT_THROW(check_conformance("/nonexistent/plugin.so", options, ignore), NotAPlugin);
  EXPECT_THROW(check_conformance(test::fault_plugin_dir(), options, ignore), NotAPlugin);
  EXPECT_THROW(check_conformance(test::fault_plugin_dir() + "/fault_not_a_library.so", options, ignore), NotAPlugin);
  EXPECT_THROW(check_conformance(test::fault_plugin_dir() + "/fault_no_entry.so", options, ignore), NotAPlugin);
}
