/* search_report.h - a finished run's output: the answer as text, or its
 * --json object (in batch mode one compact line with "id" and
 * "fingerprint"), in the layout of docs/output-schema.md. A replay reports
 * what the live run reported (timings aside, plus "replayed": true). */
#ifndef SPECREJ_SEARCH_REPORT_H
#define SPECREJ_SEARCH_REPORT_H

#include <cJSON.h>

#include "base/error.h"
#include "cli/search_opts.h"
#include "cli/search_session.h"
#include "search/search.h"

/* Every parameter of the run (docs/output-schema.md): what reproduces it;
 * NULL with err on failure. */
cJSON *search_report_params(SearchSession *s, const SearchOpts *o, const SearchParams *p,
                            SrError *err);
/* The answer of s->res: decoded, judged by the gold lexicon, printed as text
 * or written as --json (or the batch line). */
int search_report_finish(SearchSession *s, const SearchOpts *o, const SearchParams *p,
                         SrError *err);
/* j to --json (pretty), or in batch mode as one compact line of the output
 * with "id" first. j stays the caller's. */
int search_report_emit(SearchSession *s, const SearchOpts *o, cJSON *j, SrError *err);

#endif
