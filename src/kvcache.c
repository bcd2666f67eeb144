#include "kvcache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct Slot {
    int live;
    int len;
    int reserved;   /* positions charged to the budget, >= len */
    float **blocks; /* ceil(reserved / KV_BLOCK) blocks in use */
    int n_blocks;
    int cap_blocks;
} Slot;

struct KVCache {
    int n_layers, kv_dim, max_seq_len;
    size_t bytes_per_token;
    size_t block_floats;
    int max_slots;
    Slot *slots;
    KVBudget *budget;
    KVBudget own_budget; /* used when kv_create got no budget */
    size_t used;         /* this cache's share of budget->used */
    size_t allocated;    /* bytes of blocks actually held */
};

void kv_budget_init(KVBudget *b, size_t limit) {
    b->limit = limit;
    b->used = 0;
    b->peak = 0;
}

size_t kv_bytes_per_token(const ModelConfig *cfg) {
    return (size_t)2 * cfg->n_layers * cfg->n_kv_heads * cfg->head_dim * sizeof(float);
}

int kv_create(const ModelConfig *cfg, int max_slots, KVBudget *budget, KVCache **out,
              SrError *err) {
    *out = NULL;
    if (max_slots < 1 || max_slots > (1 << 24))
        return sr_fail(err, "KV cache: max_slots %d is outside [1, %d]", max_slots, 1 << 24);
    KVCache *kv = sr_calloc(1, sizeof *kv, err);
    if (!kv) return -1;
    kv->slots = sr_calloc((size_t)max_slots, sizeof *kv->slots, err);
    if (!kv->slots) {
        free(kv);
        return -1;
    }
    kv->n_layers = cfg->n_layers;
    kv->kv_dim = cfg->n_kv_heads * cfg->head_dim;
    kv->max_seq_len = cfg->max_seq_len;
    kv->bytes_per_token = kv_bytes_per_token(cfg);
    kv->block_floats = (size_t)cfg->n_layers * 2 * KV_BLOCK * kv->kv_dim;
    kv->max_slots = max_slots;
    kv_budget_init(&kv->own_budget, SIZE_MAX);
    kv->budget = budget ? budget : &kv->own_budget;
    *out = kv;
    return 0;
}

void kv_free(KVCache *kv) {
    if (!kv) return;
    for (int s = 0; s < kv->max_slots; s++) kv_release(kv, s);
    free(kv->slots);
    free(kv);
}

static Slot *live_slot(const KVCache *kv, int slot) {
    if (!kv || slot < 0 || slot >= kv->max_slots || !kv->slots[slot].live) return NULL;
    return &kv->slots[slot];
}

int kv_alloc_slot(KVCache *kv, SrError *err) {
    for (int s = 0; s < kv->max_slots; s++) {
        if (kv->slots[s].live) continue;
        memset(&kv->slots[s], 0, sizeof kv->slots[s]);
        kv->slots[s].live = 1;
        return s;
    }
    sr_fail(err, "KV cache: all %d slots are in use", kv->max_slots);
    return -1;
}

static void charge(KVCache *kv, size_t bytes) {
    kv->used += bytes;
    kv->budget->used += bytes;
    if (kv->budget->used > kv->budget->peak) kv->budget->peak = kv->budget->used;
}

static void refund(KVCache *kv, size_t bytes) {
    kv->used -= bytes;
    kv->budget->used -= bytes;
}

/* Frees blocks beyond what 'positions' needs. */
static void shrink_blocks(KVCache *kv, Slot *s, int positions) {
    int keep = (positions + KV_BLOCK - 1) / KV_BLOCK;
    while (s->n_blocks > keep) {
        free(s->blocks[--s->n_blocks]);
        kv->allocated -= kv->block_floats * sizeof(float);
    }
}

/* Allocates blocks so that 'positions' fit; on failure the slot keeps what
 * it had (extra blocks are harmless: the budget counts positions). */
static int grow_blocks(KVCache *kv, Slot *s, int positions, SrError *err) {
    int need = (positions + KV_BLOCK - 1) / KV_BLOCK;
    if (need > s->cap_blocks) {
        int cap = s->cap_blocks ? s->cap_blocks : 4;
        while (cap < need) cap *= 2;
        float **b = realloc(s->blocks, (size_t)cap * sizeof *b);
        if (!b) return sr_fail(err, "KV cache: out of memory");
        s->blocks = b;
        s->cap_blocks = cap;
    }
    while (s->n_blocks < need) {
        float *blk = sr_malloc_array(kv->block_floats, sizeof(float), err);
        if (!blk) return -1;
        s->blocks[s->n_blocks++] = blk;
        kv->allocated += kv->block_floats * sizeof(float);
    }
    return 0;
}

void kv_release(KVCache *kv, int slot) {
    Slot *s = live_slot(kv, slot);
    if (!s) return;
    shrink_blocks(kv, s, 0);
    refund(kv, (size_t)s->reserved * kv->bytes_per_token);
    free(s->blocks);
    memset(s, 0, sizeof *s);
}

