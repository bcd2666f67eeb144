/* model_config.h - the shape of a Llama-family network, as the loaders
 * (hfconfig, llama2c) fill it and the model, the KV cache and the cost
 * accounting read it.
 *
 * Contract: plain data, no ownership; every field is validated by the loader
 * that fills it, so readers may trust the ranges. Kept apart from model.h so
 * that the loaders and the cache need not see the Model they serve.
 */
#ifndef SPECREJ_MODEL_CONFIG_H
#define SPECREJ_MODEL_CONFIG_H

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
    /* How the KV cache stores keys and values (--kv-dtype): MODEL_DTYPE_F32
     * (zero: the default), _BF16 or _F16. Not the checkpoint's: a run
     * option the model's loader sets (model_set_kv_dtype), here because the
     * cache, its byte accounting and the planners all read it from cfg. */
    int kv_dtype;
} ModelConfig;

enum { MODEL_DTYPE_F32 = 0, MODEL_DTYPE_BF16 = 1, MODEL_DTYPE_F16 = 2 };

/* Analytic FLOPs of pushing one token at position pos (0-based) through the
 * model, output head included: 2 * multiply-adds of every matmul plus the
 * attention score and value products over pos+1 cached positions. Used by
 * the cost accounting of every method alike. */
double model_flops_per_token(const ModelConfig *cfg, int pos);

#endif
