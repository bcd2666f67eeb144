/* rope.c - rotary position embedding: the inverse frequencies (llama3
 * scaling, rounded to the checkpoint's dtype as transformers keeps them),
 * the cos/sin tables by position, grown on demand, and the rotation of one
 * head. The tables are computed in double and rounded once, so a position's
 * rotation is the same whenever its table row was made.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rope.h"

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
int rope_init(Rope *r, const ModelConfig *c, SrError *err) {
    int half = c->head_dim / 2;
    r->half = half, r->max_len = c->max_seq_len, r->len = 0;
    r->cos = r->sin = NULL;
    r->inv_freq = sr_malloc_array((size_t)half, sizeof(float), err);
    if (!r->inv_freq) return -1;
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
        r->inv_freq[j] = round_to_dtype((float)f, c->rope_freq_dtype);
    }
    return 0;
}

/* Extends the cos/sin tables to cover positions < need (geometric growth,
 * so a long max_position_embeddings costs nothing until it is used). */
int rope_grow(Rope *r, int need, SrError *err) {
    if (need <= r->len) return 0;
    int len = r->len ? r->len : 64;
    while (len < need && len < r->max_len)
        len = len > r->max_len / 2 ? r->max_len : len * 2;
    if (len < need) len = need;
    int half = r->half;
    float *cs = realloc(r->cos, (size_t)len * half * sizeof(float));
    if (cs) r->cos = cs;
    float *sn = realloc(r->sin, (size_t)len * half * sizeof(float));
    if (sn) r->sin = sn;
    if (!cs || !sn) return sr_fail(err, "out of memory for RoPE tables");
    for (int p = r->len; p < len; p++)
        for (int j = 0; j < half; j++) {
            double a = (double)p * (double)r->inv_freq[j];
            r->cos[(size_t)p * half + j] = (float)cos(a);
            r->sin[(size_t)p * half + j] = (float)sin(a);
        }
    r->len = len;
    return 0;
}

void rope_free(Rope *r) {
    free(r->inv_freq), free(r->cos), free(r->sin);
    r->inv_freq = r->cos = r->sin = NULL;
    r->len = 0;
}

/* Rotates one head in place: pairs (j, j + half), as Hugging Face's
 * rotate_half (llama2.c files are permuted to this order at load). */
void rope_rotate(float *v, const float *cs, const float *sn, int half) {
    for (int j = 0; j < half; j++) {
        float a = v[j], b = v[j + half];
        v[j] = a * cs[j] - b * sn[j];
        v[j + half] = b * cs[j] + a * sn[j];
    }
}
