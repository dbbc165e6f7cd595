/*
 * FROZEN COPY for tests/abi_compat_test.cpp: the attnbench ABI header as it was at 1.0, i.e.
 * sdk/include/attnbench/abi.h without the 1.1 additions (AttnbTunable,
 * AttnbDescriptor.tunables / num_tunables, AttnbPluginApi.set_tunable). Plugins compiled
 * against it stand for plugins built before 1.1 existed. Never update it.
 */
/*
 * attnbench plugin ABI.
 *
 * This header is the whole contract between the attnbench host and an attention plugin.
 * It is C99 and includes only <stdint.h> and <stddef.h>, so a plugin may be built by any
 * compiler that speaks the platform C ABI.
 *
 * Rules that keep it stable (read these before changing anything here):
 *  - Every struct starts with `struct_size`, set by whoever fills the struct to
 *    sizeof(that struct) as it was compiled. A reader never touches a field that lies past
 *    the writer's struct_size; it treats such a field as absent (zero / NULL).
 *  - A minor version only appends: new fields at the end of structs, new slots at the end of
 *    AttnbPluginApi, new enum values. Nothing is reordered, retyped or removed. Offsets are
 *    pinned by tests/abi_layout_test.cpp.
 *  - A different major version is incompatible; the host refuses it naming both versions.
 *  - Only C types cross the boundary: no exceptions, no STL, no CUDA types (a stream is void*).
 *  - Memory: the host allocates every buffer (KV pool, workspace, inputs, outputs). The
 *    plugin owns only the *format* of its KV cache pages. Plugins never free host memory and
 *    the host never frees plugin memory; strings returned by a plugin stay owned by it.
 *
 * Version history:
 *   1.0  negotiation, descriptor, problem, paged KV cache, append / prefill / decode,
 *        memory traffic report, KV quantization mode.
 */
#ifndef ATTNBENCH_ABI_H
#define ATTNBENCH_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATTNB_ABI_MAJOR 1
#define ATTNB_ABI_MINOR 0

/* Name of the one symbol every plugin exports (see attnbench_plugin_negotiate below). */
#define ATTNB_ENTRY_SYMBOL "attnbench_plugin_negotiate"

/* ------------------------------------------------------------------------------------- */
/* Status codes. Every fallible call returns one; details are in last_error().            */
/* ------------------------------------------------------------------------------------- */
typedef enum AttnbStatus {
  ATTNB_OK = 0,
  ATTNB_ERR_INVALID_ARGUMENT = 1, /* a pointer, size or index the caller passed is wrong */
  ATTNB_ERR_UNSUPPORTED = 2,      /* the plugin cannot do this problem (can_implement says why) */
  ATTNB_ERR_INCOMPATIBLE = 3,     /* ABI negotiation failed */
  ATTNB_ERR_DEVICE = 4,           /* a CUDA or other device call failed */
  ATTNB_ERR_OUT_OF_MEMORY = 5,    /* the buffers the host gave are too small */
  ATTNB_ERR_INTERNAL = 6          /* anything else, e.g. an exception caught at the boundary */
} AttnbStatus;

/* Devices a plugin can run on. Descriptor fields use bit masks: (1u << ATTNB_DEVICE_x). */
typedef enum AttnbDevice {
  ATTNB_DEVICE_CPU = 0,
  ATTNB_DEVICE_CUDA = 1
} AttnbDevice;

/* Element types. Descriptor fields use bit masks: (1u << ATTNB_DTYPE_x). */
typedef enum AttnbDtype {
  ATTNB_DTYPE_F32 = 0,
  ATTNB_DTYPE_F16 = 1,
  ATTNB_DTYPE_BF16 = 2,
  ATTNB_DTYPE_INT8 = 3 /* only as a KV cache storage type */
} AttnbDtype;

#define ATTNB_BIT(x) (1u << (unsigned)(x))

/* Capability flags of a plugin (AttnbDescriptor.flags). */
typedef enum AttnbFlag {
  ATTNB_FLAG_CAUSAL = 1u << 0,         /* supports causal masking */
  ATTNB_FLAG_NON_CAUSAL = 1u << 1,     /* supports full (bidirectional) prefill */
  ATTNB_FLAG_SLIDING_WINDOW = 1u << 2, /* supports AttnbProblem.window > 0 */
  ATTNB_FLAG_QUANTIZED_KV = 1u << 3,   /* its cache stores a narrower type than Q (e.g. int8) */
  ATTNB_FLAG_K_PER_CHANNEL_SCALES = 1u << 4 /* accepts ATTNB_KV_QUANT_K_PER_CHANNEL */
} AttnbFlag;

