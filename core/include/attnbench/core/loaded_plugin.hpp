// One plugin library, loaded, negotiated and checked. Everything it creates (AttentionOp)
// holds a shared_ptr to it, so the library stays mapped while anything of it is alive.
#pragma once

#include <attnbench/abi.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace attnbench {

// A plugin call that returned an error status, with the plugin's own message.
class PluginError : public std::runtime_error {
 public:
  PluginError(AttnbStatus status, const std::string& message)
      : std::runtime_error(message), status(status) {}
  AttnbStatus status;
};

class AttentionOp;
struct LibraryHandle;  // the mapped library; opaque so Boost.DLL stays out of this header

class LoadedPlugin : public std::enable_shared_from_this<LoadedPlugin> {
 public:
  // Loads `file`, negotiates and checks the descriptor; throws std::runtime_error with one
  // line that names the file and what went wrong.
  static std::shared_ptr<LoadedPlugin> load(const std::filesystem::path& file);

  const std::string& name() const { return name_; }
  const std::filesystem::path& file() const { return file_; }
  // The descriptor and function table, zero-filled past what the plugin's struct_size covers.
  const AttnbDescriptor& descriptor() const { return descriptor_; }
  const AttnbPluginApi& api() const { return api_; }
  uint32_t abi_minor() const { return abi_minor_; }
  // FNV-1a 64 of the file's bytes, in hex: which build of the plugin produced a result.
  const std::string& file_hash() const { return file_hash_; }

  // "" when the plugin can run `problem`, else its reason (the descriptor check first).
  std::string why_not(const AttnbProblem& problem) const;
  std::size_t kv_page_bytes(const AttnbProblem& problem) const;
  std::size_t workspace_bytes(const AttnbProblem& problem) const;
  AttnbTraffic decode_traffic(const AttnbProblem& problem, int64_t kv_len) const;
  std::unique_ptr<AttentionOp> create(const AttnbProblem& problem) const;

  // Throws PluginError for a non-OK status, with "<name>: <what>: <plugin's message>".
  void check(AttnbStatus status, const char* what) const;

 private:
  LoadedPlugin() = default;
  std::shared_ptr<LibraryHandle> library_;
  std::filesystem::path file_;
  std::string name_;
  std::string file_hash_;
  AttnbDescriptor descriptor_{};
  AttnbPluginApi api_{};
  uint32_t abi_minor_ = 0;
};

// One problem instantiated by a plugin: the hot-path calls. Destroying it calls the
// plugin's destroy() before the library can go away.
class AttentionOp {
 public:
  AttentionOp(std::shared_ptr<const LoadedPlugin> plugin, AttnbOp* op);
  ~AttentionOp();
  AttentionOp(const AttentionOp&) = delete;
  AttentionOp& operator=(const AttentionOp&) = delete;

  // Sets one of the descriptor's tunables for the calls that follow (ABI 1.1 plugins).
  void set_tunable(const std::string& name, int64_t value);
  void append_kv(const AttnbAppendArgs& args);
  void prefill(const AttnbAttendArgs& args);
  void decode(const AttnbAttendArgs& args);
  const LoadedPlugin& plugin() const { return *plugin_; }

 private:
  std::shared_ptr<const LoadedPlugin> plugin_;
  AttnbOp* op_;
};

}  // namespace attnbench
