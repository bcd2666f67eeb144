/* kvcache.h - per-sequence key/value cache under an explicit byte budget.
 *
 * A KVCache holds up to max_slots sequences ("slots") of one model. Each live
 * slot stores, for every position it has seen, the keys and values of every
 * layer. The sum over all caches that share one KVBudget may never exceed
 * budget->limit. Growing past it is an error reported to the caller, never a
 * silent overflow. The generator's and the reward model's caches share one
 * KVBudget, as the algorithm requires.
 *
 * Accounting is what is allocated: memory comes in blocks of the budget's
 * block size (positions), and the budget is charged a block's full size (header included)
 * when it is allocated and refunded when the last slot holding it lets go.
 * So budget->used is exactly the bytes of KV blocks held, a slot of own
 * length L costs kv_bytes_for(bytes_per_token, L), and the only memory
 * outside the budget is malloc's bookkeeping per block. (Charging positions
 * instead let short candidates use up to a block's positions times their charge.)
 * kv_reserve() (called by model_forward before it writes) allocates; a
 * failed reserve/copy changes nothing the budget has not been charged for.
 *
 * Layout (paged): each slot owns a list of blocks of B positions (B = the
 * budget's block when the cache was made); a block is laid out
 * [layer][k|v][B][kv_dim], so the keys of one
 * layer at consecutive positions inside a block are contiguous (stride
 * kv_dim elements), which is what the attention loop walks. An element is
 * the model config's kv_dtype (--kv-dtype): an fp32 (the default), or a
 * bf16 or f16 (2 bytes: half the bytes per token, so a budget holds twice
 * the positions, and attention reads half the memory). The cache only
 * stores them: the forward pass rounds on write (half.h) and attention
 * widens exactly on read. A slot grows
 * without copying, and released slots give their blocks back at once, so
 * there is nothing to compact: surviving slots are simply kept and the
 * others released. kv_copy_prefix() copies blocks, and each copy is charged
 * in full (what the authors' code does with the prompt); kv_share_prefix()
 * shares the blocks, charged once; a slot's own positions start in a block
 * of its own, so a slot of own length L holds ceil(L / B) blocks.
 * kv_fork() shares every block of a slot, its partly written last one too;
 * a shared block is copied, and charged, when a holder first writes to it.
 */
#ifndef SPECREJ_KVCACHE_H
#define SPECREJ_KVCACHE_H

#include <stddef.h>

#include "base/error.h"
#include "runtime/model_config.h"

/* The block size belongs to the budget, not to the process: the
 * generator's cache, the reward model's and every planner that sizes waves
 * against their shared budget must count in the same blocks, and two runs
 * in one process (compare, the tests) may each have their own. */
typedef struct KVBudget {
    size_t limit;   /* bytes; SIZE_MAX for unlimited */
    size_t used;    /* bytes in use by all caches sharing this budget */
    size_t peak;    /* highest value 'used' ever reached */
    int block;      /* positions per block of every cache made on it */
} KVBudget;

typedef struct KVCache KVCache;

/* Positions per block: a run parameter (--kv-block), a power of two in
 * [KV_BLOCK_MIN, KV_BLOCK_MAX], default KV_BLOCK_DEFAULT. Smaller blocks
 * waste less of a short candidate's last block, which is what lets the
 * budget start more candidates at an early first decision (blocks of 16
 * cap B/N0 near L / 16), at some CPU for shorter runs in attention and a
 * 64-byte header per block. The computed numbers do not depend on it
 * (attention sums in position order whatever the runs; tests/test_attention.c);
 * only the budget arithmetic does. */
#define KV_BLOCK_MIN 4
#define KV_BLOCK_MAX 32
#define KV_BLOCK_DEFAULT 8

/* Fails on a block size that is not an allowed power of two. */
int kv_block_check(int positions, SrError *err);
/* Wherever a block size is a parameter below (and in the structs that
 * carry one: SearchParams, RewardContext, RewardFootprint), 0 means
 * KV_BLOCK_DEFAULT, so a zeroed struct counts in the default blocks. */
int kv_block_resolve(int block);

/* An empty budget of limit bytes whose caches use blocks of block positions
 * (0: the default; kv_create checks it). */
void kv_budget_init(KVBudget *b, size_t limit, int block);

/* Bytes of one element of a MODEL_DTYPE_: 4 (f32) or 2 (bf16, f16). */
size_t kv_dtype_size(int dtype);
/* Bytes of cache one token takes: 2 (K and V) * layers * kv_heads * head_dim
 * * kv_dtype_size(cfg->kv_dtype). */
size_t kv_bytes_per_token(const ModelConfig *cfg);
/* Bytes of one block (block positions and its header); 0 for 0. */
size_t kv_block_bytes(int block, size_t bytes_per_token);
/* What a slot holding 'positions' positions of its own (beyond a shared
 * prefix) is charged in blocks of block positions: whole blocks. What
 * planners must count with, in their budget's blocks. */
size_t kv_bytes_for(int block, size_t bytes_per_token, int positions);

/* budget may be NULL: the cache then has its own unlimited budget, in
 * blocks of KV_BLOCK_DEFAULT. */
