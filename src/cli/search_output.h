/* search_output.h - machine-readable output of a search, in the versioned
 * layout of docs/output-schema.md (JSON Schema:
 * docs/schema/specrej-output.schema.json): the --trace file (JSON lines: a
 * header with the run's parameters, one line per decision point, a closing
 * "final" line) and the pieces of --json. Statistics come from the one
 * table (search/search_stats.h). Scores are printed at full precision
 * everywhere. Files appear atomically (fileio.h).
 *
 * For teaching (specrej view, --explain), each candidate entry of a decision
 * line also has "text": its response so far, decoded and made valid UTF-8
 * (utf8.h), or null when the run has no tokenizer (an id-only run); and the
 * final line has "outcomes": [{"i", "len", "score", "finished",
 * "rejected_at", "text"}], every candidate as it ended (its last score: a
 * partial one for those cut), in index order, so that what happened after
 * the last decision is drawn too. */
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
    const Tokenizer *tok; /* borrowed; NULL: no "text" (null) */
} TraceWriter;

int trace_open(TraceWriter *tw, const char *path, SrError *err);
/* The first line: output_begin("trace") plus "method", the run's params
 * (taken over: freed here), "prompt" (the text made valid UTF-8, null for
 * an id-only run) and "prompt_ids" (after the template). */
int trace_header(TraceWriter *tw, const char *method, cJSON *params, const char *prompt,
                 const int *prompt_ids, int n_prompt_ids, SrError *err);
/* A DecisionFn: pass the TraceWriter as user. */
int trace_decision(void *tw, const DecisionRecord *rec, SrError *err);
/* Writes the final line and commits the file. */
int trace_finish(TraceWriter *tw, const SearchResult *res, SrError *err);
/* Deletes the partial file (error paths). */
void trace_abort(TraceWriter *tw);

/* {"schema_version", "specrej_version", "kind"}: the start of every JSON
 * document specrej writes; NULL on allocation failure. */
cJSON *output_begin(const char *kind);

/* The table's statistics whose flags have none of exclude; NULL on
 * allocation failure. */
cJSON *search_stats_json(const SearchStats *st, int exclude);
/* {"wave": 1-based, statistics after that wave} per wave. */
cJSON *search_wave_costs_json(const SearchResult *r);
/* The text output's "cost:" and "time:" lines. */
void search_stats_print(FILE *f, const SearchStats *st);

/* Prints obj (pretty) to path ("-" = stdout) atomically. */
int json_write_file(const char *path, const cJSON *obj, SrError *err);

/* c's response so far, decoded by tok and made valid UTF-8, malloc'd in
 * *text; *text = NULL when tok is NULL or cannot decode it. -1 only when out
 * of memory. */
int candidate_text(const Tokenizer *tok, const SearchCandidate *c, char **text, SrError *err);


#endif