/* How a quantized cache scales its values (AttnbProblem.kv_quant_mode). Ignored by
   plugins whose cache is not quantized. */
typedef enum AttnbKvQuantMode {
  ATTNB_KV_QUANT_PER_TOKEN = 0,      /* one scale per token and KV head, for K and for V */
  ATTNB_KV_QUANT_K_PER_CHANNEL = 1   /* K scaled per channel (outlier channels), V per token */
} AttnbKvQuantMode;

/* Log severities for the host's log callback. */
typedef enum AttnbLogLevel {
  ATTNB_LOG_DEBUG = 0,
  ATTNB_LOG_INFO = 1,
  ATTNB_LOG_WARNING = 2,
  ATTNB_LOG_ERROR = 3
} AttnbLogLevel;

typedef void (*AttnbLogFn)(void* user, int32_t level, const char* message);

/* ------------------------------------------------------------------------------------- */
/* AttnbHostInfo: what the host offers at negotiation.                                    */
/* ------------------------------------------------------------------------------------- */
typedef struct AttnbHostInfo {
  size_t struct_size;
  uint32_t abi_major;        /* the host's major version */
  uint32_t abi_minor_min;    /* oldest minor the host can drive */
  uint32_t abi_minor_max;    /* newest minor the host knows (its ATTNB_ABI_MINOR) */
  int32_t cuda_device;       /* device ordinal the host will use, -1 when there is no GPU */
  int32_t cuda_cc_major;     /* compute capability of that device, 0 when none */
  int32_t cuda_cc_minor;
  int32_t cuda_sm_count;     /* multiprocessors of that device, 0 when none */
  AttnbLogFn log;            /* may be NULL; thread-safe; the message is copied by the host */
  void* log_user;            /* passed back as the first argument of log */
} AttnbHostInfo;

/* ------------------------------------------------------------------------------------- */
/* AttnbDescriptor: the static capabilities of a plugin, for listings and sweeps.         */
/* Combinations that are not rectangular are decided by can_implement().                  */
/* ------------------------------------------------------------------------------------- */
typedef struct AttnbDescriptor {
  size_t struct_size;
  const char* name;          /* short identifier, [a-z0-9_]+, unique among loaded plugins */
  const char* version;       /* the plugin's own version, e.g. "1.2.0" */
  const char* description;   /* one sentence for `attnbench list` */
  uint32_t devices;          /* mask of ATTNB_BIT(AttnbDevice) */
  uint32_t cpu_dtypes;       /* mask of ATTNB_BIT(AttnbDtype): Q/K/V/O types on the CPU */
  uint32_t cuda_dtypes;      /* mask of ATTNB_BIT(AttnbDtype): Q/K/V/O types on CUDA */
  uint32_t kv_cache_dtypes;  /* mask of ATTNB_BIT(AttnbDtype): what its cache stores; a plugin
                                whose cache stores the Q type sets the Q types here */
  const int32_t* head_dims;  /* supported head dimensions, num_head_dims entries */
  size_t num_head_dims;
  int32_t min_group_size;    /* group size = query heads / KV heads; >= 1 */
  int32_t max_group_size;    /* 0 = no limit */
  int32_t max_kv_heads;      /* 0 = no limit; MQA sets 1 */
  uint32_t flags;            /* mask of AttnbFlag */
} AttnbDescriptor;

