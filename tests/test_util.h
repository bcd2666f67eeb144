/* test_util.h - shared by the cmocka test programs (header-only). */
#ifndef SPECREJ_TEST_UTIL_H
#define SPECREJ_TEST_UTIL_H

/* Include this first in every test: it selects POSIX for popen(). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "runtime/blas_setup.h"

/* Every test program starts as bin/specrej does, so the suite runs the BLAS
 * core and OpenMP wait policy that users get (blas_setup.h): call first in
 * main(). */
static inline void test_blas_setup(int argc, char **argv) { blas_ensure_fast_core(argc, argv); }

/* Path of the specrej binary for tests that run the CLI. */
static inline const char *test_specrej_bin(void) {
    const char *b = getenv("SPECREJ_BIN");
    return b ? b : "bin/specrej";
}

/* Reads a whole file; returns malloc'd bytes (NUL-terminated) or NULL. */
static inline char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) { buf[n] = 0; if (len) *len = (size_t)n; }
    return buf;
}

/* Writes bytes to path; returns 0 on success. */
static inline int test_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

/* A scratch folder for one test program: test_scratch_make() creates
 * /tmp/specrej_TAG_XXXXXX in dir (256 bytes), test_scratch_path() names a file
 * in it (the last four results stay valid), test_scratch_remove() deletes it
 * and everything in it. */
static inline int test_scratch_make(char *dir, size_t cap, const char *tag) {
    snprintf(dir, cap, "/tmp/specrej_%s_XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}
static inline const char *test_scratch_path(const char *dir, const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}
static inline int test_scratch_remove(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs a shell command, captures stdout+stderr into *out (malloc'd), returns
 * the exit status. */
static inline int test_run(const char *cmd, char **out) {
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += r;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    int st = pclose(p);
    if (out) *out = buf; else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* base (a JSON object) with the members of the object text "{members}"
 * set in it: replaced where base has the key, added otherwise. JSON readers
 * refuse duplicate keys, so a test overrides a field this way. members may
 * start or end with ", ". Writes the result (unformatted) into out. */
static inline void test_json_set(const char *base, const char *members, char *out, size_t cap) {
    char wrapped[4096];
    const char *m = members;
    while (*m == ',' || *m == ' ') m++;
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == ',' || m[n - 1] == ' ')) n--;
    snprintf(wrapped, sizeof wrapped, "{%.*s}", (int)n, m);
    cJSON *b = cJSON_Parse(base), *x = cJSON_Parse(wrapped);
    if (!b || !x) fail_msg("test_json_set: bad JSON '%s' or '%s'", base, wrapped);
    while (x->child) {
        cJSON *item = cJSON_DetachItemViaPointer(x, x->child);
        char key[256]; /* cJSON frees item->string while replacing */
        snprintf(key, sizeof key, "%s", item->string);
        if (cJSON_GetObjectItemCaseSensitive(b, key))
            cJSON_ReplaceItemInObjectCaseSensitive(b, key, item);
        else
            cJSON_AddItemToObject(b, key, item);
    }
    char *s = cJSON_PrintUnformatted(b);
    snprintf(out, cap, "%s", s);
    free(s);
    cJSON_Delete(b);
    cJSON_Delete(x);
}

/* Undoes the escaping of tools/ text fixtures (\n, \t, \\, \xHH) in place and
 * returns the length; a bad escape fails the test. */
static inline int test_hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static inline size_t test_unescape(char *s) {
    size_t n = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] != '\\') {
            s[n++] = s[i];
            continue;
        }
        char c = s[++i];
        if (c == 'n') s[n++] = '\n';
        else if (c == 't') s[n++] = '\t';
        else if (c == '\\') s[n++] = '\\';
        else if (c == 'x') {
            int hi = test_hexval(s[i + 1]), lo = hi >= 0 ? test_hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) fail_msg("bad escape \\x%.2s", s + i + 1);
            s[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else fail_msg("bad escape \\%c", c);
    }
    return n;
}

#endif
