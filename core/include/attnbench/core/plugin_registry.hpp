// All plugins found in the plugin folders: the loaded ones, and the files that were
// refused with the reason (a broken plugin is reported and skipped; the others load).
#pragma once

#include <attnbench/core/loaded_plugin.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace attnbench {

struct RefusedPlugin {
  std::filesystem::path file;
  std::string reason;  // one line that names the file and the problem
};

class PluginRegistry {
 public:
  // Loads every *.so in `folders`, in order, each folder's files sorted by name. A folder
  // that does not exist throws std::invalid_argument naming it. A second plugin with a name
  // already loaded is refused.
  void load_folders(const std::vector<std::filesystem::path>& folders);
  // Loads one file; on failure records it as refused and returns false.
  bool load_file(const std::filesystem::path& file);

  const std::vector<std::shared_ptr<LoadedPlugin>>& plugins() const { return plugins_; }
  const std::vector<RefusedPlugin>& refused() const { return refused_; }
  std::shared_ptr<LoadedPlugin> find(const std::string& name) const;

 private:
  std::vector<std::shared_ptr<LoadedPlugin>> plugins_;
  std::vector<RefusedPlugin> refused_;
};

// The folders to scan: `explicit_folder` if given (--plugins), else the folder the build or
// install put the plugins in (next to the running executable); then every folder listed in
// ATTNBENCH_PLUGIN_PATH (colon-separated).
std::vector<std::filesystem::path> plugin_folders(const std::string& explicit_folder);

// The default plugins folder for this executable: <exe dir>/../lib/attnbench/plugins.
std::filesystem::path default_plugin_folder();

}  // namespace attnbench
