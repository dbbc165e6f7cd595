/* Fault: a plugin of ABI major 2, written in plain C against its own (future) header. */
#include <attnbench/abi.h>

__attribute__((visibility("default"))) AttnbStatus attnbench_plugin_negotiate(
    const AttnbHostInfo* host, AttnbNegotiation* answer) {
  (void)host;
  answer->abi_major = 2;
  answer->abi_minor = 0;
  answer->api = 0;
  return ATTNB_ERR_INCOMPATIBLE;
}
