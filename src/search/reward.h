/* reward.h - reward sources behind one interface.
 *
 * A source scores partial or finished responses of many candidates at once.
 * Sources: "model" (a reward-model checkpoint: with the generator's tokenizer
 * its own KV cache per candidate, fed incrementally, reward_model_shared.c;
 * with another, a bridge through text, reward_model_bridge.c), "selflik"
 * (the generator's own likelihood, -exp(mean token NLL)), "gold" (the AFINN
 * gold judge on the decoded text), and two reward-free ones, "selfcertainty"
 * (mean KL(uniform || next-token distribution)), "confidence" (lowest
 * sliding-window mean token log-probability) and "consistency" (agreement
 * of a candidate's mean hidden state with the other candidates', ST-BoN);
 * reward_list.h lists them all.
 *
 * To add one: write src/search/reward_NAME.c defining
 * `const RewardEntry reward_source_NAME = {...}` (below: its name, help,
 * parameters, what it needs, what it wraps, and how it opens) and add the
 * line X(NAME) to src/search/reward_list.h. Nothing else changes: the
 * command line (--reward-source NAME, --reward-arg name=value or a
 * parameter's own flag, the flags its needs imply), --help, validation,
 * params.reward in --json and --trace, record, replay and compare derive
 * from the entry. A source with no cache and no per-candidate state is its
 * entry and a function that scores one candidate (RewardEntry.score; one
 * that builds something when opened, such as a judge, passes it to
 * reward_stateless_open); a source that wraps another writes only how it
 * adjusts the inner score (reward_wrap_open).
 *
 * State: whatever a source keeps per candidate hangs off RewardCand.state,
 * created by attach and freed by detach; the driver never looks inside.
 *
 * Memory: the driver plans the shared KVBudget from the source's answers
 * alone (held_bytes, bytes_needed); a source without a cache leaves them
 * NULL and answers 0. footprint describes the built-in sources' linear
 * memory model, for a record (src/search/record.h) to replay. */
#ifndef SPECREJ_REWARD_H
#define SPECREJ_REWARD_H

#include <stddef.h>

#include "base/error.h"
#include "runtime/kvcache.h"
#include "search/policy.h"
#include "search/policy_args.h"
#include "runtime/model.h"
#include "text/tokenizer.h"

/* One candidate as a source sees it. The driver keeps it for the candidate's
 * whole life and refreshes the first block before every score call. */
typedef struct RewardCand {
    const int *tokens;  /* response ids in the generator's vocabulary, stop id excluded */
    int len;
    double nll_sum;     /* -sum log p(token) under the generator, stop id included */
    int n_sampled;      /* tokens behind nll_sum */
    /* Per sampled token (n_sampled entries, the stop id's included), filled
     * only for a source whose entry declares the need, NULL otherwise, so a
     * source that asks for nothing costs the driver nothing: */
    const double *logp;       /* REWARD_NEEDS_LOGPROBS: log p of each sampled token */
    const double *kl_uniform; /* REWARD_NEEDS_DISTRIBUTION: KL(U || p) of the next-token
                                 distribution each token was sampled from (sampler.h:
                                 sampler_kl_uniform) */
    /* REWARD_NEEDS_HIDDEN (NULL otherwise): the sum, in double and in token
     * order, of the generator's last hidden states (model.h:
     * model_forward_hidden, hidden_dim floats each) at the n_sampled
     * positions each sampled token was drawn from: the prompt's last
     * position for the first, then each response token's own; a fork's
     * starts as its parent's, a rewind cuts it back with the tokens */
    const double *hidden_sum;
    int hidden_dim;
    int index;          /* the candidate's index in the run (set by the driver) */
    void *state;        /* the source's own (NULL before attach and after detach) */
} RewardCand;

