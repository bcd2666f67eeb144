/* model_internal.h - what the runtime's model files share: the Model's
 * layout and the steps one file gives another. model_load.c fills a Model,
 * model.c runs the forward pass, rope.c holds RoPE's tables, attention.c the
 * tuned attention kernels and attention_ref.c their plain reference. Not for
 * use outside those files and the runtime's tests; the public contract is
 * model.h.
 */
#ifndef SPECREJ_MODEL_INTERNAL_H
#define SPECREJ_MODEL_INTERNAL_H

#include "runtime/gemm.h"
#include "runtime/kvcache.h"
#include "runtime/model.h"

/* Weights of one layer. Q, K and V are fused into one [qkv_dim, dim] matrix
 * and gate/up into one [2 * hidden, dim] matrix so that each takes a single
 * matrix product over the batch. The four matrices are read into row-major
 * buffers, then packed for gemm_packed() and the row-major copies freed;
 * they exist again only under the legacy BLAS scheme (model_set_legacy_blas). */
typedef struct Layer {
    float *attn_norm; /* [dim] */
    float *wqkv;      /* [(n_heads + 2 n_kv_heads) * hd, dim] */
    float *bqkv;      /* [qkv_dim] or NULL */
    float *q_norm;    /* [hd] or NULL (Qwen3) */
    float *k_norm;
    float *wo;        /* [dim, n_heads * hd] */
    float *ffn_norm;  /* [dim] */
    float *w_gate_up; /* [2 * hidden, dim]: gate rows, then up rows */
    float *w_down;    /* [dim, hidden] */
    PackedMatrix pqkv, po, pgate_up, pdown;
} Layer;

/* Per-call buffers, grown on demand and kept between calls. */
typedef struct Scratch {
    int cap_n;
    float *x, *xb, *qkv, *att, *hb, *hb2; /* [rows][...] activations */
    float *logits;    /* [rows][out_dim] when out cannot take the padded rows */
    int *pos;
    int cap_slots;
    int *slot_count;  /* tokens per slot in this call, indexed by slot id */
    int *uniq_slots, *uniq_extra;
    size_t cap_scores;
    float *scores;    /* per thread: attn_work_floats() of attention work space */
    /* Shared-prefix attention (attention.c, attn_prefix_plan): per token its family (the
     * tokens whose slots borrow the same prefix) or -1, its index in it;
     * per family the prefix length, size, first token and buffer offset. */
    int cap_fam;      /* tokens the family arrays hold */
    int *fam_of, *fam_k;
    int n_fam, *fam_len, *fam_n, *fam_first, *fam_tok;
    size_t *fam_off;
    size_t cap_prefix, cap_gather;
    float *pscore;    /* per family [kv_heads][n][group][len]: scores, then probabilities */
    float *gather;    /* queries or outputs of one family and kv head; keys or values */
    float *gather2;
    PackedMatrix pkeys, pvalues;
} Scratch;

struct Model {
    ModelConfig cfg;
    int out_dim;
    int q_dim, kv_dim, qkv_dim;
    float *embed;      /* [vocab, dim]; NULL when tied (rows come from phead) or packed */
    PackedMatrix pembed; /* an untied embedding held as bf16/f16 (--weights), else empty */
    Layer *layers;
    float *final_norm; /* [dim] */
    float *head;       /* [out_dim, dim]; == embed when tied; NULL once packed (LM) */
    PackedMatrix phead; /* language models: the output head, packed */
    int weight_dtype;  /* GemmDtype of the packed matrices (model_load_as) */
    int legacy_blas;   /* benchmarks only: OpenBLAS sgemm on row-major weights */
    float *inv_freq;   /* [hd / 2] after llama3 scaling */
    int rope_len;      /* positions in the tables */
    float *rope_cos, *rope_sin; /* [rope_len][hd / 2] */
    Scratch s;
    ModelProfile *prof; /* NULL unless a benchmark asked for timings */
    double prof_t;      /* profiling: when the last step ended */
    int attn_reference; /* tests only: attention_ref.c instead of attention.c */
};

/* Work below which a loop runs on one thread: waking the team (futex
 * wake-ups under the passive wait policy, see blas_setup.h) costs more. */
#define PAR_MIN_FLOPS 200000.0

/* The hot loops are compiled for AVX-512 and AVX2 as well where the
 * toolchain can, and picked at load time (GCC function clones); each file's
 * comments say why every clone gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define SIMD_INLINE inline __attribute__((always_inline)) /* into each clone */
#else
#define SIMD_CLONES
#define SIMD_INLINE inline
#endif

/* model.c: grows *p to n floats, the new part zeroed so padding rows are
 * finite; frees a Model's scratch; o = x / sqrt(mean(x^2) + eps) * w (o may
 * equal x). Tests: on, the forward pass runs attention_ref.c's attention. */
int model_grow_buf(float **p, size_t old, size_t n, SrError *err);
void model_scratch_free(Scratch *s);
void model_rmsnorm(float *o, const float *x, const float *w, int d, float eps);
void model_use_reference_attention(Model *m, int on);

/* rope.c: m->inv_freq from the config; the cos/sin tables extended to
 * positions < need; one head rotated in place. */
int rope_init(Model *m, SrError *err);
int rope_grow(Model *m, int need, SrError *err);
void rope_rotate(float *v, const float *cs, const float *sn, int half);

/* attention.c: floats of one thread's attention work space for positions
 * up to max_pos; the plan of a call's shared prefixes (before any layer;
 * allocates; nothing changes when it fails); one layer's attention, every
 * token's softmax(q K / sqrt(hd)) V over its slot's cache (its own k and v
 * already written) into s.att. */
size_t attn_work_floats(const Model *m, int max_pos);
int attn_prefix_plan(Model *m, KVCache *kv, int n, const int *slots, SrError *err);
void attn_layer(Model *m, KVCache *kv, int l, int n, const int *slots, int max_pos);

/* attention_ref.c: the same as attn_layer, in plain loops (llama2.c's
 * order: scores, softmax, weighted values, position by position), for the
 * tests to compare the tuned kernels with. Equal within rounding, not bit
 * for bit. */
void attn_reference(Model *m, KVCache *kv, int l, int n, const int *slots);

#endif
