/* explain.c - --explain: a run told in words on stderr, decision by
 * decision (explain.h). */
#include "cli/explain.h"

#include <stdlib.h>
#include <string.h>

#include "cli/search_output.h"

/* Text shown per candidate, in bytes (cut at a character boundary). */
#define SHOWN_BYTES 64

/* Prints text on one line: newlines and tabs as visible escapes, at most
 * SHOWN_BYTES bytes, with "..." when shortened. text is valid UTF-8, so
 * stopping before a continuation byte never splits a character. */
static void print_short(FILE *f, const char *text) {
    size_t n = strlen(text), end = n > SHOWN_BYTES ? SHOWN_BYTES : n;
    while (end < n && ((unsigned char)text[end] & 0xC0) == 0x80) end--;
    fputc('"', f);
    for (size_t i = 0; i < end; i++) {
        if (text[i] == '\n') fputs("\\n", f);
        else if (text[i] == '\t') fputs("\\t", f);
        else if (text[i] == '"') fputs("\\\"", f);
        else fputc(text[i], f);
    }
    fputs(end < n ? "...\"" : "\"", f);
}

static int print_cand(const Explainer *ex, const char *role, const SearchCandidate *c,
                      SrError *err) {
    char *text;
    if (candidate_text(ex->tok, c, &text, err) != 0) return -1;
    fprintf(ex->out, "    %-9s #%-4d %+9.4f  %3d tokens%s  ", role, c->index, c->score,
            c->tokens.len, c->state == CAND_FINISHED ? ", finished" : "          ");
    if (text) print_short(ex->out, text);
    else fputs("(no text: an id-only run)", ex->out);
    fputc('\n', ex->out);
    free(text);
    return 0;
}

static double kib(size_t bytes) { return (double)bytes / 1024.0; }

/* The kept candidates that stayed live, i.e. not dropped for memory. */
static int n_kept_in_batch(const DecisionRecord *rec) {
    int n = 0;
    for (int i = 0; i < rec->n_keep; i++) n += rec->ranked[i]->in_batch;
    return n;
}

int explain_decision(void *user, const DecisionRecord *rec, SrError *err) {
    const Explainer *ex = user;
    FILE *f = ex->out;
    int n = rec->n_ranked, keep = rec->n_keep;
    fprintf(f, "decision %d at %d tokens (wave %d): %d candidates in the batch; KV in use "
               "%.1f KiB of the %.1f KiB budget (%.0f%%)\n",
            rec->decision, rec->step, rec->wave + 1, n, kib(rec->kv_bytes), kib(rec->kv_limit),
            rec->kv_limit ? 100.0 * (double)rec->kv_bytes / (double)rec->kv_limit : 0.0);
    fprintf(f, "  cut-off score %+.4f (rank %d of %d): keep %d, cut %d", rec->cutoff, keep, n,
            keep, n - keep);
    if (rec->n_forced)
        fprintf(f, ", then %d more dropped to fit the next step in memory", rec->n_forced);
    fputc('\n', f);
    if (print_cand(ex, "best", rec->ranked[0], err) != 0) return -1;
    if (keep > 1 && print_cand(ex, "last kept", rec->ranked[keep - 1], err) != 0) return -1;
    for (int i = 0; rec->n_forced && i < keep; i++)
        if (!rec->ranked[i]->in_batch && print_cand(ex, "dropped", rec->ranked[i], err) != 0)
            return -1;
    /* the cut: the one just below the cut-off and the worst say enough */
    if (keep < n && print_cand(ex, "cut", rec->ranked[keep], err) != 0) return -1;
    if (n - keep > 2) fprintf(f, "    ... %d more cut ...\n", n - keep - 2);
    if (n - keep > 1 && print_cand(ex, "worst", rec->ranked[n - 1], err) != 0) return -1;
    if (rec->n_forked > 0) /* a branching policy's children (search.h: "Forks") */
        fprintf(f, "  %d stay in the batch, and %d forked from them.\n", n_kept_in_batch(rec),
                rec->n_forked);
    else
        fprintf(f, "  %d stay in the batch.\n", n_kept_in_batch(rec));
    return ex->next ? ex->next(ex->next_user, rec, err) : 0;
}

/* Best-of-N has no decisions: its waves, then its best few. */
static int explain_waves(const Explainer *ex, const SearchResult *res, SrError *err) {
    FILE *f = ex->out;
    for (int w = 0; res->wave_stats && w < res->stats.waves; w++) {
        int before = w ? res->wave_stats[w - 1].candidates_started : 0;
        fprintf(f, "wave %d: %d candidates at once, each run to its end\n", w + 1,
                res->wave_stats[w].candidates_started - before);
    }
    const SearchCandidate **order = sr_malloc_array((size_t)(res->n ? res->n : 1),
                                                    sizeof *order, err);
    if (!order) return -1;
    for (int i = 0; i < res->n; i++) order[i] = &res->cands[i];
    /* the top three by score, ties to the lower index (the driver's rank) */
    int shown = res->n < 3 ? res->n : 3, rc = 0;
    for (int k = 0; k < shown; k++) {
        for (int j = k + 1; j < res->n; j++)
            if (order[j]->score > order[k]->score ||
                (order[j]->score == order[k]->score && order[j]->index < order[k]->index)) {
                const SearchCandidate *t = order[k];
                order[k] = order[j], order[j] = t;
            }
        if (k == 0) fprintf(f, "ranked by score, of %d:\n", res->n);
        if ((rc = print_cand(ex, k == 0 ? "best" : "next", order[k], err)) != 0) break;
    }
    free(order);
    return rc;
}

int explain_answer(const Explainer *ex, const SearchResult *res, SrError *err) {
    FILE *f = ex->out;
    const SearchStats *st = &res->stats;
    if (st->decision_points == 0 && explain_waves(ex, res, err) != 0) return -1;
    if (res->best < 0) {
        fprintf(f, "answer: none (no candidate finished)\n");
    } else {
        fprintf(f, "answer:\n");
        if (print_cand(ex, "answer", &res->cands[res->best], err) != 0) return -1;
    }
    fprintf(f, "cost: %d candidates, %d decision points, %lld tokens generated, %lld scored; "
               "generator %.4g FLOPs, reward %.4g FLOPs; peak KV %.1f KiB of %.1f KiB\n",
            st->candidates_started, st->decision_points, st->tokens_generated, st->tokens_scored,
            st->gen_flops, st->rm_flops, kib(st->peak_kv_bytes), kib(st->kv_budget));
    return 0;
}
