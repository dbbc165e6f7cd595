// Where the compat plugins are: ATTNB_TEST_COMPAT_PLUGIN_DIR if set, else the build's folder,
// else compat_plugins/ next to the test binary (a staged install on a GPU machine).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace attnbench::test {

inline std::string compat_plugin(const std::string& file_name) {
  namespace fs = std::filesystem;
  const char* env = std::getenv("ATTNB_TEST_COMPAT_PLUGIN_DIR");
  fs::path dir = env ? env : ATTNB_COMPAT_PLUGIN_DIR;
  if (!env && !fs::exists(dir)) dir = fs::read_symlink("/proc/self/exe").parent_path() / "compat_plugins";
  return (dir / file_name).string();
}

}  // namespace attnbench::test
