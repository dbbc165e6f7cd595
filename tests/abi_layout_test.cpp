// Pins the ABI 1.0 layout (x86-64 / LP64). A failure here means a change broke plugins
// already built: minors may only append fields, so existing offsets never move.
#include <attnbench/abi.h>

#include <gtest/gtest.h>

#include <cstddef>

static_assert(sizeof(void*) == 8, "the pinned offsets are for 64-bit targets");

TEST(AbiLayout, HostInfo) {
  EXPECT_EQ(offsetof(AttnbHostInfo, struct_size), 0u);
  EXPECT_EQ(offsetof(AttnbHostInfo, abi_major), 8u);
  EXPECT_EQ(offsetof(AttnbHostInfo, abi_minor_min), 12u);
  EXPECT_EQ(offsetof(AttnbHostInfo, abi_minor_max), 16u);
  EXPECT_EQ(offsetof(AttnbHostInfo, cuda_device), 20u);
  EXPECT_EQ(offsetof(AttnbHostInfo, cuda_cc_major), 24u);
  EXPECT_EQ(offsetof(AttnbHostInfo, cuda_cc_minor), 28u);
  EXPECT_EQ(offsetof(AttnbHostInfo, cuda_sm_count), 32u);
  EXPECT_EQ(offsetof(AttnbHostInfo, log), 40u);
  EXPECT_EQ(offsetof(AttnbHostInfo, log_user), 48u);
  EXPECT_EQ(sizeof(AttnbHostInfo), 56u);
}

TEST(AbiLayout, Descriptor) {
  EXPECT_EQ(offsetof(AttnbDescriptor, struct_size), 0u);
  EXPECT_EQ(offsetof(AttnbDescriptor, name), 8u);
  EXPECT_EQ(offsetof(AttnbDescriptor, version), 16u);
  EXPECT_EQ(offsetof(AttnbDescriptor, description), 24u);
  EXPECT_EQ(offsetof(AttnbDescriptor, devices), 32u);
  EXPECT_EQ(offsetof(AttnbDescriptor, cpu_dtypes), 36u);
  EXPECT_EQ(offsetof(AttnbDescriptor, cuda_dtypes), 40u);
  EXPECT_EQ(offsetof(AttnbDescriptor, kv_cache_dtypes), 44u);
  EXPECT_EQ(offsetof(AttnbDescriptor, head_dims), 48u);
  EXPECT_EQ(offsetof(AttnbDescriptor, num_head_dims), 56u);
  EXPECT_EQ(offsetof(AttnbDescriptor, min_group_size), 64u);
  EXPECT_EQ(offsetof(AttnbDescriptor, max_group_size), 68u);
  EXPECT_EQ(offsetof(AttnbDescriptor, max_kv_heads), 72u);
  EXPECT_EQ(offsetof(AttnbDescriptor, flags), 76u);
  EXPECT_EQ(offsetof(AttnbDescriptor, tunables), 80u);      // 1.1
  EXPECT_EQ(offsetof(AttnbDescriptor, num_tunables), 88u);  // 1.1
  EXPECT_EQ(sizeof(AttnbDescriptor), 96u);
}

TEST(AbiLayout, Problem) {
  EXPECT_EQ(offsetof(AttnbProblem, struct_size), 0u);
  EXPECT_EQ(offsetof(AttnbProblem, device), 8u);
  EXPECT_EQ(offsetof(AttnbProblem, dtype), 12u);
  EXPECT_EQ(offsetof(AttnbProblem, kv_cache_dtype), 16u);
  EXPECT_EQ(offsetof(AttnbProblem, num_q_heads), 20u);
  EXPECT_EQ(offsetof(AttnbProblem, num_kv_heads), 24u);
  EXPECT_EQ(offsetof(AttnbProblem, head_dim), 28u);
  EXPECT_EQ(offsetof(AttnbProblem, page_size), 32u);
  EXPECT_EQ(offsetof(AttnbProblem, causal), 36u);
  EXPECT_EQ(offsetof(AttnbProblem, window), 40u);
  EXPECT_EQ(offsetof(AttnbProblem, sm_scale), 44u);
  EXPECT_EQ(offsetof(AttnbProblem, max_batch), 48u);
  EXPECT_EQ(offsetof(AttnbProblem, max_q_tokens), 52u);
  EXPECT_EQ(offsetof(AttnbProblem, max_kv_len), 56u);
  EXPECT_EQ(offsetof(AttnbProblem, kv_quant_mode), 60u);
  EXPECT_EQ(sizeof(AttnbProblem), 64u);
}

TEST(AbiLayout, PagedKv) {
  EXPECT_EQ(offsetof(AttnbPagedKv, struct_size), 0u);
  EXPECT_EQ(offsetof(AttnbPagedKv, pages), 8u);
  EXPECT_EQ(offsetof(AttnbPagedKv, page_bytes), 16u);
  EXPECT_EQ(offsetof(AttnbPagedKv, num_pages), 24u);
  EXPECT_EQ(offsetof(AttnbPagedKv, batch), 32u);
  EXPECT_EQ(offsetof(AttnbPagedKv, page_indptr), 40u);
  EXPECT_EQ(offsetof(AttnbPagedKv, page_indices), 48u);
  EXPECT_EQ(offsetof(AttnbPagedKv, last_page_len), 56u);
  EXPECT_EQ(offsetof(AttnbPagedKv, page_indptr_host), 64u);
  EXPECT_EQ(offsetof(AttnbPagedKv, page_indices_host), 72u);
  EXPECT_EQ(offsetof(AttnbPagedKv, last_page_len_host), 80u);
  EXPECT_EQ(sizeof(AttnbPagedKv), 88u);
}

