/* llama2c.c - llama2.c's version-0 checkpoint .bin read into a
 * ModelConfig and fp32 weights (llama2c.h), the file size checked against
 * the header before any tensor is read, q/k rows permuted to Hugging Face's
 * RoPE order. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/llama2c.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "runtime/hfconfig.h"

#define HEADER_BYTES 28

static int32_t le_i32(const unsigned char *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Fills cfg from the 7-int header; refuses other versions and absurd dims. */
static int parse_header(const char *path, const unsigned char *h, ModelConfig *cfg, int *shared,
                        SrError *err) {
    if ((uint32_t)le_i32(h) == LLAMA2C_MAGIC)
        return sr_fail(err,
                       "%s: llama2.c version %d checkpoint (magic 0x616b3432) is not supported; "
                       "export it as legacy version 0",
                       path, le_i32(h + 4));
    int32_t v[7];
    for (int i = 0; i < 7; i++) v[i] = le_i32(h + 4 * i);
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->arch, sizeof cfg->arch, "llama");
    snprintf(cfg->architecture, sizeof cfg->architecture, "llama2.c");
    cfg->kind = MODEL_KIND_LM;
    cfg->dim = v[0];
    cfg->hidden_dim = v[1];
    cfg->n_layers = v[2];
    cfg->n_heads = v[3];
    cfg->n_kv_heads = v[4];
    *shared = v[5] > 0;
    cfg->vocab_size = v[5] == INT32_MIN ? 0 : (v[5] < 0 ? -v[5] : v[5]);
    cfg->max_seq_len = v[6];
    cfg->head_dim = (v[3] > 0 && v[0] > 0 && v[0] % v[3] == 0) ? v[0] / v[3] : 0;
    if (v[3] > 0 && v[0] > 0 && v[0] % v[3] != 0)
        return sr_fail(err, "%s: dim %d is not a multiple of %d heads", path, v[0], v[3]);
    cfg->rms_eps = 1e-5f;
    cfg->rope_theta = 10000.0f;
    cfg->tie_embeddings = *shared;
    cfg->bos_id = 1;
    cfg->eos_id = 2;
    cfg->eos_ids[0] = 2;
    cfg->n_eos_ids = 1;
    cfg->pad_id = -1;
    return config_check_dims(cfg, path, err);
}

/* Rows of one head go from llama2.c's interleaved order (row 2j+s) to
 * rotate_half order (row s*hd/2 + j). */
static int unpermute_heads(float *w, int n_heads, int hd, int cols, SrError *err) {
    size_t head = (size_t)hd * cols;
    float *tmp = sr_malloc_array(head, sizeof *tmp, err);
    if (!tmp) return -1;
    for (int h = 0; h < n_heads; h++) {
        float *src = w + h * head;
        for (int j = 0; j < hd / 2; j++)
            for (int s = 0; s < 2; s++)
                memcpy(tmp + ((size_t)s * hd / 2 + j) * cols, src + ((size_t)2 * j + s) * cols,
                       cols * sizeof *tmp);
        memcpy(src, tmp, head * sizeof *tmp);
    }
    free(tmp);
    return 0;
}

void llama2c_free(Llama2cWeights *w) {
    free(w->data);
    memset(w, 0, sizeof *w);
}

int llama2c_load(const char *path, ModelConfig *cfg, Llama2cWeights *w, SrError *err) {
    memset(w, 0, sizeof *w);
    long long fsize = file_size(path, err);
    if (fsize < 0) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return sr_fail(err, "%s: %s", path, strerror(errno));
    unsigned char h[HEADER_BYTES];
    int shared = 0;
    if (fread(h, 1, HEADER_BYTES, f) != HEADER_BYTES) {
        fclose(f);
        return sr_fail(err, "%s: truncated llama2.c header (%lld bytes)", path, fsize);
    }
    if (parse_header(path, h, cfg, &shared, err) != 0) {
        fclose(f);
        return -1;
    }
    /* dims are bounded by config_check_dims, so these products fit in 64 bits */
    uint64_t L = (uint64_t)cfg->n_layers, D = (uint64_t)cfg->dim, F = (uint64_t)cfg->hidden_dim;
    uint64_t V = (uint64_t)cfg->vocab_size, KV = (uint64_t)cfg->n_kv_heads * cfg->head_dim;
    uint64_t sizes[] = {V * D,     L * D,     L * D * D,     L * KV * D, L * KV * D, L * D * D,
                        L * D,     L * F * D, L * D * F,     L * F * D,  D,
                        (uint64_t)cfg->max_seq_len * cfg->head_dim, shared ? 0 : V * D};
    enum { N_PARTS = sizeof sizes / sizeof sizes[0] };
    uint64_t total = 0;
    for (int i = 0; i < N_PARTS; i++) total += sizes[i];
    uint64_t want = HEADER_BYTES + total * 4;
    if ((uint64_t)fsize != want) {
        fclose(f);
        return sr_fail(err,
                       "%s: file is %lld bytes but its llama2.c header (dim %d, layers %d, "
                       "vocab %d, seq_len %d) implies %llu",
                       path, fsize, cfg->dim, cfg->n_layers, cfg->vocab_size, cfg->max_seq_len,
                       (unsigned long long)want);
    }
    w->data = sr_malloc_array((size_t)total, sizeof(float), err);
    if (!w->data) {
        fclose(f);
        return -1;
    }
    size_t got = fread(w->data, sizeof(float), (size_t)total, f);
    fclose(f);
    if (got != (size_t)total) {
        llama2c_free(w);
        return sr_fail(err, "%s: short read", path);
    }
    float *p[N_PARTS];
    float *cur = w->data;
    for (int i = 0; i < N_PARTS; i++) {
        p[i] = cur;
        cur += sizes[i];
    }
    /* a NaN or infinity would turn every logit it reaches into NaN; the old
     * RoPE tables (part 11) are skipped, never read */
    static const char *const PART_NAMES[N_PARTS] = {
        "token_embedding", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn",
        "w1", "w2", "w3", "rms_final", "freq_cis", "wcls"};
    for (int i = 0; i < N_PARTS; i++) {
        if (i == 11) continue;
        for (uint64_t k = 0; k < sizes[i]; k++)
            if (!isfinite(p[i][k])) {
                float bad = p[i][k];
                llama2c_free(w);
                return sr_fail(err, "%s: %s holds a non-finite value (%s) at element %llu", path,
                               PART_NAMES[i], sr_nonfinite_name(bad), (unsigned long long)k);
            }
    }
    w->embed = p[0], w->rms_att = p[1], w->wq = p[2], w->wk = p[3], w->wv = p[4];
    w->wo = p[5], w->rms_ffn = p[6], w->w1 = p[7], w->w2 = p[8], w->w3 = p[9];
    w->rms_final = p[10];
    w->wcls = shared ? p[0] : p[12];
    for (uint64_t l = 0; l < L; l++) {
        if (unpermute_heads(w->wq + l * D * D, cfg->n_heads, cfg->head_dim, cfg->dim, err) ||
            unpermute_heads(w->wk + l * KV * D, cfg->n_kv_heads, cfg->head_dim, cfg->dim, err)) {
            llama2c_free(w);
            return -1;
        }
    }
    return 0;
}
