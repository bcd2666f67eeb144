/* model.h - a Llama-family transformer (Llama, Qwen2, Qwen3, SmolLM2, and
 * llama2.c files) with a batched forward pass over a KV cache.
 *
 * Contract:
 *  - model_load() reads a Hugging Face directory (config.json +
 *    model.safetensors or shards), a path to its config.json or
 *    model.safetensors, or a llama2.c legacy .bin file. All weights are
 *    converted to fp32 and owned by the Model; model_free() releases them.
 *  - One Model is read-only after loading except for its scratch buffers, so
 *    one Model serves one forward call at a time.
 *  - model_forward() pushes n tokens through the network. Token i belongs to
 *    KV slot slots[i] and takes the next position of that slot; several tokens
 *    of the same slot (a prefill) must appear in order. Each token attends to
 *    its own slot's cache up to and including itself. Output row i is the
 *    logits (language model: vocab floats) or the score head (reward model:
 *    num_labels floats) for token i.
 *  - Projections and the output head are one gemm_packed() call each over
 *    all n tokens (gemm.h: a summation order fixed by the shapes alone);
 *    attention runs in an OpenMP loop over tokens, each summed in position
 *    order. So an output row's bits do not depend on the thread count, on
 *    the other tokens of the call or on the row's place among them.
 */
#ifndef SPECREJ_MODEL_H
#define SPECREJ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct KVCache;

typedef enum { MODEL_KIND_LM = 0, MODEL_KIND_RM = 1 } ModelKind;

typedef struct ModelConfig {
    char arch[32];          /* "llama", "qwen2", "qwen3" */
    char architecture[96];  /* e.g. "LlamaForCausalLM", "llama2.c" */
    ModelKind kind;
    int dim;                /* hidden_size */
    int hidden_dim;         /* intermediate_size */
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int vocab_size;
    int max_seq_len;        /* max_position_embeddings */
    int num_labels;         /* reward models: rows of score.weight */
    float rms_eps;
    float rope_theta;
    int rope_adjacent_pairs; /* internal: always 0 after loading */
    int tie_embeddings;
    int has_qkv_bias;
    int has_qk_norm;
    int bos_id, eos_id, pad_id; /* -1 when unknown */
    int n_eos_ids;
    int eos_ids[8];          /* every id config.json lists as eos */
    /* rope_type llama3 frequency scaling (factor == 0: none) */
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_pos;
    /* The checkpoint's declared dtype (config.json "dtype"/"torch_dtype"):
     * MODEL_DTYPE_F32, _BF16 or _F16. transformers keeps RoPE's inv_freq as a
     * buffer in that dtype, so the frequencies are rounded to it to match. */
    int rope_freq_dtype;
} ModelConfig;

enum { MODEL_DTYPE_F32 = 0, MODEL_DTYPE_BF16 = 1, MODEL_DTYPE_F16 = 2 };

typedef struct Model Model;

int model_load(const char *path, Model **out, SrError *err);
void model_free(Model *m);
const ModelConfig *model_config(const Model *m);

/* Width of one output row: vocab_size (LM) or num_labels (RM). */
int model_output_dim(const Model *m);

/* Total parameter count (embedding counted once when tied). */
uint64_t model_param_count(const Model *m);

/* Analytic FLOPs of pushing one token at position pos (0-based) through the
 * model, output head included: 2 * multiply-adds of every matmul plus the
 * attention score and value products over pos+1 cached positions. Used by
 * the cost accounting of every method alike. */
double model_flops_per_token(const ModelConfig *cfg, int pos);

/* See the contract above. out must hold n * model_output_dim(m) floats.
 * Fails (cache unchanged) when a slot would exceed max_seq_len or the KV
 * budget. */
int model_forward(Model *m, struct KVCache *kv, int n, const int *slots,
                  const int *tokens, float *out, SrError *err);

/* Benchmarks only: on, the projections run as OpenBLAS sgemm calls on
 * row-major copies of the weights (the scheme before gemm_packed, which is
 * not batch-invariant on every kernel); off, the default. Costs a second
 * copy of the weights while on. */
int model_set_legacy_blas(Model *m, int on, SrError *err);

/* Optional phase timing for benchmarks: while set, every model_forward adds
 * its wall seconds to the matmuls (projections and output head), attention
 * (RoPE, KV writes, softmax(qK)V) and the rest (norms, SwiGLU, embedding),
 * and the analytic FLOPs of its matmuls. NULL (the default) turns it off. */
typedef struct ModelProfile {
    double matmul, attention, other;
    double matmul_flops;
    long long calls;
} ModelProfile;
void model_set_profile(Model *m, ModelProfile *p);

#endif
