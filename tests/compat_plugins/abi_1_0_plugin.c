/*
 * A plugin built against the ABI 1.0 header (frozen in abi_1_0.h), in plain C and without
 * the C++ helper: what a plugin compiled before 1.1 existed looks like to today's host.
 * CPU, fp32, causal, any group size, head dims 16 and 64, the plain page layout (K then V,
 * each [num_kv_heads][page_size][head_dim]).
 *
 * Canaries lie right after its descriptor and right after its function table in memory: a
 * host that read past their struct_size would find them where 1.1 keeps `tunables` /
 * `num_tunables` and the `set_tunable` slot.
 *
 * Built three times (tests/compat_plugins/CMakeLists.txt): as it is, and with one rule of
 * `attnbench check` broken: COMPAT_ACCEPTS_EVERYTHING (can_implement says yes to anything)
 * and COMPAT_ALLOCATES_IN_DECODE (one malloc per decode call).
 */
#include "abi_1_0.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifndef COMPAT_NAME
#define COMPAT_NAME "abi_1_0"
#endif
#define MAX_HEAD_DIM 64
#define CANARY 0xa5a5a5a5a5a5a5a5ull

static const int32_t head_dims[] = {16, 64};

struct DescriptorWithCanary {
  AttnbDescriptor descriptor; /* as 1.0 defines it */
  uint64_t canary[2];         /* where 1.1 appends tunables and num_tunables */
};
_Static_assert(offsetof(struct DescriptorWithCanary, canary) == sizeof(AttnbDescriptor),
               "the canary must start where the 1.0 descriptor ends");

static const struct DescriptorWithCanary described = {
    {sizeof(AttnbDescriptor), COMPAT_NAME, "1.0.0", "A plugin built against ABI 1.0, in C",
     ATTNB_BIT(ATTNB_DEVICE_CPU), ATTNB_BIT(ATTNB_DTYPE_F32), 0, ATTNB_BIT(ATTNB_DTYPE_F32),
     head_dims, 2, 1, 0, 0, ATTNB_FLAG_CAUSAL},
    {CANARY, CANARY}};

static _Thread_local const char* last_message = "";

struct AttnbOp {
  AttnbProblem problem;
};

static const AttnbDescriptor* descriptor(void) { return &described.descriptor; }

static AttnbStatus fail(AttnbStatus status, const char* why) {
  last_message = why;
  return status;
}

static AttnbStatus can_implement(const AttnbProblem* p) {
  if (!p || p->struct_size < sizeof(AttnbProblem)) return fail(ATTNB_ERR_INVALID_ARGUMENT, "bad problem");
#ifdef COMPAT_ACCEPTS_EVERYTHING
  return ATTNB_OK;
#else
  if (p->device != ATTNB_DEVICE_CPU) return fail(ATTNB_ERR_UNSUPPORTED, "only the CPU");
  if (p->dtype != ATTNB_DTYPE_F32 || p->kv_cache_dtype != ATTNB_DTYPE_F32)
    return fail(ATTNB_ERR_UNSUPPORTED, "only fp32");
  if (p->num_q_heads <= 0 || p->num_kv_heads <= 0 || p->num_q_heads % p->num_kv_heads != 0)
    return fail(ATTNB_ERR_UNSUPPORTED, "query heads must be a positive multiple of KV heads");
  if (p->head_dim != head_dims[0] && p->head_dim != head_dims[1])
    return fail(ATTNB_ERR_UNSUPPORTED, "head dim must be 16 or 64");
  if (!p->causal) return fail(ATTNB_ERR_UNSUPPORTED, "only causal attention");
  if (p->window != 0) return fail(ATTNB_ERR_UNSUPPORTED, "no sliding window");
  if (p->page_size <= 0) return fail(ATTNB_ERR_UNSUPPORTED, "page_size must be positive");
  return ATTNB_OK;
#endif
}

