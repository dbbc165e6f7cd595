/* A plugin of ABI 0.3 that answers OK with a table anyway: the host must go by the major it
   reports, refuse it, and name both versions. (tests/fault_plugins/wrong_major.c is the
   polite 2.0 plugin that answers INCOMPATIBLE itself.) */
#include <attnbench/abi.h>

static const AttnbPluginApi empty_table = {.struct_size = sizeof(AttnbPluginApi)};

__attribute__((visibility("default"))) AttnbStatus attnbench_plugin_negotiate(
    const AttnbHostInfo* host, AttnbNegotiation* answer) {
  (void)host;
  answer->abi_major = 0;
  answer->abi_minor = 3;
  answer->api = &empty_table;
  return ATTNB_OK;
}
