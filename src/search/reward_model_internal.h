/* reward_model_internal.h - what the "model" source's two modes share: the
 * loaded checkpoint, its prompt prefix and closing ids, its KV cache and
 * forward buffers (reward_model.c opens and frees them), and the two
 * vtables reward_model.c chooses between. Only src/search/reward_model*.c
 * include it. */
#ifndef SPECREJ_REWARD_MODEL_INTERNAL_H
#define SPECREJ_REWARD_MODEL_INTERNAL_H

#include "base/intvec.h"
#include "runtime/model.h"
#include "search/reward.h"

/* The "model" source feeds at most about this many rows per forward call. */
enum { CHUNK_ROWS = REWARD_MODEL_CHUNK_ROWS };

typedef struct ModelSource {
    Model *m;
    int borrowed;             /* m is the caller's (RewardContext.model) */
    const ModelConfig *cfg;
    Tokenizer *own_tok;       /* the reward model's tokenizer, if it has one */
    const Tokenizer *gen_tok; /* bridge: decodes generator ids */
    IntVec prefix, closing;   /* template prompt ids; ids closing a response */
    RewardFootprint fp;       /* the mode's memory (reward.h) */
    KVCache *kv;
    int prefix_slot;
    int share_prefix;         /* candidates borrow the prefix slot's blocks */
    double prefix_score;      /* the head's output at the prefix's last id */
    int out_dim;
    float *out;               /* forward buffers, rows x out_dim / rows */
    int *slots, *toks;
    int cap;
    int *fork_slots;          /* bytes_needed's scratch: one per slot (begin to end) */
    int scratch_len;          /* bridge: positions its scratch slot is sized for */
} ModelSource;

/* Shared tokenizer: a KV slot per candidate, fed incrementally. */
extern const RewardOps reward_model_shared_ops;
/* Different tokenizers: rescored from re-encoded text in a scratch slot. */
extern const RewardOps reward_model_bridge_ops;

/* The pieces both modes use (reward_model.c). */
int reward_model_ensure_rows(ModelSource *s, int rows, SrError *err);
/* Runs rows queued in s->slots/s->toks, adding their cost to rs. */
int reward_model_forward_rows(RewardSource *rs, int rows, SrError *err);
/* Creates the cache with n_slots slots and prefills the prefix slot. */
int reward_model_begin(RewardSource *rs, KVBudget *budget, int n_slots, SrError *err);
void reward_model_end(RewardSource *rs);
void reward_model_close(RewardSource *rs);
size_t reward_model_held_bytes(const RewardSource *rs);
int reward_model_max_response(const RewardSource *rs);
void reward_model_footprint(const RewardSource *rs, RewardFootprint *fp);

#endif
