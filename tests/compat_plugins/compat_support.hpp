// Where the compat plugins are: the build's folder, or ATTNB_TEST_COMPAT_PLUGIN_DIR (for a
// staged install on a GPU machine).
#pragma once

#include <cstdlib>
#include <string>

namespace attnbench::test {

inline std::string compat_plugin(const std::string& file_name) {
  const char* env = std::getenv("ATTNB_TEST_COMPAT_PLUGIN_DIR");
  return std::string(env ? env : ATTNB_COMPAT_PLUGIN_DIR) + "/" + file_name;
}

}  // namespace attnbench::test
