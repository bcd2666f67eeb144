/* search_opts.h - the flags of generate, bon, spr, record and replay, as
 * given and as resolved: every check that needs no file is made while
 * parsing, so those mistakes are usage errors (exit 2) found before a
 * model is read. */
#ifndef SPECREJ_SEARCH_OPTS_H
#define SPECREJ_SEARCH_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "cli/policy_cli.h"
#include "cli/reward_cli.h"
#include "cli/search_method.h"
#include "cli/select_cli.h"
#include "search/policy.h"
#include "search/record.h"
#include "text/template.h"

/* Each method's name, indexed by SearchCliMethod. */
extern const char *const SEARCH_METHOD_NAMES[];

typedef struct SearchOpts {
    SearchCliMethod method;
    const char *model, *tokenizer, *reward, *reward_tokenizer, *reward_source;
    char model_buf[4096], reward_buf[4096]; /* a shipped model's path (datadir_shipped) */
    int shard_i, shard_n; /* --shard I/N; shard_n 0: all prompts */
    const char *prompt, *prompt_ids, *stop_ids, *closing_ids;
    const char *template_name, *reward_template, *lexicon, *json, *trace;
    const char *system, *thinking; /* --system TEXT, --thinking on|off */
    TemplateOpts chat;             /* both models' templates get them (parse_opts) */
    ModelLoadOptions load;         /* --weights, for both models (parse_opts: AUTO) */
    const char *prompt_kv;
    long long n, max_batch, max_new, top_k, budget_candidates;
    long long kv_block;         /* --kv-block; 0: not given (KV_BLOCK_DEFAULT) */
    uint64_t seed;              /* every 64-bit value, exactly */
    int seed_given;
    double temperature, top_p;
    size_t kv_budget;
    int print_ids, help, explain;
    PolicyCli pcli;             /* spr and replay: the policy flags, as given */
    const Policy *policy;       /* spr: resolved from them (parse_opts) */
    PolicyArgs policy_args;
    RewardCli rcli;                 /* --reward-arg and the sources' own flags, as given */
    const RewardEntry *reward_entry; /* bon, spr, record: --reward-source, NULL if unknown
                                        (reward_open then says so) */
    PolicyArgs reward_args;         /* its arguments, resolved from rcli */
    SelectCli scli;                 /* bon, spr, replay: --select, --lambda, as given */
    SelectParams select;            /* resolved from them (parse_opts) */
    /* record and replay (issue 14) */
    const char *output, *record;
    int replay;                     /* method is then the simulated one (bon or spr) */
    /* batch mode (issue 16) and conventions */
    const char *prompts;            /* --prompts FILE: many prompts, models loaded once */
    int resume, progress;           /* progress: 1 --progress, -1 --no-progress, 0 auto */
    int cand_allowance;             /* batch mode: this prompt's share of the candidates the
                                       prompts share (search_batch.c); 0: none */
    int short_n;                    /* the cap came as -n (vLLM's n is a sample count) */
    long long threads;
    int argc;                       /* the command line, for batch fingerprints */
    char **argv;
    /* where each sampling value came from: "flag", "generation_config", "default" */
    const char *src_temperature, *src_top_k, *src_top_p, *src_max_new;
} SearchOpts;

/* Parses argv (argv[0] is the command) into o, which starts zeroed with
 * method, argc and argv set; o->help set: nothing else was checked. A
 * replay's method becomes the simulated one (bon or spr), o->replay set. */
int search_opts_parse(SearchOpts *o, int argc, char **argv, SrError *err);
/* The candidates the prompts of a --prompts file share: the value of the
 * policy's parameter `total` (policy_stop.c), 0 when it has none or none
 * is given (and for every method but spr). */
int search_opts_shared_total(const SearchOpts *o);
/* The sampling values not given: the model folder's generation_config.json,
 * else specrej's defaults; o->src_* say which won. */
int search_opts_sampling(SearchOpts *o, SrError *err);
/* A replay's flags against its record, which fixes sampling, seed and length. */
int search_opts_replay_check(const SearchOpts *o, const Record *r, SrError *err);
/* No output may be one of the run's inputs (issue 23): every output path is
 * compared, by device and inode, with every file the run reads. extra: one
 * more input (a replay's recorded generator path), or NULL. */
int search_opts_check_outputs(const SearchOpts *o, const char *extra, SrError *err);
/* The folder holding the tokenizer of a model given without --tokenizer:
 * the model itself when it is a folder, else the folder its file lies in
 * (written to buf). */
const char *model_tokenizer_path(const char *model, char *buf, size_t cap);

#endif
