/* batch.c - batch mode's files (batch.h): the --prompts list and the JSON-
 * lines output a --resume continues. */
#define _POSIX_C_SOURCE 200809L
#include "cli/batch.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/json.h"

/* A prompt file is text a person or a script wrote: far below this. */
#define BATCH_MAX_BYTES ((size_t)256 << 20)

/* Reads a whole stream (a file, a pipe or stdin: file_read_all takes
 * regular files only) into a NUL-terminated buffer. */
static int read_stream(const char *path, char **out, size_t *len, SrError *err) {
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return sr_fail(err, "--prompts: %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : sr_fail(err, "--prompts: out of memory");
    while (rc == 0) {
        if (n + 1 >= cap) {
            char *bigger = cap >= BATCH_MAX_BYTES ? NULL : realloc(buf, cap * 2);
            if (!bigger) {
                rc = sr_fail(err, "--prompts: %s: more than %zu bytes", path, BATCH_MAX_BYTES);
                break;
            }
            buf = bigger, cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) rc = sr_fail(err, "--prompts: %s: read error", path);
            break;
        }
    }
    if (!is_stdin) fclose(f);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    buf[n] = 0;
    *out = buf, *len = n;
    return 0;
}

static char *dup_n(const char *s, size_t n, SrError *err) {
    char *d = sr_malloc_array(n + 1, 1, err);
    if (d) memcpy(d, s, n), d[n] = 0;
    return d;
}

/* Whether the JSON text s[0..n) holds the escape \u0000: cJSON decodes it
 * into a NUL that silently ends the C string (the prompt would be cut). */
static int has_nul_escape(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (i + 5 < n && memcmp(s + i + 1, "u0000", 5) == 0) return 1;
        i++; /* skip the escaped character: in "\\\\u0000" (JSON text) the u is text */
    }
    return 0;
}

/* "seed": a JSON number below 2^53 (every integer there is exact as a
 * double, and no other integer reads as one), or a string of digits for the whole 64-bit range. */
static int parse_seed(const cJSON *seed, const char *path, int line, BatchPrompt *p,
                      SrError *err) {
    if (cJSON_IsString(seed)) {
        const char *d = seed->valuestring;
        char *end = NULL;
        errno = 0;
        unsigned long long v = d[0] >= '0' && d[0] <= '9' ? strtoull(d, &end, 10) : 0;
        if (!(d[0] >= '0' && d[0] <= '9') || *end != 0 || errno == ERANGE)
            return sr_fail(err, "--prompts: %s: line %d: \"seed\": \"%.40s\" is not an integer "
                                "in [0, 18446744073709551615]", path, line, d);
        p->seed = (uint64_t)v, p->has_seed = 1;
        return 0;
    }
    double x = cJSON_IsNumber(seed) ? seed->valuedouble : -1;
    if (!cJSON_IsNumber(seed) || !(x >= 0) || x != floor(x))
        return sr_fail(err, "--prompts: %s: line %d: \"seed\" must be an integer >= 0", path,
                       line);
    /* 2^53 itself is where 2^53 + 1 is read too */
    if (x >= 9007199254740992.0)
        return sr_fail(err, "--prompts: %s: line %d: \"seed\" %.17g is not below 2^53, where a JSON "
                            "number is read as the nearest double (another seed); write it as "
                            "a string of digits, \"seed\": \"N\"", path, line, x);
    p->seed = (uint64_t)x, p->has_seed = 1;
    return 0;
}

/* One JSON line into *p. */
static int parse_json_line(const char *path, int line, const char *s, size_t n, BatchPrompt *p,
                           SrError *err) {
    char where[64];
    snprintf(where, sizeof where, "line %d", line);
    cJSON *j = NULL;
    SrError jerr = {{0}};
    if (sr_json_parse(s, n, where, NULL, &j, &jerr) != 0)
        return sr_fail(err, "--prompts: %s: %s", path, jerr.msg);
    int rc = -1;
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "prompt");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
    char num[32];
    if (!cJSON_IsObject(j) || !cJSON_IsString(pr)) {
        sr_fail(err, "--prompts: %s: line %d: a JSON line needs \"prompt\": \"text\"", path, line);
    } else if (has_nul_escape(s, n)) {
        sr_fail(err, "--prompts: %s: line %d: holds \\u0000 (a NUL byte cannot be part of a "
                     "prompt or id)", path, line);
    } else if (id && !cJSON_IsString(id) &&
               !(cJSON_IsNumber(id) && fabs(id->valuedouble) <= 9007199254740992.0 &&
                 id->valuedouble == floor(id->valuedouble))) {
        sr_fail(err, "--prompts: %s: line %d: \"id\" must be a string or an integer (up to "
                     "2^53; a larger one as a string)", path, line);
    } else if (!seed || parse_seed(seed, path, line, p, err) == 0) {
        const char *ids = NULL;
        if (cJSON_IsString(id)) ids = id->valuestring;
        else if (id) snprintf(num, sizeof num, "%lld", (long long)id->valuedouble), ids = num;
        else snprintf(num, sizeof num, "%d", line), ids = num;
        if ((p->id = dup_n(ids, strlen(ids), err)) &&
            (p->text = dup_n(pr->valuestring, strlen(pr->valuestring), err)))
            rc = 0;
    }
    cJSON_Delete(j);
    return rc;
}

static int add_line(BatchPrompts *out, int *cap, const char *path, int line, const char *s,
                    size_t n, SrError *err) {
    size_t b = 0;
    while (b < n && (s[b] == ' ' || s[b] == '\t')) b++;
    if (n > 0 && s[n - 1] == '\r') n--;
    if (b == n) return 0; /* blank */
    if (out->n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        BatchPrompt *bigger = realloc(out->items, (size_t)nc * sizeof *bigger);
        if (!bigger) return sr_fail(err, "--prompts: out of memory");
        out->items = bigger, *cap = nc;
    }
    BatchPrompt *p = &out->items[out->n];
    memset(p, 0, sizeof *p);
    int rc;
    if (s[b] == '{') {
        rc = parse_json_line(path, line, s, n, p, err);
    } else {
        char num[16];
        snprintf(num, sizeof num, "%d", line);
        rc = (p->id = dup_n(num, strlen(num), err)) && (p->text = dup_n(s, n, err)) ? 0 : -1;
    }
    out->n++; /* freed by batch_prompts_free even when half filled */
    if (rc == 0 && p->text[0] == 0)
        rc = sr_fail(err, "--prompts: %s: line %d: empty prompt", path, line);
    if (rc == 0 && p->id[0] == 0)
        rc = sr_fail(err, "--prompts: %s: line %d: empty id", path, line);
    return rc;
}

static int check_unique(const BatchPrompts *p, const char *path, SrError *err) {
    StrMap m;
    if (strmap_init(&m, (size_t)p->n, err) != 0) return -1;
    int rc = 0;
    for (int i = 0; i < p->n && rc == 0; i++) {
        int r = strmap_put(&m, p->items[i].id, strlen(p->items[i].id), i, err);
        if (r < 0) rc = -1;
        else if (r == 0)
            rc = sr_fail(err, "--prompts: %s: id '%s' is given twice (ids must be unique)", path,
                         p->items[i].id);
    }
    strmap_free(&m);
    return rc;
}

int batch_prompts_load(const char *path, BatchPrompts *out, SrError *err) {
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    if (read_stream(path, &text, &len, err) != 0) return -1;
    if (memchr(text, 0, len)) {
        free(text);
        return sr_fail(err, "--prompts: %s: holds a NUL byte (not a text file)", path);
    }
    int cap = 0, line = 0, rc = 0;
    /* a UTF-8 byte-order mark is no part of the first prompt (and would
     * hide a first JSON line's '{') */
    size_t start = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    for (size_t at = start; at < len && rc == 0;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        if (++line == INT32_MAX) rc = sr_fail(err, "--prompts: %s: too many lines", path);
        if (rc == 0) rc = add_line(out, &cap, path, line, text + at, n, err);
        at += n + 1;
    }
    free(text);
    if (rc == 0 && out->n == 0) rc = sr_fail(err, "--prompts: %s: no prompts", path);
    if (rc == 0) rc = check_unique(out, path, err);
    if (rc != 0) batch_prompts_free(out);
    return rc;
}

void batch_prompts_free(BatchPrompts *p) {
    for (int i = 0; i < p->n; i++) free(p->items[i].id), free(p->items[i].text);
    free(p->items);
    memset(p, 0, sizeof *p);
}

/* ---- output ---------------------------------------------------------------- */

/* The integer at obj.a.b, or -1 where there is none. */
static int int_at(const cJSON *j, const char *a, const char *b) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, a), b);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= INT32_MAX &&
                   v->valuedouble == floor(v->valuedouble)
               ? (int)v->valuedouble
               : -1;
}

/* The ids of the complete lines of text[0..len); len ends at a newline. */
static int read_done(BatchOut *b, const char *text, size_t len, SrError *err) {
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    if (!(b->ids = sr_calloc((size_t)lines + 1, sizeof *b->ids, err))) return -1;
    if (!(b->fps = sr_calloc((size_t)lines + 1, sizeof *b->fps, err))) return -1;
    if (!(b->allowance = sr_calloc((size_t)lines + 1, sizeof *b->allowance, err))) return -1;
    if (!(b->started = sr_calloc((size_t)lines + 1, sizeof *b->started, err))) return -1;
    if (strmap_init(&b->done, (size_t)lines + 1, err) != 0) return -1;
    int line = 0;
    for (size_t at = 0; at < len; line++) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = (size_t)(nl - (text + at));
        cJSON *j = NULL;
        SrError jerr = {{0}};
        int ok = sr_json_parse(text + at, n, b->path, NULL, &j, &jerr) == 0;
        const cJSON *id = ok ? cJSON_GetObjectItemCaseSensitive(j, "id") : NULL;
        const cJSON *kind = ok ? cJSON_GetObjectItemCaseSensitive(j, "kind") : NULL;
        const cJSON *fp = ok ? cJSON_GetObjectItemCaseSensitive(j, "fingerprint") : NULL;
        if (!cJSON_IsString(id) || !cJSON_IsString(kind) ||
            (strcmp(kind->valuestring, "result") != 0 && strcmp(kind->valuestring, "error") != 0)) {
            cJSON_Delete(j);
            return sr_fail(err, "--resume: %s: line %d is not a result line of a batch run (no "
                                "\"id\" or \"kind\")", b->path, line + 1);
        }
        b->allowance[b->n_done] = int_at(cJSON_GetObjectItemCaseSensitive(j, "params"), "budget",
                                         "candidate_allowance");
        b->started[b->n_done] = int_at(j, "stats", "candidates_started");
        b->ids[b->n_done] = dup_n(id->valuestring, strlen(id->valuestring), err);
        if (b->ids[b->n_done] && cJSON_IsString(fp))
            b->fps[b->n_done] = dup_n(fp->valuestring, strlen(fp->valuestring), err);
        cJSON_Delete(j);
        if (!b->ids[b->n_done] || (cJSON_IsString(fp) && !b->fps[b->n_done])) return -1;
        const char *k = b->ids[b->n_done++];
        int put = strmap_put(&b->done, k, strlen(k), line, err);
        if (put < 0) return -1;
        if (put == 0)
            return sr_fail(err, "--resume: %s: line %d: id '%s' appears twice", b->path, line + 1,
                           k);
        at += n + 1;
    }
    return 0;
}

/* --resume: cut a partial last line off (an interrupted write), then read
 * the ids of what is left. */
static int resume_file(BatchOut *b, SrError *err) {
    struct stat st;
    if (fstat(b->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return sr_fail(err, "--resume: %s: not a regular file", b->path);
    if ((unsigned long long)st.st_size > BATCH_MAX_BYTES * 16)
        return sr_fail(err, "--resume: %s: too large", b->path);
    size_t size = (size_t)st.st_size;
    char *text = sr_malloc_array(size + 1, 1, err);
    if (!text) return -1;
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(b->fd, text + got, size - got, (off_t)got);
        if (r <= 0) {
            free(text);
            return sr_fail(err, "--resume: %s: read error", b->path);
        }
        got += (size_t)r;
    }
    size_t keep = size;
    while (keep > 0 && text[keep - 1] != '\n') keep--;
    int rc = 0;
    if (keep < size && ftruncate(b->fd, (off_t)keep) != 0)
        rc = sr_fail(err, "--resume: %s: cannot cut the partial last line: %s", b->path,
                     strerror(errno));
    if (rc == 0 && keep < size)
        fprintf(stderr, "specrej: note: %s: dropped a partial last line (%zu bytes) of an "
                        "interrupted run\n", b->path, size - keep);
    if (rc == 0) rc = read_done(b, text, keep, err);
    free(text);
    return rc;
}

int batch_out_open(BatchOut *b, const char *path, int resume, SrError *err) {
    memset(b, 0, sizeof *b);
    b->fd = -1;
    if (!path || strcmp(path, "-") == 0) {
        if (resume) return sr_fail(err, "--resume: needs --output FILE (stdout cannot resume)");
        b->fd = STDOUT_FILENO, b->path = "stdout";
        return strmap_init(&b->done, 1, err);
    }
    b->path = path;
    struct stat pre;
    b->created = stat(path, &pre) != 0;
    b->fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0644);
    if (b->fd < 0) return sr_fail(err, "--output: %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(b->fd, &st) != 0) return sr_fail(err, "--output: %s: %s", path, strerror(errno));
    if (resume) return resume_file(b, err);
    if (S_ISREG(st.st_mode) && st.st_size > 0)
        return sr_fail(err, "--output: %s exists and is not empty (--resume continues it; "
                            "remove it to start again)", path);
    return strmap_init(&b->done, 1, err);
}

int batch_out_has(const BatchOut *b, const char *id) {
    return b->done.slots && strmap_get(&b->done, id, strlen(id)) >= 0;
}

int batch_out_check(const BatchOut *b, const BatchPrompts *p,
                    int (*fp)(void *user, int i, char out[32], SrError *err), void *user,
                    SrError *err) {
    if (b->n_done == 0) return 0;
    StrMap ids;
    if (strmap_init(&ids, (size_t)p->n, err) != 0) return -1;
    int rc = 0;
    for (int i = 0; i < p->n && rc == 0; i++)
        if (strmap_put(&ids, p->items[i].id, strlen(p->items[i].id), i, err) < 0) rc = -1;
    for (int k = 0; k < b->n_done && rc == 0; k++) {
        const char *id = b->ids[k];
        int i = strmap_get(&ids, id, strlen(id));
        char want[32];
        if (i < 0)
            rc = sr_fail(err, "--resume: %s: line %d: id '%s' is not a prompt of this batch "
                              "(a line of another run; refused)", b->path, k + 1, id);
        else if (!b->fps[k])
            rc = sr_fail(err, "--resume: %s: line %d (id '%s') has no fingerprint (not written "
                              "by this specrej's batch mode; refused)", b->path, k + 1, id);
        else if (fp(user, i, want, err) != 0)
            rc = -1;
        else if (strcmp(want, b->fps[k]) != 0)
            rc = sr_fail(err, "--resume: %s: line %d (id '%s') was made by another command, "
                              "flags, model, seed or prompt text than this run; refused (remove "
                              "the line, or write a new --output)", b->path, k + 1, id);
    }
    strmap_free(&ids);
    return rc;
}

int batch_out_write(BatchOut *b, const char *line, SrError *err) {
    size_t n = strlen(line);
    char *buf = sr_malloc_array(n + 2, 1, err);
    if (!buf) return -1;
    memcpy(buf, line, n);
    buf[n] = '\n';
    /* one write() for the line: a run killed now leaves it whole or cut,
     * never interleaved; a short write (disk full) is finished or reported */
    size_t done = 0;
    while (done < n + 1) {
        ssize_t w = write(b->fd, buf + done, n + 1 - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            free(buf);
            return sr_fail(err, "%s: write failed: %s", b->path, file_errstr(w < 0 ? errno : EIO));
        }
        done += (size_t)w;
    }
    free(buf);
    b->lines++;
    return 0;
}

void batch_out_close(BatchOut *b, int failed) {
    if (b->fd > STDERR_FILENO) close(b->fd);
    if (failed && b->created && b->lines == 0 && b->fd > STDERR_FILENO) unlink(b->path);
    for (int i = 0; i < b->n_done; i++) free(b->ids[i]), free(b->fps[i]);
    free(b->ids);
    free(b->fps);
    free(b->allowance), free(b->started);
    if (b->done.slots) strmap_free(&b->done);
    memset(b, 0, sizeof *b);
    b->fd = -1;
}

void batch_prompts_shard(BatchPrompts *p, int i, int n) {
    int kept = 0;
    for (int k = 0; k < p->n; k++) {
        if (k % n == i - 1) {
            p->items[kept++] = p->items[k];
        } else {
            free(p->items[k].id), free(p->items[k].text);
        }
    }
    p->n = kept;
}
