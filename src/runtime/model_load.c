/* model_load.c - a Model from a checkpoint: config to shapes, tensors to
 * weights (every name and shape checked before anything is allocated, every
 * value finite, every tensor of the file used), the projections packed for
 * gemm_packed(), the RoPE tables started; the Model's parameter count.
 *
 * Formats: a Hugging Face directory (config.json + model.safetensors or an
 * index of shards), a path to either file, or a llama2.c .bin (llama2c.h).
 * The forward pass that runs the loaded Model is model.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/hfconfig.h"
#include "runtime/llama2c.h"
#include "runtime/model_internal.h"
#include "runtime/safetensors.h"

const ModelConfig *model_config(const Model *m) { return &m->cfg; }
int model_output_dim(const Model *m) { return m->out_dim; }

static int output_dim(const ModelConfig *c) {
    return c->kind == MODEL_KIND_RM ? c->num_labels : c->vocab_size;
}

uint64_t model_param_count(const Model *m) {
    const ModelConfig *c = &m->cfg;
    uint64_t D = (uint64_t)c->dim;
    uint64_t per_layer = 2 * D + (uint64_t)m->qkv_dim * D + D * m->q_dim +
                         3 * D * (uint64_t)c->hidden_dim;
    if (c->has_qkv_bias) per_layer += (uint64_t)m->qkv_dim;
    if (c->has_qk_norm) per_layer += 2 * (uint64_t)c->head_dim;
    uint64_t total = (uint64_t)c->vocab_size * D + c->n_layers * per_layer + D;
    if (m->head != m->embed) total += (uint64_t)m->out_dim * D;
    return total;
}

static void free_layers(Model *m) {
    if (!m->layers) return;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        Layer *L = &m->layers[l];
        float *p[] = {L->attn_norm, L->wqkv, L->bqkv, L->q_norm, L->k_norm,
                      L->wo, L->ffn_norm, L->w_gate_up, L->w_down};
        for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
        PackedMatrix *q[] = {&L->pqkv, &L->po, &L->pgate_up, &L->pdown};
        for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) gemm_free(q[i]);
    }
    free(m->layers);
}

void model_free(Model *m) {
    if (!m) return;
    free_layers(m);
    if (m->head != m->embed) free(m->head);
    free(m->embed);
    gemm_free(&m->phead);
    gemm_free(&m->pembed);
    free(m->final_norm);
    rope_free(&m->rope);
    model_scratch_free(&m->s);
    free(m);
}

static float *alloc_floats(size_t n, SrError *err) {
    return sr_malloc_array(n, sizeof(float), err);
}

/* Allocates every weight buffer for cfg (biases/norms only when used). */
static int alloc_weights(Model *m, SrError *err) {
    const ModelConfig *c = &m->cfg;
    size_t D = (size_t)c->dim, F = (size_t)c->hidden_dim;
    m->layers = sr_calloc((size_t)c->n_layers, sizeof *m->layers, err);
    if (!m->layers) return -1;
    for (int l = 0; l < c->n_layers; l++) {
        Layer *L = &m->layers[l];
        if (!(L->attn_norm = alloc_floats(D, err)) ||
            !(L->wqkv = alloc_floats((size_t)m->qkv_dim * D, err)) ||
            !(L->wo = alloc_floats(D * m->q_dim, err)) || !(L->ffn_norm = alloc_floats(D, err)) ||
            !(L->w_gate_up = alloc_floats(2 * F * D, err)) ||
            !(L->w_down = alloc_floats(D * F, err)))
            return -1;
        if (c->has_qkv_bias && !(L->bqkv = alloc_floats((size_t)m->qkv_dim, err))) return -1;
        if (c->has_qk_norm && (!(L->q_norm = alloc_floats((size_t)c->head_dim, err)) ||
                               !(L->k_norm = alloc_floats((size_t)c->head_dim, err))))
            return -1;
    }
    if (!(m->embed = alloc_floats((size_t)c->vocab_size * D, err)) ||
        !(m->final_norm = alloc_floats(D, err)))
        return -1;
    if (c->kind == MODEL_KIND_LM && c->tie_embeddings) m->head = m->embed;
    else if (!(m->head = alloc_floats((size_t)m->out_dim * D, err))) return -1;
    return 0;
}

