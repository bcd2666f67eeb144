/* search_session.h - everything a run holds, loaded once for every prompt
 * of a batch (models, tokenizer, gold judge, content hashes) or made per
 * prompt (prompt and stop ids, the reward source, the result); freed in one
 * place. */
#ifndef SPECREJ_SEARCH_SESSION_H
#define SPECREJ_SEARCH_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/intvec.h"
#include "base/progress.h"
#include "cli/batch.h"
#include "cli/search_opts.h"
#include "cli/search_output.h"
#include "runtime/model.h"
#include "search/record.h"
#include "search/replay.h"
#include "search/reward.h"
#include "search/search.h"
#include "text/gold.h"
#include "text/tokenizer.h"

/* session_load_prompt, session_open_reward, prompt_run, search_record_one:
 * this prompt cannot run (its text does not fit a context or the tokenizer;
 * err says why), which in a batch is the prompt's own result, not the
 * batch's end. */
#define PROMPT_CANNOT_RUN (-3)

/* Everything a run holds; freed in one place. */
typedef struct SearchSession {
    Model *gen;
    Tokenizer *tok;
    RewardSource *rs;
    GoldJudge *gold;
    IntVec prompt, stops;
    int *list, n_list, *closing, n_closing;
    SearchResult res;
    TraceWriter trace;
    char *response;
    size_t response_len;
    unsigned char *sampleable; /* NULL when the tokenizer decodes every id */
    Record rec;        /* replay: the record, and its generator and source */
    Replay replay;
    int replaying;
    int cand_limit;    /* replay: the record's candidates */
    /* loaded once for every prompt of a batch */
    Model *rm;         /* the reward model, lent to each prompt's source */
    int tok_tried;     /* the generator's tokenizer was looked for */
    SrError tok_err;   /* why it did not load */
    Progress progress; /* the search's line (one run) */
    BatchOut *out;     /* batch mode: where each prompt's line goes */
    const char *id;    /* batch mode: the prompt's id */
    char fp[32];       /* batch mode: the prompt's fingerprint (batch_fingerprint) */
    /* content hashes of the loaded models, made once per session: every
     * prompt of a batch and both --json and --trace report them */
    uint64_t gen_hash, rm_hash;
    int gen_hashed, rm_hashed;
} SearchSession;

/* Frees what one prompt's run made, keeping the models, the tokenizer and
 * the gold judge for the next prompt. */
void session_reset_run(SearchSession *s);
void session_free(SearchSession *s);
/* The generator's tokenizer (once), the prompt's ids (through the template,
 * or --prompt-ids) and the stop ids. */
int session_load_prompt(SearchSession *s, const SearchOpts *o, SrError *err);
/* s->rs: the reward source of o (generate: one needing only the generator). */
int session_open_reward(SearchSession *s, const SearchOpts *o, SrError *err);
/* The search's parameters from o and the session (stop ids, sampling mask,
 * progress line). */
int session_fill_params(SearchSession *s, const SearchOpts *o, SearchParams *p, SrError *err);
/* The generator's (and, want_rm, the reward model's) content hash, read from
 * the files once per session. */
int session_hashes(SearchSession *s, const SearchOpts *o, int want_rm, SrError *err);

#endif
