/* hfconfig.c - a Hugging Face config.json read into a ModelConfig
 * (hfconfig.h): architecture, dimensions, RoPE, special ids and dtype, each
 * field range-checked, anything unsupported refused by name. */
#include "runtime/hfconfig.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"

#define CFG_MAX_BYTES (16u * 1024u * 1024u)

typedef struct {
    const char *name;
    const char *arch;
    ModelKind kind;
} ArchInfo;

static const ArchInfo ARCHS[] = {
    {"LlamaForCausalLM", "llama", MODEL_KIND_LM},
    {"MistralForCausalLM", "llama", MODEL_KIND_LM},
    {"Qwen2ForCausalLM", "qwen2", MODEL_KIND_LM},
    {"Qwen3ForCausalLM", "qwen3", MODEL_KIND_LM},
    {"LlamaForSequenceClassification", "llama", MODEL_KIND_RM},
    {"Qwen2ForSequenceClassification", "qwen2", MODEL_KIND_RM},
    {"Qwen3ForSequenceClassification", "qwen3", MODEL_KIND_RM},
};

static const cJSON *get(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int is_null(const cJSON *v) { return v == NULL || cJSON_IsNull(v); }

/* Optional integer field: absent or null keeps *out; otherwise it must be an
 * integer in [lo, hi]. */
static int opt_int(const cJSON *o, const char *key, long lo, long hi, int *out, const char *path,
                   SrError *err) {
    const cJSON *v = get(o, key);
    if (is_null(v)) return 0;
    if (!cJSON_IsNumber(v) || floor(v->valuedouble) != v->valuedouble || v->valuedouble < lo ||
        v->valuedouble > hi)
        return sr_fail(err, "%s: \"%s\" must be an integer in [%ld, %ld]", path, key, lo, hi);
    *out = (int)v->valuedouble;
    return 0;
}

static int opt_float(const cJSON *o, const char *key, double lo, double hi, float *out,
                     const char *path, SrError *err) {
    const cJSON *v = get(o, key);
    if (is_null(v)) return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        return sr_fail(err, "%s: \"%s\" must be a number in [%g, %g]", path, key, lo, hi);
    *out = (float)v->valuedouble;
    return 0;
}

static int opt_bool(const cJSON *o, const char *key, int *out, const char *path, SrError *err) {
    const cJSON *v = get(o, key);
    if (is_null(v)) return 0;
    if (!cJSON_IsBool(v)) return sr_fail(err, "%s: \"%s\" must be true or false", path, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

int config_check_dims(const ModelConfig *c, const char *path, SrError *err) {
    struct { const char *name; int v, max; } dims[] = {
        {"hidden_size", c->dim, CFG_MAX_DIM},
        {"intermediate_size", c->hidden_dim, CFG_MAX_HIDDEN},
        {"num_hidden_layers", c->n_layers, CFG_MAX_LAYERS},
        {"num_attention_heads", c->n_heads, CFG_MAX_HEADS},
        {"num_key_value_heads", c->n_kv_heads, CFG_MAX_HEADS},
        {"head_dim", c->head_dim, CFG_MAX_HEAD_DIM},
        {"vocab_size", c->vocab_size, CFG_MAX_VOCAB},
        {"max_position_embeddings", c->max_seq_len, CFG_MAX_SEQ},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v < 1 || dims[i].v > dims[i].max)
            return sr_fail(err, "%s: %s = %d is outside [1, %d]", path, dims[i].name, dims[i].v,
                           dims[i].max);
    if (c->kind == MODEL_KIND_RM && (c->num_labels < 1 || c->num_labels > CFG_MAX_LABELS))
        return sr_fail(err, "%s: num_labels = %d is outside [1, %d]", path, c->num_labels,
                       CFG_MAX_LABELS);
    if (c->n_heads % c->n_kv_heads != 0)
        return sr_fail(err, "%s: %d attention heads are not a multiple of %d kv heads", path,
                       c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2 != 0)
        return sr_fail(err, "%s: head_dim %d is odd (RoPE rotates pairs)", path, c->head_dim);
    if ((long)c->n_heads * c->head_dim > CFG_MAX_DIM)
        return sr_fail(err, "%s: heads * head_dim = %ld is too large", path,
                       (long)c->n_heads * c->head_dim);
    if (!(c->rms_eps > 0 && c->rms_eps < 1))
        return sr_fail(err, "%s: rms_norm_eps %g is outside (0, 1)", path, c->rms_eps);
    if (!(c->rope_theta > 0 && isfinite(c->rope_theta)))
        return sr_fail(err, "%s: rope_theta %g must be positive", path, c->rope_theta);
    return 0;
}

static int parse_token_ids(const cJSON *root, ModelConfig *c, const char *path, SrError *err) {
    if (opt_int(root, "bos_token_id", 0, CFG_MAX_VOCAB, &c->bos_id, path, err) ||
        opt_int(root, "pad_token_id", 0, CFG_MAX_VOCAB, &c->pad_id, path, err))
        return -1;
    const cJSON *eos = get(root, "eos_token_id");
    if (cJSON_IsArray(eos)) {
        for (const cJSON *e = eos->child; e; e = e->next) {
            if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > CFG_MAX_VOCAB ||
                floor(e->valuedouble) != e->valuedouble)
                return sr_fail(err, "%s: bad entry in \"eos_token_id\"", path);
            if (c->n_eos_ids < (int)(sizeof c->eos_ids / sizeof c->eos_ids[0]))
                c->eos_ids[c->n_eos_ids++] = (int)e->valuedouble;
        }
        if (c->n_eos_ids > 0) c->eos_id = c->eos_ids[0];
    } else {
        if (opt_int(root, "eos_token_id", 0, CFG_MAX_VOCAB, &c->eos_id, path, err)) return -1;
        if (c->eos_id >= 0) c->eos_ids[c->n_eos_ids++] = c->eos_id;
    }
    return 0;
}

/* rope: rope_parameters (newer layout) wins over top-level rope_theta and
 * rope_scaling (older layout). */
static int parse_rope(const cJSON *root, ModelConfig *c, const char *path, SrError *err) {
    c->rope_theta = 10000.0f;
    if (opt_float(root, "rope_theta", 1e-6, 1e12, &c->rope_theta, path, err)) return -1;
    const cJSON *rp = get(root, "rope_parameters");
    const cJSON *scaling = is_null(rp) ? get(root, "rope_scaling") : rp;
    if (is_null(scaling)) return 0;
    if (!cJSON_IsObject(scaling))
        return sr_fail(err, "%s: \"%s\" must be an object", path,
                       is_null(rp) ? "rope_scaling" : "rope_parameters");
    if (opt_float(scaling, "rope_theta", 1e-6, 1e12, &c->rope_theta, path, err)) return -1;
    const cJSON *type = get(scaling, "rope_type");
    if (is_null(type)) type = get(scaling, "type");
    if (is_null(type) || (cJSON_IsString(type) && strcmp(type->valuestring, "default") == 0))
        return 0;
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "llama3") != 0)
        return sr_fail(err, "%s: rope_type '%.40s' is not supported (default and llama3 are)",
                       path, cJSON_IsString(type) ? type->valuestring : "?");
    c->rope_factor = 0;
    c->rope_low_freq_factor = c->rope_high_freq_factor = 0;
    c->rope_original_max_pos = 0;
    if (opt_float(scaling, "factor", 1e-3, 1e6, &c->rope_factor, path, err) ||
        opt_float(scaling, "low_freq_factor", 1e-6, 1e6, &c->rope_low_freq_factor, path, err) ||
        opt_float(scaling, "high_freq_factor", 1e-6, 1e6, &c->rope_high_freq_factor, path,
                  err) ||
        opt_int(scaling, "original_max_position_embeddings", 1, CFG_MAX_SEQ,
                &c->rope_original_max_pos, path, err))
        return -1;
    if (c->rope_factor == 0 || c->rope_low_freq_factor == 0 || c->rope_high_freq_factor == 0 ||
        c->rope_original_max_pos == 0)
        return sr_fail(err,
                       "%s: rope_type llama3 needs factor, low_freq_factor, high_freq_factor "
                       "and original_max_position_embeddings",
                       path);
    if (!(c->rope_high_freq_factor > c->rope_low_freq_factor))
        return sr_fail(err, "%s: llama3 rope needs high_freq_factor > low_freq_factor", path);
    return 0;
}

