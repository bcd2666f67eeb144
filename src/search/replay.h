/* replay.h - recording a Best-of-N run, and replaying any Speculative
 * Rejection or Best-of-N run that fits inside it, without a model.
 *
 * Why it is exact. Candidate i samples from its own stream, and a row's bits
 * do not depend on the batch (README, "Determinism"), so every run with the
 * same prompt, seed and sampling gives candidate i the same tokens, and the
 * reward source the same score for the same prefix, whatever was cut around
 * it. A live run's decisions depend on nothing else: token counts (budget
 * arithmetic, costs) and partial scores. So:
 *
 *  - Recording runs the live driver (search_run_gen) with record_policy,
 *    which meets a decision point after every step and keeps everyone: each
 *    live candidate is scored at every length 1..len through the real reward
 *    source, by the very code path a decision point uses (new tokens fed
 *    incrementally, closing ids as scratch); the cost is one extra reward
 *    forward row per token per closing id. The RecordTap wraps the live
 *    generator to keep every sampled token's log-probability as the driver
 *    receives it, and takes the scores from the decision callback.
 *  - Replaying runs the same driver with a generator that hands out the
 *    recorded tokens and log-probabilities, and a reward source that hands
 *    out the recorded scores. Both still keep KV caches under the run's
 *    KVBudget and count FLOPs and tokens exactly as the live generator
 *    (model_forward: one kv_reserve_many over the call's distinct slots) and
 *    the reward-model source (src/search/reward_model.c: chunks of at most
 *    REPLAY_RM_CHUNK_ROWS rows, closing ids reserved then truncated) do, so
 *    the driver sees the same bytes in use and takes the same decisions; no
 *    key or value is ever computed. tests/test_replay.c holds replay to the
 *    live run's --json and --trace byte for byte.
 *
 * A replay needs candidates, tokens and scores that the record holds: a
 * candidate index beyond the record, or a token beyond a candidate's
 * recorded end, fails with one line naming the record file. */
#ifndef SPECREJ_REPLAY_H
#define SPECREJ_REPLAY_H

#include "base/error.h"
#include "runtime/model.h"
#include "search/policy.h"
#include "search/record.h"
#include "search/reward.h"
#include "search/search.h"

/* The reward model's rows per forward call, shared with reward_model.c. */
#define REPLAY_RM_CHUNK_ROWS REWARD_MODEL_CHUNK_ROWS

/* Decide after every step, keep every candidate, size waves for max_new. */
extern const Policy record_policy;

typedef struct RecordTap {
    SearchGen inner;      /* the live generator */
    SearchGen gen;        /* what the driver gets: inner plus the tap */
    int n, width;         /* candidates; max_new_eff + 1 */
    double *logp;         /* n x width: log p of the token sampled at position t */
    double *score;        /* n x width: score at response length t */
    unsigned char *seen;  /* n x width: score[t] was recorded */
} RecordTap;

int record_tap_init(RecordTap *t, Model *m, int n, int max_new_eff, SrError *err);
void record_tap_free(RecordTap *t);
/* A DecisionFn: pass the RecordTap as user. */
int record_tap_decision(void *tap, const DecisionRecord *rec, SrError *err);
/* Fills r->n_cands and r->cands (tokens, stop id, log-probabilities, prefix
 * and final scores) from the finished run; gold and text stay empty. */
int record_tap_fill(const RecordTap *t, const SearchResult *res, Record *r, SrError *err);

/* A replay of one record: its generator and reward source. `name` (the
 * record's path) names the file in errors; rec and name must outlive it.
 * kv_block: the replayed run's blocks (SearchParams.kv_block; 0: the
 * default), which the recorded source counts its bytes in. */
typedef struct Replay {
    const Record *rec;
    const char *name;
    SearchGen gen;
    RewardSource *rs;
} Replay;

int replay_open(Replay *rp, const Record *rec, const char *name, int kv_block, SrError *err);
void replay_close(Replay *rp);

#endif
