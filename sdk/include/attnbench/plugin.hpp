// Header-only C++ helper for plugin authors: write one class, add one macro line.
//
//   class MyAttention : public attnbench::PluginBase {
//    public:
//     static const AttnbDescriptor& descriptor();            // required
//     static void can_implement(const AttnbProblem& p);      // optional: throw Unsupported
//     static std::size_t kv_page_bytes(const AttnbProblem&); // optional: default is the
//     static AttnbTraffic decode_traffic(const AttnbProblem&, int64_t kv_len); // plain layout
//     static std::size_t workspace_bytes(const AttnbProblem&);                // default 0
//     explicit MyAttention(const AttnbProblem& p);           // the op: one per problem
//     void append_kv(const AttnbAppendArgs& a);
//     void prefill(const AttnbAttendArgs& a);
//     void decode(const AttnbAttendArgs& a);
//     void set_tunable(const char* name, int64_t value);  // only if the descriptor lists any
//   };
//   ATTNB_PLUGIN(MyAttention)
//
// The macro exports the negotiation entry point and builds the C function table. Every
// call is wrapped: exceptions never cross the boundary, they become a status code plus the
// message that last_error() returns. Throw attnbench::Unsupported for problems the plugin
// cannot do, attnbench::Error for anything else with a status of your choice.
#pragma once

#include <attnbench/abi.h>
#include <attnbench/numeric.hpp>
#include <attnbench/problem_checks.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace attnbench {

// An error with the status code it should cross the boundary as.
class Error : public std::runtime_error {
 public:
  Error(AttnbStatus status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  AttnbStatus status() const { return status_; }

 private:
  AttnbStatus status_;
};

// can_implement's way of saying no, with the reason the harness prints.
class Unsupported : public Error {
 public:
  explicit Unsupported(const std::string& reason) : Error(ATTNB_ERR_UNSUPPORTED, reason) {}
};

// The plain (unquantized) page format: K then V, each [num_kv_heads][page_size][head_dim]
// of the problem's dtype. Plugins that use it share the host's expectations of its size.
inline std::size_t plain_kv_page_bytes(const AttnbProblem& p) {
  return 2u * static_cast<std::size_t>(p.num_kv_heads) * static_cast<std::size_t>(p.page_size) *
         static_cast<std::size_t>(p.head_dim) * dtype_size(p.kv_cache_dtype);
}

// Tokens one decode step at position kv_len - 1 can see: all of them, or the window.
inline int64_t visible_tokens(const AttnbProblem& p, int64_t kv_len) {
  return p.window > 0 && p.window < kv_len ? p.window : kv_len;
}

// Traffic of one decode step over the plain format: each visible cached K/V element is read
// once per KV head (not once per query head), Q is read, O and the new token are written.
inline AttnbTraffic plain_decode_traffic(const AttnbProblem& p, int64_t kv_len) {
  const double elem = static_cast<double>(dtype_size(p.kv_cache_dtype));
  const double q_elem = static_cast<double>(dtype_size(p.dtype));
  const double per_token = 2.0 * p.num_kv_heads * p.head_dim * elem;
  const double visible = static_cast<double>(visible_tokens(p, kv_len));
  AttnbTraffic t{};
  t.struct_size = sizeof(AttnbTraffic);
  t.kv_bytes_per_token = per_token;
  t.kv_bytes_read = per_token * visible;
  t.other_bytes_read = static_cast<double>(p.num_q_heads) * p.head_dim * q_elem;
  t.bytes_written = static_cast<double>(p.num_q_heads) * p.head_dim * q_elem +
                    2.0 * p.num_kv_heads * p.head_dim * q_elem;
  t.flops = 4.0 * p.num_q_heads * p.head_dim * visible;  // QK^T and PV, a multiply-add each
  return t;
}

// Defaults an author's class inherits and may hide with its own static of the same name.
class PluginBase {
 public:
  static void can_implement(const AttnbProblem&) {}
  static std::size_t kv_page_bytes(const AttnbProblem& p) { return plain_kv_page_bytes(p); }
  static std::size_t workspace_bytes(const AttnbProblem&) { return 0; }
  static AttnbTraffic decode_traffic(const AttnbProblem& p, int64_t kv_len) {
    return plain_decode_traffic(p, kv_len);
  }
  // A plugin that declares tunables hides this with its own; reaching it is a bug.
  void set_tunable(const char* name, int64_t) {
    throw Error(ATTNB_ERR_INTERNAL, std::string("tunable '") + name + "' declared but not handled");
  }
};

namespace detail {

// What the host offered at negotiation (log callback, device); zero before that.
inline AttnbHostInfo& host_info() {
  static AttnbHostInfo info{};
  return info;
}

inline std::string& last_error_slot() {
  thread_local std::string message;
  return message;
}

// Runs `body`, turning any exception into a status and a message.
template <typename Body>
AttnbStatus guarded(Body&& body) noexcept {
  try {
    body();
    return ATTNB_OK;
  } catch (const Error& e) {
    last_error_slot() = e.what();
    return e.status();
  } catch (const std::bad_alloc&) {
    last_error_slot() = "out of host memory";
    return ATTNB_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    last_error_slot() = e.what();
    return ATTNB_ERR_INTERNAL;
  } catch (...) {
    last_error_slot() = "unknown exception";
    return ATTNB_ERR_INTERNAL;
  }
}

// Reads a host struct into a zeroed one of ours, never past the host's struct_size: a host
// built against an older minor passes a shorter struct, and its missing tail reads as zero.
template <typename S>
S read_struct(const S* in, std::size_t oldest_size, const char* what) {
  if (in == nullptr) throw Error(ATTNB_ERR_INVALID_ARGUMENT, std::string(what) + " is NULL");
  if (in->struct_size < oldest_size)
    throw Error(ATTNB_ERR_INVALID_ARGUMENT, std::string(what) + ".struct_size too small");
  S out{};
  std::memcpy(static_cast<void*>(&out), in, std::min(in->struct_size, sizeof(S)));
  out.struct_size = sizeof(S);
  return out;
}

// Sizes of the structs in ABI 1.0, the oldest minor this helper serves.
constexpr std::size_t kProblemSize_1_0 = sizeof(AttnbProblem);
constexpr std::size_t kAppendArgsSize_1_0 = sizeof(AttnbAppendArgs);
constexpr std::size_t kAttendArgsSize_1_0 = sizeof(AttnbAttendArgs);

inline AttnbProblem read_problem(const AttnbProblem* p) {
  return read_struct(p, kProblemSize_1_0, "problem");
}

template <typename T>
struct Adapter {
  static const AttnbDescriptor* descriptor() noexcept { return &T::descriptor(); }

