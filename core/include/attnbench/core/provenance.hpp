// Where a result came from: enough to find the build, the device and the command again.
// Every CSV the harness writes carries these columns (provenance_columns()).
#pragma once

#include <attnbench/abi.h>

#include <string>
#include <vector>

namespace attnbench {

class LoadedPlugin;

struct Provenance {
  std::string commit;        // git commit of the harness build ("unknown" outside git)
  std::string date;          // UTC, ISO 8601, when the run started
  std::string command_line;  // the exact command, arguments joined by spaces
};

// Filled once per run from the build's commit and argv.
Provenance make_provenance(int argc, char** argv);
Provenance make_provenance(const std::vector<std::string>& args);

// Columns and values, in the same order: plugin, plugin_version, plugin_hash, device,
// driver, commit, date, command. `plugin` may be null (rows that are not a plugin's). device
// and driver are those of the row's `device`: the GPU's name and CUDA driver version for
// cuda, the CPU's model name and no driver for cpu (on a machine with a GPU too).
std::vector<std::string> provenance_columns();
std::vector<std::string> provenance_values(const Provenance& p, const LoadedPlugin* plugin, AttnbDevice device);

}  // namespace attnbench