/* A window W only matters for sequences longer than W: cap max_seq_len. */
static int apply_sliding_window(const cJSON *root, ModelConfig *c, const char *path,
                                SrError *err) {
    int used = 0;
    if (opt_bool(root, "use_sliding_window", &used, path, err)) return -1;
    const cJSON *lt = get(root, "layer_types");
    if (cJSON_IsArray(lt))
        for (const cJSON *e = lt->child; e; e = e->next)
            if (!cJSON_IsString(e) || strcmp(e->valuestring, "full_attention") != 0) used = 1;
    const cJSON *sw = get(root, "sliding_window");
    /* Mistral has no use_sliding_window switch: a window given is a window used */
    if (strcmp(c->architecture, "MistralForCausalLM") == 0 && !is_null(sw)) used = 1;
    if (!used) return 0;
    int window = 0;
    if (opt_int(root, "sliding_window", 1, CFG_MAX_SEQ, &window, path, err)) return -1;
    if (window == 0)
        return sr_fail(err, "%s: sliding-window attention is enabled without a window size",
                       path);
    if (window < c->max_seq_len) c->max_seq_len = window;
    return 0;
}

static int parse_arch(const cJSON *root, ModelConfig *c, const char *path, SrError *err) {
    const cJSON *archs = get(root, "architectures");
    const cJSON *a0 = cJSON_IsArray(archs) ? cJSON_GetArrayItem(archs, 0) : NULL;
    if (!cJSON_IsString(a0))
        return sr_fail(err, "%s: no \"architectures\" list naming the model class", path);
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++) {
        if (strcmp(ARCHS[i].name, a0->valuestring) != 0) continue;
        snprintf(c->architecture, sizeof c->architecture, "%s", ARCHS[i].name);
        snprintf(c->arch, sizeof c->arch, "%s", ARCHS[i].arch);
        c->kind = ARCHS[i].kind;
        return 0;
    }
    return sr_fail(err,
                   "%s: architecture '%.60s' is not supported (Llama, Qwen2, Qwen3, Mistral "
                   "causal LMs and their ForSequenceClassification reward models are)",
                   path, a0->valuestring);
}

