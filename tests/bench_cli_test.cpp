// `attnbench bench` as a user runs it: rows that survive a killed run and a crashing plugin,
// `oom` rows instead of aborts, tunable sweeps, and one clear line (exit 2) for bad input.
#include <attnbench/core/result_reader.hpp>

#include "cli_support.hpp"

#include <chrono>
#include <csignal>
#include <fstream>
#include <set>
#include <spawn.h>
#include <thread>

using namespace attnbench;
using namespace attnbench::test;
namespace fs = std::filesystem;

extern char** environ;

namespace {

// Quick timing: these tests check rows, not speed.
const std::string kQuick = " --min-time 0.005 --max-time 0.05 --warmup 0 --device cpu";

std::string plugins_option() { return " --plugins " + plugin_dir(); }
std::string with_bench_plugins() { return "ATTNBENCH_PLUGIN_PATH=" + bench_plugin_dir(); }

std::set<std::string> keys_of(const ResultTable& t) {
  std::set<std::string> keys;
  for (const auto& row : t.rows) keys.insert(row_key(*t.schema, row));
  return keys;
}

// Each usage error is one line from attnbench bench on stderr, and exit code 2.
void expect_usage_error(const std::string& arguments, const std::string& says) {
  const CommandResult r = run_attnbench("bench" + arguments);
  EXPECT_EQ(r.exit_code, 2) << arguments << "\n" << r.output;
  EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
  int ours = 0;
  for (std::size_t at = 0; (at = r.output.find("attnbench bench:", at)) != std::string::npos; ++at) ++ours;
  EXPECT_EQ(ours, 1) << r.output;
}

}  // namespace

TEST(BenchCli, WritesOneRowPerCaseWithProvenance) {
  const fs::path dir = fresh_dir("bench_rows");
  const fs::path out = dir / "r.csv";
  const CommandResult r = run_attnbench("bench" + plugins_option() + kQuick +
                                        " --plugin mha --phase decode,prefill --batch 1,2 --context 20 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ResultTable t = read_results(out);
  ASSERT_EQ(t.rows.size(), 4u);
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    EXPECT_EQ(t.at(i, "status"), "ok") << t.at(i, "message");
    EXPECT_EQ(t.at(i, "plugin"), "mha");
    EXPECT_EQ(t.at(i, "kv_heads"), "8");  // mha: as many KV heads as query heads
    EXPECT_NE(t.at(i, "command").find("--plugin mha"), std::string::npos);
    EXPECT_FALSE(t.at(i, "plugin_hash").empty());
    EXPECT_FALSE(t.at(i, "date").empty());
    EXPECT_GT(t.number(i, "tokens_per_s"), 0);
  }
  fs::remove_all(dir);
}

TEST(BenchCli, OverTheBudgetIsAnOomRowNotAnAbort) {
  const fs::path dir = fresh_dir("bench_oom");
  const fs::path out = dir / "r.csv";
  const CommandResult r = run_attnbench("bench" + plugins_option() + kQuick +
                                        " --plugin mha,gqa --phase decode --batch 1 --context 64,8192 "
                                        "--memory-budget 1M --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;  // oom is an outcome, not a failure
  const ResultTable t = read_results(out);
  ASSERT_EQ(t.rows.size(), 4u);
  int oom = 0, ok = 0;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    (t.at(i, "status") == "oom" ? oom : ok) += 1;
    if (t.at(i, "status") == "oom") EXPECT_GT(t.number(i, "planned_bytes"), 1024.0 * 1024);
  }
  EXPECT_EQ(oom, 2);  // the 8192-token contexts need more than 1 MiB
  EXPECT_EQ(ok, 2);
  fs::remove_all(dir);
}