  static AttnbStatus can_implement(const AttnbProblem* p) noexcept {
    return guarded([&] {
      const AttnbProblem problem = read_problem(p);
      const std::string reason = problem_outside_descriptor(T::descriptor(), problem);
      if (!reason.empty()) throw Unsupported(reason);
      T::can_implement(problem);
    });
  }

  static AttnbStatus kv_page_bytes(const AttnbProblem* p, std::size_t* bytes) noexcept {
    return guarded([&] {
      const AttnbProblem problem = read_problem(p);
      if (!bytes) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "bytes is NULL");
      *bytes = T::kv_page_bytes(problem);
    });
  }

  static AttnbStatus workspace_bytes(const AttnbProblem* p, std::size_t* bytes) noexcept {
    return guarded([&] {
      const AttnbProblem problem = read_problem(p);
      if (!bytes) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "bytes is NULL");
      *bytes = T::workspace_bytes(problem);
    });
  }

  static AttnbStatus decode_traffic(const AttnbProblem* p, int64_t kv_len,
                                    AttnbTraffic* out) noexcept {
    return guarded([&] {
      const AttnbProblem problem = read_problem(p);
      if (!out) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "traffic is NULL");
      // Write no more than the host's struct holds.
      const std::size_t host_size = out->struct_size;
      AttnbTraffic t = T::decode_traffic(problem, kv_len);
      t.struct_size = host_size < sizeof(t) ? host_size : sizeof(t);
      std::memcpy(static_cast<void*>(out), &t, t.struct_size);
    });
  }

  static AttnbStatus create(const AttnbProblem* p, AttnbOp** op) noexcept {
    return guarded([&] {
      const AttnbProblem problem = read_problem(p);
      if (!op) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "op is NULL");
      *op = nullptr;
      const std::string reason = problem_outside_descriptor(T::descriptor(), problem);
      if (!reason.empty()) throw Unsupported(reason);
      T::can_implement(problem);
      *op = reinterpret_cast<AttnbOp*>(new T(problem));
    });
  }

  static void destroy(AttnbOp* op) noexcept {
    guarded([&] { delete reinterpret_cast<T*>(op); });
  }

  static AttnbStatus append_kv(AttnbOp* op, const AttnbAppendArgs* a) noexcept {
    return guarded([&] {
      if (!op) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "op is NULL");
      reinterpret_cast<T*>(op)->append_kv(read_struct(a, kAppendArgsSize_1_0, "append args"));
    });
  }

  static AttnbStatus prefill(AttnbOp* op, const AttnbAttendArgs* a) noexcept {
    return guarded([&] {
      if (!op) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "op is NULL");
      reinterpret_cast<T*>(op)->prefill(read_struct(a, kAttendArgsSize_1_0, "attend args"));
    });
  }

  static AttnbStatus decode(AttnbOp* op, const AttnbAttendArgs* a) noexcept {
    return guarded([&] {
      if (!op) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "op is NULL");
      reinterpret_cast<T*>(op)->decode(read_struct(a, kAttendArgsSize_1_0, "attend args"));
    });
  }

  static const char* last_error() noexcept { return last_error_slot().c_str(); }

  // Only names and values the descriptor declares reach the plugin's set_tunable.
  static AttnbStatus set_tunable(AttnbOp* op, const char* name, int64_t value) noexcept {
    return guarded([&] {
      if (!op || !name) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "op or name is NULL");
      const AttnbTunable* tunable = find_tunable(T::descriptor(), name);
      if (!tunable)
        throw Error(ATTNB_ERR_INVALID_ARGUMENT, std::string("no tunable named '") + name + "'");
      if (!tunable_allows(*tunable, value))
        throw Error(ATTNB_ERR_INVALID_ARGUMENT, std::string("tunable '") + name +
                                                    "' does not allow " + std::to_string(value));
      reinterpret_cast<T*>(op)->set_tunable(name, value);
    });
  }

  static const AttnbPluginApi* api() noexcept {
    static const AttnbPluginApi table = {
        sizeof(AttnbPluginApi), &descriptor, &can_implement, &kv_page_bytes, &workspace_bytes,
        &decode_traffic,        &create,     &destroy,       &append_kv,     &prefill,
        &decode,                &last_error, &set_tunable};
    return &table;
  }

  // Highest common minor wins; a host whose range does not reach ours is answered
  // INCOMPATIBLE with our version, so it can name both in its message.
  static AttnbStatus negotiate(const AttnbHostInfo* host, AttnbNegotiation* answer) noexcept {
    if (!host || !answer || answer->struct_size < sizeof(AttnbNegotiation))
      return ATTNB_ERR_INVALID_ARGUMENT;
    answer->abi_major = ATTNB_ABI_MAJOR;
    answer->abi_minor = ATTNB_ABI_MINOR;
    answer->api = nullptr;
    if (host->abi_major != ATTNB_ABI_MAJOR) return ATTNB_ERR_INCOMPATIBLE;
    // Keep the part of the host's info that both sides know.
    AttnbHostInfo& kept = host_info();
    std::memcpy(&kept, host, host->struct_size < sizeof(kept) ? host->struct_size : sizeof(kept));
    // Minors are append-only: a newer host drives us at our minor; an older host gets the
    // prefix it knows, which is the same table read only up to its struct_size.
    const uint32_t chosen = std::min<uint32_t>(host->abi_minor_max, ATTNB_ABI_MINOR);
    if (chosen < host->abi_minor_min) return ATTNB_ERR_INCOMPATIBLE;
    answer->abi_minor = chosen;
    answer->api = api();
    return ATTNB_OK;
  }
};

}  // namespace detail

// Sends a line to the host's log (if it gave one).
inline void log(AttnbLogLevel level, const std::string& message) {
  const AttnbHostInfo& host = detail::host_info();
  if (host.log) host.log(host.log_user, level, message.c_str());
}

}  // namespace attnbench

#if defined(_WIN32)
#define ATTNB_EXPORT __declspec(dllexport)
#else
#define ATTNB_EXPORT __attribute__((visibility("default")))
#endif

// The one line a plugin adds: exports attnbench_plugin_negotiate for class T.
#define ATTNB_PLUGIN(T)                                                                   \
  extern "C" ATTNB_EXPORT AttnbStatus attnbench_plugin_negotiate(const AttnbHostInfo* host, \
                                                                  AttnbNegotiation* answer) { \
    return ::attnbench::detail::Adapter<T>::negotiate(host, answer);                      \
  }
