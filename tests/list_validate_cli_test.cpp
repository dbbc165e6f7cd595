// `attnbench list` and `validate` from the outside: what they print, their exit codes, and
// bad input answered with one line and exit code 2 before anything runs.
#include "cli_support.hpp"

using namespace attnbench::test;

namespace {
const std::string plugins = "--plugins " + plugin_dir();
}

TEST(ListCli, ShowsTheMhaPluginWithItsCapabilities) {
  const CommandResult r = run_attnbench("list " + plugins);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mha 1.0.0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("head dims:  64,128"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mha.so"), std::string::npos) << r.output;
}

TEST(ListCli, NamesARefusedFileAndStillListsTheOthers) {
  const CommandResult r = run_attnbench("list " + plugins, "ATTNBENCH_PLUGIN_PATH=" + fault_plugin_dir());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("refused: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fault_wrong_major.so"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("good_minimal"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mha 1.0.0"), std::string::npos) << r.output;
}

TEST(ValidateCli, MhaPassesOnTheCpu) {
  const CommandResult r = run_attnbench("validate --device cpu --plugin mha --head-dim 64 " + plugins);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(" 0 failed"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("FAIL"), std::string::npos) << r.output;
}

TEST(ValidateCli, AFailingPluginExitsOne) {
  const CommandResult r = run_attnbench("validate --device cpu --plugin failing_calls --plugins " + fault_plugin_dir());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("planted append failure"), std::string::npos) << r.output;
}

TEST(CliUsage, BadInputIsOneLineAndExitTwo) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"frobnicate", "unknown command 'frobnicate'"},
      {"list --bogus " + plugins, "unrecognised option '--bogus'"},
      {"list --plugins /nonexistent/attnbench", "plugins folder /nonexistent/attnbench does not exist"},
      {"validate --q-heads 0 " + plugins, "--q-heads: expected a positive size, got 0"},
      {"validate --q-heads -3 " + plugins, "--q-heads: expected a positive size, got -3"},
      {"validate --head-dim 96 " + plugins, "no selected plugin supports head dim 96"},
      {"validate --dtype fp8 " + plugins, "unknown dtype 'fp8'"},
      {"validate --plugin nope " + plugins, "no plugin named 'nope'"},
      {"validate --device tpu " + plugins, "expected cpu, cuda or all"},
  };
  for (const auto& [arguments, expected] : cases) {
    const CommandResult r = run_attnbench(arguments);
    EXPECT_EQ(r.exit_code, 2) << arguments << "\n" << r.output;
    EXPECT_EQ(line_count(r.output), 1) << arguments << "\n" << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << arguments << "\n" << r.output;
  }
}

TEST(CliUsage, HelpTellsEachCommandsOptions) {
  for (const std::string command : {"list", "validate", "check", "bench", "tune", "serve", "report", "compare"}) {
    const CommandResult r = run_attnbench(command + " --help");
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.output;
    EXPECT_NE(r.output.find("usage: attnbench " + command), std::string::npos) << r.output;
  }
  const CommandResult top = run_attnbench("--help");
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.output.find("exit codes: 0 success, 1 a check or run failed, 2 bad usage"), std::string::npos);
}