static void set_dims(Model *m) {
    const ModelConfig *c = &m->cfg;
    m->q_dim = c->n_heads * c->head_dim;
    m->kv_dim = c->n_kv_heads * c->head_dim;
    m->qkv_dim = m->q_dim + 2 * m->kv_dim;
    m->attn_shape = (AttnShape){c->n_heads, c->n_kv_heads, c->head_dim};
    m->out_dim = output_dim(c);
}

/* A NaN or an infinity in a weight turns every logit or score it reaches
 * into NaN, which nothing downstream could rank: refused once, at load. */
static int check_finite(const float *w, size_t n, const char *where, const char *name,
                        SrError *err) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(w[i]))
            return sr_fail(err, "%s: tensor '%s' holds a non-finite value (%s) at element %zu",
                           where, name, sr_nonfinite_name(w[i]), i);
    return 0;
}

/* The tensors of a checkpoint (where names it in errors), and which of them
 * the model has asked for: every tensor must be used or known harmless. */
typedef struct TensorSrc {
    const SafeTensors *st;
    const char *where;
    unsigned char *used; /* [st->n_tensors] */
} TensorSrc;

/* Checks that tensor 'name' exists with shape [rows, cols] (cols == 0: 1-D
 * [rows]) and reads it into dst; dst NULL only checks. */
static int load_tensor(const TensorSrc *src, const char *name, float *dst, int64_t rows,
                       int64_t cols, SrError *err) {
    const SafeTensors *st = src->st;
    const char *where = src->where;
    const StTensor *t = st_find(st, name);
    if (!t) return sr_fail(err, "%s: missing tensor '%s'", where, name);
    src->used[t - st->tensors] = 1;
    int want_rank = cols ? 2 : 1;
    if (t->rank != want_rank || t->shape[0] != rows || (cols && t->shape[1] != cols)) {
        char got[128] = "";
        size_t off = 0;
        for (int d = 0; d < t->rank && off < sizeof got - 24; d++)
            off += (size_t)snprintf(got + off, sizeof got - off, "%s%lld", d ? ", " : "",
                                    (long long)t->shape[d]);
        if (cols)
            return sr_fail(err, "%s: tensor '%s' has shape [%s], config implies [%lld, %lld]",
                           where, name, got, (long long)rows, (long long)cols);
        return sr_fail(err, "%s: tensor '%s' has shape [%s], config implies [%lld]", where, name,
                       got, (long long)rows);
    }
    if (!dst) return 0;
    if (st_read_f32(st, t, dst, err) != 0) return -1;
    return check_finite(dst, (size_t)t->numel, where, name, err);
}

/* dry: check names and shapes only; 'dst' is then never evaluated (the
 * buffers do not exist yet). */
static int load_layer_st(Model *m, const TensorSrc *src, int l, int dry, SrError *err) {
    const ModelConfig *c = &m->cfg;
    Layer *L = dry ? NULL : &m->layers[l];
    int64_t D = c->dim, F = c->hidden_dim, hd = c->head_dim;
    char name[160];
#define LOAD(suffix, dst, rows, cols)                                                   \
    do {                                                                                \
        snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix);                  \
        if (load_tensor(src, name, dry ? NULL : (dst), rows, cols, err) != 0)           \
            return -1;                                                                  \
    } while (0)
    LOAD("input_layernorm.weight", L->attn_norm, D, 0);
    LOAD("self_attn.q_proj.weight", L->wqkv, m->q_dim, D);
    LOAD("self_attn.k_proj.weight", L->wqkv + (size_t)m->q_dim * D, m->kv_dim, D);
    LOAD("self_attn.v_proj.weight", L->wqkv + (size_t)(m->q_dim + m->kv_dim) * D, m->kv_dim, D);
    if (c->has_qkv_bias) {
        LOAD("self_attn.q_proj.bias", L->bqkv, m->q_dim, 0);
        LOAD("self_attn.k_proj.bias", L->bqkv + m->q_dim, m->kv_dim, 0);
        LOAD("self_attn.v_proj.bias", L->bqkv + m->q_dim + m->kv_dim, m->kv_dim, 0);
    }
    if (c->has_qk_norm) {
        LOAD("self_attn.q_norm.weight", L->q_norm, hd, 0);
        LOAD("self_attn.k_norm.weight", L->k_norm, hd, 0);
    }
    LOAD("self_attn.o_proj.weight", L->wo, D, m->q_dim);
    LOAD("post_attention_layernorm.weight", L->ffn_norm, D, 0);
    LOAD("mlp.gate_proj.weight", L->w_gate_up, F, D);
    LOAD("mlp.up_proj.weight", L->w_gate_up + (size_t)F * D, F, D);
    LOAD("mlp.down_proj.weight", L->w_down, D, F);
