// `attnbench serve` as a user runs it: the built binary with defaults writes a result row whose
// columns name the percentiles, every output checked on the CPU; bad input (a budget too small
// for one request or larger than the free memory, a prompt longer than the model's maximum, a
// rate or count of zero or less) is one line on stderr and exit code 2, before any work (no
// output, no file).
#include "cli_support.hpp"

#include <attnbench/core/result_reader.hpp>

#include <filesystem>

using namespace attnbench;
namespace fs = std::filesystem;

namespace {

class ServeCli : public testing::Test {
 protected:
  void SetUp() override { dir_ = test::fresh_dir("serve_cli"); }
  void TearDown() override { fs::remove_all(dir_); }

  static test::CommandResult serve(const std::string& args) {
    return test::run_attnbench("serve --plugins " + test::plugin_dir() + " " + args);
  }

  // Exit code 2 and one line naming `what`: nothing else printed, no file written.
  void expect_usage_error(const std::string& args, const std::string& what) {
    const fs::path csv = dir_ / "bad.csv";
    const test::CommandResult r = serve(args + " --out " + csv.string());
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(what), std::string::npos) << args << ": " << r.output;
    EXPECT_EQ(test::line_count(r.output), 1) << args << ": " << r.output;
    EXPECT_FALSE(fs::exists(csv)) << args << " wrote a result file";
  }

  fs::path dir_;
};

}  // namespace

TEST_F(ServeCli, DefaultsServeOnTheCpuAndWriteAResultRow) {
  const fs::path csv = dir_ / "serve.csv";
  const test::CommandResult r = serve("--device cpu --plugin mha --requests 16 --out " + csv.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("TTFT"), std::string::npos) << r.output;
  const ResultTable t = read_results(csv);
  ASSERT_EQ(t.schema->kind, "serve");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.at(0, "plugin"), "mha");
  EXPECT_EQ(t.at(0, "backend"), "cpu");
  EXPECT_EQ(t.number(0, "requests"), 16);
  EXPECT_EQ(t.number(0, "failed_rows"), 0);
  EXPECT_GT(t.number(0, "verified_rows"), 16);
  EXPECT_GT(t.number(0, "requests_per_s"), 0);
  EXPECT_GT(t.number(0, "output_tokens_per_s"), t.number(0, "requests_per_s"));
  for (const char* metric : {"ttft", "tpot"}) {
    const double p50 = t.number(0, std::string(metric) + "_p50_ms");
    const double p95 = t.number(0, std::string(metric) + "_p95_ms");
    const double p99 = t.number(0, std::string(metric) + "_p99_ms");
    EXPECT_GT(p50, 0) << metric;
    EXPECT_LE(p50, p95) << metric;
    EXPECT_LE(p95, p99) << metric;
  }
  EXPECT_GT(t.number(0, "peak_pages"), 0);
  EXPECT_LE(t.number(0, "peak_pages"), t.number(0, "pool_pages"));
  EXPECT_FALSE(t.at(0, "commit").empty());

  // A second run appends a row under the same header.
  ASSERT_EQ(serve("--device cpu --plugin gqa --requests 4 --rate 100 --out " + csv.string()).exit_code, 0);
  EXPECT_EQ(read_results(csv).rows.size(), 2u);
}

TEST_F(ServeCli, ATinyBudgetPreemptsAndStaysCorrect) {
  const fs::path csv = dir_ / "tiny.csv";
  const test::CommandResult r = serve("--device cpu --plugin mha --requests 12 --prompt-len uniform:32:64 "
                          "--output-len 24 --memory-budget 128KiB --verify on --out " + csv.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ResultTable t = read_results(csv);
  EXPECT_GT(t.number(0, "preemptions"), 0);
  EXPECT_EQ(t.number(0, "peak_pages"), t.number(0, "pool_pages"));
  EXPECT_EQ(t.number(0, "failed_rows"), 0);
}

TEST_F(ServeCli, BadInputIsOneLineAndExitCode2) {
  const std::string base = "--device cpu --plugin mha ";
  expect_usage_error(base + "--requests 4 --memory-budget 1KiB", "--memory-budget");
  expect_usage_error(base + "--requests 4 --prompt-len 100 --max-len 64", "--prompt-len");
  expect_usage_error(base + "--requests 4 --prompt-len 60 --output-len 10 --max-len 64", "--max-len");
  expect_usage_error(base + "--requests 0", "--requests");
  expect_usage_error(base + "--requests -3", "--requests");
  expect_usage_error(base + "--requests 4 --rate 0", "--rate");
  expect_usage_error(base + "--requests 4 --rate -2.5", "--rate");
  expect_usage_error(base + "--requests 4 --rate fast", "--rate");
  expect_usage_error(base + "--requests 4 --prompt-len uniform:9:3", "--prompt-len");
  expect_usage_error(base + "--requests 4 --memory-budget lots", "--memory-budget");
  // More than the machine has free: refused before the pool is allocated, not killed touching it.
  expect_usage_error(base + "--requests 4 --memory-budget 4096TiB", "bytes free on ");
  expect_usage_error(base + "--requests 4 --verify maybe", "--verify");
  expect_usage_error("--device cpu --requests 4", "--plugin");
  expect_usage_error("--device cpu --plugin no_such_plugin", "no_such_plugin");
  expect_usage_error(base + "--kv-heads 3", "cannot run");
}

TEST_F(ServeCli, ServesOnTheGpu) {
  ATTNB_SKIP_WITHOUT_GPU();
  const fs::path csv = dir_ / "gpu.csv";
  const test::CommandResult r = serve("--device cuda --plugin mha --requests 12 --q-heads 8 --prompt-len uniform:64:256 "
                          "--output-len 32 --verify on --out " + csv.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ResultTable t = read_results(csv);
  EXPECT_EQ(t.at(0, "backend"), "cuda");
  EXPECT_EQ(t.number(0, "failed_rows"), 0);
  EXPECT_GT(t.number(0, "verified_rows"), 12);
}
