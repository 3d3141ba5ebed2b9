#pragma once
/* The C ABI between the core and the optional CUDA plugin (libqkv_cuda.so, built from the .cu
 * files of cpp/cuda/ with a static CUDA runtime). Version 2.
 *
 * Loading. The addon never links the plugin. The core (core/cuda_loader.cpp) dlopen()s it only
 * after dlopen("libcuda.so.1") has shown that a driver exists, and calls its one exported symbol,
 * QKV_CUDA_PLUGIN_ENTRY, which returns a table of function pointers (qkv_cuda_table_v2).
 *
 * Versions.
 *  - `abi_version` is QKV_CUDA_ABI_VERSION of the plugin; the core refuses any other value, and a
 *    plugin that only exports the version 1 entry ("qkv_cuda_plugin_get"), with a clear error.
 *  - `struct_size` is sizeof the plugin's table. Within one version members are only appended, so
 *    a core may use every member that lies below `struct_size`. Changing or removing a member
 *    means a new version (and a new entry name).
 *
 * Status and errors. Every function but `free` and `last_error` returns a qkv_cuda_status:
 * QKV_CUDA_OK, or a failure whose message `last_error()` returns on the same thread. The message
 * stays valid until that thread's next failing call. Plain C: no exceptions cross the boundary.
 *
 * Optional members. Every op kernel slot (the second part of the table) may be NULL: "not
 * implemented", and the core's op of that name then throws Unsupported naming the op and the
 * device. A non-NULL slot implements every dtype and layout its comment allows, or fails with
 * QKV_CUDA_ERR_ARGUMENT for what it cannot.
 *
 * Ownership.
 *  - The table and `cuda_architectures` are static in the plugin; the core never dlclose()s a
 *    plugin it uses.
 *  - Device memory from `alloc` belongs to the caller until it passes it to `free`. Outputs of the
 *    kernels are always allocated by the core and passed in: no kernel allocates what it returns
 *    (scratch memory it frees itself is its own business).
 *  - Streams from `stream_create` belong to the caller until `stream_destroy`.
 *  - Descriptors (qkv_cuda_tensor, the option structs) and every host array they or the
 *    arguments point to (shapes, strides, indices, lengths) are read during the call only: a
 *    kernel copies what it needs before it returns.
 *
 * Threading and ordering.
 *  - Every function may be called from any thread, concurrently. `select_device` applies to
 *    every thread (the plugin makes its device current on a thread before working there).
 *  - Kernels and device-side copies are queued on `stream` and may return before they finish;
 *    work on one stream runs in order. A NULL stream is the default stream, which the core uses
 *    unless it created one. Errors of a launch are returned at once; errors that happen while
 *    the work runs come back from a later call, at the latest from `stream_synchronize`.
 *  - Copies to or from host memory are synchronous: they wait for the work queued before them on
 *    the stream and return once the copy is complete, so the host buffer may be read or reused.
 *  - `free` waits until no queued work can use the memory (cudaFree does).
 *
 * Tensors. A qkv_cuda_tensor describes a strided view of device memory: `data` points at its
 * first element (the view's offset applied), `strides` count elements (0 for a broadcast dim).
 * An optional operand that is absent has data == NULL. Kernel outputs are contiguous; inputs are
 * contiguous unless a slot's comment says "strided". dtype codes are QKV_CUDA_F32/F64/I32.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QKV_CUDA_ABI_VERSION 2u
#define QKV_CUDA_PLUGIN_ENTRY "qkv_cuda_plugin_v2"
#define QKV_CUDA_PLUGIN_ENTRY_V1 "qkv_cuda_plugin_get" /* only to name an outdated plugin */

typedef int32_t qkv_cuda_status;
#define QKV_CUDA_OK 0
#define QKV_CUDA_ERR_CUDA 1     /* a CUDA call failed: the message names it and the runtime's error */
#define QKV_CUDA_ERR_RANGE 2    /* the data is out of range (an id, a target): the core's RangeError */
#define QKV_CUDA_ERR_ARGUMENT 3 /* an argument the plugin cannot serve (a null pointer, a dtype, a rank) */

