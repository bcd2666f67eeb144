/* batch.h - the files of batch mode (`--prompts FILE`): the prompt list and
 * the JSON-lines output that a re-run with --resume continues.
 *
 * Prompt file ("-" = stdin), UTF-8 text, one prompt per line; each line is
 * read on its own:
 *  - a line whose first non-blank byte is '{' is a JSON object with "prompt"
 *    (a string, required), "id" (a string or an integer, optional) and
 *    "seed" (optional: this prompt's --seed; an integer in [0, 2^53) as a JSON
 *    number, or any integer in [0, 2^64-1] as a string of digits, because a
 *    JSON number above 2^53 is read as the nearest double: another seed);
 *    other keys are ignored, so a JSONL file made for another tool can be
 *    read as it is; nothing but blanks may follow the object, and a "\u0000"
 *    in a prompt or id is refused (C strings would cut the text there);
 *  - any other line is the prompt text itself (a trailing "\r" dropped);
 *  - blank lines are skipped; a UTF-8 byte-order mark opening the file is
 *    dropped (editors on Windows write one).
 * A prompt without an id is named by its line number ("1" for the first
 * line), so ids stay put when blank lines come and go. Ids must be unique
 * (resume skips by id). A prompt that is plain text but starts with '{' must
 * be written as a JSON line.
 *
 * Output: one line per finished prompt, written with a single write() of
 * the whole line, so an interrupted run leaves complete lines and at most
 * one partial last line. Opening for --resume cuts that partial line off and
 * reads the ids of the complete ones. */
#ifndef SPECREJ_BATCH_H
#define SPECREJ_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strmap.h"

typedef struct BatchPrompt {
    char *id;
    char *text;
    uint64_t seed;  /* this prompt's seed when has_seed; else the run's --seed */
    int has_seed;
} BatchPrompt;

typedef struct BatchPrompts {
    BatchPrompt *items;
    int n;
} BatchPrompts;

/* Reads and validates the whole file first, so that a bad line 90 fails
 * before prompt 1 runs. Errors name the file and the line. */
int batch_prompts_load(const char *path, BatchPrompts *out, SrError *err);
void batch_prompts_free(BatchPrompts *p);

/* --shard I/N: keeps the prompts whose index (0-based, in file order) is
 * I - 1 modulo N, in order, so N shards split any file evenly and, merged
 * line by line in turn (README, "Batch mode"), give the unsharded order.
 * Ids are the file's, so they stay unique across shards. */
void batch_prompts_shard(BatchPrompts *p, int i, int n);

typedef struct BatchOut {
    int fd;          /* 1 for stdout */
    const char *path;
    StrMap done;     /* ids already in the file (--resume); keys are ids[] */
    char **ids;
    char **fps;      /* each line's "fingerprint" (NULL: the line has none) */
    /* each line's params.budget.candidate_allowance and stats.candidates_started
     * (-1: absent), from which --resume rebuilds a budget of candidates that
     * the prompts share (stop's total) */
    int *allowance, *started;
    int n_done;
    int created;     /* the file did not exist: a batch that fails before its
                        first line removes it (batch_out_close) */
    int lines;       /* lines this run wrote */
} BatchOut;

/* path NULL or "-": stdout (no resume). A file that exists and is not
 * empty is refused unless resume is set; with resume it is continued. */
int batch_out_open(BatchOut *b, const char *path, int resume, SrError *err);
/* Whether the output already holds a line with this id. */
int batch_out_has(const BatchOut *b, const char *id);
/* --resume: checks every kept line against the prompts: its id must be one
 * of theirs and its "fingerprint" the one fp(i) gives for that prompt (the
 * command, flags, models, prompt text and seed that made it). A line that
 * fails names itself and why. */
int batch_out_check(const BatchOut *b, const BatchPrompts *p,
                    int (*fp)(void *user, int i, char out[32], SrError *err), void *user,
                    SrError *err);
/* Writes line (no newline in it) plus "\n" with one write(). */
int batch_out_write(BatchOut *b, const char *line, SrError *err);
/* Closes; failed (the batch did not finish) and no line written to a file
 * this run created: the file is removed, so a failed batch leaves none. */
void batch_out_close(BatchOut *b, int failed);

#endif
