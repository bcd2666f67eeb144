/* llama2c.h - reader of llama2.c's legacy (version 0) checkpoint .bin files.
 *
 * Layout (see docs/formats.md section 2): a 7 x int32 header, then fp32
 * tensors, each kind for all layers before the next kind. A negative
 * vocab_size means a separate classifier follows the weights. The file size
 * must equal exactly what the header implies; it is checked before any
 * tensor is read. Versions 1 and 2 (magic "ak42") are refused.
 *
 * llama2.c rotates adjacent pairs (2j, 2j+1) with RoPE, Hugging Face rotates
 * (j, j + hd/2). The q and k rows of each head are permuted at load time into
 * the Hugging Face order so one RoPE implementation serves both formats.
 */
#ifndef SPECREJ_LLAMA2C_H
#define SPECREJ_LLAMA2C_H

#include "base/error.h"
#include "runtime/model_config.h"

#define LLAMA2C_MAGIC 0x616b3432u

typedef struct Llama2cWeights {
    float *data; /* the one allocation every pointer below points into */
    float *embed;     /* [V, dim] */
    float *rms_att;   /* [L, dim] */
    float *wq;        /* [L, dim, dim], rows in rotate_half order */
    float *wk;        /* [L, kv_dim, dim], rows in rotate_half order */
    float *wv;        /* [L, kv_dim, dim] */
    float *wo;        /* [L, dim, dim] */
    float *rms_ffn;   /* [L, dim] */
    float *w1;        /* gate [L, hidden, dim] */
    float *w2;        /* down [L, dim, hidden] */
    float *w3;        /* up [L, hidden, dim] */
    float *rms_final; /* [dim] */
    float *wcls;      /* [V, dim]; equals embed when shared */
} Llama2cWeights;

int llama2c_load(const char *path, ModelConfig *cfg, Llama2cWeights *w, SrError *err);
void llama2c_free(Llama2cWeights *w);

#endif
