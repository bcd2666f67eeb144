/* model_internal.h - the Model's layout, shared by the two files that
 * make and run it: model_load.c fills a Model, model.c runs the forward
 * pass. The steps they call are behind their own headers and see plain
 * arrays and shapes, never the Model: attention.h (the tuned kernels,
 * attention.c, and their plain reference, attention_ref.c) and rope.h. Not
 * for use outside these files and the runtime's tests; the public contract
 * is model.h.
 */
#ifndef SPECREJ_MODEL_INTERNAL_H
#define SPECREJ_MODEL_INTERNAL_H

#include "runtime/attention.h"
#include "runtime/gemm.h"
#include "runtime/kvcache.h"
#include "runtime/model.h"
#include "runtime/rope.h"

/* Weights of one layer (hd = head_dim, qkv_dim = (n_heads + 2 n_kv_heads)
 * hd). Q, K and V are fused into one matrix and gate/up into one so that
 * each takes a single matrix product over the batch. The four matrices are
 * read into row-major buffers, then packed for gemm_packed() and the
 * row-major copies freed (NULL from then on). */
typedef struct Layer {
    float *attn_norm; /* [dim] */
    float *wqkv;      /* [qkv_dim][dim] until packed */
    float *bqkv;      /* [qkv_dim] or NULL */
    float *q_norm;    /* [hd] or NULL (Qwen3) */
    float *k_norm;    /* [hd] or NULL */
    float *wo;        /* [dim][n_heads * hd] until packed */
    float *ffn_norm;  /* [dim] */
    float *w_gate_up; /* [2 * hidden][dim] until packed: gate rows, then up rows */
    float *w_down;    /* [dim][hidden] until packed */
    PackedMatrix pqkv, po, pgate_up, pdown;
} Layer;

/* Per-call buffers, grown on demand and kept between calls; n is the
 * call's token count (at most cap_n), every activation row-major. */
typedef struct Scratch {
    int cap_n;        /* rows the activation buffers hold */
    float *x;         /* [n][dim] the residual stream */
    float *xb;        /* [n][dim] rmsnorm(x): the input of a projection */
    float *qkv;       /* [n][qkv_dim] q heads, k heads, v heads */
    float *att;       /* [n][q_dim] attention's output (q_dim = n_heads * hd) */
    float *hb;        /* [n][2 * hidden] gate, then up */
    float *hb2;       /* [n][hidden] swiglu(gate, up) */
    int *pos;         /* [n] each token's position in its slot */
    int cap_slots;    /* entries of the per-slot arrays: the cache's slot count */
    int *slot_count;  /* [cap_slots] tokens per slot in this call, by slot id (0 between calls) */
    int *uniq_slots, *uniq_extra; /* [cap_slots] the call's distinct slots, tokens of each */
    AttnScratch attn; /* attention's work space and shared-prefix plan */
} Scratch;

struct Model {
    ModelConfig cfg;
    int out_dim;
    int q_dim, kv_dim, qkv_dim;
    AttnShape attn_shape; /* the heads of cfg, for attention.h */
    float *embed;      /* [vocab][dim]; NULL when tied (rows come from phead) or packed */
    PackedMatrix pembed; /* an untied embedding held as bf16/f16 (--weights), else empty */
    Layer *layers;     /* [n_layers] */
    float *final_norm; /* [dim] */
    float *head;       /* [out_dim][dim] reward models; LM: NULL once packed into phead */
    PackedMatrix phead; /* language models: the output head, packed */
    int weight_dtype;  /* GemmDtype of the packed matrices (model_load_as) */
    Rope rope;
    Scratch s;
    ModelProfile *prof; /* NULL unless a benchmark asked for timings */
    double prof_t;      /* profiling: when the last step ended */
    int attn_reference; /* tests only: attention_ref.c instead of attention.c */
    GemmKernel kernel;  /* tests and benchmarks: the projections' gemm kernel; GEMM_AUTO
                           (zeroed): the fastest this CPU runs */
};

/* model.c: frees a Model's scratch; o = x / sqrt(mean(x^2) + eps) * w (o
 * may equal x). Tests: on, the forward pass runs attention_ref.c's
 * attention; model_use_gemm_kernel runs every projection of m on kernel
 * (a whole model on each kernel in turn gives the same bits). */
void model_scratch_free(Scratch *s);
void model_rmsnorm(float *o, const float *x, const float *w, int d, float eps);
void model_use_reference_attention(Model *m, int on);
void model_use_gemm_kernel(Model *m, GemmKernel kernel);

#endif
