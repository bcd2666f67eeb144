/* search_batch.h - batch mode of the search commands (`--prompts FILE`;
 * issue 16; the files: batch.h). */
#ifndef SPECREJ_SEARCH_BATCH_H
#define SPECREJ_SEARCH_BATCH_H

#include "base/error.h"
#include "cli/search_opts.h"
#include "cli/search_session.h"

/* Every prompt of o->prompts (its --shard) on the session's generator: one
 * JSON line per prompt to --output (default stdout), or for record one
 * ID.rec per prompt in the --output folder; --resume skips those done. A
 * prompt that cannot run gets a line (record: a message) saying why and the
 * batch goes on. */
int search_batch_main(SearchSession *s, SearchOpts *o, SrError *err);

#endif
