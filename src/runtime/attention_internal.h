/* attention_internal.h - what the tuned attention kernels (attention.c)
 * and their work-space planning (attention_plan.c) share: the layout of a
 * thread's work space.
 */
#ifndef SPECREJ_ATTENTION_INTERNAL_H
#define SPECREJ_ATTENTION_INTERNAL_H

#include "runtime/attention.h"

/* Attention work space of one thread (attn_work_floats): the scores of
 * every head over max_pos + 1 positions (rounded up to whole tiles, row
 * stride score_stride), one tile of transposed keys (all kv heads), a tile
 * being KV_BLOCK_MAX positions whatever the block size (attend_token),
 * then as much again to widen a half-precision cache's keys or values into
 * (attn_stage). */
static inline size_t score_stride(int max_pos) {
    return ((size_t)max_pos + KV_BLOCK_MAX) / KV_BLOCK_MAX * KV_BLOCK_MAX;
}

/* The widening area of a thread's work space for positions up to max_pos. */
static inline float *attn_stage(float *work, const AttnShape *c, int max_pos) {
    return work + (size_t)c->n_heads * score_stride(max_pos) +
           (size_t)c->n_kv_heads * c->head_dim * KV_BLOCK_MAX;
}

#endif