/* The core's codes; it checks at compile time that its own enums agree. */
#define QKV_CUDA_F32 0
#define QKV_CUDA_F64 1
#define QKV_CUDA_I32 2

/* binary ops */
#define QKV_CUDA_ADD 0
#define QKV_CUDA_SUB 1
#define QKV_CUDA_MUL 2
#define QKV_CUDA_DIV 3
#define QKV_CUDA_POW 4
#define QKV_CUDA_MAXIMUM 5
#define QKV_CUDA_MINIMUM 6
#define QKV_CUDA_EQUAL 7 /* 1 where equal, else 0, in the operands' dtype */

/* unary ops */
#define QKV_CUDA_NEG 0
#define QKV_CUDA_EXP 1
#define QKV_CUDA_LOG 2
#define QKV_CUDA_SQRT 3
#define QKV_CUDA_TANH 4
#define QKV_CUDA_ABS 5
#define QKV_CUDA_RELU 6
#define QKV_CUDA_GELU_TANH 7
#define QKV_CUDA_GELU_ERF 8
#define QKV_CUDA_SIGMOID 9
#define QKV_CUDA_QUICK_GELU 10

/* row reductions; random kinds */
#define QKV_CUDA_REDUCE_SUM 0
#define QKV_CUDA_REDUCE_MAX 1
#define QKV_CUDA_REDUCE_ARGMAX 2 /* int32 output */
#define QKV_CUDA_RANDOM_NORMAL 0  /* a, b = mean, std */
#define QKV_CUDA_RANDOM_UNIFORM 1 /* a, b = low, high */

typedef struct qkv_cuda_stream_s* qkv_cuda_stream; /* a cudaStream_t; NULL: the default stream */

typedef struct qkv_cuda_tensor {
  void* data;             /* device memory of element [0, ..., 0]; NULL: an absent optional operand */
  int32_t dtype;          /* QKV_CUDA_F32 / F64 / I32 */
  int32_t ndim;
  const int64_t* shape;   /* [ndim], host memory */
  const int64_t* strides; /* [ndim], in elements, host memory */
} qkv_cuda_tensor;

typedef struct qkv_cuda_device_info {
  char name[256];
  uint64_t total_memory;     /* bytes */
  int32_t compute_major;     /* compute capability, e.g. 9.0 for H100/H200 */
  int32_t compute_minor;
  int32_t multiprocessors;
  int32_t reserved;
} qkv_cuda_device_info;

/* Dropout without a stored mask: element i (flat index mod 2^32) is kept when
 * mix(mix(i ^ s1) + s2) >= threshold (the 32-bit hash of cpu/dropout_kernels.inc), and kept
 * elements are multiplied by `scale`. Any device must give the CPU's mask for the same law. */
typedef struct qkv_cuda_dropout {
  uint32_t s1, s2, threshold, reserved;
  double scale;
} qkv_cuda_dropout;

/* Attention masking and scaling, for q [B, H, T, Dh], k [B, H, S, Dh], v [B, H, S, Dv]. */
typedef struct qkv_cuda_attention {
  int32_t causal;              /* row i sees keys j <= i + (S - T) */
  int32_t reserved;
  int64_t batch;               /* B: the length of the two arrays below */
  const int32_t* key_lengths;  /* host [B]: keys j >= key_lengths[b] hidden; NULL: none */
  const int32_t* key_starts;   /* host [B]: keys j < key_starts[b] hidden (left padding); NULL: none */
  double dropout;              /* probability on the attention weights, with `seed`: the CPU's mask */
  uint64_t seed;
  double scale;                /* the logits' factor (the core has replaced 0 by 1/sqrt(Dh)) */
} qkv_cuda_attention;

/* AdamW / Adam: p <- p * decay; g' = g + l2 p; m <- b1 m + (1-b1) g'; v <- b2 v + (1-b2) g'^2;
 * p <- p - step_size * m / (sqrt(v) / bc2_sqrt + eps) */
typedef struct qkv_cuda_adam {
  double b1, b2, eps, bc2_sqrt, step_size, decay, l2;
} qkv_cuda_adam;

/* SGD: d = g + wd p; with momentum b = first ? d : momentum b + damp d; d = nesterov ? d + momentum b : b;
 * p <- p - lr d */
