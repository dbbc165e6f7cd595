#include <attnbench/core/plugin_registry.hpp>

#include <boost/dll/runtime_symbol_info.hpp>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace attnbench {

namespace fs = std::filesystem;

bool PluginRegistry::load_file(const fs::path& file) {
  try {
    auto plugin = LoadedPlugin::load(file);
    if (auto other = find(plugin->name())) {
      refused_.push_back({file, file.string() + ": plugin name '" + plugin->name() +
                                    "' already loaded from " + other->file().string()});
      return false;
    }
    plugins_.push_back(std::move(plugin));
    return true;
  } catch (const std::exception& e) {
    refused_.push_back({file, e.what()});
    return false;
  }
}

void PluginRegistry::load_folders(const std::vector<fs::path>& folders) {
  for (const fs::path& folder : folders) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec))
      throw std::invalid_argument("plugins folder " + folder.string() +
                                  " does not exist (expected a folder of plugin .so files)");
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder, ec))
      if (entry.path().extension() == ".so" && !entry.is_directory()) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) load_file(file);
  }
}

std::shared_ptr<LoadedPlugin> PluginRegistry::find(const std::string& name) const {
  for (const auto& p : plugins_)
    if (p->name() == name) return p;
  return nullptr;
}

fs::path default_plugin_folder() {
  const fs::path exe = boost::dll::program_location();
  return (exe.parent_path() / ".." / "lib" / "attnbench" / "plugins").lexically_normal();
}

std::vector<fs::path> plugin_folders(const std::string& explicit_folder) {
  std::vector<fs::path> folders;
  folders.push_back(explicit_folder.empty() ? default_plugin_folder() : fs::path(explicit_folder));
  if (const char* env = std::getenv("ATTNBENCH_PLUGIN_PATH")) {
    std::stringstream list(env);
    for (std::string item; std::getline(list, item, ':');)
      if (!item.empty()) folders.emplace_back(item);
  }
  return folders;
}

}  // namespace attnbench