#undef LOAD
    return 0;
}

/* Visits every tensor the config implies; see load_layer_st for 'dry'. */
static int visit_tensors(Model *m, const TensorSrc *src, int dry, SrError *err) {
    const ModelConfig *c = &m->cfg;
    if (load_tensor(src, "model.embed_tokens.weight", dry ? NULL : m->embed, c->vocab_size,
                    c->dim, err) != 0)
        return -1;
    for (int l = 0; l < c->n_layers; l++)
        if (load_layer_st(m, src, l, dry, err) != 0) return -1;
    if (load_tensor(src, "model.norm.weight", dry ? NULL : m->final_norm, c->dim, 0, err) != 0)
        return -1;
    if (c->kind == MODEL_KIND_RM)
        return load_tensor(src, "score.weight", dry ? NULL : m->head, c->num_labels, c->dim,
                           err);
    if (!c->tie_embeddings)
        return load_tensor(src, "lm_head.weight", dry ? NULL : m->head, c->vocab_size, c->dim,
                           err);
    return 0;
}

/* RoPE's inverse frequencies, which older checkpoints saved as a buffer
 * ("model.layers.N.self_attn.rotary_emb.inv_freq", "model.rotary_emb.inv_freq"):
 * recomputed from the config, so the copy in the file is harmless. */
static int is_inv_freq_buffer(const char *name, int n_layers) {
    if (strcmp(name, "model.rotary_emb.inv_freq") == 0) return 1;
    int l;
    char canon[96];
    if (sscanf(name, "model.layers.%d.", &l) != 1 || l < 0 || l >= n_layers) return 0;
    snprintf(canon, sizeof canon, "model.layers.%d.self_attn.rotary_emb.inv_freq", l);
    return strcmp(name, canon) == 0;
}

/* Every tensor of the file must be one the model uses: nothing is dropped
 * without a word (an o_proj bias with attention_bias, MLP biases, ...).
 * Known harmless: inv_freq buffers, and a tied model's lm_head.weight when it
 * equals the embedding (checked after loading, check_tied_head). */
static int check_unused(const Model *m, const TensorSrc *src, int *tied_head, SrError *err) {
    const ModelConfig *c = &m->cfg;
    *tied_head = 0;
    for (int i = 0; i < src->st->n_tensors; i++) {
        const char *name = src->st->tensors[i].name;
        if (src->used[i] || is_inv_freq_buffer(name, c->n_layers)) continue;
        if (c->kind == MODEL_KIND_LM && c->tie_embeddings && strcmp(name, "lm_head.weight") == 0) {
            *tied_head = 1;
            continue;
        }
        return sr_fail(err, "%s: tensor '%s' is not used by this model (%s config); refused "
                            "rather than ignored",
                       src->where, name, c->architecture);
    }
    return 0;
}

/* A tied model whose file also has lm_head.weight: harmless only when it is
 * the embedding (as transformers saves it); otherwise the file promises an
 * output head the model would ignore. */
