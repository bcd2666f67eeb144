/* model.h - a Llama-family transformer (Llama, Qwen2, Qwen3, SmolLM2, and
 * llama2.c files) with a batched forward pass over a KV cache.
 *
 * Contract:
 *  - model_load() reads a Hugging Face directory (config.json +
 *    model.safetensors or shards), a path to its config.json or
 *    model.safetensors, or a llama2.c legacy .bin file. All weights are
 *    converted to fp32, the matrices then stored as model_load_as() says,
 *    and owned by the Model; model_free() releases them.
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

#include "base/error.h"
#include "runtime/model_config.h"

struct KVCache;

typedef struct Model Model;

/* model_load_as(path, MODEL_WEIGHTS_AUTO, ...): the checkpoint's own storage. */
int model_load(const char *path, Model **out, SrError *err);

/* How the projections, a language model's output head and an untied
 * embedding store their weights (gemm.h): MODEL_DTYPE_F32, _BF16 or _F16, or
 * MODEL_WEIGHTS_AUTO, the checkpoint's own (its matrices' dtype when they
 * all share one, else fp32; fp32 for llama2.c files), which holds every
 * weight exactly. bf16 and f16 halve that memory and the bytes a batch of 1
 * reads per token; the accumulation stays fp32 in the same order. Norms,
 * biases and a reward model's score head stay fp32. */
enum { MODEL_WEIGHTS_AUTO = -1 };
int model_load_as(const char *path, int weights, Model **out, SrError *err);
/* How a model should be loaded, for code that loads one on a caller's
 * behalf (a reward source): the CLI's --weights travels in it, since there
 * is no process-wide default. */
typedef struct ModelLoadOptions {
    int weights;  /* MODEL_WEIGHTS_AUTO or a MODEL_DTYPE_ */
    int kv_dtype; /* the KV cache's element type (--kv-dtype): a MODEL_DTYPE_, or
                     MODEL_KV_DEFAULT: not given (f32; outputs leave it out) */
} ModelLoadOptions;
enum { MODEL_KV_DEFAULT = -1 };
/* model_load_as(path, o->weights), then model_set_kv_dtype(o->kv_dtype);
 * o NULL: the defaults (the checkpoint's storage, an f32 cache). */
int model_load_with(const char *path, const ModelLoadOptions *o, Model **out, SrError *err);
/* The element type of the caches the model's KV is kept in from now on
 * (cfg.kv_dtype: kv_create, kv_bytes_per_token and every planner read it):
 * MODEL_DTYPE_F32 (the default) keeps keys and values exactly; _BF16 and
 * _F16 halve the bytes, rounding each to nearest even when it is written,
 * and model_forward fails on an f16 one beyond 65504. Make caches after it. */
void model_set_kv_dtype(Model *m, int kv_dtype);
/* "f32", "bf16", "f16" -> the MODEL_DTYPE_; -2 for anything else (no auto). */
int model_kv_dtype_parse(const char *name);
/* The storage a loaded model's matrices use, and every weight byte it holds. */
int model_weight_dtype(const Model *m);
size_t model_weight_bytes(const Model *m);
/* "bf16" -> MODEL_DTYPE_BF16, "f16", "f32", "auto"; -2 for anything else. */
int model_weights_parse(const char *name);
/* The name of a MODEL_DTYPE_ ("f32", "bf16", "f16"); NULL for MODEL_WEIGHTS_AUTO. */
const char *model_weights_name(int weights);
void model_free(Model *m);
const ModelConfig *model_config(const Model *m);

/* Width of one output row: vocab_size (LM) or num_labels (RM). */
int model_output_dim(const Model *m);

/* Total parameter count (embedding counted once when tied). */
uint64_t model_param_count(const Model *m);


/* See the contract above. out must hold n * model_output_dim(m) floats.
 * Fails (cache unchanged) when a slot would exceed max_seq_len or the KV
 * budget. */
int model_forward(Model *m, struct KVCache *kv, int n, const int *slots,
                  const int *tokens, float *out, SrError *err);
/* model_forward, and when hidden is not NULL (n * cfg.dim floats) row i of
 * it gets token i's last hidden state: the final norm's output, which the
 * output head reads. Its bits are as invariant as the logits' (the
 * contract above); hidden NULL costs nothing. */
int model_forward_hidden(Model *m, struct KVCache *kv, int n, const int *slots,
                         const int *tokens, float *out, float *hidden, SrError *err);

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
