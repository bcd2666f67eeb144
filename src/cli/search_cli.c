/* search_cli.c - the entry of generate, bon, spr, record and replay
 * (search_cli.h): the flags, then one run, one record, a replay or a batch
 * on a session whose models are loaded once; and a replay kept in memory. */
#define _POSIX_C_SOURCE 200809L
#include "cli/search_cli.h"

#include <stdio.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli/args.h"
#include "cli/explain.h"
#include "cli/search_batch.h"
#include "cli/search_opts.h"
#include "cli/search_prompt.h"
#include "cli/search_record.h"
#include "cli/search_session.h"
#include "cli/search_usage.h"
#include "runtime/model.h"

/* -t/--threads: every parallel loop (OpenMP) from here on. */
static void set_threads(const SearchOpts *o) {
#ifdef _OPENMP
    if (o->threads > 0) omp_set_num_threads((int)o->threads);
#else
    (void)o;
#endif
}

/* -n below this looks like vLLM's n (a sample count) more than a cap. */
#define SHORT_N_NOTE 32

static void note_short_n(const SearchOpts *o) {
    if (!o->short_n || o->max_new >= SHORT_N_NOTE || o->method == SEARCH_CLI_GENERATE ||
        !isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "specrej: note: -n %lld caps each response at %lld tokens (-n is --max-new); "
                    "the candidate count is -N\n", o->max_new, o->max_new);
}

int search_cli_main(SearchCliMethod method, int argc, char **argv, SrError *err) {
    SearchOpts o = {0};
    o.method = method;
    o.argc = argc, o.argv = argv;
    if (search_opts_parse(&o, argc, argv, err) != 0) return ARGS_USAGE;
    if (o.help) {
        search_cli_usage(method);
        return 0;
    }
    set_threads(&o);
    if (search_opts_check_outputs(&o, NULL, err) != 0) return -1;
    if (!o.replay && search_opts_sampling(&o, err) != 0) return -1;
    note_short_n(&o);
    SearchSession s = {0};
    int rc = -1;
    if (o.replay) {
        SearchParams p;
        if (search_replay_setup(&s, &o, err) == 0 && session_fill_params(&s, &o, &p, err) == 0)
            rc = prompt_search_and_finish(&s, &o, &p, err);
    } else if (model_load_with(o.model, &o.load, &s.gen, err) == 0) {
        if (o.prompts) rc = search_batch_main(&s, &o, err);
        else if (method == SEARCH_CLI_RECORD) rc = search_record_one(&s, &o, o.output, err);
        else rc = prompt_run(&s, &o, err);
    }
    if (rc == PROMPT_CANNOT_RUN) rc = -1;
    session_free(&s);
    return rc;
}

int search_cli_replay(int argc, char **argv, const ReplayHooks *hooks, SrError *err) {
    SearchOpts o = {0};
    o.method = SEARCH_CLI_REPLAY;
    o.argc = argc, o.argv = argv;
    if (search_opts_parse(&o, argc, argv, err) != 0) return ARGS_USAGE;
    if (o.help) return sr_fail(err, "replay: --help: not a run's flag");
    o.json = o.trace = NULL, o.progress = -1; /* what replay --json --trace --no-progress wrote */
    set_threads(&o);
    if (search_opts_check_outputs(&o, NULL, err) != 0) return -1;
    note_short_n(&o);
    SearchSession s = {0};
    SearchParams p;
    int rc = -1;
    if (search_replay_setup(&s, &o, err) == 0 && session_fill_params(&s, &o, &p, err) == 0) {
        p.on_decision = hooks->on_decision, p.user = hooks->user;
        Explainer ex = {stderr, s.tok, p.on_decision, p.user};
        if (o.explain) p.on_decision = explain_decision, p.user = &ex;
        if (search_run_gen(&s.replay.gen, s.rs, s.prompt.data, s.prompt.len, &p, &s.res, err) ==
                0 &&
            (!o.explain || explain_answer(&ex, &s.res, err) == 0)) {
            if (s.res.best < 0)
                sr_fail(err, "%s: no candidate finished", SEARCH_METHOD_NAMES[o.method]);
            else
                rc = hooks->on_result(hooks->user, &s.res, &s.rec, err);
        }
    }
    session_free(&s);
    return rc;
}
