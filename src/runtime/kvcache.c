/* kvcache.c - the key/value cache (kvcache.h): slots of reference-counted
 * blocks charged to a shared byte budget, prefixes shared between
 * candidates by reference and copied only when one writes into them. */
#include "runtime/kvcache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A block of a cache's `block` positions, shared by every slot that lists it:
 * kv_share_prefix() hands the prompt's full blocks to each candidate, and
 * the last slot to let go frees it. The header keeps data 64-byte aligned. */
typedef struct Block {
    size_t refs;
    size_t pad[7];
    unsigned char data[]; /* floats, or bf16/f16 values (kv_dtype) */
} Block;

/* A slot's positions: [0, shared) live in the n_shared leading blocks,
 * borrowed from the slot they were shared from (the last one possibly only
 * partly used); positions from `shared` on fill the slot's own blocks, the
 * first of which starts at position `shared`, block-aligned or not. */
typedef struct Slot {
    int live;
    int len;
    int reserved;   /* positions held, >= len; charged: reserved - shared */
    int shared;     /* leading positions another slot was charged for */
    int n_shared;   /* blocks holding them: ceil(shared / block) */
    Block **blocks; /* n_shared borrowed, then ceil((reserved - shared) / block) own */
    int n_blocks;
    int cap_blocks;
} Slot;

struct KVCache {
    int n_layers, kv_dim, max_seq_len;
    int block;      /* positions per block: the budget's when made */
    size_t bytes_per_token;
    int dtype;      /* MODEL_DTYPE_: what the blocks hold */
    size_t elem;    /* bytes of one stored element: 4 or 2 */
    size_t block_elems;
    int max_slots;
    Slot *slots;
    KVBudget *budget;
    KVBudget own_budget; /* used when kv_create got no budget */
    size_t allocated;    /* bytes of blocks held: this cache's share of budget->used */
};

int kv_block_check(int positions, SrError *err) {
    if (positions < KV_BLOCK_MIN || positions > KV_BLOCK_MAX || (positions & (positions - 1)))
        return sr_fail(err, "KV block size %d: not a power of two in [%d, %d]", positions,
                       KV_BLOCK_MIN, KV_BLOCK_MAX);
    return 0;
}

int kv_block_resolve(int block) { return block ? block : KV_BLOCK_DEFAULT; }

void kv_budget_init(KVBudget *b, size_t limit, int block) {
    b->limit = limit;
    b->used = 0;
    b->peak = 0;
    b->block = kv_block_resolve(block);
}

size_t kv_dtype_size(int dtype) { return dtype == MODEL_DTYPE_F32 ? sizeof(float) : 2; }

size_t kv_bytes_per_token(const ModelConfig *cfg) {
    return (size_t)2 * cfg->n_layers * cfg->n_kv_heads * cfg->head_dim *
           kv_dtype_size(cfg->kv_dtype);
}

size_t kv_block_bytes(int block, size_t bytes_per_token) {
    return bytes_per_token ? sizeof(Block) + (size_t)kv_block_resolve(block) * bytes_per_token
                           : 0;
}

size_t kv_bytes_for(int block, size_t bytes_per_token, int positions) {
    size_t b = (size_t)kv_block_resolve(block);
    size_t blocks = positions > 0 ? ((size_t)positions + b - 1) / b : 0;
    return blocks * kv_block_bytes(block, bytes_per_token);
}

