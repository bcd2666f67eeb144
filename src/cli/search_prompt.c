/* search_prompt.c - one prompt's run on a loaded session (search_prompt.h):
 * --trace, --explain, the search and the answer's output. */
#define _POSIX_C_SOURCE 200809L
#include "cli/search_prompt.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/explain.h"
#include "cli/search_output.h"
#include "cli/search_report.h"

/* The same name, or two names of one existing file. */
static int same_file(const char *a, const char *b) {
    struct stat x, y;
    if (strcmp(a, b) == 0) return 1;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* The run on a prepared session and its output: --json or text (or the
 * batch line), --trace committed last so that a failed run leaves none. */
int prompt_search_and_finish(SearchSession *s, SearchOpts *o, SearchParams *p, SrError *err) {
    /* an unwritable path fails now, not after the run */
    if (o->json && atomic_probe(o->json, err) != 0) return -1;
    if (o->json && o->trace && same_file(o->json, o->trace))
        return sr_fail(err, "--trace: %s is also the --json file (each needs its own)", o->trace);
    if (o->trace) {
        if (trace_open(&s->trace, o->trace, err) != 0) return -1;
        cJSON *params = search_report_params(s, o, p, err);
        if (!params || trace_header(&s->trace, SEARCH_METHOD_NAMES[o->method], params, o->prompt,
                                    s->prompt.data, s->prompt.len, err) != 0)
            return -1;
        p->on_decision = trace_decision;
        p->user = &s->trace;
        s->trace.tok = s->tok;
    }
    Explainer ex = {stderr, s->tok, p->on_decision, p->user};
    if (o->explain) p->on_decision = explain_decision, p->user = &ex;
    if ((s->replaying ? search_run_gen(&s->replay.gen, s->rs, s->prompt.data, s->prompt.len, p,
                                       &s->res, err)
                      : search_run(s->gen, s->rs, s->prompt.data, s->prompt.len, p, &s->res,
                                   err)) != 0)
        return -1;
    if (o->explain && explain_answer(&ex, &s->res, err) != 0) return -1;
    if (search_report_finish(s, o, p, err) != 0) return -1;
    if (o->trace && trace_finish(&s->trace, &s->res, err) != 0) return -1;
    return 0;
}
/* The single run's checks, the run and its output, on the session's
 * loaded models (o->prompt or o->prompt_ids). */
int prompt_run(SearchSession *s, SearchOpts *o, SrError *err) {
    SearchParams p;
    if (session_load_prompt(s, o, err) != 0) return PROMPT_CANNOT_RUN;
    if (session_open_reward(s, o, err) != 0) return PROMPT_CANNOT_RUN; /* a known source from here on */
    if (session_fill_params(s, o, &p, err) != 0) return -1;
    return prompt_search_and_finish(s, o, &p, err);
}