static int check_tied_head(const Model *m, const TensorSrc *src, SrError *err) {
    const ModelConfig *c = &m->cfg;
    size_t n = (size_t)c->vocab_size * (size_t)c->dim;
    const StTensor *t = st_find(src->st, "lm_head.weight");
    if (t->rank != 2 || t->shape[0] != c->vocab_size || t->shape[1] != c->dim)
        return sr_fail(err, "%s: tensor 'lm_head.weight' does not have the embedding's shape, "
                            "but tie_word_embeddings is true", src->where);
    float *head = alloc_floats(n, err);
    if (!head) return -1;
    int rc = st_read_f32(src->st, t, head, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (head[i] != m->embed[i])
            rc = sr_fail(err, "%s: tensor 'lm_head.weight' differs from the embedding (element "
                              "%zu), but tie_word_embeddings is true: the model would ignore it",
                         src->where, i);
    free(head);
    return rc;
}

/* The checkpoint's own matrix dtype: the one every 2-D tensor shares, else
 * fp32 (a mixed file is held exactly only in fp32). */
static int checkpoint_dtype(const SafeTensors *st) {
    int dt = -1;
    for (int i = 0; i < st->n_tensors; i++) {
        const StTensor *t = &st->tensors[i];
        if (t->rank != 2) continue;
        int d = strcmp(t->dtype, "BF16") == 0  ? MODEL_DTYPE_BF16
                : strcmp(t->dtype, "F16") == 0 ? MODEL_DTYPE_F16
                                               : MODEL_DTYPE_F32;
        if (dt >= 0 && d != dt) return MODEL_DTYPE_F32;
        dt = d;
    }
    return dt < 0 ? MODEL_DTYPE_F32 : dt;
}

/* Checks every name and shape before allocating anything: config.json alone
 * can imply gigabytes of weights, and a checkpoint that does not match it
 * should be refused as such, not as "out of memory". */
static int load_safetensors(Model *m, const SafeTensors *st, const char *where, SrError *err) {
    /* "use a bias whenever the file has one" */
    if (st_find(st, "model.layers.0.self_attn.q_proj.bias")) m->cfg.has_qkv_bias = 1;
    TensorSrc src = {st, where, sr_calloc((size_t)st->n_tensors, 1, err)};
    int tied_head = 0, rc = -1;
    m->weight_dtype = checkpoint_dtype(st);
    if (src.used && visit_tensors(m, &src, 1, err) == 0 &&
        check_unused(m, &src, &tied_head, err) == 0 && alloc_weights(m, err) == 0 &&
        visit_tensors(m, &src, 0, err) == 0 && (!tied_head || check_tied_head(m, &src, err) == 0))
        rc = 0;
    free(src.used);
    return rc;
}

static int load_llama2c(Model *m, const char *path, SrError *err) {
    Llama2cWeights w;
    if (llama2c_load(path, &m->cfg, &w, err) != 0) return -1;
    set_dims(m);
    int rc = alloc_weights(m, err);
    const ModelConfig *c = &m->cfg;
    size_t D = (size_t)c->dim, F = (size_t)c->hidden_dim, Q = (size_t)m->q_dim,
           KV = (size_t)m->kv_dim;
    for (int l = 0; rc == 0 && l < c->n_layers; l++) {
        Layer *L = &m->layers[l];
        memcpy(L->attn_norm, w.rms_att + l * D, D * sizeof(float));
        memcpy(L->wqkv, w.wq + l * Q * D, Q * D * sizeof(float));
        memcpy(L->wqkv + Q * D, w.wk + l * KV * D, KV * D * sizeof(float));
        memcpy(L->wqkv + (Q + KV) * D, w.wv + l * KV * D, KV * D * sizeof(float));
        memcpy(L->wo, w.wo + l * D * Q, D * Q * sizeof(float));
        memcpy(L->ffn_norm, w.rms_ffn + l * D, D * sizeof(float));
        memcpy(L->w_gate_up, w.w1 + l * F * D, F * D * sizeof(float));
        memcpy(L->w_gate_up + F * D, w.w3 + l * F * D, F * D * sizeof(float));
        memcpy(L->w_down, w.w2 + l * D * F, D * F * sizeof(float));
    }
    if (rc == 0) {
        memcpy(m->embed, w.embed, (size_t)c->vocab_size * D * sizeof(float));
        memcpy(m->final_norm, w.rms_final, D * sizeof(float));
        if (m->head != m->embed)
            memcpy(m->head, w.wcls, (size_t)c->vocab_size * D * sizeof(float));
    }
    llama2c_free(&w);
    return rc;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A Hugging Face model: dir holds config.json; weights is the .safetensors
 * file or index to read (NULL: look in dir). */
static int load_hf(Model *m, const char *dir, const char *weights, SrError *err) {
    char cfg_path[4096], w_path[4096];
    if (snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir) >= (int)sizeof cfg_path)
        return sr_fail(err, "%s: path too long", dir);
    if (hfconfig_load(cfg_path, &m->cfg, err) != 0) return -1;
    set_dims(m);
    if (weights) {
        snprintf(w_path, sizeof w_path, "%s", weights);
    } else {
        snprintf(w_path, sizeof w_path, "%s/model.safetensors", dir);
        if (!file_exists(w_path))
            snprintf(w_path, sizeof w_path, "%s/model.safetensors.index.json", dir);
        if (!file_exists(w_path))
            return sr_fail(err, "%s: no model.safetensors or model.safetensors.index.json", dir);
    }
    SafeTensors st;
    if (st_open(w_path, &st, err) != 0) return -1;
    int rc = load_safetensors(m, &st, w_path, err);
    st_close(&st);
    return rc;
}

/* Packs one row-major matrix for gemm_packed(), in the model's weight
 * dtype, and frees the original. */
static int pack_and_free(const Model *m, PackedMatrix *pm, float **w, int rows, int cols,
                         SrError *err) {
    if (gemm_pack_as(pm, *w, rows, cols, (GemmDtype)m->weight_dtype, err) != 0) return -1;
    free(*w);
    *w = NULL;
    return 0;
}

/* The projections and a language model's head, packed once at load time
 * (see Layer). A tied head shares its rows with the embedding, which is then
 * read back from the packed copy, so the weights are held once. */
static int pack_weights(Model *m, SrError *err) {
    const ModelConfig *c = &m->cfg;
    int D = c->dim, F = c->hidden_dim;
    for (int l = 0; l < c->n_layers; l++) {
        Layer *L = &m->layers[l];
        if (pack_and_free(m, &L->pqkv, &L->wqkv, m->qkv_dim, D, err) ||
            pack_and_free(m, &L->po, &L->wo, D, m->q_dim, err) ||
            pack_and_free(m, &L->pgate_up, &L->w_gate_up, 2 * F, D, err) ||
            pack_and_free(m, &L->pdown, &L->w_down, D, F, err))
            return -1;
    }
    /* An untied embedding in a half dtype too (only rows are read from it,
     * so it gains memory, not speed); fp32 stays the plain array. */
    if (m->head != m->embed && m->weight_dtype != MODEL_DTYPE_F32 &&
        pack_and_free(m, &m->pembed, &m->embed, c->vocab_size, D, err))
        return -1;
    if (c->kind != MODEL_KIND_LM) return 0;
    if (m->head == m->embed) m->embed = NULL; /* freed below as the head */
    return pack_and_free(m, &m->phead, &m->head, m->out_dim, D, err);
}

int model_weight_dtype(const Model *m) { return m->weight_dtype; }

static const char *const WEIGHT_NAMES[] = {"f32", "bf16", "f16"}; /* MODEL_DTYPE_* order */

int model_weights_parse(const char *name) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, WEIGHT_NAMES[i]) == 0) return i;
    return strcmp(name, "auto") == 0 ? MODEL_WEIGHTS_AUTO : -2;
}

