#include "search/reward.h"

#include "runtime/kvcache.h"

#include <string.h>

/* The registry: one X(name) per src/search/reward_NAME.c. */
#define REWARD_LIST(X) X(model) X(selflik) X(gold)

#define REWARD_DECLARE(n) extern const RewardEntry reward_source_##n;
REWARD_LIST(REWARD_DECLARE)
#define REWARD_ENTRY(n) &reward_source_##n,
static const RewardEntry *const SOURCES[] = {REWARD_LIST(REWARD_ENTRY)};
#define REWARD_NAME(n) ", " #n
static const char REWARD_NAMES[] = REWARD_LIST(REWARD_NAME);

const char *reward_names(void) { return REWARD_NAMES + 2; }

int reward_open(const char *name, const RewardContext *ctx, RewardSource **out, SrError *err) {
    *out = NULL;
    for (size_t i = 0; i < sizeof SOURCES / sizeof SOURCES[0]; i++)
        if (strcmp(SOURCES[i]->name, name) == 0) return SOURCES[i]->open(ctx, out, err);
    return sr_fail(err, "--reward-source: unknown source '%s' (known: %.*s)", name,
                   (int)(sizeof REWARD_NAMES - 3), REWARD_NAMES + 2);
}

void reward_close(RewardSource *rs) {
    if (rs) rs->ops->close(rs);
}

int reward_stateless_begin(RewardSource *rs, KVBudget *budget, int max_cands, int share_prefix,
                           SrError *err) {
    (void)rs, (void)budget, (void)max_cands, (void)share_prefix, (void)err;
    return 0;
}

int reward_stateless_attach(RewardSource *rs, RewardCand *c, SrError *err) {
    (void)rs, (void)c, (void)err;
    return 0;
}

void reward_stateless_detach(RewardSource *rs, RewardCand *c) { (void)rs, (void)c; }

void reward_stateless_end(RewardSource *rs) { (void)rs; }

size_t reward_footprint_bytes(const RewardFootprint *fp, int share_prefix, int attached,
                              int fed, int len) {
    /* the cache charges whole blocks (kvcache.h: kv_bytes_for), so the
     * growth is counted in blocks: what the slot will hold less what it holds */
    size_t m = fp->kv_bytes_per_token;
    int own = share_prefix ? 0 : fp->prefix_len;
    size_t held = attached ? kv_bytes_for(m, own + fed) : 0;
    return kv_bytes_for(m, own + len + fp->closing_len) - held;
}

size_t reward_held_bytes(const RewardSource *rs) {
    return rs->ops->held_bytes ? rs->ops->held_bytes(rs) : 0;
}

size_t reward_bytes_needed(const RewardSource *rs, int share_prefix, int n,
                           const RewardCand *const *cands, const int *lengths) {
    return rs->ops->bytes_needed ? rs->ops->bytes_needed(rs, share_prefix, n, cands, lengths) : 0;
}

int reward_max_response(const RewardSource *rs) {
    return rs->ops->max_response ? rs->ops->max_response(rs) : 1 << 30;
}

void reward_footprint(const RewardSource *rs, RewardFootprint *fp) {
    memset(fp, 0, sizeof *fp);
    fp->max_response = reward_max_response(rs);
    if (rs->ops->footprint) rs->ops->footprint(rs, fp);
}
