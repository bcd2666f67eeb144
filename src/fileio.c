#define _POSIX_C_SOURCE 200809L
#include "fileio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

long long file_size(const char *path, SrError *err) {
    struct stat st;
    if (stat(path, &st) != 0) {
        sr_fail(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        sr_fail(err, "%s: not a regular file", path);
        return -1;
    }
    return (long long)st.st_size;
}

int file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len,
                  SrError *err) {
    long long size = file_size(path, err);
    if (size < 0) return -1;
    if ((unsigned long long)size > max_bytes)
        return sr_fail(err, "%s: file is %lld bytes, more than the %zu allowed", path, size,
                       max_bytes);
    FILE *f = fopen(path, "rb");
    if (!f) return sr_fail(err, "%s: %s", path, strerror(errno));
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(f);
        return sr_fail(err, "%s: out of memory reading %lld bytes", path, size);
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(buf);
        return sr_fail(err, "%s: short read (%zu of %lld bytes)", path, got, size);
    }
    buf[got] = 0;
    *out = buf;
    if (out_len) *out_len = got;
    return 0;
}

size_t json_count_values(const char *text, size_t len) {
    size_t n = 1;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == ',' || c == '[' || c == '{') {
            n++;
        }
    }
    return n;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int atomic_open(AtomicFile *af, const char *path, SrError *err) {
    memset(af, 0, sizeof *af);
    if (strcmp(path, "-") == 0) {
        af->fp = stdout;
        return 0;
    }
    size_t n = strlen(path) + 32;
    af->final_path = dup_str(path);
    af->tmp_path = malloc(n);
    if (!af->final_path || !af->tmp_path) {
        atomic_abort(af);
        return sr_fail(err, "%s: out of memory", path);
    }
    snprintf(af->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) {
        int e = errno;
        atomic_abort(af);
        return sr_fail(err, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

int atomic_commit(AtomicFile *af, SrError *err) {
    if (af->fp == stdout) {
        af->fp = NULL;
        return fflush(stdout) == 0 ? 0 : sr_fail(err, "stdout: write failed");
    }
    int bad = ferror(af->fp) | fclose(af->fp);
    af->fp = NULL;
    if (bad || rename(af->tmp_path, af->final_path) != 0) {
        int e = errno;
        char path[512];
        snprintf(path, sizeof path, "%s", af->final_path);
        atomic_abort(af);
        return sr_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    free(af->final_path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->fp && af->fp != stdout) fclose(af->fp);
    if (af->tmp_path) remove(af->tmp_path);
    free(af->final_path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}
