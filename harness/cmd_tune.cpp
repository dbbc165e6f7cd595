// attnbench tune: for each plugin and context length, the largest decode batch that fits a
// memory budget and keeps the p95 time per output token under a target, and the throughput
// there; one CSV row each.
#include "bench_options.hpp"
#include "cli.hpp"

#include <attnbench/core/csv_writer.hpp>
#include <attnbench/core/progress.hpp>
#include <attnbench/core/result_reader.hpp>
#include <attnbench/core/tune_runner.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>

#include <cstdio>
#include <iostream>
#include <set>

namespace attnbench::cli {

namespace fs = std::filesystem;

int run_tune(const std::vector<std::string>& args) {
  po::options_description options("tune options");
  add_bench_options(options);
  options.add_options()
      ("out", po::value<std::string>()->value_name("FILE.csv"), "the result file (required)")
      ("context", po::value<std::vector<std::string>>()->composing()->value_name("N[,N]"),
       "context lengths (default: 4096,32768 on the GPU, 256,1024 on the CPU)")
      ("budget", po::value<std::string>()->value_name("BYTES|X%"),
       "memory for the whole model's KV cache plus one layer's buffers (default: 90% of the GPU, 25% of RAM)")
      ("tpot-ms", po::value<double>()->default_value(50)->value_name("MS"),
       "p95 time per output token allowed, attention of all the preset's layers")
      ("max-batch", po::value<int64_t>()->value_name("N"), "largest batch tried (default: 4096 GPU, 256 CPU)")
      ("resume", po::bool_switch(), "skip plugins and contexts that already have a row in --out");
  po::variables_map vm;
  if (!parse("tune", "--out FILE.csv [options]", options, args, vm)) return kSuccess;
  if (!vm.count("out")) throw UsageError("--out FILE.csv is required");
  const fs::path out = vm["out"].as<std::string>();
  const AttnbDevice device = bench_device(vm);
  const bool gpu = device == ATTNB_DEVICE_CUDA;

  TuneSettings settings;
  settings.bench.timing = timing_policy(vm);
  settings.bench.seed = vm["seed"].as<uint64_t>();
  settings.budget_bytes = parse_memory_budget(vm.count("budget") ? vm["budget"].as<std::string>() : gpu ? "90%" : "25%",
                                              device, "budget");
  const double tpot_ms = vm["tpot-ms"].as<double>();
  if (!(tpot_ms > 0)) throw UsageError("--tpot-ms: expected a target above zero, got " + std::to_string(tpot_ms));
  settings.tpot_target_s = tpot_ms / 1e3;
  settings.max_batch = vm.count("max-batch") ? positive(vm["max-batch"].as<int64_t>(), "max-batch") : gpu ? 4096 : 256;

  const PluginRegistry registry = load_plugins(vm);
  const std::vector<std::shared_ptr<LoadedPlugin>> plugins = selected_plugins(registry, vm);
  const TunableSweep tunables(vm, plugins);
  std::vector<BenchCase> cases;
  for (const auto& plugin : plugins) {
    if (!(plugin->descriptor().devices & ATTNB_BIT(device))) continue;
    for (const HeadPreset& preset : selected_presets(vm, device))
      for (int32_t dtype : selected_dtypes(vm, device))
        for (int32_t context : positive_list(vm, "context", gpu ? std::vector<int32_t>{4096, 32768} : std::vector<int32_t>{256, 1024}))
          for (const TunableSetting& setting : tunables.settings_for(*plugin)) {
            BenchCase c = case_for(*plugin, device, preset, dtype, vm);
            c.phase = Phase::decode;
            c.context = context;
            c.steps = 1;
            c.tunables = setting;
            cases.push_back(c);
          }
  }
  if (cases.empty()) throw UsageError("nothing to tune: no selected plugin runs on " + std::string(device_name(device)));

  const bool resume = vm["resume"].as<bool>();
  if (fs::exists(out) && fs::file_size(out) > 0 && !resume)
    throw UsageError(out.string() + " already holds results: pass --resume to continue it, or choose another file");
  std::set<std::string> done;
  if (resume && fs::exists(out) && fs::file_size(out) > 0) {
    drop_unfinished_last_line(out);
    try {
      const ResultTable table = read_results(out);
      if (table.schema != &tune_schema()) throw UsageError(out.string() + ": holds " + table.schema->kind + " results, not tune results");
      for (const auto& row : table.rows) done.insert(row_key(tune_schema(), row));
    } catch (const ResultFileError& e) {
      throw UsageError(e.what());
    }
  }

  std::vector<std::string> command{"attnbench", "tune"};
  command.insert(command.end(), args.begin(), args.end());
  const Provenance provenance = make_provenance(command);
  CsvWriter writer(out, tune_schema().columns);
  DeviceTimer timer(device);
  std::vector<const BenchCase*> todo;
  for (const BenchCase& c : cases)
    if (!done.count(tune_case_key(c, settings))) todo.push_back(&c);
  Progress progress(todo.size(), "tune");
  int failed = 0;
  std::printf("%-16s %-6s %8s %8s %-10s %12s %12s\n", "plugin", "dtype", "context", "batch", "limit", "TPOT p95", "tokens/s");
  for (const BenchCase* c : todo) {
    const std::vector<std::string> row = run_tune_case(*registry.find(c->plugin), *c, settings, provenance, timer);
    writer.write_row(row);
    auto at = [&](const char* column) { return row[tune_schema().index(column)]; };
    failed += at("status") == kStatusError;
    progress.step(c->label() + ": " + at("status"));
    std::printf("%-16s %-6s %8d %8s %-10s %12s %12s %s\n", c->plugin.c_str(), dtype_name(c->dtype), c->context,
                at("batch").c_str(), at("limit").c_str(), at("tpot_p95_s").c_str(), at("tokens_per_s").c_str(),
                at("status") == kStatusOk ? at("message").c_str() : (at("status") + ": " + at("message")).c_str());
    std::fflush(stdout);
  }
  progress.finish();
  return failed > 0 ? kFailure : kSuccess;
}

}  // namespace attnbench::cli
