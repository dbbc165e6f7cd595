// ABI compatibility across versions, with plugins built as if by other versions of the SDK
// (tests/compat_plugins): an older minor still loads and works, and the host never reads
// past its structs; a newer minor is met where both sides agree or refused naming both
// versions; another major is refused naming both versions.
#include "compat_plugins/compat_support.hpp"
#include "test_support.hpp"

#include <attnbench/core/validation.hpp>
#include <attnbench/plugin.hpp>

#include <cstring>

using namespace attnbench;

namespace {

constexpr uint64_t kCanary = 0xa5a5a5a5a5a5a5a5ull;

std::string load_error(const std::string& file_name) {
  try {
    LoadedPlugin::load(test::compat_plugin(file_name));
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

void expect_all_cases_pass(const LoadedPlugin& plugin, const AttnbProblem& problem) {
  uint64_t seed = 11;
  for (const ValidationCase& c : standard_cases()) {
    const CaseOutcome out = run_case(plugin, problem, c, ++seed);
    EXPECT_TRUE(out.passed()) << c.name << ": " << out.error << " rel_l2 " << out.comparison.rel_l2_error;
  }
}

}  // namespace

// (a) A plugin built against the 1.0 header, in C, loads in the 1.1 host and works.
TEST(AbiCompat, OlderMinorPluginLoadsAndWorks) {
  const auto plugin = LoadedPlugin::load(test::compat_plugin("compat_abi_1_0.so"));
  EXPECT_EQ(plugin->abi_minor(), 0u);
  EXPECT_EQ(plugin->name(), "abi_1_0");
  // GQA (group size 2) through the paged cache, against the fp64 reference.
  expect_all_cases_pass(*plugin, make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F32, 4, 2, 64, true, 0, 1, 1, 1));
}

// The plugin's 1.0 descriptor and table are followed by canaries where 1.1 has tunables and
// set_tunable. The host copies only up to each struct_size, so it sees neither.
TEST(AbiCompat, HostDoesNotReadPastAnOlderPluginsStructs) {
  const auto plugin = LoadedPlugin::load(test::compat_plugin("compat_abi_1_0.so"));
  const AttnbDescriptor* raw = plugin->api().descriptor();
  ASSERT_LT(raw->struct_size, sizeof(AttnbDescriptor));
  EXPECT_EQ(raw->struct_size, offsetof(AttnbDescriptor, tunables));
  uint64_t after_descriptor;  // what a careless host would have read as `tunables`
  std::memcpy(&after_descriptor, reinterpret_cast<const char*>(raw) + raw->struct_size, sizeof after_descriptor);
  ASSERT_EQ(after_descriptor, kCanary) << "the canary is not where 1.1 keeps tunables";

  EXPECT_EQ(plugin->descriptor().tunables, nullptr);
  EXPECT_EQ(plugin->descriptor().num_tunables, 0u);
  EXPECT_EQ(plugin->descriptor().struct_size, offsetof(AttnbDescriptor, tunables));
  EXPECT_EQ(plugin->api().set_tunable, nullptr);
  EXPECT_EQ(plugin->api().struct_size, offsetof(AttnbPluginApi, set_tunable));

  const auto op = plugin->create(make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F32, 2, 2, 16, true, 0, 1, 8, 8));
  try {
    op->set_tunable("anything", 1);
    ADD_FAILURE() << "set_tunable reached a 1.0 plugin";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.status, ATTNB_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(e.what()).find("ABI 1.0"), std::string::npos) << e.what();
  }
}

// (b) Built against a newer minor with the C++ helper: it meets the host at the host's minor.
TEST(AbiCompat, NewerMinorPluginMeetsTheHostsMinor) {
  const auto plugin = LoadedPlugin::load(test::compat_plugin("compat_future_minor.so"));
  EXPECT_EQ(plugin->abi_minor(), static_cast<uint32_t>(ATTNB_ABI_MINOR));
  expect_all_cases_pass(*plugin, make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F32, 2, 2, 64, true, 0, 1, 1, 1));
}