/* The memory of a source with a KV cache, in the one form the built-in
 * sources have: a prefix slot of prefix_len positions; per candidate its
 * own copy of the prefix (none when shared: it borrows the prefix slot's
 * blocks), its response, and closing_len scratch positions while it is
 * scored; plus reserve_bytes of transient space during scoring. */
typedef struct RewardFootprint {
    size_t kv_bytes_per_token; /* 0: no cache */
    int prefix_len, closing_len;
    size_t reserve_bytes;
    int max_response;          /* longest response it can score */
    int kv_block;              /* the blocks its bytes are counted in (kvcache.h; 0:
                                  the default): its context's */
} RewardFootprint;

/* A candidate's bytes under fp, beyond the fed positions it holds now, to be
 * scored at len tokens; attached = 0 adds its prefix copy (unless shared). */
size_t reward_footprint_bytes(const RewardFootprint *fp, int share_prefix, int attached,
                              int fed, int len);

struct TemplateOpts; /* text/template.h */
typedef struct RewardEntry RewardEntry;

typedef struct RewardContext {
    /* The source being opened and its argument values, as declared in its
     * entry (reward_open sets both; NULL args there: the defaults). */
    const RewardEntry *entry;
    const PolicyArgs *args;
    const char *path;          /* reward-model checkpoint (REWARD_NEEDS_MODEL) */
    Model *model;              /* NULL, or path already loaded (batch mode loads it once):
                                  the source borrows it and never frees it */
    const ModelLoadOptions *load; /* how the source loads path itself (NULL: as the
                                     checkpoint holds it) */
    const char *tokenizer_path; /* its tokenizer if not in path, or NULL */
    const char *lexicon;       /* AFINN lexicon (REWARD_NEEDS_LEXICON) */
    const char *template_name; /* reward-model template, "auto" */
    const struct TemplateOpts *chat; /* system message and thinking for its template, or NULL */
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
    /* Positions per KV block of the run's budget (SearchParams.kv_block; 0:
     * the default): what the source counts its bytes in. */
    int kv_block;
    /* The longest response the run will ask it to score, in the
     * generator's tokens (SearchParams.max_new; 0: unknown, as long as its
     * context allows): a source may size its scratch by it. */
    int max_new;
} RewardContext;

typedef struct RewardSource RewardSource;

/* The "model" source feeds at most about this many rows per forward call
 * (src/search/reward_model.c); the recorded source of a replay (src/search/replay.c)
 * chunks the same way, since a chunk's scratch closing positions can set
 * the KV peak. */
#define REWARD_MODEL_CHUNK_ROWS 1024

typedef struct RewardOps {
    /* Creates caches under budget for up to max_cands live candidates;
     * share_prefix: candidates borrow the prefix slot's blocks
     * (kv_share_prefix) instead of copying them. */
    int (*begin)(RewardSource *rs, KVBudget *budget, int max_cands, int share_prefix,
                 SrError *err);
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
    /* The rest may be NULL (a source without a cache): 0 bytes, no limit on
     * the response, a zero footprint. */
    /* Bytes it holds from begin to end whatever the candidates (a prefix slot). */
    size_t (*held_bytes)(const RewardSource *rs);
    /* Bytes, beyond what it holds now, needed to score cands[i] at lengths[i]
     * tokens, scratch included. A candidate not attached yet (state NULL)
     * counts as a new one (planning); n = 0 gives the scratch alone. */
    size_t (*bytes_needed)(const RewardSource *rs, int share_prefix, int n,
                           const RewardCand *const *cands, const int *lengths);
    int (*max_response)(const RewardSource *rs);
    void (*footprint)(const RewardSource *rs, RewardFootprint *fp);
    /* child (not attached) becomes a fork of parent (attached, scored or
     * not): it starts with what parent's state holds, shared where the
     * source can (the model source forks its KV slot: kvcache.h kv_fork,
     * charged when a block is copied on write, and bytes_needed counts
     * those copies). NULL: the child is attached afresh and its whole
     * response is fed at its next scoring (search.h: "Forks"). */
    int (*fork)(RewardSource *rs, const RewardCand *parent, RewardCand *child, SrError *err);
    /* c's response was cut back to len tokens (search.h: rewinds): forget
     * what it fed beyond. NULL: detached and attached afresh. */
    int (*rewind)(RewardSource *rs, RewardCand *c, int len, SrError *err);
} RewardOps;