const char *model_weights_name(int weights) {
    return weights >= 0 && weights < 3 ? WEIGHT_NAMES[weights] : NULL;
}

int model_kv_dtype_parse(const char *name) {
    int d = model_weights_parse(name);
    return d >= 0 ? d : -2;
}

void model_set_kv_dtype(Model *m, int kv_dtype) { m->cfg.kv_dtype = kv_dtype; }

int model_load_with(const char *path, const ModelLoadOptions *o, Model **out, SrError *err) {
    if (model_load_as(path, o ? o->weights : MODEL_WEIGHTS_AUTO, out, err) != 0) return -1;
    if (o) model_set_kv_dtype(*out, o->kv_dtype < 0 ? MODEL_DTYPE_F32 : o->kv_dtype);
    return 0;
}

size_t model_weight_bytes(const Model *m) {
    size_t bytes = (size_t)model_param_count(m) * sizeof(float);
    const PackedMatrix *pm[] = {&m->phead, &m->pembed};
    for (size_t i = 0; i < sizeof pm / sizeof pm[0]; i++)
        bytes = bytes - (size_t)pm[i]->rows * pm[i]->cols * sizeof(float) + gemm_bytes(pm[i]);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const Layer *L = &m->layers[l];
        const PackedMatrix *q[] = {&L->pqkv, &L->po, &L->pgate_up, &L->pdown};
        for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
            bytes = bytes - (size_t)q[i]->rows * q[i]->cols * sizeof(float) + gemm_bytes(q[i]);
    }
    return bytes;
}

