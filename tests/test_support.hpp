// Shared by the test suites: where the plugins are, one registry, and the GPU skip.
#pragma once

#include <attnbench/core/device.hpp>
#include <attnbench/core/plugin_registry.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace attnbench::test {

// The build's plugins folder, or ATTNB_TEST_PLUGIN_DIR (for a staged install on a GPU box).
inline std::string plugin_dir() {
  const char* env = std::getenv("ATTNB_TEST_PLUGIN_DIR");
  return env ? env : ATTNB_BUILD_PLUGIN_DIR;
}

inline std::string fault_plugin_dir() {
  const char* env = std::getenv("ATTNB_TEST_FAULT_PLUGIN_DIR");
  return env ? env : ATTNB_FAULT_PLUGIN_DIR;
}

inline const PluginRegistry& registry() {
  static const PluginRegistry r = [] {
    PluginRegistry reg;
    reg.load_folders({plugin_dir()});
    return reg;
  }();
  return r;
}

inline std::shared_ptr<LoadedPlugin> plugin(const std::string& name) {
  auto p = registry().find(name);
  if (!p) ADD_FAILURE() << "plugin " << name << " not found in " << plugin_dir();
  return p;
}

// The query dtypes (fp32, fp16, bf16) a descriptor declares on `device`.
inline std::vector<int32_t> query_dtypes(const AttnbDescriptor& d, AttnbDevice device) {
  const uint32_t mask = device == ATTNB_DEVICE_CUDA ? d.cuda_dtypes : d.cpu_dtypes;
  std::vector<int32_t> out;
  for (int32_t t = ATTNB_DTYPE_F32; t <= ATTNB_DTYPE_BF16; ++t)
    if (mask & ATTNB_BIT(t)) out.push_back(t);
  return out;
}

}  // namespace attnbench::test

// Tests that need a GPU say so and skip when there is none; everything else runs on the CPU.
#define ATTNB_SKIP_WITHOUT_GPU()                                                   \
  do {                                                                             \
    if (!::attnbench::detect_device().has_cuda)                                   \
      GTEST_SKIP() << "no GPU: " << ::attnbench::detect_device().why_no_cuda;      \
  } while (0)
