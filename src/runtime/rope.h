/* rope.h - rotary position embedding on plain arrays: the inverse
 * frequencies of a model's config (llama3 scaling, rounded to the
 * checkpoint's dtype), cos/sin tables by position grown on demand, and the
 * rotation of one head. The forward pass (model.c) owns one Rope.
 */
#ifndef SPECREJ_ROPE_H
#define SPECREJ_ROPE_H

#include "base/error.h"
#include "runtime/model_config.h"

typedef struct Rope {
    int half;         /* head_dim / 2 */
    int max_len;      /* the model's max_seq_len: the tables never grow past it */
    float *inv_freq;  /* [half] */
    int len;          /* positions in the tables */
    float *cos, *sin; /* [len][half] */
} Rope;

/* r's inverse frequencies from c (tables empty); rope_free releases r. */
int rope_init(Rope *r, const ModelConfig *c, SrError *err);
/* The tables extended to cover positions < need. */
int rope_grow(Rope *r, int need, SrError *err);
void rope_free(Rope *r);
/* Rotates one head in place by the table row (cs, sn) of its position:
 * pairs (j, j + half), as Hugging Face's rotate_half. */
void rope_rotate(float *v, const float *cs, const float *sn, int half);

#endif
