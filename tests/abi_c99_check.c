/* Compiled as strict C99 by the test build: the ABI header must stay plain C. */
#include <attnbench/abi.h>

AttnbStatus attnb_c99_check(const AttnbHostInfo* host, AttnbNegotiation* answer);
AttnbStatus attnb_c99_check(const AttnbHostInfo* host, AttnbNegotiation* answer) {
  (void)host;
  answer->abi_major = ATTNB_ABI_MAJOR;
  return ATTNB_ERR_INCOMPATIBLE;
}