int kv_len(const KVCache *kv, int slot) {
    const Slot *s = live_slot(kv, slot);
    return s ? s->len : -1;
}

int kv_slot_live(const KVCache *kv, int slot) { return live_slot(kv, slot) != NULL; }

static int budget_check(const KVCache *kv, size_t extra_bytes, SrError *err) {
    const KVBudget *b = kv->budget;
    if (extra_bytes > b->limit || b->used > b->limit - extra_bytes)
        return sr_fail(err,
                       "KV cache budget exceeded: %zu bytes in use + %zu needed > limit %zu",
                       b->used, extra_bytes, b->limit);
    return 0;
}

int kv_reserve_many(KVCache *kv, int n, const int *slots, const int *extra, SrError *err) {
    size_t grow = 0;
    for (int i = 0; i < n; i++) {
        Slot *s = live_slot(kv, slots[i]);
        if (!s) return sr_fail(err, "KV cache: slot %d is not allocated", slots[i]);
        if (extra[i] < 0 || extra[i] > kv->max_seq_len - s->len)
            return sr_fail(err, "KV cache: slot %d would hold %lld positions, more than %d",
                           slots[i], (long long)s->len + extra[i], kv->max_seq_len);
        int need = s->len + extra[i];
        if (need > s->reserved) grow += (size_t)(need - s->reserved) * kv->bytes_per_token;
    }
    if (budget_check(kv, grow, err) != 0) return -1;
    for (int i = 0; i < n; i++) {
        Slot *s = &kv->slots[slots[i]];
        int need = s->len + extra[i];
        if (need <= s->reserved) continue;
        if (grow_blocks(kv, s, need, err) != 0) return -1;
        charge(kv, (size_t)(need - s->reserved) * kv->bytes_per_token);
        s->reserved = need;
    }
    return 0;
}

int kv_reserve(KVCache *kv, int slot, int extra, SrError *err) {
    return kv_reserve_many(kv, 1, &slot, &extra, err);
}

void kv_truncate(KVCache *kv, int slot, int len) {
    Slot *s = live_slot(kv, slot);
    if (!s || len < 0) return;
    if (len < s->len) s->len = len;
    if (s->reserved > s->len) {
        refund(kv, (size_t)(s->reserved - s->len) * kv->bytes_per_token);
        s->reserved = s->len;
    }
    shrink_blocks(kv, s, s->reserved);
}

int kv_copy_prefix(KVCache *kv, int dst, int src, int len, SrError *err) {
    Slot *d = live_slot(kv, dst), *s = live_slot(kv, src);
    if (!d || !s) return sr_fail(err, "KV cache: copy between unallocated slots %d -> %d", src, dst);
    if (len < 0 || len > s->len)
        return sr_fail(err, "KV cache: cannot copy %d positions from slot %d of length %d", len,
                       src, s->len);
    if (dst == src) {
        kv_truncate(kv, dst, len);
        return 0;
    }
    size_t grow = len > d->reserved ? (size_t)(len - d->reserved) * kv->bytes_per_token : 0;
    if (budget_check(kv, grow, err) != 0) return -1;
    if (grow_blocks(kv, d, len, err) != 0) return -1;
    int nb = (len + KV_BLOCK - 1) / KV_BLOCK;
    for (int b = 0; b < nb; b++)
        memcpy(d->blocks[b], s->blocks[b], kv->block_floats * sizeof(float));
    if (len > d->reserved) charge(kv, grow);
    else refund(kv, (size_t)(d->reserved - len) * kv->bytes_per_token);
    d->reserved = d->len = len;
    shrink_blocks(kv, d, len);
    return 0;
}

size_t kv_bytes_in_use(const KVCache *kv) { return kv->used; }
size_t kv_bytes_allocated(const KVCache *kv) { return kv->allocated; }
int kv_max_slots(const KVCache *kv) { return kv->max_slots; }

int kv_matches(const KVCache *kv, const ModelConfig *cfg) {
    return kv->n_layers == cfg->n_layers && kv->kv_dim == cfg->n_kv_heads * cfg->head_dim &&
           kv->max_seq_len == cfg->max_seq_len;
}

static float *kv_at(KVCache *kv, int slot, int layer, int pos, int which) {
    Slot *s = &kv->slots[slot];
    float *blk = s->blocks[pos / KV_BLOCK];
    return blk + (((size_t)layer * 2 + which) * KV_BLOCK + pos % KV_BLOCK) * kv->kv_dim;
}

float *kv_key(KVCache *kv, int slot, int layer, int pos) { return kv_at(kv, slot, layer, pos, 0); }
float *kv_value(KVCache *kv, int slot, int layer, int pos) {
    return kv_at(kv, slot, layer, pos, 1);
}

void kv_advance(KVCache *kv, int slot) {
    Slot *s = live_slot(kv, slot);
    if (s && s->len < s->reserved) s->len++;
}