int kv_create(const ModelConfig *cfg, int max_slots, KVBudget *budget, KVCache **out,
              SrError *err) {
    *out = NULL;
    if (max_slots < 1 || max_slots > (1 << 24))
        return sr_fail(err, "KV cache: max_slots %d is outside [1, %d]", max_slots, 1 << 24);
    int block = kv_block_resolve(budget ? budget->block : 0);
    if (kv_block_check(block, err) != 0) return -1;
    if (cfg->kv_dtype != MODEL_DTYPE_F32 && cfg->kv_dtype != MODEL_DTYPE_BF16 &&
        cfg->kv_dtype != MODEL_DTYPE_F16)
        return sr_fail(err, "KV cache: unknown element type %d", cfg->kv_dtype);
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
    kv->dtype = cfg->kv_dtype;
    kv->elem = kv_dtype_size(cfg->kv_dtype);
    kv_budget_init(&kv->own_budget, SIZE_MAX, KV_BLOCK_DEFAULT);
    kv->budget = budget ? budget : &kv->own_budget;
    kv->block = block;
    kv->block_elems = (size_t)cfg->n_layers * 2 * kv->block * kv->kv_dim;
    kv->max_slots = max_slots;
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

static size_t block_bytes(const KVCache *kv) {
    return sizeof(Block) + kv->block_elems * kv->elem;
}

/* The only places memory enters or leaves: a block is charged when it is
 * allocated and refunded when it is freed, so the budget counts exactly
 * the bytes held (shared blocks once). Callers check the budget first. */
static Block *new_block(KVCache *kv, SrError *err) {
    Block *blk = sr_malloc_array(1, block_bytes(kv), err);
    if (!blk) return NULL;
    blk->refs = 1;
    kv->allocated += block_bytes(kv);
    kv->budget->used += block_bytes(kv);
    if (kv->budget->used > kv->budget->peak) kv->budget->peak = kv->budget->used;
    return blk;
}

static void drop_block(KVCache *kv, Block *b) {
    if (--b->refs > 0) return;
    free(b);
    kv->allocated -= block_bytes(kv);
    kv->budget->used -= block_bytes(kv);
}

/* Blocks a slot of kv needs to hold 'positions' (>= shared, or 0). */
static int blocks_for(const KVCache *kv, const Slot *s, int positions) {
    if (positions <= s->shared) return positions ? s->n_shared : 0;
    return s->n_shared + (positions - s->shared + kv->block - 1) / kv->block;
}

/* Lets go of blocks beyond what 'positions' needs. */
static void shrink_blocks(KVCache *kv, Slot *s, int positions) {
    int keep = blocks_for(kv, s, positions);
    while (s->n_blocks > keep) drop_block(kv, s->blocks[--s->n_blocks]);
}

/* Room in the slot's block list for 'need' blocks. */
static int ensure_block_cap(Slot *s, int need, SrError *err) {
    if (need <= s->cap_blocks) return 0;
    int cap = s->cap_blocks ? s->cap_blocks : 4;
    while (cap < need) cap *= 2;
    Block **b = realloc(s->blocks, (size_t)cap * sizeof *b);
    if (!b) return sr_fail(err, "KV cache: out of memory");
    s->blocks = b;
    s->cap_blocks = cap;
    return 0;
}

/* Allocates blocks so that 'positions' fit; on failure the slot keeps what
 * it had (charged, as everything held is). */
static int grow_blocks(KVCache *kv, Slot *s, int positions, SrError *err) {
    int need = blocks_for(kv, s, positions);
    if (ensure_block_cap(s, need, err) != 0) return -1;
    while (s->n_blocks < need) {
        Block *blk = new_block(kv, err);
        if (!blk) return -1;
        s->blocks[s->n_blocks++] = blk;
    }
    return 0;
}

/* Back to a fresh slot: no blocks. */
static void clear_slot(KVCache *kv, Slot *s) {
    shrink_blocks(kv, s, 0);
    s->len = s->reserved = s->shared = s->n_shared = 0;
}

/* Whether slot s writes block b when it writes positions [from, to). */
static int writes_block(const KVCache *kv, const Slot *s, int from, int to, const Block *blk) {
    if (from >= to || from < s->shared) return 0;
    int first = blocks_for(kv, s, from + 1) - 1, last = blocks_for(kv, s, to) - 1;
    for (int b = first; b <= last && b < s->n_blocks; b++)
        if (s->blocks[b] == blk) return 1;
    return 0;
}

/* Blocks a kv_reserve_many over these slots copies first (see below),
 * counted exactly: a block k slots hold and w of them write is copied
 * min(w, k - 1) times, since each writer copies while another still holds
 * it and the last one writes in place. Blocks nobody else holds cost
 * nothing here, so a run without forks never enters the inner loop.
 * extra NULL: one position each. */
static size_t copies_needed(const KVCache *kv, int n, const int *slots, const int *extra) {
    size_t copies = 0;
    for (int i = 0; i < n; i++) {
        const Slot *s = &kv->slots[slots[i]];
        int from = s->len, to = s->len + (extra ? extra[i] : 1);
        if (from >= to || from < s->shared) continue;
        int first = blocks_for(kv, s, from + 1) - 1, last = blocks_for(kv, s, to) - 1;
        for (int b = first; b <= last && b < s->n_blocks; b++) {
            const Block *blk = s->blocks[b];
            if (blk->refs < 2) continue;
            size_t before = 0; /* writers of blk earlier in the list */
            for (int j = 0; j < i; j++) {
                const Slot *o = &kv->slots[slots[j]];
                before += (size_t)writes_block(kv, o, o->len, o->len + (extra ? extra[j] : 1), blk);
            }
            copies += before < blk->refs - 1;
        }
    }
    return copies;
}

/* Before a slot writes positions [from, to): every block it would write
 * that another slot also holds is copied first (copy on write), so sharing
 * never lets one slot's writes show in another's positions. Only a slot
 * that others share from, growing into its partly used last block, gets
 * here; the candidates write their own blocks only. */
static int unshare_for_write(KVCache *kv, Slot *s, int from, int to, SrError *err) {
    if (from >= to || from < s->shared) return 0; /* never writes borrowed positions */
    int first = blocks_for(kv, s, from + 1) - 1, last = blocks_for(kv, s, to) - 1;
    for (int b = first; b <= last && b < s->n_blocks; b++) {
        if (s->blocks[b]->refs == 1) continue;
        Block *copy = new_block(kv, err);
        if (!copy) return -1;
        memcpy(copy->data, s->blocks[b]->data, kv->block_elems * kv->elem);
        drop_block(kv, s->blocks[b]);
        s->blocks[b] = copy;
    }
    return 0;
}

void kv_release(KVCache *kv, int slot) {
    Slot *s = live_slot(kv, slot);
    if (!s) return;
    clear_slot(kv, s);
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
    size_t new_blocks = 0;
    for (int i = 0; i < n; i++) {
        Slot *s = live_slot(kv, slots[i]);
        if (!s) return sr_fail(err, "KV cache: slot %d is not allocated", slots[i]);
        if (extra[i] < 0 || extra[i] > kv->max_seq_len - s->len)
            return sr_fail(err, "KV cache: slot %d would hold %lld positions, more than %d",
                           slots[i], (long long)s->len + extra[i], kv->max_seq_len);
        int need = s->len + extra[i], have = s->n_blocks;
        if (blocks_for(kv, s, need) > have) new_blocks += (size_t)(blocks_for(kv, s, need) - have);
    }
    new_blocks += copies_needed(kv, n, slots, extra);
    if (budget_check(kv, new_blocks * block_bytes(kv), err) != 0) return -1;
    for (int i = 0; i < n; i++) {
        Slot *s = &kv->slots[slots[i]];
        int need = s->len + extra[i];
        if (unshare_for_write(kv, s, s->len, need, err) != 0) return -1;
        if (need <= s->reserved) continue;
        if (grow_blocks(kv, s, need, err) != 0) return -1;
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
    if (len < s->shared) len = s->shared; /* shared blocks are read-only */
    if (len < s->len) s->len = len;
    if (s->reserved > s->len) s->reserved = s->len;
    shrink_blocks(kv, s, s->reserved);
}

/* Copies positions [0, len) of every layer from src to dst's (own, fresh)
 * blocks, span by span: src may itself hold shared positions. */
static void copy_positions(KVCache *kv, int dst, int src, int len) {
    for (int l = 0; l < kv->n_layers; l++)
        for (int pos = 0; pos < len;) {
            const void *k, *v;
            int n = kv_span(kv, src, l, pos, &k, &v);
            if (n > len - pos) n = len - pos;
            size_t row = (size_t)kv->kv_dim * kv->elem;
            for (int u = 0; u < n; u++) {
                memcpy(kv_key_at(kv, dst, l, pos + u), (const char *)k + u * row, row);
                memcpy(kv_value_at(kv, dst, l, pos + u), (const char *)v + u * row, row);
            }
            pos += n;
        }
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
    clear_slot(kv, d);
    if (budget_check(kv, kv_bytes_for(kv->block, kv->bytes_per_token, len), err) != 0) return -1;
    if (grow_blocks(kv, d, len, err) != 0) return -1;
    d->reserved = d->len = len;
    copy_positions(kv, dst, src, len);
    return 0;
}

int kv_share_prefix(KVCache *kv, int dst, int src, int len, SrError *err) {
    Slot *d = live_slot(kv, dst), *s = live_slot(kv, src);
    if (!d || !s || dst == src)
        return sr_fail(err, "KV cache: cannot share slot %d's prefix with slot %d", src, dst);
    if (len < 0 || len > s->len || (len > 0 && len < s->shared && len % kv->block != 0))
        return sr_fail(err, "KV cache: cannot share %d positions of slot %d of length %d", len,
                       src, s->len);
    clear_slot(kv, d);
    int nb = blocks_for(kv, s, len);
    if (ensure_block_cap(d, nb, err) != 0) return -1;
    for (int b = 0; b < nb; b++) {
        d->blocks[b] = s->blocks[b];
        d->blocks[b]->refs++;
    }
    d->n_blocks = d->n_shared = nb;
    d->shared = d->len = d->reserved = len;
    return 0;
}

int kv_fork(KVCache *kv, int dst, int src, SrError *err) {
    Slot *d = live_slot(kv, dst), *s = live_slot(kv, src);
    if (!d || !s || dst == src)
        return sr_fail(err, "KV cache: cannot fork slot %d into slot %d", src, dst);
    clear_slot(kv, d);
    if (ensure_block_cap(d, s->n_blocks, err) != 0) return -1;
    for (int b = 0; b < s->n_blocks; b++) {
        d->blocks[b] = s->blocks[b];
        d->blocks[b]->refs++;
    }
    d->n_blocks = s->n_blocks, d->n_shared = s->n_shared;
    d->shared = s->shared, d->len = s->len, d->reserved = s->reserved;
    return 0;
}

size_t kv_copy_bytes(const KVCache *kv, int n, const int *slots) {
    for (int i = 0; i < n; i++)
        if (!live_slot(kv, slots[i])) return 0;
    return copies_needed(kv, n, slots, NULL) * block_bytes(kv);
}

int kv_shared_len(const KVCache *kv, int slot) {
    const Slot *s = live_slot(kv, slot);
    return s ? s->shared : 0;
}

const void *kv_prefix_id(const KVCache *kv, int slot) {
    const Slot *s = live_slot(kv, slot);
    return s && s->n_shared ? (const void *)s->blocks[0] : NULL;
}

size_t kv_bytes_in_use(const KVCache *kv) { return kv->allocated; }
size_t kv_bytes_allocated(const KVCache *kv) { return kv->allocated; }
int kv_max_slots(const KVCache *kv) { return kv->max_slots; }
int kv_cache_block(const KVCache *kv) { return kv->block; }
int kv_dtype(const KVCache *kv) { return kv->dtype; }

int kv_matches(const KVCache *kv, const ModelConfig *cfg) {
    return kv->n_layers == cfg->n_layers && kv->kv_dim == cfg->n_kv_heads * cfg->head_dim &&
           kv->max_seq_len == cfg->max_seq_len && kv->dtype == cfg->kv_dtype;
}

/* Block and offset of a position (see Slot). */
static void *kv_at(KVCache *kv, int slot, int layer, int pos, int which, int *left) {
    const Slot *s = &kv->slots[slot];
    int B = kv->block, b, u;
    if (pos < s->shared) {
        b = pos / B, u = pos % B;
        int end = s->shared - b * B; /* borrowed positions in this block */
        *left = (end < B ? end : B) - u;
    } else {
        b = s->n_shared + (pos - s->shared) / B, u = (pos - s->shared) % B;
        *left = B - u;
    }
    unsigned char *blk = s->blocks[b]->data;
    return blk + (((size_t)layer * 2 + which) * B + u) * kv->kv_dim * kv->elem;
}

void *kv_key_at(KVCache *kv, int slot, int layer, int pos) {
    int left;
    return kv_at(kv, slot, layer, pos, 0, &left);
}

void *kv_value_at(KVCache *kv, int slot, int layer, int pos) {
    int left;
    return kv_at(kv, slot, layer, pos, 1, &left);
}

float *kv_key(KVCache *kv, int slot, int layer, int pos) { return kv_key_at(kv, slot, layer, pos); }
float *kv_value(KVCache *kv, int slot, int layer, int pos) {
    return kv_value_at(kv, slot, layer, pos);
}

int kv_span(KVCache *kv, int slot, int layer, int pos, const void **keys,
            const void **values) {
    int left;
    *keys = kv_at(kv, slot, layer, pos, 0, &left);
    *values = kv_at(kv, slot, layer, pos, 1, &left);
    return left;
}

int kv_runs(KVCache *kv, int slot, int layer, int from, int end, KVRun *out) {
    int n = 0;
    for (int t = from, left; t < end; t += left) {
        unsigned char *k = kv_at(kv, slot, layer, t, 0, &left);
        if (left > end - t) left = end - t;
        out[n++] = (KVRun){k, k + (size_t)kv->block * kv->kv_dim * kv->elem, t, left};
    }
    return n;
}

void kv_advance(KVCache *kv, int slot) {
    Slot *s = live_slot(kv, slot);
    if (s && s->len < s->reserved) s->len++;
}