/* Why path names no model: it does not exist, it cannot be examined (say
 * EACCES), or it is neither a directory nor a regular file (/dev/null). */
static int model_path_error(const char *path, SrError *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) return sr_fail(err, "%s: no such model file or directory", path);
        return sr_fail(err, "%s: cannot access: %s", path, strerror(errno));
    }
    return sr_fail(err, "%s: not a model (neither a directory nor a regular file)", path);
}

/* Directory part of path ("." when there is none). */
static void dir_of(const char *path, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, cap, ".");
    else if (slash == path) snprintf(out, cap, "/");
    else snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int model_load(const char *path, Model **out, SrError *err) {
    return model_load_as(path, MODEL_WEIGHTS_AUTO, out, err);
}

int model_load_as(const char *path, int weights, Model **out, SrError *err) {
    *out = NULL;
    Model *m = sr_calloc(1, sizeof *m, err);
    if (!m) return -1;
    char dir[4096];
    int rc;
    if (is_dir(path)) {
        /* a folder without config.json but with a llama2.c model.bin is
         * that checkpoint; with neither, say what a folder must hold */
        char cfg[4096], bin[4096];
        snprintf(cfg, sizeof cfg, "%s/config.json", path);
        snprintf(bin, sizeof bin, "%s/model.bin", path);
        if (file_exists(cfg)) rc = load_hf(m, path, NULL, err);
        else if (file_exists(bin)) rc = load_llama2c(m, bin, err);
        else rc = sr_fail(err, "%s: a model folder holds config.json (Hugging Face) or model.bin "
                               "(llama2.c); this one has neither", path);
    } else if (ends_with(path, ".safetensors") || ends_with(path, ".safetensors.index.json")) {
        dir_of(path, dir, sizeof dir);
        rc = load_hf(m, dir, path, err);
    } else if (ends_with(path, ".json")) {
        dir_of(path, dir, sizeof dir);
        rc = load_hf(m, dir, NULL, err);
    } else if (file_exists(path)) {
        rc = load_llama2c(m, path, err);
    } else {
        rc = model_path_error(path, err);
    }
    if (rc == 0 && weights != MODEL_WEIGHTS_AUTO) m->weight_dtype = weights;
    if (rc == 0 && (rc = pack_weights(m, err)) != 0 && err) { /* name the model */
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        sr_fail(err, "%s: %s", path, why);
    }
    if (rc == 0) rc = rope_init(&m->rope, &m->cfg, err);
    if (rc == 0)
        rc = rope_grow(&m->rope, m->cfg.max_seq_len < 256 ? m->cfg.max_seq_len : 256, err);
    if (rc != 0) {
        model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