/* ------------------------------------------------------------------------------------- */
/* AttnbProblem: one attention configuration. Fixed for the life of an AttnbOp.           */
/* ------------------------------------------------------------------------------------- */
typedef struct AttnbProblem {
  size_t struct_size;
  int32_t device;            /* AttnbDevice */
  int32_t dtype;             /* AttnbDtype of Q, the K/V given to append_kv, and O */
  int32_t kv_cache_dtype;    /* AttnbDtype the cache stores; equals dtype unless quantized */
  int32_t num_q_heads;
  int32_t num_kv_heads;      /* divides num_q_heads; group size = num_q_heads / num_kv_heads */
  int32_t head_dim;
  int32_t page_size;         /* tokens per KV page */
  int32_t causal;            /* 1: query i of a sequence sees keys up to its own position */
  int32_t window;            /* 0: none; W > 0: a query at position p sees keys p-W+1 .. p */
  float sm_scale;            /* softmax scale; 0 means 1/sqrt(head_dim) */
  int32_t max_batch;         /* bounds for workspace sizing: sequences per call */
  int32_t max_q_tokens;      /* query tokens per call, summed over the batch */
  int32_t max_kv_len;        /* longest sequence (cached tokens) */
  int32_t kv_quant_mode;     /* AttnbKvQuantMode; 0 (per token) for unquantized caches */
} AttnbProblem;

/* ------------------------------------------------------------------------------------- */
/* AttnbPagedKv: the paged KV cache, as serving engines describe it (FlashInfer layout).  */
/*                                                                                         */
/* The pool is one host-allocated buffer of pages, each kv_page_bytes() long, in the      */
/* plugin's own format. Sequence b owns pages page_indices[page_indptr[b] ..              */
/* page_indptr[b+1]-1] in order; its last page holds last_page_len[b] tokens (1 ..        */
/* page_size), so its length is (pages - 1) * page_size + last_page_len[b]; a sequence    */
/* with no pages has length 0 (its last_page_len is ignored). Sequences of                */
/* one batch can be at different positions: that is continuous batching.                 */
/*                                                                                         */
/* The index arrays are given twice: where the kernels read them (device memory on CUDA)   */
/* and on the host, so a plugin can plan a launch without copying them back. On the CPU    */
/* both pointers are the same.                                                             */
/* ------------------------------------------------------------------------------------- */
typedef struct AttnbPagedKv {
  size_t struct_size;
  void* pages;                      /* base of the pool: page p at pages + p * page_bytes */
  size_t page_bytes;                /* as returned by kv_page_bytes() */
  int64_t num_pages;                /* pages in the pool */
  int32_t batch;                    /* sequences described */
  const int32_t* page_indptr;       /* [batch + 1] */
  const int32_t* page_indices;      /* [page_indptr[batch]] */
  const int32_t* last_page_len;     /* [batch] */
  const int32_t* page_indptr_host;  /* host mirrors of the three arrays */
  const int32_t* page_indices_host;
  const int32_t* last_page_len_host;
} AttnbPagedKv;

/* ------------------------------------------------------------------------------------- */
/* AttnbAppendArgs: write new tokens' K and V into the cache, in the plugin's format      */
/* (quantizing if its format is quantized). `cache` already describes the sequences with  */
/* the new tokens counted: sequence b's new tokens are its last                            */
/* new_indptr[b+1] - new_indptr[b] positions.                                              */
/* ------------------------------------------------------------------------------------- */
typedef struct AttnbAppendArgs {
  size_t struct_size;
  const AttnbPagedKv* cache;
  const void* k;                  /* [new_indptr[batch], num_kv_heads, head_dim], dtype */
  const void* v;                  /* same shape as k */
  const int32_t* new_indptr;      /* [batch + 1], where kernels read it */
  const int32_t* new_indptr_host; /* [batch + 1], on the host */
  void* workspace;
  size_t workspace_bytes;
  void* stream;                   /* cudaStream_t on CUDA, NULL on the CPU */
} AttnbAppendArgs;

/* ------------------------------------------------------------------------------------- */
/* AttnbAttendArgs: attention of new queries over the cache (prefill or decode).          */
/* Query i (0-based) of sequence b, which has q_len = q_indptr[b+1] - q_indptr[b] queries */
/* and kv_len cached tokens, sits at position kv_len - q_len + i. Masks (causal, window)   */
/* are applied by position. Decode has exactly one query per sequence; q_indptr may then  */
/* be NULL and is implied (q_indptr[b] = b).                                               */
/* ------------------------------------------------------------------------------------- */
typedef struct AttnbAttendArgs {
  size_t struct_size;
  const AttnbPagedKv* cache;
  const void* q;                  /* [q_indptr[batch], num_q_heads, head_dim], dtype */
  void* o;                        /* same shape as q, dtype */
  const int32_t* q_indptr;        /* [batch + 1], where kernels read it */
  const int32_t* q_indptr_host;   /* [batch + 1], on the host */
  void* workspace;
  size_t workspace_bytes;
  void* stream;
} AttnbAttendArgs;

