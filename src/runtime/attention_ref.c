/* attention_ref.c - the attention step in plain loops, as llama2.c's
 * forward() writes it: for each token and head, the scores q.k / sqrt(hd)
 * over positions 0..pos, a softmax, the weighted sum of the values.
 *
 * Contract (attention.h, attn_reference): what attention.c computes,
 * without any of its tuning: positions read one at a time (kv_key,
 * kv_value), a borrowed prompt like any other position, libm's expf, no
 * SIMD, no prefetch, no shared-prefix products, no threads. It is the
 * independent reference tests/test_attention.c compares the tuned kernels
 * with; the two agree within rounding, not bit for bit, and the forward
 * pass uses this one only when a test asks (model_use_reference_attention).
 * A half-precision cache's keys and values are widened one at a time
 * (half_elem: exact), so both see the same values.
 */
#include <math.h>
#include <string.h>

#include "runtime/attention.h"
#include "runtime/half.h"

/* In place: softmax over n scores. */
static void softmax(float *x, int n) {
    float max = x[0], sum = 0;
    for (int t = 1; t < n; t++)
        if (x[t] > max) max = x[t];
    for (int t = 0; t < n; t++) {
        x[t] = expf(x[t] - max);
        sum += x[t];
    }
    for (int t = 0; t < n; t++) x[t] /= sum;
}

/* One query head of one token: out = softmax(q K / sqrt(hd)) V over kv
 * head g of positions 0..pos of slot. att holds pos + 1 floats. */
static void attend_head(KVCache *kv, int slot, int l, int pos, int g, int hd, const float *q,
                        float *att, float *out) {
    int dt = kv_dtype(kv);
    for (int t = 0; t <= pos; t++) {
        const void *k = kv_key_at(kv, slot, l, t);
        float score = 0;
        for (int j = 0; j < hd; j++) score += q[j] * half_elem(k, (size_t)g * hd + j, dt);
        att[t] = score / sqrtf((float)hd);
    }
    softmax(att, pos + 1);
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int t = 0; t <= pos; t++) {
        const void *v = kv_value_at(kv, slot, l, t);
        for (int j = 0; j < hd; j++) out[j] += att[t] * half_elem(v, (size_t)g * hd + j, dt);
    }
}

void attn_reference(AttnScratch *a, const AttnShape *c, KVCache *kv, int l, const AttnCall *call) {
    int hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    float *att = a->scores; /* attn_work_floats(max_pos) >= max_pos + 1 floats */
    for (int i = 0; i < call->n; i++) {
        const float *q = call->qkv + (size_t)i * call->qkv_stride;
        float *out = call->out + (size_t)i * c->n_heads * hd;
        for (int h = 0; h < c->n_heads; h++) /* query head h reads kv head h / group */
            attend_head(kv, call->slots[i], l, call->pos[i], h / group, hd, q + (size_t)h * hd,
                        att, out + (size_t)h * hd);
    }
}
