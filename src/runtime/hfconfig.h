/* hfconfig.h - Hugging Face config.json -> ModelConfig.
 *
 * Accepts LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
 * MistralForCausalLM and the Llama/Qwen2/Qwen3 ...ForSequenceClassification
 * reward models. Reads RoPE settings from either layout (top-level
 * rope_theta + rope_scaling, or rope_parameters) and supports rope_type
 * "default" and "llama3". Refuses, with a message naming the field:
 * other architectures, hidden_act other than silu, other rope types, MLP
 * biases, and nonsensical or absurd dimensions (config_check_dims).
 *
 * Sliding-window attention is exact as long as no sequence is longer than
 * the window, so a config that enables a window W gets max_seq_len =
 * min(max_position_embeddings, W) instead of a refusal.
 */
#ifndef SPECREJ_HFCONFIG_H
#define SPECREJ_HFCONFIG_H

#include <stddef.h>

#include "base/error.h"
#include "runtime/model_config.h"

/* Sanity maxima against hostile files. */
#define CFG_MAX_DIM 65536
#define CFG_MAX_HIDDEN (1 << 20)
#define CFG_MAX_LAYERS 1024
#define CFG_MAX_HEADS 1024
#define CFG_MAX_HEAD_DIM 1024
#define CFG_MAX_VOCAB (1 << 20)
#define CFG_MAX_SEQ (1 << 20)
#define CFG_MAX_LABELS 1024

/* Parses config.json text; path only names the file in errors. */
int hfconfig_parse(const char *json, size_t len, const char *path, ModelConfig *cfg,
                   SrError *err);
int hfconfig_load(const char *path, ModelConfig *cfg, SrError *err);

/* Checks every dimension against the maxima above and for consistency
 * (heads divisible by kv heads, even head_dim, ...). Used by every loader. */
int config_check_dims(const ModelConfig *cfg, const char *path, SrError *err);

#endif
