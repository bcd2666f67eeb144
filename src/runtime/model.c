#define _POSIX_C_SOURCE 200809L
#include "runtime/model.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/fastexp.h"
#include "runtime/hfconfig.h"
#include "runtime/llama2c.h"
#include "runtime/model_internal.h"
#include "runtime/safetensors.h"

/* The Model's layout is in model_internal.h (shared with attention.c). */

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

double model_flops_per_token(const ModelConfig *c, int pos) {
    double D = c->dim, hd = c->head_dim;
    double q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    double proj = D * (q_dim + 2 * kv_dim) + q_dim * D + 3.0 * D * c->hidden_dim;
    double attn = 2.0 * c->n_heads * hd * (pos + 1.0); /* q.k and p.v */
    return 2.0 * (c->n_layers * (proj + attn) + D * output_dim(c));
}

/* ---------------------------------------------------------------- loading */

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
    free(m->final_norm);
    free(m->inv_freq);
    free(m->rope_cos);
    free(m->rope_sin);
    Scratch *s = &m->s;
    float *f[] = {s->x, s->xb, s->qkv, s->att, s->hb, s->hb2, s->logits, s->scores};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) free(f[i]);
    free(s->pos);
    free(s->slot_count);
    free(s->uniq_slots);
    free(s->uniq_extra);
    int *ints[] = {s->fam_of, s->fam_k, s->fam_len, s->fam_n, s->fam_first, s->fam_tok};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) free(ints[i]);
    free(s->fam_off);
    free(s->pscore), free(s->gather), free(s->gather2);
    gemm_free(&s->pkeys), gemm_free(&s->pvalues);
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

/* Checks every name and shape before allocating anything: config.json alone
 * can imply gigabytes of weights, and a checkpoint that does not match it
 * should be refused as such, not as "out of memory". */
