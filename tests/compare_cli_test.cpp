// `attnbench compare`: identical files pass, a planted slowdown fails (exit 1), a threshold
// above the slowdown passes, and unreadable or malformed files are exit 2.
#include <attnbench/core/csv_writer.hpp>
#include <attnbench/core/result_schema.hpp>

#include "cli_support.hpp"

#include <fstream>

using namespace attnbench;
using namespace attnbench::test;
namespace fs = std::filesystem;

namespace {

// Three decode rows of one plugin at contexts 64, 128, 256; `slower` scales one row's time.
void write_results(const fs::path& file, double slower_128 = 1.0, const std::string& status_256 = "ok") {
  CsvWriter out(file, bench_schema().columns);
  for (int context : {64, 128, 256}) {
    RowBuilder row(bench_schema());
    row.set("plugin", "mha").set("backend", "cpu").set("phase", "decode").set("dtype", "fp32");
    row.set_int("batch", 4).set_int("context", context).set_int("steps", 1);
    row.set("status", context == 256 ? status_256 : "ok");
    row.set("time_p50_s", 1e-6 * context * (context == 128 ? slower_128 : 1.0));
    out.write_row(row.values());
  }
}

}  // namespace

TEST(CompareCli, IdenticalFilesPass) {
  const fs::path dir = fresh_dir("compare_same");
  write_results(dir / "a.csv");
  const CommandResult r = run_attnbench("compare " + (dir / "a.csv").string() + " " + (dir / "a.csv").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 rows compared: 0 slower"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(CompareCli, APlantedRegressionFailsAndIsNamed) {
  const fs::path dir = fresh_dir("compare_slower");
  write_results(dir / "base.csv");
  write_results(dir / "new.csv", 1.3);
  const std::string files = (dir / "base.csv").string() + " " + (dir / "new.csv").string();
  const CommandResult r = run_attnbench("compare " + files);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("SLOWER"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("context=128"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 slower beyond 5%"), std::string::npos) << r.output;
  // A noise threshold wider than the slowdown lets it pass; the reverse direction is faster.
  EXPECT_EQ(run_attnbench("compare " + files + " --threshold 0.5").exit_code, 0);
  const CommandResult reverse = run_attnbench("compare " + (dir / "new.csv").string() + " " + (dir / "base.csv").string());
  EXPECT_EQ(reverse.exit_code, 0) << reverse.output;
  EXPECT_NE(reverse.output.find("1 faster"), std::string::npos) << reverse.output;
  fs::remove_all(dir);
}

TEST(CompareCli, ARowThatNoLongerRunsIsARegression) {
  const fs::path dir = fresh_dir("compare_crash");
  write_results(dir / "base.csv");
  write_results(dir / "new.csv", 1.0, "crashed");
  const CommandResult r = run_attnbench("compare " + (dir / "base.csv").string() + " " + (dir / "new.csv").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("REGRESSION (was ok)"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(CompareCli, UnreadableOrMalformedFilesAreUsageErrors) {
  const fs::path dir = fresh_dir("compare_bad");
  write_results(dir / "good.csv");
  {
    std::ofstream bad(dir / "bad.csv");
    std::ifstream good(dir / "good.csv");
    std::string header;
    std::getline(good, header);
    bad << header << "\nmha,too,few,columns\n";
  }
  const CommandResult missing = run_attnbench("compare " + (dir / "good.csv").string() + " " + (dir / "nope.csv").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("nope.csv"), std::string::npos) << missing.output;
  const CommandResult malformed = run_attnbench("compare " + (dir / "good.csv").string() + " " + (dir / "bad.csv").string());
  EXPECT_EQ(malformed.exit_code, 2);
  EXPECT_NE(malformed.output.find("bad.csv"), std::string::npos) << malformed.output;
  EXPECT_NE(malformed.output.find("line 2"), std::string::npos) << malformed.output;
  EXPECT_EQ(line_count(malformed.output), 1) << malformed.output;
  EXPECT_EQ(run_attnbench("compare " + (dir / "good.csv").string()).exit_code, 2);
  EXPECT_EQ(run_attnbench("compare " + (dir / "good.csv").string() + " " + (dir / "good.csv").string() +
                          " --threshold -1").exit_code, 2);
  fs::remove_all(dir);
}
