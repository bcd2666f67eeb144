/* search_prompt.h - one prompt's run on a session whose models are loaded. */
#ifndef SPECREJ_SEARCH_PROMPT_H
#define SPECREJ_SEARCH_PROMPT_H

#include "base/error.h"
#include "cli/search_opts.h"
#include "cli/search_session.h"
#include "search/search.h"

/* The run on a prepared session (live, or a replay when s->replaying) and
 * its output: --json or text (or the batch line), --trace committed last so
 * that a failed run leaves none. */
int prompt_search_and_finish(SearchSession *s, SearchOpts *o, SearchParams *p, SrError *err);
/* The prompt's ids, the reward source, the parameters, then the run and its
 * output (o->prompt or o->prompt_ids). PROMPT_CANNOT_RUN: see
 * search_session.h. */
int prompt_run(SearchSession *s, SearchOpts *o, SrError *err);

#endif