int kv_create(const ModelConfig *cfg, int max_slots, KVBudget *budget,
              KVCache **out, SrError *err);
void kv_free(KVCache *kv);

/* Returns a free slot id (length 0) or -1 with err filled when all are taken. */
int kv_alloc_slot(KVCache *kv, SrError *err);
/* Frees the slot's memory and returns its bytes to the budget. */
void kv_release(KVCache *kv, int slot);
/* Length of a live slot; -1 for a slot id that is not allocated. */
int kv_len(const KVCache *kv, int slot);
int kv_slot_live(const KVCache *kv, int slot);
/* Makes dst (a freshly allocated slot) a copy of src's first len positions,
 * e.g. to start many candidates from one prefilled prompt. Budget-checked. */
int kv_copy_prefix(KVCache *kv, int dst, int src, int len, SrError *err);
/* Makes dst start with src's first len positions without copying them:
 * dst borrows the blocks that hold them (the last one possibly partly used)
 * and writes its own positions into blocks of its own, so dst is charged
 * nothing for the prefix. The positions stay charged to src, which the
 * caller keeps alive as long as it wants them counted (the search keeps the
 * prompt slot for the whole run); the memory lives until the last slot
 * holding it lets go. Should src itself grow into a block it shares, it
 * writes a copy (copy on write). Whatever dst held before is released
 * first. len must be src's length or fall on one of src's block limits. */
int kv_share_prefix(KVCache *kv, int dst, int src, int len, SrError *err);
/* Makes dst (a freshly allocated slot) a fork of src: the same positions,
 * every block of src shared rather than copied, so the fork is charged
 * nothing until it diverges. The first of the slots holding a block to
 * write into it gets a copy (copy on write, charged as a new block then);
 * the last writes in place. Used to branch a candidate. */
int kv_fork(KVCache *kv, int dst, int src, SrError *err);
/* Bytes of the copies that writing one more position of each of the n
 * (distinct, live) slots would make, exactly as kv_reserve_many would:
 * what a fork costs when it diverges. 0 when no written block is shared. */
size_t kv_copy_bytes(const KVCache *kv, int n, const int *slots);
/* The leading positions slot borrows from another slot (0: none), and an
 * identity of the borrowed blocks: slots with equal identity and length
 * read the very same prefix (the forward pass attends to it for all of
 * them at once). */
int kv_shared_len(const KVCache *kv, int slot);
const void *kv_prefix_id(const KVCache *kv, int slot);
/* Forgets positions >= len (used to undo a scratch step); never below the
 * shared prefix. */
void kv_truncate(KVCache *kv, int slot, int len);
/* Reserves room for 'extra' more positions in slot; fails if the budget or
 * max_seq_len would be exceeded. model_forward calls this. */
int kv_reserve(KVCache *kv, int slot, int extra, SrError *err);
/* All-or-nothing reserve for several slots (slot ids distinct): checks the
 * combined growth against the budget before reserving anything. */
int kv_reserve_many(KVCache *kv, int n, const int *slots, const int *extra, SrError *err);
/* This cache's share of budget->used; equal to kv_bytes_allocated. */
size_t kv_bytes_in_use(const KVCache *kv);
/* Bytes allocated for blocks (headers included). */
size_t kv_bytes_allocated(const KVCache *kv);
int kv_max_slots(const KVCache *kv);
/* The block size this cache was made with (kv_span's longest run). */
int kv_cache_block(const KVCache *kv);
/* The element type of its keys and values (a MODEL_DTYPE_, cfg->kv_dtype). */
int kv_dtype(const KVCache *kv);
/* Whether the cache was created for cfg's shape (layers, kv width,
 * positions) and element type. */
int kv_matches(const KVCache *kv, const ModelConfig *cfg);

/* Raw access for the forward pass: pointer to the key (value) vector of
 * layer l at position pos (< reserved) of slot; kv_dim elements of
 * kv_dtype each (uint16_t for bf16 and f16). kv_key and kv_value: the same
 * as floats, for an f32 cache only. */
void *kv_key_at(KVCache *kv, int slot, int layer, int pos);
void *kv_value_at(KVCache *kv, int slot, int layer, int pos);
float *kv_key(KVCache *kv, int slot, int layer, int pos);
float *kv_value(KVCache *kv, int slot, int layer, int pos);
/* The run of positions pos, pos + 1, ... stored contiguously (stride kv_dim
 * elements) from *keys and *values: returns its length, 1..kv_cache_block (it ends
 * where a block or the borrowed prefix ends; may reach past reserved). */
int kv_span(KVCache *kv, int slot, int layer, int pos, const void **keys,
            const void **values);
/* kv_span's runs that cover positions [from, end) of slot's layer l, in
 * order, each cut at end: position t, cnt positions, keys and values at k
 * and v (elements of kv_dtype). out has room for end - from runs; returns
 * how many there are. */
typedef struct KVRun {
    const void *k, *v;
    int t, cnt;
} KVRun;
int kv_runs(KVCache *kv, int slot, int layer, int from, int end, KVRun *out);
/* Marks one more position of slot as written (after kv_reserve). */
void kv_advance(KVCache *kv, int slot);

#endif
