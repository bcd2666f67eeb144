/* fuzz_util.h - shared by the libFuzzer targets fuzz/fuzz_*.c and by
 * tests/test_fuzz_regressions.c, which includes those files to replay every
 * saved crasher through the same entry points in the normal suite.
 *
 * Each target defines `static void fuzz_NAME(const uint8_t *data, size_t size)`
 * and, only when built by fuzz/Makefile (SPECREJ_LIBFUZZER), the
 * LLVMFuzzerTestOneInput wrapper around it. Invariants are checked with
 * FUZZ_CHECK: abort() under libFuzzer (a finding), a cmocka failure in the
 * test suite (the includer defines FUZZ_FAIL first). */
#ifndef SPECREJ_FUZZ_UTIL_H
#define SPECREJ_FUZZ_UTIL_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(what, file, line)                                           \
    do {                                                                      \
        fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);  \
        abort();                                                              \
    } while (0)
#endif

#define FUZZ_CHECK(cond)                                  \
    do {                                                  \
        if (!(cond)) FUZZ_FAIL(#cond, __FILE__, __LINE__); \
    } while (0)

/* A per-process scratch directory /tmp/specrej-fuzz-<pid> (created once). */
static inline const char *fuzz_tmpdir(void) {
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/specrej-fuzz-%ld", (long)getpid());
        mkdir(dir, 0700);
    }
    return dir;
}

/* Writes bytes to <tmpdir>/<name> and its path into out (256 bytes). */
static inline int fuzz_write(const char *name, const void *data, size_t size, char *out) {
    snprintf(out, 256, "%s/%s", fuzz_tmpdir(), name);
    FILE *f = fopen(out, "wb");
    if (!f) return -1;
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    return (fclose(f) == 0 && w == size) ? 0 : -1;
}

/* Removes the scratch directory and everything in it. */
static inline void fuzz_cleanup(void) {
    const char *dir = fuzz_tmpdir();
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        remove(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Copies data[0..size) into a NUL-terminated string (C-string users see
 * it up to its first NUL). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

#endif
