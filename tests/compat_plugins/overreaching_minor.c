/* A broken negotiation: the plugin says OK but picks minor 9, which the host never offered.
   The host must refuse it (naming both versions) before it touches the table. */
#include <attnbench/abi.h>

static const AttnbPluginApi empty_table = {.struct_size = sizeof(AttnbPluginApi)};

__attribute__((visibility("default"))) AttnbStatus attnbench_plugin_negotiate(
    const AttnbHostInfo* host, AttnbNegotiation* answer) {
  (void)host;
  answer->abi_major = ATTNB_ABI_MAJOR;
  answer->abi_minor = 9;
  answer->api = &empty_table;
  return ATTNB_OK;
}