static size_t token_bytes(const AttnbProblem* p) {  /* K and V of one token, all KV heads */
  return 2u * (size_t)p->num_kv_heads * (size_t)p->head_dim * sizeof(float);
}

static AttnbStatus kv_page_bytes(const AttnbProblem* p, size_t* bytes) {
  *bytes = token_bytes(p) * (size_t)p->page_size;
  return ATTNB_OK;
}

static AttnbStatus workspace_bytes(const AttnbProblem* p, size_t* bytes) {
  (void)p;
  *bytes = 0;
  return ATTNB_OK;
}

static AttnbStatus decode_traffic(const AttnbProblem* p, int64_t kv_len, AttnbTraffic* out) {
  AttnbTraffic t;
  const double q_bytes = (double)p->num_q_heads * p->head_dim * sizeof(float);
  t.struct_size = out->struct_size < sizeof t ? out->struct_size : sizeof t;
  t.kv_bytes_per_token = (double)token_bytes(p);
  t.kv_bytes_read = t.kv_bytes_per_token * (double)kv_len;
  t.other_bytes_read = q_bytes;
  t.bytes_written = q_bytes + t.kv_bytes_per_token;
  t.flops = 4.0 * p->num_q_heads * p->head_dim * (double)kv_len;
  memcpy(out, &t, t.struct_size);
  return ATTNB_OK;
}

static AttnbStatus create(const AttnbProblem* p, AttnbOp** op) {
  const AttnbStatus status = can_implement(p);
  if (status != ATTNB_OK) return status;
  *op = malloc(sizeof **op);  /* create() may allocate; the hot path may not */
  if (!*op) return fail(ATTNB_ERR_OUT_OF_MEMORY, "out of host memory");
  (*op)->problem = *p;
  return ATTNB_OK;
}

static void destroy(AttnbOp* op) { free(op); }

static int64_t sequence_length(const AttnbPagedKv* kv, int32_t page_size, int32_t b) {
  const int32_t pages = kv->page_indptr_host[b + 1] - kv->page_indptr_host[b];
  return pages == 0 ? 0 : (int64_t)(pages - 1) * page_size + kv->last_page_len_host[b];
}

/* K (or V) of token `pos` of sequence b, KV head h. */
static float* token_row(const AttnbProblem* p, const AttnbPagedKv* kv, int32_t b, int64_t pos,
                        int32_t h, int is_v) {
  const int32_t page = kv->page_indices_host[kv->page_indptr_host[b] + pos / p->page_size];
  const size_t plane = (size_t)p->num_kv_heads * p->page_size * p->head_dim;
  const size_t index = (is_v ? plane : 0) + ((size_t)h * p->page_size + pos % p->page_size) * p->head_dim;
  return (float*)((char*)kv->pages + (size_t)page * kv->page_bytes) + index;
}

static AttnbStatus append_kv(AttnbOp* op, const AttnbAppendArgs* a) {
  const AttnbProblem* p = &op->problem;
  const size_t row = (size_t)p->head_dim * sizeof(float);
  for (int32_t b = 0; b < a->cache->batch; ++b) {
    const int32_t first = a->new_indptr_host[b], count = a->new_indptr_host[b + 1] - first;
    const int64_t length = sequence_length(a->cache, p->page_size, b);
    for (int32_t i = 0; i < count; ++i)
      for (int32_t h = 0; h < p->num_kv_heads; ++h) {
        const size_t src = ((size_t)(first + i) * p->num_kv_heads + h) * row;
        memcpy(token_row(p, a->cache, b, length - count + i, h, 0), (const char*)a->k + src, row);
        memcpy(token_row(p, a->cache, b, length - count + i, h, 1), (const char*)a->v + src, row);
      }
  }
  return ATTNB_OK;
}

