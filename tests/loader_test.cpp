// The loader: each kind of broken plugin is refused with one line naming the file, and the
// good plugins beside it still load.
#include "test_support.hpp"

#include <attnbench/core/attention_session.hpp>
#include <attnbench/core/validation.hpp>

#include <algorithm>

using namespace attnbench;

namespace {

const PluginRegistry& fault_registry() {
  static const PluginRegistry r = [] {
    PluginRegistry reg;
    reg.load_folders({test::fault_plugin_dir(), test::plugin_dir()});
    return reg;
  }();
  return r;
}

std::string refusal_for(const std::string& file_name) {
  for (const RefusedPlugin& r : fault_registry().refused())
    if (r.file.filename() == file_name) return r.reason;
  return "";
}

void expect_one_line_naming_file(const std::string& file_name, const std::string& expected) {
  const std::string reason = refusal_for(file_name);
  ASSERT_FALSE(reason.empty()) << file_name << " was not refused";
  EXPECT_NE(reason.find(file_name), std::string::npos) << reason;
  EXPECT_NE(reason.find(expected), std::string::npos) << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
}

}  // namespace

TEST(Loader, NotASharedLibrary) {
  expect_one_line_naming_file("fault_not_a_library.so", "not a loadable shared library");
}

TEST(Loader, MissingEntrySymbol) {
  expect_one_line_naming_file("fault_no_entry.so", "no entry symbol attnbench_plugin_negotiate");
}

TEST(Loader, OtherAbiMajorNamesBothVersions) {
  expect_one_line_naming_file("fault_wrong_major.so", "incompatible ABI major");
  const std::string reason = refusal_for("fault_wrong_major.so");
  EXPECT_NE(reason.find("plugin ABI 2.0"), std::string::npos) << reason;
  EXPECT_NE(reason.find("host ABI 1."), std::string::npos) << reason;
}

TEST(Loader, InvalidDescriptor) {
  expect_one_line_naming_file("fault_bad_descriptor.so", "name must match");
}

TEST(Loader, GoodPluginsStillLoad) {
  EXPECT_NE(fault_registry().find("good_minimal"), nullptr);
  EXPECT_NE(fault_registry().find("mha"), nullptr);
  EXPECT_NE(fault_registry().find("failing_calls"), nullptr);
  EXPECT_EQ(fault_registry().refused().size(), 4u);
}

TEST(Loader, FailingCallsReportThePluginsMessage) {
  auto plugin = fault_registry().find("failing_calls");
  ASSERT_NE(plugin, nullptr);
  const AttnbProblem problem = make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F32, 2, 2, 64, true, 0, 1, 8, 8);
  const CaseOutcome out = run_case(*plugin, problem, standard_cases().front(), 1);
  EXPECT_FALSE(out.passed());
  EXPECT_NE(out.error.find("failing_calls: append_kv"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("planted append failure"), std::string::npos) << out.error;
}

TEST(Loader, GoodMinimalPassesTheReferenceCheck) {
  auto plugin = fault_registry().find("good_minimal");
  ASSERT_NE(plugin, nullptr);
  const AttnbProblem problem = make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F32, 2, 2, 64, true, 0, 1, 8, 8);
  for (const ValidationCase& c : standard_cases()) {
    const CaseOutcome out = run_case(*plugin, problem, c, 7);
    EXPECT_TRUE(out.passed()) << c.name << ": " << out.error << " rel_l2 " << out.comparison.rel_l2_error;
  }
}

TEST(Loader, MissingFolderIsAnError) {
  PluginRegistry reg;
  EXPECT_THROW(reg.load_folders({"/nonexistent/attnbench/plugins"}), std::invalid_argument);
}

TEST(Loader, DuplicateNameIsRefused) {
  PluginRegistry reg;
  reg.load_folders({test::plugin_dir(), test::plugin_dir()});
  ASSERT_FALSE(reg.refused().empty());
  EXPECT_NE(reg.refused().front().reason.find("already loaded"), std::string::npos);
}

TEST(Loader, LibraryOutlivesTheRegistryWhileAnOpIsAlive) {
  std::unique_ptr<AttentionOp> op;
  {
    PluginRegistry reg;
    reg.load_folders({test::fault_plugin_dir()});
    auto plugin = reg.find("good_minimal");
    ASSERT_NE(plugin, nullptr);
    op = plugin->create(make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F32, 2, 2, 64, true, 0, 1, 8, 8));
  }  // registry and plugin handle gone; the op keeps the library mapped
  EXPECT_EQ(op->plugin().name(), "good_minimal");
  op.reset();  // destroy() runs inside the still-loaded library
}
