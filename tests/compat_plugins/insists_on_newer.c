/* A plugin that needs ABI 1.5, newer than any host yet: it answers INCOMPATIBLE with the
   version it needs, as the negotiation rules say, and the host refuses it naming both. */
#include <attnbench/abi.h>

#define NEEDED_MINOR 5

__attribute__((visibility("default"))) AttnbStatus attnbench_plugin_negotiate(
    const AttnbHostInfo* host, AttnbNegotiation* answer) {
  answer->abi_major = ATTNB_ABI_MAJOR;
  answer->abi_minor = NEEDED_MINOR;
  answer->api = 0;
  (void)host; /* a host offering 1.5 would be served here; none exists, so there is no table */
  return ATTNB_ERR_INCOMPATIBLE;
}