TEST(BenchCli, ResumesAKilledRunWithoutRepeatingOrLosingRows) {
  const fs::path dir = fresh_dir("bench_resume");
  const fs::path out = dir / "r.csv";
  const std::string args = plugins_option() +
                           " --device cpu --min-time 0.15 --max-time 0.2 --warmup 0 --plugin mha,gqa"
                           " --phase decode --batch 1,2 --context 16,32 --out " + out.string();
  // Start a run and kill it (SIGKILL: no chance to clean up) once two rows are on disk.
  std::vector<std::string> argv_text{harness(), "bench"};
  {
    std::istringstream in(args);
    for (std::string w; in >> w;) argv_text.push_back(w);
  }
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  auto data_rows = [&] {
    std::ifstream in(out);
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines - 1;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (data_rows() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  const ResultTable before = read_results(out);
  ASSERT_GE(before.rows.size(), 2u);
  ASSERT_LT(before.rows.size(), 8u);
  {
    std::ofstream(out, std::ios::app) << "mha,1.0.0,half a li";  // as if killed mid-write
  }

  EXPECT_EQ(run_attnbench("bench" + args).exit_code, 2);  // no silent appending
  const CommandResult resumed = run_attnbench("bench" + args + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const ResultTable after = read_results(out);
  EXPECT_EQ(after.rows.size(), 8u);  // 2 plugins x 2 batches x 2 contexts, each once
  EXPECT_EQ(keys_of(after).size(), 8u);
  for (std::size_t i = 0; i < before.rows.size(); ++i) EXPECT_EQ(after.rows[i], before.rows[i]);
  // Resuming a complete file measures nothing.
  const CommandResult again = run_attnbench("bench" + args + " --resume");
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(read_results(out).rows.size(), 8u);
  fs::remove_all(dir);
}

TEST(BenchCli, IsolateTurnsAnAbortIntoACrashedRowAndTheOthersFinish) {
  const fs::path dir = fresh_dir("bench_isolate");
  const fs::path out = dir / "r.csv";
  const CommandResult r = run_attnbench("bench" + plugins_option() + kQuick +
                                            " --plugin abort_in_decode,mha --phase prefill,decode --batch 1"
                                            " --context 16,24 --isolate --out " + out.string(),
                                        with_bench_plugins());
  EXPECT_EQ(r.exit_code, 1) << r.output;  // a crash is a failure of the run, reported as rows
  const ResultTable t = read_results(out);
  ASSERT_EQ(t.rows.size(), 8u) << r.output;
  int crashed = 0;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const bool aborts = t.at(i, "plugin") == "abort_in_decode" && t.at(i, "phase") == "decode";
    EXPECT_EQ(t.at(i, "status"), aborts ? "crashed" : "ok") << t.at(i, "plugin") << " " << t.at(i, "phase");
    if (aborts) {
      ++crashed;
      EXPECT_NE(t.at(i, "message").find("signal 6"), std::string::npos) << t.at(i, "message");
      EXPECT_EQ(t.at(i, "plugin_version"), "0.0.1");
    }
    // Every row carries the parent's command line.
    EXPECT_NE(t.at(i, "command").find("--isolate"), std::string::npos);
  }
  EXPECT_EQ(crashed, 2);  // both contexts: the sweep went on after the first crash
  fs::remove_all(dir);
}

TEST(BenchCli, SweepsTunablesAsACartesianProduct) {
  const fs::path dir = fresh_dir("bench_tunables");
  const fs::path out = dir / "r.csv";
  const CommandResult r = run_attnbench("bench" + plugins_option() + kQuick +
                                            " --plugin tile_tunables,mha --phase decode --batch 1 --context 16"
                                            " --sweep-tunable tile_q=16,64 --sweep-tunable tile_kv=16,32 --out " +
                                            out.string(),
                                        with_bench_plugins());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ResultTable t = read_results(out);
  std::set<std::string> settings;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    EXPECT_EQ(t.at(i, "status"), "ok");
    if (t.at(i, "plugin") == "tile_tunables") settings.insert(t.at(i, "tunables"));
    else EXPECT_EQ(t.at(i, "tunables"), "");  // mha declares none: one plain row
  }
  EXPECT_EQ(t.rows.size(), 5u);
  EXPECT_EQ(settings, (std::set<std::string>{"tile_kv=16;tile_q=16", "tile_kv=16;tile_q=64",
                                             "tile_kv=32;tile_q=16", "tile_kv=32;tile_q=64"}));
  fs::remove_all(dir);
}

TEST(BenchCli, BadInputIsOneLineAndExitTwo) {
  const fs::path dir = fresh_dir("bench_bad");
  const std::string out = " --out " + (dir / "r.csv").string();
  expect_usage_error(plugins_option() + " --plugin nosuch" + out, "no plugin named 'nosuch'");
  expect_usage_error(plugins_option() + " --batch 0" + out, "--batch");
  expect_usage_error(plugins_option() + " --context ," + out, "--context");
  expect_usage_error(plugins_option() + " --phase warmup" + out, "unknown phase");
  expect_usage_error(plugins_option() + " --memory-budget 0" + out, "--memory-budget");
  expect_usage_error(plugins_option() + " --memory-budget -5%" + out, "--memory-budget");
  expect_usage_error(plugins_option() + " --set nosuch=1" + out, "no selected plugin declares");
  expect_usage_error(plugins_option() + " --preset gpt5" + out, "unknown preset");
  expect_usage_error(plugins_option(), "--out FILE.csv is required");
  EXPECT_FALSE(fs::exists(dir / "r.csv"));  // nothing happened
  fs::remove_all(dir);
}
