/* search_output.h - machine-readable output of a search: the --trace file
 * (JSON lines, one per decision point plus a closing "final" line) and the
 * stats object of --json. Files appear atomically (fileio.h).
 *
 * Trace line (decision): {"decision", "wave", "step" (response length),
 * "ranked" (n), "keep" (policy's count), "forced" (extra drops for memory),
 * "cutoff" (score of the last kept), "kv_bytes" (in use when scored),
 * "kv_peak", "kv_limit", "candidates": [{"i", "len", "score", "finished",
 * "kept"}] in rank order (the kept first: search.h), "kept": [indices],
 * cumulative "gen_flops", "rm_flops", "tokens_generated", "tokens_scored"}.
 * The final line adds "policy": {"name", "args"} when TraceWriter.policy is
 * set (spr: every parameter's value). Scores are rounded to
 * 1e-6 so the golden test survives last-bit differences between BLAS kernels.
 *
 * For teaching (specrej view, --explain), each candidate entry also has
 * "text": its response so far, decoded and made valid UTF-8 (utf8.h), or
 * null when the run has no tokenizer (an id-only run); and the final line has
 * "outcomes": [{"i", "len", "score", "finished", "rejected_at", "text"}], every
 * candidate as it ended (its last score: a partial one for those cut), in
 * index order, so that what happened after the last decision is drawn too. */
#ifndef SPECREJ_SEARCH_OUTPUT_H
#define SPECREJ_SEARCH_OUTPUT_H

#include <cJSON.h>

#include "base/error.h"
#include "base/fileio.h"
#include "search/search.h"
#include "text/tokenizer.h"

typedef struct TraceWriter {
    AtomicFile af;
    int open;
    cJSON *policy;        /* NULL, or the run's policy (owned): the final line's "policy" */
    const Tokenizer *tok; /* borrowed; NULL: no "text" (null) */
} TraceWriter;

int trace_open(TraceWriter *tw, const char *path, SrError *err);
/* A DecisionFn: pass the TraceWriter as user. */
int trace_decision(void *tw, const DecisionRecord *rec, SrError *err);
/* Writes the final line and commits the file. */
int trace_finish(TraceWriter *tw, const SearchResult *res, SrError *err);
/* Deletes the partial file (error paths). */
void trace_abort(TraceWriter *tw);

/* {"gen_flops", "rm_flops", ..., "seconds_other"}; NULL on allocation failure. */
cJSON *search_stats_json(const SearchStats *st);

/* Prints obj (pretty) to path ("-" = stdout) atomically. */
int json_write_file(const char *path, const cJSON *obj, SrError *err);

/* c's response so far, decoded by tok and made valid UTF-8, malloc'd in
 * *text; *text = NULL when tok is NULL or cannot decode it. -1 only when out
 * of memory. */
int candidate_text(const Tokenizer *tok, const SearchCandidate *c, char **text, SrError *err);

/* Rounds to 1e-6 for stable printing. */
double round6(double x);

#endif