TEST(AbiLayout, AppendArgs) {
  EXPECT_EQ(offsetof(AttnbAppendArgs, struct_size), 0u);
  EXPECT_EQ(offsetof(AttnbAppendArgs, cache), 8u);
  EXPECT_EQ(offsetof(AttnbAppendArgs, k), 16u);
  EXPECT_EQ(offsetof(AttnbAppendArgs, v), 24u);
  EXPECT_EQ(offsetof(AttnbAppendArgs, new_indptr), 32u);
  EXPECT_EQ(offsetof(AttnbAppendArgs, new_indptr_host), 40u);
  EXPECT_EQ(offsetof(AttnbAppendArgs, workspace), 48u);
  EXPECT_EQ(offsetof(AttnbAppendArgs, workspace_bytes), 56u);
  EXPECT_EQ(offsetof(AttnbAppendArgs, stream), 64u);
  EXPECT_EQ(sizeof(AttnbAppendArgs), 72u);
}

TEST(AbiLayout, AttendArgs) {
  EXPECT_EQ(offsetof(AttnbAttendArgs, struct_size), 0u);
  EXPECT_EQ(offsetof(AttnbAttendArgs, cache), 8u);
  EXPECT_EQ(offsetof(AttnbAttendArgs, q), 16u);
  EXPECT_EQ(offsetof(AttnbAttendArgs, o), 24u);
  EXPECT_EQ(offsetof(AttnbAttendArgs, q_indptr), 32u);
  EXPECT_EQ(offsetof(AttnbAttendArgs, q_indptr_host), 40u);
  EXPECT_EQ(offsetof(AttnbAttendArgs, workspace), 48u);
  EXPECT_EQ(offsetof(AttnbAttendArgs, workspace_bytes), 56u);
  EXPECT_EQ(offsetof(AttnbAttendArgs, stream), 64u);
  EXPECT_EQ(sizeof(AttnbAttendArgs), 72u);
}

TEST(AbiLayout, Traffic) {
  EXPECT_EQ(offsetof(AttnbTraffic, struct_size), 0u);
  EXPECT_EQ(offsetof(AttnbTraffic, kv_bytes_per_token), 8u);
  EXPECT_EQ(offsetof(AttnbTraffic, kv_bytes_read), 16u);
  EXPECT_EQ(offsetof(AttnbTraffic, other_bytes_read), 24u);
  EXPECT_EQ(offsetof(AttnbTraffic, bytes_written), 32u);
  EXPECT_EQ(offsetof(AttnbTraffic, flops), 40u);
  EXPECT_EQ(sizeof(AttnbTraffic), 48u);
}

TEST(AbiLayout, PluginApi) {
  EXPECT_EQ(offsetof(AttnbPluginApi, struct_size), 0u);
  EXPECT_EQ(offsetof(AttnbPluginApi, descriptor), 8u);
  EXPECT_EQ(offsetof(AttnbPluginApi, can_implement), 16u);
  EXPECT_EQ(offsetof(AttnbPluginApi, kv_page_bytes), 24u);
  EXPECT_EQ(offsetof(AttnbPluginApi, workspace_bytes), 32u);
  EXPECT_EQ(offsetof(AttnbPluginApi, decode_traffic), 40u);
  EXPECT_EQ(offsetof(AttnbPluginApi, create), 48u);
  EXPECT_EQ(offsetof(AttnbPluginApi, destroy), 56u);
  EXPECT_EQ(offsetof(AttnbPluginApi, append_kv), 64u);
  EXPECT_EQ(offsetof(AttnbPluginApi, prefill), 72u);
  EXPECT_EQ(offsetof(AttnbPluginApi, decode), 80u);
  EXPECT_EQ(offsetof(AttnbPluginApi, last_error), 88u);
  EXPECT_EQ(offsetof(AttnbPluginApi, set_tunable), 96u);  // 1.1
  EXPECT_EQ(sizeof(AttnbPluginApi), 104u);
}

TEST(AbiLayout, Negotiation) {
  EXPECT_EQ(offsetof(AttnbNegotiation, struct_size), 0u);
  EXPECT_EQ(offsetof(AttnbNegotiation, abi_major), 8u);
  EXPECT_EQ(offsetof(AttnbNegotiation, abi_minor), 12u);
  EXPECT_EQ(offsetof(AttnbNegotiation, api), 16u);
  EXPECT_EQ(sizeof(AttnbNegotiation), 24u);
}

TEST(AbiLayout, Tunable) {
  EXPECT_EQ(offsetof(AttnbTunable, struct_size), 0u);
  EXPECT_EQ(offsetof(AttnbTunable, name), 8u);
  EXPECT_EQ(offsetof(AttnbTunable, description), 16u);
  EXPECT_EQ(offsetof(AttnbTunable, values), 24u);
  EXPECT_EQ(offsetof(AttnbTunable, num_values), 32u);
  EXPECT_EQ(offsetof(AttnbTunable, default_value), 40u);
  EXPECT_EQ(sizeof(AttnbTunable), 48u);
}

TEST(AbiLayout, VersionAndEnumValues) {
  EXPECT_EQ(ATTNB_ABI_MAJOR, 1);
  EXPECT_EQ(ATTNB_ABI_MINOR, 1);
  EXPECT_EQ(ATTNB_KV_QUANT_K_PER_CHANNEL, 1);
  EXPECT_EQ(ATTNB_FLAG_K_PER_CHANNEL_SCALES, 16u);
  EXPECT_EQ(ATTNB_OK, 0);
  EXPECT_EQ(ATTNB_ERR_INTERNAL, 6);
  EXPECT_EQ(ATTNB_DEVICE_CUDA, 1);
  EXPECT_EQ(ATTNB_DTYPE_INT8, 3);
  EXPECT_EQ(ATTNB_FLAG_QUANTIZED_KV, 8u);
}