/* Ready-made begin/attach/detach/end for a source that keeps no
 * per-candidate state and no cache but writes its own ops (a test's fake
 * source); a stateless source in the registry uses RewardEntry.score or
 * reward_stateless_open instead. */
int reward_stateless_begin(RewardSource *rs, KVBudget *budget, int max_cands, int share_prefix,
                           SrError *err);
int reward_stateless_attach(RewardSource *rs, RewardCand *c, SrError *err);
void reward_stateless_detach(RewardSource *rs, RewardCand *c);
void reward_stateless_end(RewardSource *rs);

struct RewardSource {
    const RewardOps *ops;
    void *self;
    const char *name;
    const char *detail;        /* e.g. "shared tokenizer, incremental" */
    int chunk_rows;            /* rows per forward call when scoring (model source; 0:
                                  REWARD_MODEL_CHUNK_ROWS); a replay must use the live run's */
    double flops;              /* cumulative cost of everything it ran */
    long long tokens;          /* tokens pushed through its model */
    unsigned needs;            /* REWARD_NEEDS_* the driver must supply (reward_open sets
                                  its entry's; 0 for a replay's recorded scores) */
};

/* The optional ops, with their defaults (see RewardOps). */
size_t reward_held_bytes(const RewardSource *rs);
size_t reward_bytes_needed(const RewardSource *rs, int share_prefix, int n,
                           const RewardCand *const *cands, const int *lengths);
int reward_max_response(const RewardSource *rs);
void reward_footprint(const RewardSource *rs, RewardFootprint *fp);
int reward_fork(RewardSource *rs, const RewardCand *parent, RewardCand *child, SrError *err);
int reward_rewind(RewardSource *rs, RewardCand *c, int len, SrError *err);

/* What a source needs from the run (RewardEntry.needs, or-ed). The command
 * line supplies them and refuses a flag that feeds a need the source lacks
 * (--reward without REWARD_NEEDS_MODEL has no effect, so it is an error). */
enum {
    REWARD_NEEDS_MODEL = 1,     /* a reward-model checkpoint: --reward PATH, with
                                   --reward-tokenizer, --reward-template, --closing-ids;
                                   a record keeps its path, hash and shapes */
    REWARD_NEEDS_TOKENIZER = 2, /* the generator's tokenizer (RewardContext.gen_tok;
                                   reward_open refuses an id-only run) */
    REWARD_NEEDS_LEXICON = 4,   /* a gold lexicon (--lexicon, default GOLD_DEFAULT_LEXICON) */
    REWARD_NEEDS_LOGPROBS = 8,  /* the generator's log-probabilities of the sampled tokens
                                   (RewardCand.nll_sum: always there, also in a replay;
                                   RewardCand.logp: token by token) */
    REWARD_NEEDS_HIDDEN = 16,   /* the generator's last hidden states
                                   (RewardCand.hidden_sum): only a live generator computes
                                   them, so the driver refuses it over a replay's tokens */
    REWARD_NEEDS_DISTRIBUTION = 32, /* a statistic of the generator's whole next-token
                                   distribution at every sampled token
                                   (RewardCand.kl_uniform): only a live generator has the
                                   logits, so the driver refuses it over a replay's tokens; a
                                   record keeps the source's scores, so replay and compare
                                   never need it */
    REWARD_NEEDS_PEERS = 64,    /* the other candidates: its score of a candidate depends
                                   on the others scored in the same call (consistency). At
                                   a decision point the driver scores every unscored
                                   candidate of the batch in one call (the live and those
                                   finished since the last one), at a wave's end those
                                   finished since; a record refuses it (its per-prefix
                                   scores could not stand for another policy's run) */
};