static int parse_dims(const cJSON *root, ModelConfig *c, const char *path, SrError *err) {
    const char *req[] = {"hidden_size", "intermediate_size", "num_hidden_layers",
                         "num_attention_heads", "vocab_size"};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (is_null(get(root, req[i]))) return sr_fail(err, "%s: \"%s\" is missing", path, req[i]);
    const long big = 1L << 30; /* config_check_dims applies the real limits */
    c->max_seq_len = 2048;
    c->rms_eps = 1e-6f;
    if (opt_int(root, "hidden_size", 1, big, &c->dim, path, err) ||
        opt_int(root, "intermediate_size", 1, big, &c->hidden_dim, path, err) ||
        opt_int(root, "num_hidden_layers", 1, big, &c->n_layers, path, err) ||
        opt_int(root, "num_attention_heads", 1, big, &c->n_heads, path, err) ||
        opt_int(root, "vocab_size", 1, big, &c->vocab_size, path, err) ||
        opt_int(root, "max_position_embeddings", 1, big, &c->max_seq_len, path, err) ||
        opt_float(root, "rms_norm_eps", 1e-30, 1, &c->rms_eps, path, err))
        return -1;
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->dim / c->n_heads;
    if (opt_int(root, "num_key_value_heads", 1, big, &c->n_kv_heads, path, err) ||
        opt_int(root, "head_dim", 1, big, &c->head_dim, path, err))
        return -1;
    if (is_null(get(root, "head_dim")) && c->dim % c->n_heads != 0)
        return sr_fail(err, "%s: hidden_size %d is not a multiple of %d heads (and no head_dim)",
                       path, c->dim, c->n_heads);
    return 0;
}

