/* explain.h - --explain: a run told in words on a stream (stderr, so that
 * stdout keeps the answer or the JSON), for teaching.
 *
 * Each decision point becomes a short paragraph: the batch size, the KV in
 * use against the budget, the cut-off score, the best, the last kept and the
 * cut candidates with their text so far (shortened to one line); then the
 * answer and what it cost. Best-of-N has no decision points: its waves and
 * its ranking are told at the end instead.
 *
 * An Explainer is a DecisionFn's user; it passes every record on to next
 * (the --trace writer, or NULL) so both can watch one run. */
#ifndef SPECREJ_EXPLAIN_H
#define SPECREJ_EXPLAIN_H

#include <stdio.h>

#include "base/error.h"
#include "search/search.h"
#include "text/tokenizer.h"

typedef struct Explainer {
    FILE *out;
    const Tokenizer *tok; /* borrowed; NULL: ids only, no text */
    DecisionFn next;      /* NULL for none */
    void *next_user;
} Explainer;

/* A DecisionFn: pass the Explainer as user. */
int explain_decision(void *ex, const DecisionRecord *rec, SrError *err);

/* The answer (res->best, -1 for none) and the run's cost. */
int explain_answer(const Explainer *ex, const SearchResult *res, SrError *err);

#endif