/* A stateless source's score of one candidate: args are its parameters'
 * values (as its entry declares them), self what its open built for
 * reward_stateless_open (NULL for none). Returns 0, or -1 with err set. */
typedef int (*RewardScoreFn)(const PolicyArgs *args, const void *self, const RewardCand *c,
                             double *score, SrError *err);

/* A source's declaration, the one place its name is spelled. */
struct RewardEntry {
    const char *name;          /* --reward-source NAME */
    const char *summary;       /* one line for --help */
    const PolicyParam *params; /* --reward-arg NAME=VALUE, or a parameter's own flag;
                                  the same declaration and rules as a policy's (an own
                                  flag must not be one the commands already take: the
                                  reward flags are matched first) */
    int n_params;
    int (*validate)(const PolicyArgs *a, SrError *err); /* between parameters, or NULL */
    unsigned needs;            /* REWARD_NEEDS_* */
    const char *wraps;         /* the source it wraps (reward_wrap_open), or NULL; the
                                  inner source's needs are the wrapper's too */
    /* A stateless source: how it scores one candidate, and the detail --json
     * shows; open stays NULL and reward_open opens it with
     * reward_stateless_open (self NULL). */
    RewardScoreFn score;
    const char *detail;
    /* Opens it; ctx->entry is this entry and ctx->args its values. A record
     * of the run keeps name, the opened source's detail, the argument values
     * (params.reward.params) and, with REWARD_NEEDS_MODEL, the reward
     * model's identity and shapes; its scores are recorded for every prefix,
     * so a replay never opens it. */
    int (*open)(const RewardContext *ctx, RewardSource **out, SrError *err); /* or NULL, with score */
};

/* The registry (reward_list.h), in its order; reward_at(0) is the default. */
int reward_count(void);
const RewardEntry *reward_at(int i);
/* NULL (and an error naming the known sources) for an unknown name. */
const RewardEntry *reward_find(const char *name, SrError *err);
/* e's needs and those of what it wraps. */
unsigned reward_needs(const RewardEntry *e);
/* e's parameters for the shared rules of policy_args.h (kind "reward
 * source", generic flag "--reward-arg"). */
ParamOwner reward_owner(const RewardEntry *e);
/* Opens the source called name, after checking its arguments and needs:
 * ctx->args when ctx->entry is that source (the command line's values),
 * otherwise its defaults (a program or test that sets neither, or the inner
 * source of a wrapper). The source's open sees ctx->entry set. */
int reward_open(const char *name, const RewardContext *ctx, RewardSource **out, SrError *err);
void reward_close(RewardSource *rs);
/* "model, selflik, gold": for help texts and errors. */
const char *reward_names(void);

/* A wrapper (RewardEntry.wraps): the inner source, opened with ctx and its
 * own defaults, does the work and answers every memory question; the
 * wrapper's score is adjust(self, candidate, inner score). self is the
 * wrapper's own state (freed with free_self, may be NULL); detail describes
 * it in --json. */
typedef double (*RewardAdjust)(const void *self, const RewardCand *c, double inner_score);
int reward_wrap_open(const RewardContext *ctx, const char *detail, RewardAdjust adjust, void *self,
                     void (*free_self)(void *), RewardSource **out, SrError *err);

/* A source without a cache or per-candidate state: score applied to each
 * candidate with ctx->args (copied) and self, which is freed with free_self
 * (may be NULL) when the source closes, or here on failure. A source whose
 * self is nothing needs no open at all (RewardEntry.score); one that builds
 * something when opened (gold: its lexicon) builds it and calls this. */
int reward_stateless_open(const RewardContext *ctx, const char *detail, RewardScoreFn score,
                          void *self, void (*free_self)(void *), RewardSource **out,
                          SrError *err);

#endif
