/* reward.h - reward sources behind one interface.
 *
 * A source scores partial or finished responses of many candidates at once.
 * Sources: "model" (a reward-model checkpoint with its own KV cache per
 * candidate, fed incrementally), "selflik" (the generator's own likelihood,
 * -exp(mean token NLL)), "gold" (the AFINN gold judge on the decoded text).
 *
 * To add one: write src/reward_NAME.c defining
 * `const RewardEntry reward_source_NAME = {"NAME", "summary", open_fn};` and
 * add X(NAME) to REWARD_LIST in reward.c.
 *
 * Memory: a source that caches (model) declares its footprint so the driver
 * can plan against the shared KVBudget: one prefix slot of prefix_len
 * positions, plus per candidate prefix_len (none with share_prefix, when the
 * candidates borrow the prefix slot's blocks) + response length + closing_len (closing positions are scratch during
 * scoring), plus reserve_bytes of transient space. */
#ifndef SPECREJ_REWARD_H
#define SPECREJ_REWARD_H

#include <stddef.h>

#include "base/error.h"
#include "runtime/kvcache.h"
#include "text/tokenizer.h"

/* One candidate as a source sees it. The driver keeps it for the candidate's
 * whole life and refreshes the first block before every call. */
typedef struct RewardCand {
    const int *tokens;  /* response ids in the generator's vocabulary, stop id excluded */
    int len;
    double nll_sum;     /* -sum log p(token) under the generator, stop id included */
    int n_sampled;      /* tokens behind nll_sum */
    int index;          /* the candidate's index in the run (set by the driver) */
    /* Owned by the source (-1 / 0 when unused). */
    int slot;
    int fed;
    int has_score;
    double score;
} RewardCand;

typedef struct RewardContext {
    const char *path;          /* reward-model checkpoint ("model") */
    const char *tokenizer_path; /* its tokenizer if not in path, or NULL */
    const char *lexicon;       /* AFINN lexicon ("gold") */
    const char *template_name; /* reward-model template, "auto" */
    const char *prompt_text;   /* NULL when the prompt came as ids */
    const int *prompt_ids;     /* the generator's prompt ids */
    int n_prompt;
    const Tokenizer *gen_tok;  /* NULL in id-only runs */
    int gen_vocab;
    /* Id-only runs: closing ids after a response (default: the reward
     * model's eos id). Used when closing_given is set. */
    const int *closing_ids;
    int n_closing;
    int closing_given;
} RewardContext;

typedef struct RewardSource RewardSource;

/* The "model" source feeds at most about this many rows per forward call
 * (src/search/reward_model.c); the recorded source of a replay (src/search/replay.c)
 * chunks the same way, since a chunk's scratch closing positions can set
 * the KV peak. */
#define REWARD_MODEL_CHUNK_ROWS 1024

typedef struct RewardOps {
    /* Creates caches under budget for up to max_cands live candidates. */
    int (*begin)(RewardSource *rs, KVBudget *budget, int max_cands, SrError *err);
    /* A new candidate with an empty response. */
    int (*attach)(RewardSource *rs, RewardCand *c, SrError *err);
    /* scores[i] = reward of cands[i]'s current response. */
    int (*score)(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err);
    /* The candidate is done (rejected or finally scored): free its state. */
    void (*detach)(RewardSource *rs, RewardCand *c);
    /* Frees what begin created (before the budget goes away). */
    void (*end)(RewardSource *rs);
    void (*close)(RewardSource *rs);
} RewardOps;

/* Ready-made begin/attach/detach/end for sources that keep no per-candidate
 * state and no cache (gold judge, self-likelihood): a new stateless source
 * only writes score and close. */
int reward_stateless_begin(RewardSource *rs, KVBudget *budget, int max_cands, SrError *err);
int reward_stateless_attach(RewardSource *rs, RewardCand *c, SrError *err);
void reward_stateless_detach(RewardSource *rs, RewardCand *c);
void reward_stateless_end(RewardSource *rs);

struct RewardSource {
    const RewardOps *ops;
    void *self;
    const char *name;
    const char *detail;        /* e.g. "shared tokenizer, incremental" */
    size_t kv_bytes_per_token; /* 0 for sources without a cache */
    int prefix_len;
    int closing_len;
    size_t reserve_bytes;
    int share_prefix;          /* set by the driver before begin: candidates share the
                                  prefix slot's KV blocks (kv_share_prefix) */
    int max_response;          /* longest response it can score */
    int chunk_rows;            /* rows per forward call when scoring (model source; 0:
                                  REWARD_MODEL_CHUNK_ROWS); a replay must use the live run's */
    double flops;              /* cumulative cost of everything it ran */
    long long tokens;          /* tokens pushed through its model */
};

typedef struct RewardEntry {
    const char *name;
    const char *summary;
    int (*open)(const RewardContext *ctx, RewardSource **out, SrError *err);
} RewardEntry;

int reward_open(const char *name, const RewardContext *ctx, RewardSource **out, SrError *err);
void reward_close(RewardSource *rs);
const char *reward_names(void);

#endif