typedef struct qkv_cuda_sgd {
  double lr, wd, momentum, damp;
  int32_t nesterov, first;
} qkv_cuda_sgd;

typedef const qkv_cuda_tensor* qkv_cuda_t; /* shorthand for the slots below */

typedef struct qkv_cuda_table_v2 {
  uint32_t abi_version; /* QKV_CUDA_ABI_VERSION */
  uint32_t struct_size; /* sizeof(qkv_cuda_table_v2) of the plugin */
  const char* cuda_architectures; /* what the plugin was compiled for, e.g. "800,900" */

  /* ---- devices ------------------------------------------------------------------------------ */
  qkv_cuda_status (*device_count)(int32_t* count);
  /* cudaRuntimeGetVersion and cudaDriverGetVersion (e.g. 13000 = 13.0). */
  qkv_cuda_status (*versions)(int32_t* runtime_version, int32_t* driver_version);
  qkv_cuda_status (*device_info)(int32_t device, qkv_cuda_device_info* out);
  /* Makes `device` the one every later call runs on, from any thread (default 0). */
  qkv_cuda_status (*select_device)(int32_t device);
  /* Thread-local message of the calling thread's last failure; never NULL ("" when none). */
  const char* (*last_error)(void);

  /* ---- memory (contiguous bytes; strided copies are the `copy` kernel) ----------------------- */
  /* *out = nbytes (> 0) of device memory, aligned to at least 256 bytes. */
  qkv_cuda_status (*alloc)(void** out, uint64_t nbytes);
  void (*free)(void* ptr); /* NULL is ignored; errors are dropped (the memory is gone either way) */
  qkv_cuda_status (*memset)(qkv_cuda_stream stream, void* dst, int32_t byte, uint64_t nbytes);
  qkv_cuda_status (*copy_to_device)(qkv_cuda_stream stream, void* dst, const void* host_src, uint64_t nbytes);
  qkv_cuda_status (*copy_to_host)(qkv_cuda_stream stream, void* host_dst, const void* src, uint64_t nbytes);
  qkv_cuda_status (*copy_on_device)(qkv_cuda_stream stream, void* dst, const void* src, uint64_t nbytes);

  /* ---- streams ----------------------------------------------------------------------------- */
  qkv_cuda_status (*stream_create)(qkv_cuda_stream* out);
  qkv_cuda_status (*stream_destroy)(qkv_cuda_stream stream);
  qkv_cuda_status (*stream_synchronize)(qkv_cuda_stream stream);

  /* ---- diagnostics ------------------------------------------------------------------------- */
  /* out[i] = a[i] + b[i] for i < n, float32 device memory: what cuda.add() checks a device with. */
  qkv_cuda_status (*add_f32)(qkv_cuda_stream stream, const float* a, const float* b, float* out, uint64_t n);

  /* ---- op kernels: one per entry of the core's op table; each may be NULL -------------------
   * Arguments arrive checked by the core (shapes, dtypes, data-independent ranges); outputs are
   * allocated by the core, contiguous, of the shapes given here. */

  /* memory */
  qkv_cuda_status (*fill)(qkv_cuda_stream s, qkv_cuda_t dst, double value);
  qkv_cuda_status (*copy)(qkv_cuda_stream s, qkv_cuda_t src, qkv_cuda_t dst); /* strided src and dst, one shape and dtype */
  qkv_cuda_status (*cast)(qkv_cuda_stream s, qkv_cuda_t src, qkv_cuda_t dst);  /* dst's dtype, one shape */
  /* Seeded draws that must equal the CPU's (core/random.h: one sequential generator). */
  qkv_cuda_status (*random)(qkv_cuda_stream s, qkv_cuda_t dst, int32_t kind, uint64_t seed, double a, double b);
  qkv_cuda_status (*arange)(qkv_cuda_stream s, qkv_cuda_t dst, double start, double step);
  /* out[i] = x[idx[i]] along axis 0 -> [n, ...]; dst[idx[i]] += src[i], serially where rows repeat.
   * idx: host memory, already checked against the row count. */
  qkv_cuda_status (*index_select)(qkv_cuda_stream s, qkv_cuda_t x, const int64_t* idx, int64_t n, qkv_cuda_t out);
  qkv_cuda_status (*index_add)(qkv_cuda_stream s, qkv_cuda_t dst, const int64_t* idx, int64_t n, qkv_cuda_t src);

  /* linear algebra */
  /* a [..., M, K] x b [..., K, N] -> out [..., M, N]: a and b strided, batch dims already broadcast
   * to out's (stride 0 where repeated). */
  qkv_cuda_status (*matmul)(qkv_cuda_stream s, qkv_cuda_t a, qkv_cuda_t b, qkv_cuda_t out);
  /* y [N, out] = x [N, in] w [out, in]^T + b [out] (b may be absent) */
  qkv_cuda_status (*linear)(qkv_cuda_stream s, qkv_cuda_t x, qkv_cuda_t w, qkv_cuda_t b, qkv_cuda_t y);
  /* for g [N, out]: dx [N, in], dw [out, in], db [out]; an absent output is not computed */
  qkv_cuda_status (*linear_backward)(qkv_cuda_stream s, qkv_cuda_t x, qkv_cuda_t w, qkv_cuda_t g, qkv_cuda_t dx,
                                     qkv_cuda_t dw, qkv_cuda_t db);

  /* elementwise */
  /* out = a (op) b: a and b strided, already broadcast to out's shape */
  qkv_cuda_status (*binary)(qkv_cuda_stream s, int32_t op, qkv_cuda_t a, qkv_cuda_t b, qkv_cuda_t out);
  qkv_cuda_status (*unary)(qkv_cuda_stream s, int32_t op, qkv_cuda_t x, qkv_cuda_t out);
  /* out = g * d op(x)/dx, given y = op(x) */
  qkv_cuda_status (*unary_backward)(qkv_cuda_stream s, int32_t op, qkv_cuda_t x, qkv_cuda_t y, qkv_cuda_t g,
                                    qkv_cuda_t out);
  /* out = g * d (a op b)/da (wrt_b 0) or /db, for POW, MAXIMUM, MINIMUM (ties share evenly); one shape */
  qkv_cuda_status (*binary_backward)(qkv_cuda_stream s, int32_t op, qkv_cuda_t a, qkv_cuda_t b, qkv_cuda_t y,
                                     qkv_cuda_t g, int32_t wrt_b, qkv_cuda_t out);
  /* out = (x ?: 0) + y * mask * scale; x may be absent */
  qkv_cuda_status (*dropout)(qkv_cuda_stream s, qkv_cuda_t x, qkv_cuda_t y, const qkv_cuda_dropout* law,
                             qkv_cuda_t out);

  /* reductions */
  /* rows [R, C] -> out [R] */
  qkv_cuda_status (*reduce_rows)(qkv_cuda_stream s, int32_t kind, qkv_cuda_t rows, qkv_cuda_t out);
  /* the sum of squares of all elements, accumulated in double; synchronous: *host_result is set on return */
  qkv_cuda_status (*sum_squares)(qkv_cuda_stream s, qkv_cuda_t x, double* host_result);

  /* fused, over the last axis of [..., C] */
  qkv_cuda_status (*softmax)(qkv_cuda_stream s, qkv_cuda_t x, int32_t log, qkv_cuda_t out);
  /* gamma, beta [C] may be absent; mean, rstd [rows] are written when present */
  qkv_cuda_status (*layer_norm)(qkv_cuda_stream s, qkv_cuda_t x, qkv_cuda_t gamma, qkv_cuda_t beta, double eps,
                                qkv_cuda_t out, qkv_cuda_t mean, qkv_cuda_t rstd);
  /* dx like x, dgamma and dbeta [C]; absent outputs are not computed; gamma may be absent */
  qkv_cuda_status (*layer_norm_backward)(qkv_cuda_stream s, qkv_cuda_t x, qkv_cuda_t g, qkv_cuda_t gamma,
                                         qkv_cuda_t mean, qkv_cuda_t rstd, qkv_cuda_t dx, qkv_cuda_t dgamma,
                                         qkv_cuda_t dbeta);
  /* weight [V, D], int32 ids [...] -> out [..., D]; an id outside [0, V) is QKV_CUDA_ERR_RANGE */
  qkv_cuda_status (*embedding)(qkv_cuda_stream s, qkv_cuda_t weight, qkv_cuda_t ids, qkv_cuda_t out);
  /* dw [V, D], written in full (zero where no id points), from g [..., D] */
  qkv_cuda_status (*embedding_backward)(qkv_cuda_stream s, qkv_cuda_t ids, qkv_cuda_t g, qkv_cuda_t dw);
  /* logits [N, C], int32 targets [N] -> out: the mean loss over targets != ignore_index (a scalar, 0
   * when all are ignored), with label smoothing; a target outside [0, C) is QKV_CUDA_ERR_RANGE */
  qkv_cuda_status (*cross_entropy)(qkv_cuda_stream s, qkv_cuda_t logits, qkv_cuda_t targets, int64_t ignore_index,
                                   double smoothing, qkv_cuda_t out);
  /* out [N, C] = dlogits for the scalar output gradient g (a device scalar) */
  qkv_cuda_status (*cross_entropy_backward)(qkv_cuda_stream s, qkv_cuda_t logits, qkv_cuda_t targets,
                                            int64_t ignore_index, double smoothing, qkv_cuda_t g, qkv_cuda_t out);

  /* attention: out [B, H, T, Dv], lse [B, H, T] (the log-sum-exp of each row's logits) */
  qkv_cuda_status (*attention_forward)(qkv_cuda_stream s, qkv_cuda_t q, qkv_cuda_t k, qkv_cuda_t v,
                                       const qkv_cuda_attention* o, qkv_cuda_t out, qkv_cuda_t lse);
  /* dq, dk, dv like q, k, v, from the forward's out and lse and the output gradient dout */
  qkv_cuda_status (*attention_backward)(qkv_cuda_stream s, qkv_cuda_t q, qkv_cuda_t k, qkv_cuda_t v, qkv_cuda_t out,
                                        qkv_cuda_t lse, qkv_cuda_t dout, const qkv_cuda_attention* o, qkv_cuda_t dq,
                                        qkv_cuda_t dk, qkv_cuda_t dv);
  /* the unfused softmax(q k^T * scale + masks) v, the reference of the tests */
  qkv_cuda_status (*attention_reference)(qkv_cuda_stream s, qkv_cuda_t q, qkv_cuda_t k, qkv_cuda_t v,
                                         const qkv_cuda_attention* o, qkv_cuda_t out);
  /* bias [B, 1, T, S]: 0 where visible, -1e30 elsewhere; rows [B, 1, T, 1]: 1 if the row sees a key */
  qkv_cuda_status (*attention_bias)(qkv_cuda_stream s, const qkv_cuda_attention* o, int64_t B, int64_t T, int64_t S,
                                    qkv_cuda_t bias, qkv_cuda_t rows);
  /* out [B, L]: value[b] for i in [starts[b], ends[b]), else 0; host arrays [B], starts may be NULL (0) */
  qkv_cuda_status (*sequence_mask)(qkv_cuda_stream s, int64_t L, int64_t B, const int32_t* starts,
                                   const int32_t* ends, const double* value, qkv_cuda_t out);

  /* optimizers: in place, all of one shape */
  qkv_cuda_status (*adam_step)(qkv_cuda_stream s, qkv_cuda_t p, qkv_cuda_t g, qkv_cuda_t m, qkv_cuda_t v,
                               const qkv_cuda_adam* a);
  /* momentum may be absent (no momentum buffer) */
  qkv_cuda_status (*sgd_step)(qkv_cuda_stream s, qkv_cuda_t p, qkv_cuda_t g, qkv_cuda_t momentum,
                              const qkv_cuda_sgd* a);
  qkv_cuda_status (*scale_inplace)(qkv_cuda_stream s, qkv_cuda_t x, double c);
} qkv_cuda_table_v2;

/* The plugin's only exported symbol, named QKV_CUDA_PLUGIN_ENTRY. */
typedef const qkv_cuda_table_v2* (*qkv_cuda_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif
