/* search_batch.c - batch mode (search_batch.h; issue 16, batch.h): many
 * prompts on models loaded once, one JSON line (or, for record, one record
 * file) per prompt, --resume and --shard. */
#define _POSIX_C_SOURCE 200809L
#include "cli/search_batch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/progress.h"
#include "cli/batch.h"
#include "cli/search_output.h"
#include "cli/search_prompt.h"
#include "cli/search_record.h"
#include "cli/search_report.h"
#include "search/record.h"

/* record --prompts: DIR/ID.rec per prompt, so that replay and compare read
 * them as they read any record (a record holds one prompt). */
static int record_path(const char *dir, const char *id, char *out, size_t cap, SrError *err) {
    size_t n = strlen(id);
    int ok = n > 0 && n <= 200 && id[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char c = id[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        return sr_fail(err, "--prompts: id '%s' cannot name a record file (record needs ids of "
                            "letters, digits, '.', '_', '-', not starting with '.')", id);
    snprintf(out, cap, "%s/%s.rec", dir, id);
    return 0;
}

/* Every record path is checked before the first run: a name that cannot be
 * a file, or (without --resume) a record there already, stops the batch
 * before it costs anything. */
static int record_batch_check(const SearchOpts *o, const BatchPrompts *bp, SrError *err) {
    struct stat st;
    if (stat(o->output, &st) != 0 && mkdir(o->output, 0777) != 0)
        return sr_fail(err, "--output: %s: cannot create the folder", o->output);
    if (stat(o->output, &st) != 0 || !S_ISDIR(st.st_mode))
        return sr_fail(err, "--output: %s: not a folder (record --prompts writes ID.rec files "
                            "into one)", o->output);
    for (int i = 0; i < bp->n; i++) {
        char path[4400];
        if (record_path(o->output, bp->items[i].id, path, sizeof path, err) != 0) return -1;
        if (!o->resume && stat(path, &st) == 0)
            return sr_fail(err, "--output: %s exists (--resume skips the prompts already "
                                "recorded; remove it to record again)", path);
    }
    return 0;
}

/* Whether prompt i was done by an earlier run (--resume). */
static int batch_done(const SearchOpts *o, const SearchSession *s, const BatchPrompt *q) {
    if (o->method != SEARCH_CLI_RECORD) return batch_out_has(s->out, q->id);
    char path[4400];
    struct stat st;
    return record_path(o->output, q->id, path, sizeof path, NULL) == 0 && stat(path, &st) == 0;
}


/* Flags that say where a batch reads and writes, not what it computes:
 * left out of the fingerprint, so a resumed run may move its files. */
static int batch_only_flag(const char *a, int *takes_value) {
    /* --shard picks which prompts run, not what a line holds: a shard's
     * lines equal the unsharded run's */
    static const char *const VAL[] = {"--prompts", "-f", "--output", "-o", "--threads", "-t",
                                      "--shard"};
    static const char *const SW[] = {"--resume", "--progress", "--no-progress"};
    *takes_value = 0;
    for (size_t i = 0; i < sizeof SW / sizeof SW[0]; i++)
        if (strcmp(a, SW[i]) == 0) return 1;
    for (size_t i = 0; i < sizeof VAL / sizeof VAL[0]; i++) {
        size_t n = strlen(VAL[i]);
        if (strncmp(a, VAL[i], n) == 0 && a[n] == '=') return 1;
        if (strcmp(a, VAL[i]) == 0) return *takes_value = 1, 1;
    }
    return 0;
}

/* What made a batch line: FNV-1a 64 over the command, its flags as given
 * (batch_only_flag's aside), the models' content hashes, the prompt's text
 * and its seed. --resume keeps a line only when this matches, so that a
 * file continued with other flags, another model, an edited prompt or a
 * line of another run is refused instead of silently mixed. */
static int batch_fingerprint(SearchSession *s, const SearchOpts *o, const BatchPrompt *q, uint64_t seed,
                             char out[32], SrError *err) {
    int want_rm = o->reward && (reward_needs(o->reward_entry) & REWARD_NEEDS_MODEL);
    if (session_hashes(s, o, want_rm, err) != 0) return -1;
    uint64_t h = record_fnv1a(RECORD_FNV_OFFSET, "specrej-batch-1", 16);
    h = record_fnv1a(h, SEARCH_METHOD_NAMES[o->method], strlen(SEARCH_METHOD_NAMES[o->method]) + 1);
    for (int i = 1; i < o->argc; i++) {
        int skip_value;
        if (batch_only_flag(o->argv[i], &skip_value)) {
            i += skip_value;
            continue;
        }
        h = record_fnv1a(h, o->argv[i], strlen(o->argv[i]) + 1);
    }
    uint64_t hashes[2] = {s->gen_hash, want_rm ? s->rm_hash : 0};
    h = record_fnv1a(h, hashes, sizeof hashes);
    h = record_fnv1a(h, q->text, strlen(q->text) + 1);
    uint64_t sd = q->has_seed ? q->seed : seed;
    h = record_fnv1a(h, &sd, sizeof sd);
    snprintf(out, 32, "fnv1a64:%016llx", (unsigned long long)h);
    return 0;
}

typedef struct FpCtx {
    SearchSession *s;
    const SearchOpts *o;
    const BatchPrompts *bp;
    uint64_t seed;
} FpCtx;

static int fp_of(void *user, int i, char out[32], SrError *err) {
    FpCtx *c = user;
    return batch_fingerprint(c->s, c->o, &c->bp->items[i], c->seed, out, err);
}

/* A prompt that cannot run (too long for a context, not encodable) gets a
 * line of its own saying why, and the batch goes on. */
static int batch_error_line(SearchSession *s, const SearchOpts *o, const char *why, SrError *err) {
    cJSON *j = output_begin("error");
    if (!j) return sr_fail(err, "--output: out of memory");
    cJSON_AddStringToObject(j, "method", SEARCH_METHOD_NAMES[o->method]);
    cJSON_AddStringToObject(j, "error", why);
    int rc = search_report_emit(s, o, j, err);
    cJSON_Delete(j);
    return rc;
}

/* stop's total: a prompt's share of the candidates left, with `still`
 * prompts (itself included) to run: an even share, at least one, so that
 * what a prompt leaves unused goes to the prompts after it. */
static int share_of(long long left, int still) {
    return left / still > 0 ? (int)(left / still) : 1;
}

/* --resume with a budget the prompts share (stop's total): what is left
 * after the lines already written, so that the prompts still to run get
 * the shares an uninterrupted run gives them. Sound only when those lines
 * are the file's first prompts in order (a run cut short), each with the
 * share the same sharing gives it: else refused, saying which line. An
 * error line (a prompt that could not run) started no candidate. */
static int shared_left_on_resume(const BatchOut *out, const BatchPrompts *bp, long long *left,
                                 SrError *err) {
    for (int k = 0; k < out->n_done; k++) {
        if (k >= bp->n || strcmp(out->ids[k], bp->items[k].id) != 0)
            return sr_fail(err, "--resume: %s: line %d (id '%s') is not prompt %d of the file: "
                                "with --policy-arg total the prompts share candidates in file "
                                "order, so only a run cut short (its first lines, in order) "
                                "can be resumed", out->path, k + 1, out->ids[k], k + 1);
        int want = share_of(*left, bp->n - k), errline = out->started[k] < 0;
        if (!errline && out->allowance[k] != want)
            return sr_fail(err, "--resume: %s: line %d (id '%s') could plan %d candidates where "
                                "this file's sharing of --policy-arg total gives %d (another "
                                "prompts file?); refused", out->path, k + 1, out->ids[k],
                           out->allowance[k], want);
        *left -= errline ? 0 : out->started[k];
    }
    return 0;
}

/* One prompt of the batch: the flags as given, this prompt's text and seed. */
static int batch_one(SearchSession *s, SearchOpts *o, const BatchPrompt *q, uint64_t seed, SrError *err) {
    session_reset_run(s);
    o->prompt = q->text;
    o->seed = q->has_seed ? q->seed : seed;
    s->id = q->id;
    if (o->method != SEARCH_CLI_RECORD && batch_fingerprint(s, o, q, seed, s->fp, err) != 0)
        return -1;
    if (o->method != SEARCH_CLI_RECORD) return prompt_run(s, o, err);
    char path[4400];
    if (record_path(o->output, q->id, path, sizeof path, err) != 0) return -1;
    return search_record_one(s, o, path, err);
}

int search_batch_main(SearchSession *s, SearchOpts *o, SrError *err) {
    BatchPrompts bp;
    BatchOut out;
    Progress pr;
    progress_init(&pr, o->progress > 0 || (o->progress == 0 && isatty(STDERR_FILENO)),
                  SEARCH_METHOD_NAMES[o->method], "prompts");
    if (batch_prompts_load(o->prompts, &bp, err) != 0) return -1;
    if (o->shard_n) batch_prompts_shard(&bp, o->shard_i, o->shard_n);
    int rc = -1, skipped = 0, ran = 0, failed_prompts = 0;
    uint64_t seed = o->seed;
    memset(&out, 0, sizeof out);
    out.fd = -1;
    if (o->method == SEARCH_CLI_RECORD ? record_batch_check(o, &bp, err) != 0
                                       : batch_out_open(&out, o->output, o->resume, err) != 0)
        goto done;
    s->out = o->method == SEARCH_CLI_RECORD ? NULL : &out;
    if (o->reward && (reward_needs(o->reward_entry) & REWARD_NEEDS_MODEL) &&
        model_load_with(o->reward, &o->load, &s->rm, err) != 0)
        goto done;
    FpCtx fc = {s, o, &bp, seed};
    if (o->method != SEARCH_CLI_RECORD && batch_out_check(&out, &bp, fp_of, &fc, err) != 0)
        goto done;
    /* candidates the prompts share, in file order (search_opts_shared_total;
     * no --shard with it; --resume: less what the lines written used) */
    long long left = search_opts_shared_total(o);
    if (left > 0 && left < bp.n) {
        sr_fail(err, "--policy-arg total: %lld candidates cannot give each of the %d prompts one",
                left, bp.n);
        goto done;
    }
    if (left > 0 && shared_left_on_resume(&out, &bp, &left, err) != 0) goto done;
    for (int i = 0; i < bp.n; i++) {
        if (batch_done(o, s, &bp.items[i])) {
            skipped++;
            continue;
        }
        progress_update(&pr, skipped + ran, bp.n);
        SrError e = {{0}};
        if (left > 0) o->cand_allowance = share_of(left, bp.n - i);
        int r = batch_one(s, o, &bp.items[i], seed, &e);
        if (left > 0) left -= s->res.stats.candidates_started;
        if (r == PROMPT_CANNOT_RUN) {
            failed_prompts++;
            if (o->method == SEARCH_CLI_RECORD)
                fprintf(stderr, "specrej: prompt '%s' not recorded: %s\n", bp.items[i].id, e.msg);
            else if (batch_error_line(s, o, e.msg, err) != 0)
                goto done;
        } else if (r != 0) {
            sr_fail(err, "prompt '%s': %s", bp.items[i].id, e.msg);
            goto done;
        }
        ran++;
        progress_update(&pr, skipped + ran, bp.n);
    }
    rc = 0;
done:
    progress_finish(&pr, skipped + ran, bp.n, NULL); /* ends the line before any message */
    if (rc == 0 && skipped > 0)
        fprintf(stderr, "specrej: --resume: %d prompts were already done, %d ran now\n", skipped,
                ran);
    if (rc == 0 && failed_prompts > 0)
        fprintf(stderr, "specrej: %d prompts could not run (%s)\n", failed_prompts,
                o->method == SEARCH_CLI_RECORD ? "see above" : "their lines say why: \"kind\": "
                                                              "\"error\"");
    s->out = NULL;
    batch_out_close(&out, rc != 0);
    batch_prompts_free(&bp);
    return rc;
}