/* ------------------------------------------------------------------------------------- */
/* AttnbTraffic: what the plugin's format stores and what one decode step moves, so the   */
/* harness can state bytes per token and bandwidth exactly rather than guess.             */
/* ------------------------------------------------------------------------------------- */
typedef struct AttnbTraffic {
  size_t struct_size;
  double kv_bytes_per_token;     /* cache bytes stored per token (all KV heads, K and V,
                                    scales included; page padding excluded) */
  double kv_bytes_read;          /* cache bytes one decode step reads for one sequence */
  double other_bytes_read;       /* everything else that step reads (Q, indices) */
  double bytes_written;          /* what that step writes (O, and the appended token) */
  double flops;                  /* floating-point operations of that step */
} AttnbTraffic;

/* Opaque per-problem state created by the plugin (plans, tunables, device handles). */
typedef struct AttnbOp AttnbOp;

/* ------------------------------------------------------------------------------------- */
/* AttnbPluginApi: the function table a plugin returns. The host calls a slot only if it  */
/* lies inside struct_size and is not NULL. Calls on different AttnbOps may run on         */
/* different threads; calls on one AttnbOp are never concurrent. Every call that returns  */
/* a status other than ATTNB_OK leaves a message in last_error().                          */
/* ------------------------------------------------------------------------------------- */
typedef struct AttnbPluginApi {
  size_t struct_size;

  /* The static descriptor; valid for as long as the library is loaded. */
  const AttnbDescriptor* (*descriptor)(void);

  /* ATTNB_OK if this plugin can run `problem`; ATTNB_ERR_UNSUPPORTED with the reason in
     last_error() otherwise. Cheap and side-effect free: the host calls it while sweeping. */
  AttnbStatus (*can_implement)(const AttnbProblem* problem);

  /* Bytes of one cache page of `problem->page_size` tokens in this plugin's format. */
  AttnbStatus (*kv_page_bytes)(const AttnbProblem* problem, size_t* bytes);

  /* Scratch bytes the calls of an op for `problem` need, for any batch, query count and
     length within the problem's max_* bounds. The host allocates it once. */
  AttnbStatus (*workspace_bytes)(const AttnbProblem* problem, size_t* bytes);

  /* Storage and traffic of one decode step for a sequence of kv_len cached tokens. */
  AttnbStatus (*decode_traffic)(const AttnbProblem* problem, int64_t kv_len,
                                AttnbTraffic* traffic);

  /* Create the per-problem state. Never allocates device memory that outlives the call
     apart from what it documents; destroy() releases whatever create() made. */
  AttnbStatus (*create)(const AttnbProblem* problem, AttnbOp** op);
  void (*destroy)(AttnbOp* op);

  /* The hot path: no allocation, asynchronous on `stream` for CUDA. */
  AttnbStatus (*append_kv)(AttnbOp* op, const AttnbAppendArgs* args);
  AttnbStatus (*prefill)(AttnbOp* op, const AttnbAttendArgs* args);
  AttnbStatus (*decode)(AttnbOp* op, const AttnbAttendArgs* args);

  /* Message of the last failed call on this thread; owned by the plugin, valid until the
     next call into the plugin on this thread. Never NULL. */
  const char* (*last_error)(void);
} AttnbPluginApi;

/* ------------------------------------------------------------------------------------- */
/* AttnbNegotiation: the plugin's answer to the host.                                     */
/* ------------------------------------------------------------------------------------- */
typedef struct AttnbNegotiation {
  size_t struct_size;
  uint32_t abi_major;          /* the plugin's major, also when it answers INCOMPATIBLE */
  uint32_t abi_minor;          /* the minor it chose: the highest both sides know */
  const AttnbPluginApi* api;   /* NULL when incompatible; lives as long as the library */
} AttnbNegotiation;

/*
 * The one exported entry point. The host fills `host`, zeroes `answer` and sets its
 * struct_size. The plugin fills `answer` and returns ATTNB_OK, or ATTNB_ERR_INCOMPATIBLE
 * when the majors differ or the host's minor range does not include one it can serve.
 */
typedef AttnbStatus (*AttnbNegotiateFn)(const AttnbHostInfo* host, AttnbNegotiation* answer);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ATTNBENCH_ABI_H */
