// `bench --isolate`: each plugin runs in a child `attnbench bench` process, so a plugin that
// crashes the process (abort, segfault) costs one row, not the sweep.
#pragma once

#include <attnbench/core/bench_case.hpp>
#include <attnbench/core/provenance.hpp>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace attnbench::cli {

// Runs `cases` (all of one plugin, in plan order) through child processes given `args` (the
// parent's bench arguments), appending to `out`. When a child dies of a signal, the first
// case without a row is the one it was measuring: it gets a `crashed` row and a new child
// resumes after it. Returns the last child's exit code (2 when it rejected its arguments).
int run_isolated(const std::vector<std::string>& args, const LoadedPlugin& plugin,
                 const std::vector<BenchCase>& cases, const std::filesystem::path& out,
                 const Provenance& provenance);

// Keys of the rows already in `out` (none when it does not exist yet). A malformed file is a
// usage error naming the file and line.
std::set<std::string> existing_keys(const std::filesystem::path& out);

}  // namespace attnbench::cli