/* "dtype" (transformers 5) or "torch_dtype" (older). */
static int parse_dtype(const cJSON *root, ModelConfig *c, const char *path, SrError *err) {
    const cJSON *d = get(root, "dtype");
    if (is_null(d)) d = get(root, "torch_dtype");
    c->rope_freq_dtype = MODEL_DTYPE_F32;
    if (is_null(d)) return 0;
    if (!cJSON_IsString(d)) return sr_fail(err, "%s: \"dtype\" must be a string", path);
    if (strcmp(d->valuestring, "bfloat16") == 0) c->rope_freq_dtype = MODEL_DTYPE_BF16;
    else if (strcmp(d->valuestring, "float16") == 0) c->rope_freq_dtype = MODEL_DTYPE_F16;
    return 0;
}

static int parse_switches(const cJSON *root, ModelConfig *c, const char *path, SrError *err) {
    const cJSON *act = get(root, "hidden_act");
    if (!is_null(act) && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu") != 0))
        return sr_fail(err, "%s: hidden_act '%.40s' is not supported (only silu)", path,
                       cJSON_IsString(act) ? act->valuestring : "?");
    int mlp_bias = 0;
    if (opt_bool(root, "mlp_bias", &mlp_bias, path, err)) return -1;
    if (mlp_bias) return sr_fail(err, "%s: mlp_bias true is not supported", path);
    c->tie_embeddings = 0;
    if (opt_bool(root, "tie_word_embeddings", &c->tie_embeddings, path, err) ||
        opt_bool(root, "attention_bias", &c->has_qkv_bias, path, err))
        return -1;
    if (strcmp(c->arch, "qwen2") == 0) c->has_qkv_bias = 1;
    c->has_qk_norm = strcmp(c->arch, "qwen3") == 0;
    if (c->kind == MODEL_KIND_RM) {
        const cJSON *labels = get(root, "id2label");
        c->num_labels = cJSON_IsObject(labels) ? cJSON_GetArraySize(labels) : 2;
        if (opt_int(root, "num_labels", 1, CFG_MAX_LABELS, &c->num_labels, path, err)) return -1;
    }
    return 0;
}

/* bos and eos ids must name rows of the model (pad is never fed). */
static int check_special_ids(const ModelConfig *c, const char *path, SrError *err) {
    if (c->bos_id >= c->vocab_size)
        return sr_fail(err, "%s: bos_token_id %d is outside the vocabulary [0, %d)", path,
                       c->bos_id, c->vocab_size);
    for (int i = 0; i < c->n_eos_ids; i++)
        if (c->eos_ids[i] >= c->vocab_size)
            return sr_fail(err, "%s: eos_token_id %d is outside the vocabulary [0, %d)", path,
                           c->eos_ids[i], c->vocab_size);
    return 0;
}

int hfconfig_parse(const char *json, size_t len, const char *path, ModelConfig *cfg,
                   SrError *err) {
    ModelConfig c;
    memset(&c, 0, sizeof c);
    c.bos_id = c.eos_id = c.pad_id = -1;
    cJSON *root;
    if (sr_json_parse(json, len, path, "not valid JSON", &root, err) != 0) return -1;
    int rc = -1;
    if (!cJSON_IsObject(root)) sr_fail(err, "%s: not a JSON object", path);
    else if (parse_arch(root, &c, path, err) == 0 && parse_dims(root, &c, path, err) == 0 &&
             parse_switches(root, &c, path, err) == 0 && parse_rope(root, &c, path, err) == 0 &&
             parse_dtype(root, &c, path, err) == 0 &&
             parse_token_ids(root, &c, path, err) == 0 &&
             apply_sliding_window(root, &c, path, err) == 0 &&
             config_check_dims(&c, path, err) == 0 && check_special_ids(&c, path, err) == 0)
        rc = 0;
    cJSON_Delete(root);
    if (rc == 0) *cfg = c;
    return rc;
}

int hfconfig_load(const char *path, ModelConfig *cfg, SrError *err) {
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, CFG_MAX_BYTES, &text, &len, err) != 0) return -1;
    int rc = hfconfig_parse(text, len, path, cfg, err);
    free(text);
    return rc;
}