static int load_safetensors(Model *m, const SafeTensors *st, const char *where, SrError *err) {
    /* "use a bias whenever the file has one" */
    if (st_find(st, "model.layers.0.self_attn.q_proj.bias")) m->cfg.has_qkv_bias = 1;
    TensorSrc src = {st, where, sr_calloc((size_t)st->n_tensors, 1, err)};
    int tied_head = 0, rc = -1;
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

/* Rounds to the nearest bf16 or fp16 value (ties to even), as a cast of
 * transformers' fp32 inv_freq buffer to the model dtype does. */
static float round_to_dtype(float f, int dtype) {
    if (dtype == MODEL_DTYPE_BF16) {
        uint32_t b;
        memcpy(&b, &f, sizeof b);
        b = (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
        memcpy(&f, &b, sizeof f);
    } else if (dtype == MODEL_DTYPE_F16 && f != 0) {
        /* keep 11 significant bits; below 2^-14 the grid is 2^-24 (subnormals) */
        int e;
        frexpf(f, &e);
        int shift = e - 1 < -14 ? -24 : e - 11;
        f = ldexpf(nearbyintf(ldexpf(f, -shift)), shift);
    }
    return f;
}

/* inv_freq_j = theta^(-2j/hd), then the llama3 rescaling (formats.md). */
static int init_rope(Model *m, SrError *err) {
    const ModelConfig *c = &m->cfg;
    int half = c->head_dim / 2;
    m->inv_freq = alloc_floats((size_t)half, err);
    if (!m->inv_freq) return -1;
    for (int j = 0; j < half; j++) {
        double f = pow((double)c->rope_theta, -2.0 * j / c->head_dim);
        if (c->rope_factor > 0) {
            double L = c->rope_original_max_pos, w = 2.0 * 3.14159265358979323846 / f;
            double lo = c->rope_low_freq_factor, hi = c->rope_high_freq_factor;
            if (w > L / lo) {
                f = f / c->rope_factor;
            } else if (w >= L / hi) {
                double s = (L / w - lo) / (hi - lo);
                f = (1 - s) * f / c->rope_factor + s * f;
            }
        }
        m->inv_freq[j] = round_to_dtype((float)f, c->rope_freq_dtype);
    }
    return 0;
}

/* Extends the cos/sin tables to cover positions < need (geometric growth,
 * so a long max_position_embeddings costs nothing until it is used). */
static int grow_rope(Model *m, int need, SrError *err) {
    if (need <= m->rope_len) return 0;
    int len = m->rope_len ? m->rope_len : 64;
    while (len < need && len < m->cfg.max_seq_len)
        len = len > m->cfg.max_seq_len / 2 ? m->cfg.max_seq_len : len * 2;
    if (len < need) len = need;
    int half = m->cfg.head_dim / 2;
    float *cs = realloc(m->rope_cos, (size_t)len * half * sizeof(float));
    if (cs) m->rope_cos = cs;
    float *sn = realloc(m->rope_sin, (size_t)len * half * sizeof(float));
    if (sn) m->rope_sin = sn;
    if (!cs || !sn) return sr_fail(err, "out of memory for RoPE tables");
    for (int p = m->rope_len; p < len; p++)
        for (int j = 0; j < half; j++) {
            double a = (double)p * (double)m->inv_freq[j];
            m->rope_cos[(size_t)p * half + j] = (float)cos(a);
            m->rope_sin[(size_t)p * half + j] = (float)sin(a);
        }
    m->rope_len = len;
    return 0;
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

/* Packs one row-major matrix for gemm_packed() and frees the original. */
static int pack_and_free(PackedMatrix *pm, float **w, int rows, int cols, SrError *err) {
    if (gemm_pack(pm, *w, rows, cols, err) != 0) return -1;
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
        if (pack_and_free(&L->pqkv, &L->wqkv, m->qkv_dim, D, err) ||
            pack_and_free(&L->po, &L->wo, D, m->q_dim, err) ||
            pack_and_free(&L->pgate_up, &L->w_gate_up, 2 * F, D, err) ||
            pack_and_free(&L->pdown, &L->w_down, D, F, err))
            return -1;
    }
    if (c->kind != MODEL_KIND_LM) return 0;
    if (m->head == m->embed) m->embed = NULL; /* freed below as the head */
    return pack_and_free(&m->phead, &m->head, m->out_dim, D, err);
}

/* Unpacks a matrix into a new row-major buffer. */
static int unpack_copy(const PackedMatrix *pm, float **w, SrError *err) {
    if (*w) return 0;
    *w = alloc_floats((size_t)pm->rows * pm->cols, err);
    if (!*w) return -1;
    gemm_unpack(pm, *w);
    return 0;
}

int model_set_legacy_blas(Model *m, int on, SrError *err) {
    if (on) {
        for (int l = 0; l < m->cfg.n_layers; l++) {
            Layer *L = &m->layers[l];
            if (unpack_copy(&L->pqkv, &L->wqkv, err) || unpack_copy(&L->po, &L->wo, err) ||
                unpack_copy(&L->pgate_up, &L->w_gate_up, err) ||
                unpack_copy(&L->pdown, &L->w_down, err))
                return -1;
        }
        if (m->cfg.kind == MODEL_KIND_LM && unpack_copy(&m->phead, &m->head, err)) return -1;
        m->s.cap_n = 0; /* the padded activations are grown afresh */
    }
    m->legacy_blas = on;
    return 0;
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
    *out = NULL;
    Model *m = sr_calloc(1, sizeof *m, err);
    if (!m) return -1;
    char dir[4096];
    int rc;
    if (is_dir(path)) {
        rc = load_hf(m, path, NULL, err);
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
    if (rc == 0) rc = pack_weights(m, err);
    if (rc == 0) rc = init_rope(m, err);
    if (rc == 0) rc = grow_rope(m, m->cfg.max_seq_len < 256 ? m->cfg.max_seq_len : 256, err);
    if (rc != 0) {
        model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

/* ---------------------------------------------------------------- forward */

/* Batch invariance. Every output row must be bit-identical whatever else is
 * in the batch and however many threads run: the decoders promise the same
 * tokens for the same seed at any batch composition. Attention, norms and
 * sampling work row by row in a fixed order; the projections go through
 * gemm_packed(), whose per-element order is fixed by the shapes alone
 * (gemm.h). tests/test_model.c checks it bit for bit.
 *
 * The legacy scheme (benchmarks only, model_set_legacy_blas) is the one
 * specrej used before: OpenBLAS sgemm with every call given at least
 * LEGACY_MIN_CELLS / out rows of zero padding, which kept SkylakeX-class
 * kernels off their small-matrix path but did not hold on Haswell, Zen or
 * Prescott kernels, nor across thread counts. */
#define LEGACY_MIN_CELLS 1201
#define LEGACY_MIN_ROWS 2

static int legacy_rows(int n, int out) {
    int need = (LEGACY_MIN_CELLS + out - 1) / out;
    if (need < LEGACY_MIN_ROWS) need = LEGACY_MIN_ROWS;
    return n > need ? n : need;
}

/* Rows every activation buffer needs for a batch of n (padding included). */
static int padded_rows(const Model *m, int n) {
    if (!m->legacy_blas) return n;
    const ModelConfig *c = &m->cfg;
    int outs[] = {m->qkv_dim, c->dim, 2 * c->hidden_dim, m->out_dim};
    int rows = n;
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        if (legacy_rows(n, outs[i]) > rows) rows = legacy_rows(n, outs[i]);
    return rows;
}

/* Grows *p to n floats; the new part is zeroed so padding rows are finite. */
int model_grow_buf(float **p, size_t old, size_t n, SrError *err) {
    float *q = realloc(*p, (n ? n : 1) * sizeof(float));
    if (!q) return sr_fail(err, "out of memory for activations (%zu floats)", n);
    if (n > old) memset(q + old, 0, (n - old) * sizeof(float));
    *p = q;
    return 0;
}

static int ensure_scratch(Model *m, int n, int n_slots, int max_pos, SrError *err) {
    Scratch *s = &m->s;
    const ModelConfig *c = &m->cfg;
    int rows = padded_rows(m, n);
    if (rows > s->cap_n) {
        size_t N = (size_t)rows, O = (size_t)s->cap_n;
        if (model_grow_buf(&s->x, O * c->dim, N * c->dim, err) ||
            model_grow_buf(&s->xb, O * c->dim, N * c->dim, err) ||
            model_grow_buf(&s->qkv, O * m->qkv_dim, N * m->qkv_dim, err) ||
            model_grow_buf(&s->att, O * m->q_dim, N * m->q_dim, err) ||
            model_grow_buf(&s->hb, O * 2 * c->hidden_dim, N * 2 * c->hidden_dim, err) ||
            model_grow_buf(&s->hb2, O * c->hidden_dim, N * c->hidden_dim, err) ||
            model_grow_buf(&s->logits, O * m->out_dim, N * m->out_dim, err))
            return -1;
    int *pos = realloc(s->pos, N * sizeof *pos);
        if (!pos) return sr_fail(err, "out of memory");
        s->pos = pos;
        s->cap_n = rows;
    }
    if (n_slots > s->cap_slots) {
        int *a = realloc(s->slot_count, (size_t)n_slots * sizeof *a);
        if (a) s->slot_count = a;
        int *b = realloc(s->uniq_slots, (size_t)n_slots * sizeof *b);
        if (b) s->uniq_slots = b;
        int *e = realloc(s->uniq_extra, (size_t)n_slots * sizeof *e);
        if (e) s->uniq_extra = e;
        if (!a || !b || !e) return sr_fail(err, "out of memory");
        memset(s->slot_count, 0, (size_t)n_slots * sizeof *a);
        s->cap_slots = n_slots;
    }
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    size_t need = (size_t)threads * attn_work_floats(m, max_pos);
    if (need > s->cap_scores) {
        if (model_grow_buf(&s->scores, 0, need, err)) return -1;
        s->cap_scores = need;
    }
    return grow_rope(m, max_pos + 1, err);
}

/* Checks tokens and slots, assigns each token its position and reserves the
 * cache for all slots at once. Nothing changes when it fails. */
static int plan_batch(Model *m, KVCache *kv, int n, const int *slots, const int *tokens,
                      int *max_pos, SrError *err) {
    Scratch *s = &m->s;
    int n_uniq = 0;
    *max_pos = 0;
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size)
            return sr_fail(err, "token id %d is outside the vocabulary [0, %d)", tokens[i],
                           m->cfg.vocab_size);
        if (!kv_slot_live(kv, slots[i]))
            return sr_fail(err, "KV slot %d is not allocated", slots[i]);
    }
    for (int i = 0; i < n; i++) {
        int c = s->slot_count[slots[i]]++;
        if (c == 0) s->uniq_slots[n_uniq++] = slots[i];
        s->pos[i] = kv_len(kv, slots[i]) + c;
        if (s->pos[i] > *max_pos) *max_pos = s->pos[i];
    }
    for (int u = 0; u < n_uniq; u++) s->uniq_extra[u] = s->slot_count[s->uniq_slots[u]];
    for (int u = 0; u < n_uniq; u++) s->slot_count[s->uniq_slots[u]] = 0;
    return kv_reserve_many(kv, n_uniq, s->uniq_slots, s->uniq_extra, err);
}

/* o = x / sqrt(mean(x^2) + eps) * w (o may equal x) */
void model_rmsnorm(float *o, const float *x, const float *w, int d, float eps) {
    double ss = 0;
    for (int j = 0; j < d; j++) ss += (double)x[j] * x[j];
    float inv = (float)(1.0 / sqrt(ss / d + eps));
    for (int j = 0; j < d; j++) o[j] = x[j] * inv * w[j];
}


static void rmsnorm_rows(float *out, const float *x, const float *w, int n, int d, float eps) {
#pragma omp parallel for schedule(static) if (3.0 * n * d >= 4 * PAR_MIN_FLOPS)
    for (int r = 0; r < n; r++) model_rmsnorm(out + (size_t)r * d, x + (size_t)r * d, w, d, eps);
}

/* C[n, W.rows] = X[n, W.cols] * W^T (+ C when accumulate). Under the legacy
 * scheme, X and C must have padded_rows(n) rows (padding holds zeros or
 * finite junk). */
static void project(const Model *m, float *C, const float *X, const PackedMatrix *W,
                    const float *row_major, int n, int accumulate) {
    if (!m->legacy_blas) {
        gemm_packed(C, X, W, n, accumulate);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, legacy_rows(n, W->rows), W->rows,
                W->cols, 1.0f, X, W->cols, row_major, W->cols, accumulate ? 1.0f : 0.0f, C,
                W->rows);
}

/* The reward head has a handful of rows: plain dot products, no BLAS. */
static void small_head(float *out, const float *X, const float *W, int n, int in, int labels) {
    for (int i = 0; i < n; i++)
        for (int c = 0; c < labels; c++) {
            const float *x = X + (size_t)i * in, *w = W + (size_t)c * in;
            float acc = 0;
            for (int j = 0; j < in; j++) acc += x[j] * w[j];
            out[(size_t)i * labels + c] = acc;
        }
}

/* Zeroes rows n..rows-1 of a [rows][width] buffer. */
static void zero_tail(float *buf, int n, int rows, int width) {
    if (rows > n) memset(buf + (size_t)n * width, 0, (size_t)(rows - n) * width * sizeof *buf);
}

/* o = silu(g) * u, elementwise: every clone gives the same bits. */
SIMD_CLONES static void swiglu_row(float *restrict o, const float *restrict g,
                                   const float *restrict u, int F) {
#pragma omp simd
    for (int j = 0; j < F; j++) o[j] = g[j] / (1.0f + sr_expf(-g[j])) * u[j];
}

static void swiglu(Model *m, int n) {
    int F = m->cfg.hidden_dim;
    /* each element costs an exponential: ~20 flops */
#pragma omp parallel for schedule(static) if (20.0 * n * F >= PAR_MIN_FLOPS)
    for (int i = 0; i < n; i++) {
        const float *g = m->s.hb + (size_t)i * 2 * F;
        swiglu_row(m->s.hb2 + (size_t)i * F, g, g + F, F);
    }
}

void model_set_profile(Model *m, ModelProfile *p) { m->prof = p; }

enum { PH_MATMUL, PH_ATTENTION, PH_OTHER };

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Profiling only: charges the time since *t to a phase, restarts *t. */
static void lap(Model *m, int phase, double *t) {
    if (!m->prof) return;
    double now = wall_seconds();
    double *bucket = phase == PH_MATMUL ? &m->prof->matmul
                     : phase == PH_ATTENTION ? &m->prof->attention : &m->prof->other;
    *bucket += now - *t;
    *t = now;
}

int model_forward(Model *m, KVCache *kv, int n, const int *slots, const int *tokens,
                  float *out, SrError *err) {
    const ModelConfig *c = &m->cfg;
    if (n < 1) return sr_fail(err, "model_forward: no tokens");
    if (!kv_matches(kv, c))
        return sr_fail(err, "model_forward: the KV cache was made for a different model");
    int max_pos;
    for (int i = 0; i < n; i++)
        if (slots[i] < 0 || slots[i] >= kv_max_slots(kv))
            return sr_fail(err, "KV slot %d is outside [0, %d)", slots[i], kv_max_slots(kv));
    if (ensure_scratch(m, n, kv_max_slots(kv), 0, err) != 0) return -1;
    if (plan_batch(m, kv, n, slots, tokens, &max_pos, err) != 0) return -1;
    if (ensure_scratch(m, n, kv_max_slots(kv), max_pos, err) != 0 ||
        attn_prefix_plan(m, kv, n, slots, err) != 0) {
        for (int i = 0; i < n; i++) kv_truncate(kv, slots[i], kv_len(kv, slots[i]));
        return -1;
    }
    Scratch *s = &m->s;
    int D = c->dim, F = c->hidden_dim, rows = padded_rows(m, n);
    double t = m->prof ? wall_seconds() : 0;
    /* padding rows: x feeds every later matmul, att and hb2 are never
     * written for them */
    zero_tail(s->x, n, rows, D);
    zero_tail(s->att, n, rows, m->q_dim);
    zero_tail(s->hb2, n, rows, F);
    for (int i = 0; i < n; i++) {
        if (m->embed)
            memcpy(s->x + (size_t)i * D, m->embed + (size_t)tokens[i] * D, D * sizeof(float));
        else /* tied: the embedding lives in the packed head */
            gemm_row(&m->phead, tokens[i], s->x + (size_t)i * D);
    }
    for (int l = 0; l < c->n_layers; l++) {
        const Layer *L = &m->layers[l];
        rmsnorm_rows(s->xb, s->x, L->attn_norm, n, D, c->rms_eps);
        lap(m, PH_OTHER, &t);
        project(m, s->qkv, s->xb, &L->pqkv, L->wqkv, n, 0);
        lap(m, PH_MATMUL, &t);
        attn_layer(m, kv, l, n, slots, max_pos);
        lap(m, PH_ATTENTION, &t);
        project(m, s->x, s->att, &L->po, L->wo, n, 1); /* the residual: accumulate */
        lap(m, PH_MATMUL, &t);
        rmsnorm_rows(s->xb, s->x, L->ffn_norm, n, D, c->rms_eps);
        lap(m, PH_OTHER, &t);
        project(m, s->hb, s->xb, &L->pgate_up, L->w_gate_up, n, 0);
        lap(m, PH_MATMUL, &t);
        swiglu(m, n);
        lap(m, PH_OTHER, &t);
        project(m, s->x, s->hb2, &L->pdown, L->w_down, n, 1);
        lap(m, PH_MATMUL, &t);
    }
    rmsnorm_rows(s->xb, s->x, m->final_norm, n, D, c->rms_eps);
    lap(m, PH_OTHER, &t);
    if (m->prof) {
        double per_row = (double)m->qkv_dim * D + (double)m->q_dim * D + 3.0 * D * F;
        m->prof->matmul_flops += 2.0 * n * (c->n_layers * per_row + (double)D * m->out_dim);
        m->prof->calls++;
    }
    if (c->kind == MODEL_KIND_RM) {
        small_head(out, s->xb, m->head, n, D, m->out_dim);
    } else if (padded_rows(m, n) == n) {
        project(m, out, s->xb, &m->phead, m->head, n, 0);
    } else {
        project(m, s->logits, s->xb, &m->phead, m->head, n, 0);
        memcpy(out, s->logits, (size_t)n * m->out_dim * sizeof *out);
    }
    lap(m, PH_MATMUL, &t);
    for (int i = 0; i < n; i++) kv_advance(kv, slots[i]);
    return 0;
}