/* Online softmax over keys 0 .. visible-1 for one query row (see sdk/template). */
static void attend_row(const AttnbProblem* p, const AttnbPagedKv* kv, int32_t b, int64_t visible,
                       int32_t kv_head, const float* q, float* o) {
  float acc[MAX_HEAD_DIM] = {0}, m = -INFINITY, sum = 0;
  const float scale = p->sm_scale != 0 ? p->sm_scale : 1.0f / sqrtf((float)p->head_dim);
  for (int64_t j = 0; j < visible; ++j) {
    const float* k = token_row(p, kv, b, j, kv_head, 0);
    const float* v = token_row(p, kv, b, j, kv_head, 1);
    float score = 0;
    for (int32_t e = 0; e < p->head_dim; ++e) score += q[e] * k[e];
    score *= scale;
    const float m_new = score > m ? score : m;
    const float rescale = expf(m - m_new), w = expf(score - m_new);
    for (int32_t e = 0; e < p->head_dim; ++e) acc[e] = acc[e] * rescale + w * v[e];
    sum = sum * rescale + w;
    m = m_new;
  }
  for (int32_t e = 0; e < p->head_dim; ++e) o[e] = acc[e] / sum;
}

static AttnbStatus attend(AttnbOp* op, const AttnbAttendArgs* a) {
  const AttnbProblem* p = &op->problem;
  const int32_t group = p->num_q_heads / p->num_kv_heads;
  for (int32_t b = 0; b < a->cache->batch; ++b) {
    const int64_t kv_len = sequence_length(a->cache, p->page_size, b);
    const int32_t q0 = a->q_indptr_host ? a->q_indptr_host[b] : b;
    const int32_t q_len = a->q_indptr_host ? a->q_indptr_host[b + 1] - q0 : 1;
    for (int32_t i = 0; i < q_len; ++i)
      for (int32_t h = 0; h < p->num_q_heads; ++h) {
        const size_t row = ((size_t)(q0 + i) * p->num_q_heads + h) * p->head_dim;
        attend_row(p, a->cache, b, kv_len - q_len + i + 1, h / group, (const float*)a->q + row,
                   (float*)a->o + row);
      }
  }
  return ATTNB_OK;
}

static AttnbStatus prefill(AttnbOp* op, const AttnbAttendArgs* a) { return attend(op, a); }

static AttnbStatus decode(AttnbOp* op, const AttnbAttendArgs* a) {
#ifdef COMPAT_ALLOCATES_IN_DECODE
  void* volatile scratch = malloc(64); /* exactly one heap allocation per decode call */
  free(scratch);
#endif
  return attend(op, a);
}

static const char* last_error(void) { return last_message; }

struct ApiWithCanary {
  AttnbPluginApi api; /* as 1.0 defines it: it ends with last_error */
  uint64_t canary[2]; /* where 1.1 appends set_tunable */
};
_Static_assert(offsetof(struct ApiWithCanary, canary) == sizeof(AttnbPluginApi),
               "the canary must start where the 1.0 table ends");

static const struct ApiWithCanary table = {
    {sizeof(AttnbPluginApi), descriptor, can_implement, kv_page_bytes, workspace_bytes,
     decode_traffic, create, destroy, append_kv, prefill, decode, last_error},
    {CANARY, CANARY}};

__attribute__((visibility("default"))) AttnbStatus attnbench_plugin_negotiate(
    const AttnbHostInfo* host, AttnbNegotiation* answer) {
  if (!host || !answer) return ATTNB_ERR_INVALID_ARGUMENT;
  answer->abi_major = ATTNB_ABI_MAJOR;
  answer->abi_minor = ATTNB_ABI_MINOR; /* 0: the only minor this header knows */
  answer->api = NULL;
  if (host->abi_major != ATTNB_ABI_MAJOR || host->abi_minor_min > ATTNB_ABI_MINOR)
    return ATTNB_ERR_INCOMPATIBLE;
  answer->api = &table.api;
  return ATTNB_OK;
}
