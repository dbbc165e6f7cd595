#include <attnbench/core/loaded_plugin.hpp>

#include <attnbench/core/device.hpp>
#include <attnbench/core/hot_path_allocations.hpp>
#include <attnbench/problem_checks.hpp>

#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

#ifdef ATTNB_WITH_CUDA
#include <nvtx3/nvToolsExt.h>
#endif

namespace attnbench {

struct LibraryHandle {
  boost::dll::shared_library library;
};

namespace {

std::string fnv1a_of_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  uint64_t hash = 1469598103934665603ull;
  char block[1 << 16];
  while (in) {
    in.read(block, sizeof block);
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      hash ^= static_cast<unsigned char>(block[i]);
      hash *= 1099511628211ull;
    }
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

// Copies a plugin-owned struct into a zeroed host struct, never past either side's size.
template <typename T>
T copy_prefix(const T* from) {
  T to{};
  const std::size_t n = std::min(from->struct_size, sizeof(T));
  std::memcpy(static_cast<void*>(&to), from, n);
  to.struct_size = n;
  return to;
}

std::string check_descriptor(const AttnbDescriptor& d) {
  static const std::regex name_pattern("[a-z0-9_]+");
  if (!d.name || !std::regex_match(d.name, name_pattern))
    return "descriptor name must match [a-z0-9_]+";
  if (!d.version || !*d.version) return "descriptor has no version";
  if (!d.description) return "descriptor has no description";
  const uint32_t known_devices = ATTNB_BIT(ATTNB_DEVICE_CPU) | ATTNB_BIT(ATTNB_DEVICE_CUDA);
  if (d.devices == 0 || (d.devices & ~known_devices)) return "descriptor devices mask is invalid";
  if ((d.devices & ATTNB_BIT(ATTNB_DEVICE_CPU)) && d.cpu_dtypes == 0)
    return "descriptor claims the CPU but no CPU dtype";
  if ((d.devices & ATTNB_BIT(ATTNB_DEVICE_CUDA)) && d.cuda_dtypes == 0)
    return "descriptor claims CUDA but no CUDA dtype";
  if (d.kv_cache_dtypes == 0) return "descriptor has no KV cache dtype";
  if (!d.head_dims || d.num_head_dims == 0) return "descriptor lists no head dims";
  for (std::size_t i = 0; i < d.num_head_dims; ++i)
    if (d.head_dims[i] <= 0) return "descriptor lists a head dim <= 0";
  if (d.min_group_size < 1) return "descriptor min_group_size must be >= 1";
  if (d.max_group_size != 0 && d.max_group_size < d.min_group_size)
    return "descriptor max_group_size below min_group_size";
  if (d.max_kv_heads < 0) return "descriptor max_kv_heads must be >= 0";
  if (!(d.flags & (ATTNB_FLAG_CAUSAL | ATTNB_FLAG_NON_CAUSAL)))
    return "descriptor supports neither causal nor non-causal attention";
  if (d.num_tunables > 0 && !d.tunables) return "descriptor counts tunables but lists none";
  for (std::size_t i = 0; i < d.num_tunables; ++i) {
    const AttnbTunable& t = d.tunables[i];
    if (!t.name || !std::regex_match(t.name, name_pattern))
      return "tunable name must match [a-z0-9_]+";
    if (!t.values || t.num_values == 0) return std::string("tunable ") + t.name + " lists no values";
    if (!tunable_allows(t, t.default_value))
      return std::string("tunable ") + t.name + " default is not one of its values";
  }
  return "";
}

const char* status_name(AttnbStatus s) {
  switch (s) {
    case ATTNB_OK: return "ok";
    case ATTNB_ERR_INVALID_ARGUMENT: return "invalid argument";
    case ATTNB_ERR_UNSUPPORTED: return "unsupported";
    case ATTNB_ERR_INCOMPATIBLE: return "incompatible";
    case ATTNB_ERR_DEVICE: return "device error";
    case ATTNB_ERR_OUT_OF_MEMORY: return "out of memory";
    case ATTNB_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

// An NVTX range named "<plugin>:<call>" around a plugin call, so Nsight Systems shows whose
// kernels run and in which phase. Free when no tool is attached.
class PluginRange {
 public:
  PluginRange(const LoadedPlugin& plugin, const char* call) {
#ifdef ATTNB_WITH_CUDA
    char name[160];
    std::snprintf(name, sizeof name, "%s:%s", plugin.name().c_str(), call);
    nvtxRangePushA(name);
#else
    (void)plugin, (void)call;
#endif
  }
  ~PluginRange() {
#ifdef ATTNB_WITH_CUDA
    nvtxRangePop();
#endif
  }
};

}  // namespace

std::shared_ptr<LoadedPlugin> LoadedPlugin::load(const std::filesystem::path& file) {
  const std::string where = file.string() + ": ";
  auto handle = std::make_shared<LibraryHandle>();
  boost::dll::fs::error_code ec;
  handle->library.load(file, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local, ec);
  if (ec) throw std::runtime_error(where + "not a loadable shared library (" + ec.message() + ")");
  if (!handle->library.has(ATTNB_ENTRY_SYMBOL))
    throw std::runtime_error(where + "no entry symbol " ATTNB_ENTRY_SYMBOL
                             " (not an attnbench plugin?)");
  auto negotiate = handle->library.get<AttnbStatus(const AttnbHostInfo*, AttnbNegotiation*)>(
      ATTNB_ENTRY_SYMBOL);

  const AttnbHostInfo host = make_host_info(ATTNB_DEVICE_CUDA);
  AttnbNegotiation answer{};
  answer.struct_size = sizeof answer;
  const AttnbStatus status = negotiate(&host, &answer);
  const std::string versions = "plugin ABI " + std::to_string(answer.abi_major) + "." +
                               std::to_string(answer.abi_minor) + ", host ABI " +
                               std::to_string(ATTNB_ABI_MAJOR) + ".0-" +
                               std::to_string(ATTNB_ABI_MINOR);
  if (answer.abi_major != ATTNB_ABI_MAJOR)
    throw std::runtime_error(where + "incompatible ABI major (" + versions + ")");
  if (status != ATTNB_OK || !answer.api)
    throw std::runtime_error(where + "negotiation refused (" + versions + ")");
  if (answer.abi_minor > ATTNB_ABI_MINOR)
    throw std::runtime_error(where + "plugin chose a minor the host does not know (" + versions + ")");

  auto plugin = std::shared_ptr<LoadedPlugin>(new LoadedPlugin());
  plugin->library_ = handle;
  plugin->file_ = file;
  plugin->abi_minor_ = answer.abi_minor;
  plugin->api_ = copy_prefix(answer.api);
  const AttnbPluginApi& api = plugin->api_;
  if (!api.descriptor || !api.can_implement || !api.kv_page_bytes || !api.workspace_bytes ||
      !api.decode_traffic || !api.create || !api.destroy || !api.append_kv || !api.prefill ||
      !api.decode || !api.last_error)
    throw std::runtime_error(where + "function table lacks a slot that ABI 1.0 requires");
  const AttnbDescriptor* d = api.descriptor();
  if (!d) throw std::runtime_error(where + "descriptor() returned NULL");
  plugin->descriptor_ = copy_prefix(d);
  const std::string bad = check_descriptor(plugin->descriptor_);
  if (!bad.empty()) throw std::runtime_error(where + bad);
  plugin->name_ = plugin->descriptor_.name;
  plugin->file_hash_ = fnv1a_of_file(file);
  return plugin;
}

void LoadedPlugin::check(AttnbStatus status, const char* what) const {
  if (status == ATTNB_OK) return;
  const char* message = api_.last_error ? api_.last_error() : nullptr;
  throw PluginError(status, name_ + ": " + what + ": " + status_name(status) +
                                (message && *message ? std::string(": ") + message : ""));
}

std::string LoadedPlugin::why_not(const AttnbProblem& problem) const {
  std::string reason = problem_outside_descriptor(descriptor_, problem);
  if (!reason.empty()) return reason;
  if (api_.can_implement(&problem) == ATTNB_OK) return "";
  const char* message = api_.last_error();
  return message && *message ? message : "refused without a reason";
}

std::size_t LoadedPlugin::kv_page_bytes(const AttnbProblem& problem) const {
  std::size_t bytes = 0;
  check(api_.kv_page_bytes(&problem, &bytes), "kv_page_bytes");
  return bytes;
}

std::size_t LoadedPlugin::workspace_bytes(const AttnbProblem& problem) const {
  std::size_t bytes = 0;
  check(api_.workspace_bytes(&problem, &bytes), "workspace_bytes");
  return bytes;
}

AttnbTraffic LoadedPlugin::decode_traffic(const AttnbProblem& problem, int64_t kv_len) const {
  AttnbTraffic traffic{};
  traffic.struct_size = sizeof traffic;
  check(api_.decode_traffic(&problem, kv_len, &traffic), "decode_traffic");
  return traffic;
}

std::unique_ptr<AttentionOp> LoadedPlugin::create(const AttnbProblem& problem) const {
  const std::string reason = problem_outside_descriptor(descriptor_, problem);
  if (!reason.empty()) throw PluginError(ATTNB_ERR_UNSUPPORTED, name_ + ": " + reason);
  AttnbOp* op = nullptr;
  check(api_.create(&problem, &op), "create");
  if (!op) throw PluginError(ATTNB_ERR_INTERNAL, name_ + ": create returned no op");
  return std::make_unique<AttentionOp>(shared_from_this(), op);
}

AttentionOp::AttentionOp(std::shared_ptr<const LoadedPlugin> plugin, AttnbOp* op)
    : plugin_(std::move(plugin)), op_(op) {}

AttentionOp::~AttentionOp() { plugin_->api().destroy(op_); }

void AttentionOp::set_tunable(const std::string& name, int64_t value) {
  if (!plugin_->api().set_tunable)
    throw PluginError(ATTNB_ERR_UNSUPPORTED, plugin_->name() + ": has no tunables (ABI 1.0 plugin)");
  const PluginRange range(*plugin_, "set_tunable");
  plugin_->check(plugin_->api().set_tunable(op_, name.c_str(), value), "set_tunable");
}

void AttentionOp::append_kv(const AttnbAppendArgs& args) {
  const PluginRange range(*plugin_, "append_kv");  // opened outside the allocation count
  const HotPathCall hot(HotPathKind::kAppendKv);  // counted by `attnbench check`
  plugin_->check(plugin_->api().append_kv(op_, &args), "append_kv");
}
void AttentionOp::prefill(const AttnbAttendArgs& args) {
  const PluginRange range(*plugin_, "prefill");  // opened outside the allocation count
  const HotPathCall hot(HotPathKind::kPrefill);  // counted by `attnbench check`
  plugin_->check(plugin_->api().prefill(op_, &args), "prefill");
}
void AttentionOp::decode(const AttnbAttendArgs& args) {
  const PluginRange range(*plugin_, "decode");  // opened outside the allocation count
  const HotPathCall hot(HotPathKind::kDecode);  // counted by `attnbench check`
  plugin_->check(plugin_->api().decode(op_, &args), "decode");
}

}  // namespace attnbench
