/* record_hash.c - the model identities a record stores (record.h:
 * record_hash_file, record_hash_model): FNV-1a 64 over a checkpoint's
 * folder, apart from the file format so that --json, batch fingerprints and
 * compare --check-models hash exactly as record does. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "search/record.h"

int record_hash_file(const char *path, uint64_t *out, SrError *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sr_fail(err, "%s: cannot open for hashing", path);
    unsigned char buf[1 << 16];
    uint64_t h = RECORD_FNV_OFFSET;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = record_fnv1a(h, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return sr_fail(err, "%s: read error while hashing", path);
    *out = h;
    return 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int record_hash_model(const char *path, uint64_t *out, SrError *err) {
    struct stat st;
    if (stat(path, &st) != 0) return sr_fail(err, "%s: cannot stat for hashing", path);
    char *dir = NULL;
    if (S_ISDIR(st.st_mode)) {
        dir = strdup(path);
    } else {
        const char *slash = strrchr(path, '/');
        dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    }
    if (!dir) return sr_fail(err, "%s: out of memory", path);
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return sr_fail(err, "%s: cannot list the model folder for hashing", path);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && rc == 0) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **p = realloc(names, cap * sizeof *names);
            if (!p) rc = -1;
            else names = p;
        }
        if (rc == 0 && !(names[n++] = strdup(e->d_name))) rc = -1;
    }
    closedir(d);
    if (rc != 0) sr_fail(err, "%s: out of memory", path);
    if (n > 1) qsort(names, n, sizeof *names, by_name);
    uint64_t h = RECORD_FNV_OFFSET;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t plen = strlen(dir) + strlen(names[i]) + 2;
        char *full = malloc(plen);
        if (!full) {
            rc = sr_fail(err, "%s: out of memory", path);
            break;
        }
        snprintf(full, plen, "%s/%s", dir, names[i]);
        struct stat fs;
        if (stat(full, &fs) == 0 && S_ISREG(fs.st_mode)) {
            uint64_t fh;
            unsigned char sz[8];
            for (int b = 0; b < 8; b++) sz[b] = (unsigned char)((uint64_t)fs.st_size >> (8 * b));
            h = record_fnv1a(h, names[i], strlen(names[i]) + 1);
            h = record_fnv1a(h, sz, 8);
            if (record_hash_file(full, &fh, err) != 0) rc = -1;
            unsigned char hb[8]; /* content, folded in as its own hash (little-endian) */
            for (int k = 0; k < 8; k++) hb[k] = (unsigned char)(fh >> (8 * k));
            h = record_fnv1a(h, hb, 8);
        }
        free(full);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(dir);
    if (rc == 0) *out = h;
    return rc;
}