// (b) A plugin that needs a newer minor than the host offers answers INCOMPATIBLE; the
// host refuses it naming both versions.
TEST(AbiCompat, PluginThatNeedsANewerMinorIsRefusedNamingBoth) {
  const std::string error = load_error("compat_insists_on_newer.so");
  EXPECT_NE(error.find("negotiation refused"), std::string::npos) << error;
  EXPECT_NE(error.find("plugin ABI 1.5"), std::string::npos) << error;
  EXPECT_NE(error.find("host ABI 1.0-" + std::to_string(ATTNB_ABI_MINOR)), std::string::npos) << error;
}

// (b) A plugin that says OK with a minor the host never offered is refused before its table
// is read.
TEST(AbiCompat, PluginThatPicksAnUnofferedMinorIsRefused) {
  const std::string error = load_error("compat_overreaching_minor.so");
  EXPECT_NE(error.find("a minor the host does not know"), std::string::npos) << error;
  EXPECT_NE(error.find("plugin ABI 1.9"), std::string::npos) << error;
}

// (c) Another major is refused with both versions, even when the plugin answers OK.
TEST(AbiCompat, OtherMajorIsRefusedNamingBothVersions) {
  const std::string error = load_error("compat_other_major.so");
  EXPECT_NE(error.find("incompatible ABI major"), std::string::npos) << error;
  EXPECT_NE(error.find("plugin ABI 0.3"), std::string::npos) << error;
  EXPECT_NE(error.find("host ABI 1.0-" + std::to_string(ATTNB_ABI_MINOR)), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

// The C++ helper's side of negotiation, driven by hosts other than this one.
namespace {

struct Trivial : PluginBase {
  static const AttnbDescriptor& descriptor() {
    static const int32_t dims[] = {64};
    static const AttnbDescriptor d = {sizeof(AttnbDescriptor), "trivial", "0", "", 1, 1, 0, 1, dims, 1, 1, 0, 0,
                                      ATTNB_FLAG_CAUSAL, nullptr, 0};
    return d;
  }
  explicit Trivial(const AttnbProblem&) {}
  void append_kv(const AttnbAppendArgs&) {}
  void prefill(const AttnbAttendArgs&) {}
  void decode(const AttnbAttendArgs&) {}
};

AttnbStatus negotiate(uint32_t major, uint32_t minor_min, uint32_t minor_max, AttnbNegotiation& answer) {
  AttnbHostInfo host{};
  host.struct_size = sizeof host;
  host.abi_major = major;
  host.abi_minor_min = minor_min;
  host.abi_minor_max = minor_max;
  answer = AttnbNegotiation{};
  answer.struct_size = sizeof answer;
  return detail::Adapter<Trivial>::negotiate(&host, &answer);
}

}  // namespace

TEST(AbiCompat, HelperServesAnOlderHostAtItsMinor) {
  AttnbNegotiation answer;
  ASSERT_EQ(negotiate(ATTNB_ABI_MAJOR, 0, 0, answer), ATTNB_OK);
  EXPECT_EQ(answer.abi_minor, 0u);
  ASSERT_NE(answer.api, nullptr);
}

TEST(AbiCompat, HelperServesANewerHostAtItsOwnMinor) {
  AttnbNegotiation answer;
  ASSERT_EQ(negotiate(ATTNB_ABI_MAJOR, 0, ATTNB_ABI_MINOR + 3, answer), ATTNB_OK);
  EXPECT_EQ(answer.abi_minor, static_cast<uint32_t>(ATTNB_ABI_MINOR));
}

TEST(AbiCompat, HelperRefusesAHostThatDroppedItsMinor) {
  AttnbNegotiation answer;
  EXPECT_EQ(negotiate(ATTNB_ABI_MAJOR, ATTNB_ABI_MINOR + 1, ATTNB_ABI_MINOR + 2, answer), ATTNB_ERR_INCOMPATIBLE);
  EXPECT_EQ(answer.api, nullptr);
  EXPECT_EQ(answer.abi_minor, static_cast<uint32_t>(ATTNB_ABI_MINOR));  // so the host can name it
}

TEST(AbiCompat, HelperRefusesAnotherMajorNamingItsOwn) {
  AttnbNegotiation answer;
  EXPECT_EQ(negotiate(ATTNB_ABI_MAJOR + 1, 0, 0, answer), ATTNB_ERR_INCOMPATIBLE);
  EXPECT_EQ(answer.api, nullptr);
  EXPECT_EQ(answer.abi_major, static_cast<uint32_t>(ATTNB_ABI_MAJOR));
}
