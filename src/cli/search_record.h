/* search_record.h - record and replay from the command line (issue 14;
 * src/search/replay.h, docs/record-format.md). */
#ifndef SPECREJ_SEARCH_RECORD_H
#define SPECREJ_SEARCH_RECORD_H

#include "base/error.h"
#include "cli/search_opts.h"
#include "cli/search_session.h"

/* A replay's session: the record o->record loaded and checked against the
 * flags, which then take the record's sampling, prompt and stop ids; the
 * generator's tokenizer when it is still where it was recorded. */
int search_replay_setup(SearchSession *s, SearchOpts *o, SrError *err);
/* One record file: Best-of-N on the session's prompt (o->prompt or
 * o->prompt_ids) with every prefix scored, written to path, and two lines
 * on stdout saying what was recorded. PROMPT_CANNOT_RUN: see search_session.h. */
int search_record_one(SearchSession *s, const SearchOpts *o, const char *path, SrError *err);

#endif
