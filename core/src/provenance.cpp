#include <attnbench/core/provenance.hpp>

#include <attnbench/core/device.hpp>
#include <attnbench/core/loaded_plugin.hpp>

#include <ctime>

#include "attnbench_commit.h"  // ATTNB_GIT_COMMIT, written at every build (core/write_commit.cmake)

namespace attnbench {

Provenance make_provenance(const std::vector<std::string>& args) {
  Provenance p;
  p.commit = ATTNB_GIT_COMMIT;
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  p.date = date;
  for (const std::string& a : args) p.command_line += (p.command_line.empty() ? "" : " ") + a;
  return p;
}

Provenance make_provenance(int argc, char** argv) {
  return make_provenance(std::vector<std::string>(argv, argv + argc));
}

std::vector<std::string> provenance_columns() {
  return {"plugin", "plugin_version", "plugin_hash", "device", "driver", "commit", "date", "command"};
}

std::vector<std::string> provenance_values(const Provenance& p, const LoadedPlugin* plugin, AttnbDevice device) {
  const bool cuda = device == ATTNB_DEVICE_CUDA;
  return {plugin ? plugin->name() : "",
          plugin ? plugin->descriptor().version : "",
          plugin ? plugin->file_hash() : "",
          hardware_name(device),
          cuda ? detect_device().driver : "",
          p.commit,
          p.date,
          p.command_line};
}

}  // namespace attnbench
