// attnbench bench: every selected plugin over a sweep of phases, batch sizes, context
// lengths, dtypes, head presets and tunables; one CSV row per measurement, written as soon
// as it is measured.
#include "bench_isolation.hpp"
#include "bench_options.hpp"
#include "cli.hpp"

#include <attnbench/core/bench_runner.hpp>
#include <attnbench/core/ceilings.hpp>
#include <attnbench/core/csv_writer.hpp>
#include <attnbench/core/device.hpp>
#include <attnbench/core/progress.hpp>
#include <attnbench/core/result_reader.hpp>
#include <attnbench/core/result_schema.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <set>

namespace attnbench::cli {

namespace {

namespace fs = std::filesystem;

struct PhaseSweep {
  std::vector<int32_t> batches, contexts;
};

// The default sweep: small shapes on the CPU (well under a minute on two cores), and on the
// GPU the shapes the plugins' targets are stated for (decode 32 x 4096, 8 x 32768, 1 x 65536;
// prefill 4 x 4096) and around them.
PhaseSweep default_sweep(Phase phase, AttnbDevice device) {
  const bool gpu = device == ATTNB_DEVICE_CUDA;
  switch (phase) {
    case Phase::prefill: return gpu ? PhaseSweep{{1, 4}, {1024, 4096, 16384}} : PhaseSweep{{1, 4}, {32, 128}};
    case Phase::decode:
      return gpu ? PhaseSweep{{1, 8, 32, 128}, {1024, 4096, 32768, 65536}} : PhaseSweep{{1, 4}, {64, 512}};
    case Phase::generate: return gpu ? PhaseSweep{{1, 32}, {1024, 4096}} : PhaseSweep{{1, 4}, {64}};
  }
  return {};
}

std::vector<Phase> selected_phases(const po::variables_map& vm) {
  if (!vm.count("phase")) return {Phase::prefill, Phase::decode, Phase::generate};
  std::vector<Phase> phases;
  for (const std::string& name : split_list(vm["phase"].as<std::vector<std::string>>(), "phase")) {
    const auto p = phase_from_name(name);
    if (!p) throw UsageError("--phase: unknown phase '" + name + "' (expected prefill, decode or generate)");
    phases.push_back(*p);
  }
  return phases;
}

std::vector<int32_t> window_list(const po::variables_map& vm) {
  std::vector<int32_t> windows;
  if (!vm.count("window")) return {0};
  for (const std::string& item : split_list(vm["window"].as<std::vector<std::string>>(), "window")) {
    const int64_t w = parse_integer(item, "window");
    windows.push_back(w == 0 ? 0 : positive(w, "window"));
  }
  return windows;
}

// Every case of the sweep, plugin by plugin, in a fixed order (--resume and --isolate rely on
// the same arguments giving the same order).
std::vector<BenchCase> plan(const po::variables_map& vm, AttnbDevice device,
                            const std::vector<std::shared_ptr<LoadedPlugin>>& plugins) {
  const TunableSweep tunables(vm, plugins);
  const int32_t gpu_steps = 32, cpu_steps = 4;
  const int32_t steps = vm.count("steps") ? positive(vm["steps"].as<int64_t>(), "steps")
                                          : device == ATTNB_DEVICE_CUDA ? gpu_steps : cpu_steps;
  std::vector<BenchCase> cases;
  for (const auto& plugin : plugins) {
    const AttnbDescriptor& d = plugin->descriptor();
    if (!(d.devices & ATTNB_BIT(device))) {
      std::cerr << "attnbench bench: " << plugin->name() << " has no " << device_name(device) << " path; skipped\n";
      continue;
    }
    for (const HeadPreset& preset : selected_presets(vm, device))
      for (int32_t dtype : selected_dtypes(vm, device))
        for (Phase phase : selected_phases(vm)) {
          const PhaseSweep sweep = default_sweep(phase, device);
          for (int32_t window : window_list(vm))
            for (int32_t batch : positive_list(vm, "batch", sweep.batches))
              for (int32_t context : positive_list(vm, "context", sweep.contexts))
                for (const TunableSetting& setting : tunables.settings_for(*plugin)) {
                  BenchCase c = case_for(*plugin, device, preset, dtype, vm);
                  c.phase = phase;
                  c.window = window;
                  c.batch = batch;
                  c.context = context;
                  c.steps = phase == Phase::prefill ? 0 : phase == Phase::decode ? 1 : steps;
                  c.tunables = setting;
                  cases.push_back(c);
                }
        }
  }
  return cases;
}

void print_ceilings(const std::vector<BenchCase>& cases) {
  std::set<std::pair<int, int>> seen;
  for (const BenchCase& c : cases) {
    if (!seen.insert({c.device, c.dtype}).second) continue;
    const Ceilings& ceiling = measured_ceilings(c.device, c.dtype);
    std::fprintf(stderr, "attnbench bench: ceilings on %s (%s): %.1f GB/s copy, %.3f TFLOP/s GEMM [%s]\n",
                 hardware_name(c.device).c_str(), dtype_name(c.dtype), ceiling.bytes_per_s / 1e9,
                 ceiling.flops_per_s / 1e12, ceiling.method.c_str());
  }
}

}  // namespace

int run_bench(const std::vector<std::string>& args) {
  po::options_description options("bench options");
  add_bench_options(options);
  options.add_options()
      ("out", po::value<std::string>()->value_name("FILE.csv"), "the result file (required)")
      ("phase", po::value<std::vector<std::string>>()->composing()->value_name("P[,P]"),
       "prefill, decode, generate (default: all three)")
      ("batch", po::value<std::vector<std::string>>()->composing()->value_name("N[,N]"),
       "sequences per call (default: a per-phase list for the device)")
      ("context", po::value<std::vector<std::string>>()->composing()->value_name("N[,N]"),
       "prompt tokens (prefill, generate) or cached tokens (decode) (default: per phase)")
      ("steps", po::value<int64_t>()->value_name("N"), "decode steps after the prompt in generate (default: 32 GPU, 4 CPU)")
      ("window", po::value<std::vector<std::string>>()->composing()->value_name("W[,W]"),
       "sliding windows to run (0: none; plugins without windows get unsupported rows) (default: 0)")
      ("memory-budget", po::value<std::string>()->value_name("BYTES|X%"),
       "largest allocation a case may plan; more is an `oom` row (default: 90% of the GPU, 50% of RAM)")
      ("resume", po::bool_switch(), "skip cases that already have a row in --out")
      ("isolate", po::bool_switch(), "run each plugin in a child process: a crash becomes a `crashed` row")
      ("isolated-child", po::value<std::string>()->value_name("COMMAND"),
       "internal: run as a child of --isolate, recording COMMAND as the command line");
  po::variables_map vm;
  if (!parse("bench", "--out FILE.csv [options]", options, args, vm)) return kSuccess;
  if (!vm.count("out")) throw UsageError("--out FILE.csv is required");
  const fs::path out = vm["out"].as<std::string>();
  const bool resume = vm["resume"].as<bool>();

  const AttnbDevice device = bench_device(vm);
  BenchSettings settings;
  settings.timing = timing_policy(vm);
  settings.seed = vm["seed"].as<uint64_t>();
  settings.memory_budget = parse_memory_budget(
      vm.count("memory-budget") ? vm["memory-budget"].as<std::string>() : device == ATTNB_DEVICE_CUDA ? "90%" : "50%",
      device, "memory-budget");
  const PluginRegistry registry = load_plugins(vm);
  const std::vector<std::shared_ptr<LoadedPlugin>> plugins = selected_plugins(registry, vm);
  const std::vector<BenchCase> cases = plan(vm, device, plugins);
  if (cases.empty()) throw UsageError("the sweep is empty: no selected plugin runs on " + std::string(device_name(device)));

  if (fs::exists(out) && fs::file_size(out) > 0 && !resume)
    throw UsageError(out.string() + " already holds results: pass --resume to continue it, or choose another file");
  if (resume && fs::exists(out) && drop_unfinished_last_line(out))
    std::cerr << "attnbench bench: dropped an unfinished last line of " << out.string() << "\n";
  const std::set<std::string> done = existing_keys(out);

  std::vector<std::string> command{"attnbench", "bench"};
  command.insert(command.end(), args.begin(), args.end());
  Provenance provenance = make_provenance(command);
  if (vm.count("isolated-child")) provenance.command_line = vm["isolated-child"].as<std::string>();

  if (vm["isolate"].as<bool>()) {
    int worst = kSuccess;
    for (const auto& plugin : plugins) {
      std::vector<BenchCase> mine;
      for (const BenchCase& c : cases)
        if (c.plugin == plugin->name()) mine.push_back(c);
      if (mine.empty()) continue;
      const int code = run_isolated(args, *plugin, mine, out, provenance);
      if (code == kUsage) return kUsage;  // the child said why
      worst = std::max(worst, code);
    }
    std::map<std::string, int> counts;
    const ResultTable table = read_results(out);
    for (std::size_t i = 0; i < table.rows.size(); ++i) ++counts[table.at(i, "status")];
    for (const char* s : {kStatusError, kStatusCrashed})
      if (counts[s] > 0) worst = std::max(worst, static_cast<int>(kFailure));
    std::printf("bench: %zu rows in %s (isolated)\n", table.rows.size(), out.string().c_str());
    return worst;
  }

  std::vector<const BenchCase*> todo;
  for (const BenchCase& c : cases)
    if (!done.count(bench_case_key(c))) todo.push_back(&c);
  print_ceilings(cases);
  CsvWriter writer(out, bench_schema().columns);
  std::map<std::string, int> counts;
  DeviceTimer timer(device);
  Progress progress(todo.size(), "bench");
  for (const BenchCase* c : todo) {
    const std::vector<std::string> row =
        run_bench_case(*registry.find(c->plugin), *c, settings, provenance, timer);
    writer.write_row(row);
    const std::string& status = row[bench_schema().index("status")];
    ++counts[status];
    progress.step(c->label() + ": " + status);
  }
  progress.finish();
  std::printf("bench: %zu measured (%zu already in the file):", todo.size(), cases.size() - todo.size());
  for (const auto& [status, n] : counts) std::printf(" %s %d", status.c_str(), n);
  std::printf(" -> %s\n", out.string().c_str());
  return counts[kStatusError] + counts[kStatusCrashed] > 0 ? kFailure : kSuccess;
}

}  // namespace attnbench::cli
