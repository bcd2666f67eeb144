/* fileio.c - capped whole-file reads and atomic output files (fileio.h). */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with realpath() */
#include "base/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
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

/* ---- signal cleanup ----
 *
 * One of the two pieces of global mutable state in specrej (the other:
 * argv[0] in datadir.c), and why it is needed: a
 * signal handler gets no argument, so the temporary files it must remove
 * have to be reachable from a static list. Each entry is claimed (state 0 ->
 * 1) by atomic_open, armed (2) once its path is stored, and freed (0) by
 * atomic_commit or atomic_abort. The handler only reads armed entries and
 * calls unlink(), which is async-signal-safe; the states are lock-free
 * atomics, so a handler running on any thread (OpenMP workers included) sees
 * a complete path or none. */
#define PENDING_MAX 16
#define PENDING_PATH 4096

static struct {
    atomic_int state;
    char path[PENDING_PATH];
} g_pending[PENDING_MAX];
static atomic_int g_handlers_installed;

static void cleanup_on_signal(int sig) {
    for (int i = 0; i < PENDING_MAX; i++)
        if (atomic_load(&g_pending[i].state) == 2) unlink(g_pending[i].path);
    /* SA_RESETHAND restored the default action; it runs once we return */
    raise(sig);
}

static void install_handlers(void) {
    if (atomic_exchange(&g_handlers_installed, 1)) return;
    static const int SIGS[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof SIGS / sizeof SIGS[0]; i++) {
        struct sigaction old, sa;
        /* a signal the caller ignores (nohup, a background job's SIGINT) or
         * handles itself is left alone */
        if (sigaction(SIGS[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = cleanup_on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(SIGS[i], &sa, NULL);
    }
}

static int pending_add(const char *path) {
    if (strlen(path) >= PENDING_PATH) return -1;
    for (int i = 0; i < PENDING_MAX; i++) {
        int zero = 0;
        if (!atomic_compare_exchange_strong(&g_pending[i].state, &zero, 1)) continue;
        memcpy(g_pending[i].path, path, strlen(path) + 1);
        atomic_store(&g_pending[i].state, 2);
        install_handlers();
        return i;
    }
    return -1; /* more than PENDING_MAX at once: no cleanup for this one */
}

static void pending_remove(int slot) {
    if (slot >= 0) atomic_store(&g_pending[slot].state, 0);
}

/* ---- atomic output files ---- */

const char *file_errstr(int e) {
    /* the words a user searches for when the disk is full */
    return e == ENOSPC ? "no space left on device" : strerror(e);
}

int file_stream_fd(const char *path) {
    if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0) return STDOUT_FILENO;
    if (strcmp(path, "/dev/stderr") == 0) return STDERR_FILENO;
    static const char *const DIRS[] = {"/dev/fd/", "/proc/self/fd/"};
    for (size_t i = 0; i < sizeof DIRS / sizeof DIRS[0]; i++) {
        size_t n = strlen(DIRS[i]);
        if (strncmp(path, DIRS[i], n) != 0 || !path[n]) continue;
        char *end = NULL;
        long fd = strtol(path + n, &end, 10);
        if (*end == 0 && path[n] >= '0' && path[n] <= '9' && fd >= 0 && fd < INT_MAX)
            return (int)fd;
    }
    return -1;
}

/* The file a chain of symbolic links ends at, even when it does not exist
 * yet (a dangling link: the output is written where it points, not over
 * the link). malloc'd; NULL for a loop or on allocation failure. */
static char *link_target(const char *path) {
    char *cur = dup_str(path);
    for (int hops = 0; cur && hops < 40; hops++) {
        struct stat lb;
        if (lstat(cur, &lb) != 0 || !S_ISLNK(lb.st_mode)) return cur;
        char buf[PATH_MAX];
        ssize_t n = readlink(cur, buf, sizeof buf - 1);
        if (n <= 0) break;
        buf[n] = 0;
        char *next;
        const char *slash = strrchr(cur, '/');
        if (buf[0] == '/' || !slash) {
            next = dup_str(buf);
        } else { /* relative to the link's folder */
            size_t d = (size_t)(slash - cur) + 1;
            next = malloc(d + (size_t)n + 1);
            if (next) memcpy(next, cur, d), memcpy(next + d, buf, (size_t)n + 1);
        }
        free(cur);
        cur = next;
    }
    free(cur);
    return NULL;
}

/* Where an output to path really goes: 1 = replace the regular file (or
 * create it) at *target (malloc'd: path, or the end of its links),
 * 0 = write in place (not a regular file). */
static int output_kind(const char *path, char **target) {
    struct stat sb;
    *target = NULL;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) return 0;
    *target = link_target(path); /* new, a file, or a link (dangling or not) */
    return 1;
}

int atomic_open(AtomicFile *af, const char *path, SrError *err) {
    memset(af, 0, sizeof *af);
    af->slot = -1;
    if (strcmp(path, "-") == 0) {
        af->fp = stdout;
        return 0;
    }
    int sfd = file_stream_fd(path);
    if (sfd >= 0) {
        /* /dev/stdout and its kin: the stream itself, through a copy of its
         * descriptor, so that it shares the shell's offset and O_APPEND
         * (`>> log` appends); reopening the name would truncate or write
         * from offset 0, and renaming over it would replace the file */
        af->final_path = dup_str(path);
        int fd = af->final_path ? dup(sfd) : -1;
        if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
            int e = errno;
            if (fd >= 0) close(fd);
            atomic_abort(af);
            return sr_fail(err, "%s: cannot write: %s", path, strerror(e));
        }
        return 0;
    }
    char *target = NULL;
    int replace = output_kind(path, &target);
    if (!replace) {
        af->final_path = dup_str(path);
        if (!af->final_path) return sr_fail(err, "%s: out of memory", path);
        af->fp = fopen(path, "wb");
        if (!af->fp) {
            int e = errno;
            atomic_abort(af);
            return sr_fail(err, "%s: cannot write: %s", path, strerror(e));
        }
        return 0;
    }
    if (!target) return sr_fail(err, "%s: cannot write: a loop of symbolic links (or out of memory)",
                                path);
    size_t n = strlen(target) + 32;
    af->final_path = target;
    af->tmp_path = malloc(n);
    if (!af->final_path || !af->tmp_path) {
        atomic_abort(af);
        return sr_fail(err, "%s: out of memory", path);
    }
    snprintf(af->tmp_path, n, "%s.tmp.%ld", af->final_path, (long)getpid());
    int fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    /* registered once it is ours (a signal in between leaves it behind;
     * registering first could remove another writer's file) */
    if (fd >= 0) af->slot = pending_add(af->tmp_path);
    if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
        int e = errno;
        if (fd >= 0) close(fd);
        char *tmp = af->tmp_path;
        if (fd >= 0) remove(tmp); /* ours (fdopen failed); never another writer's */
        af->tmp_path = NULL;
        atomic_abort(af);
        if (e == EEXIST) {
            int r = sr_fail(err, "%s: cannot write: %s is in use (another output of this run?)",
                            path, tmp);
            free(tmp);
            return r;
        }
        free(tmp);
        return sr_fail(err, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

int atomic_commit(AtomicFile *af, SrError *err) {
    if (af->fp == stdout) {
        af->fp = NULL;
        return fflush(stdout) == 0 && !ferror(stdout) ? 0
               : sr_fail(err, "stdout: write failed: %s", file_errstr(errno ? errno : EIO));
    }
    /* errno of the write that failed: a full disk says so (ENOSPC), not EIO */
    int e = af->err;
    int bad = ferror(af->fp);
    errno = 0;
    if (fflush(af->fp) != 0) bad = 1, e = e ? e : errno;
    if (!bad && af->tmp_path && fsync(fileno(af->fp)) != 0 && errno == ENOSPC) bad = 1, e = errno;
    errno = 0;
    if (fclose(af->fp) != 0) bad = 1, e = e ? e : errno;
    if (!e) e = EIO;
    af->fp = NULL;
    if (!bad && af->tmp_path && rename(af->tmp_path, af->final_path) != 0) bad = 1, e = errno;
    if (bad) {
        char path[512];
        snprintf(path, sizeof path, "%s", af->final_path);
        atomic_abort(af);
        return sr_fail(err, "%s: write failed: %s", path, file_errstr(e));
    }
    pending_remove(af->slot);
    free(af->final_path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
    af->slot = -1;
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->fp && af->fp != stdout) fclose(af->fp);
    if (af->tmp_path) remove(af->tmp_path);
    pending_remove(af->slot);
    free(af->final_path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
    af->slot = -1;
}

int atomic_write(AtomicFile *af, const void *data, size_t n) {
    errno = 0;
    if (fwrite(data, 1, n, af->fp) == n) return 0;
    if (!af->err) af->err = errno ? errno : EIO;
    return -1;
}

int atomic_probe(const char *path, SrError *err) {
    struct stat sb;
    if (strcmp(path, "-") == 0 || file_stream_fd(path) >= 0) return 0;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (access(path, W_OK) != 0) return sr_fail(err, "%s: cannot write: %s", path, strerror(errno));
        return 0;
    }
    AtomicFile probe;
    if (atomic_open(&probe, path, err) != 0) return -1;
    atomic_abort(&probe);
    return 0;
}

/* One input's files: itself, or every regular file directly in a folder
 * (a model folder's config.json, weights, tokenizer files). */
static int matches_input(const struct stat *o, const char *input) {
    struct stat st;
    if (stat(input, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return st.st_dev == o->st_dev && st.st_ino == o->st_ino;
    DIR *d = opendir(input);
    if (!d) return 0;
    int hit = 0;
    for (struct dirent *e; !hit && (e = readdir(d));) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", input, e->d_name) >= (int)sizeof p) continue;
        hit = stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == o->st_dev &&
              st.st_ino == o->st_ino;
    }
    closedir(d);
    return hit;
}

int output_not_input(const char *flag, const char *path, const char *const *inputs, int n,
                     SrError *err) {
    if (!path) return 0;
    struct stat o;
    int sfd = file_stream_fd(path);
    /* by identity (device and inode), so that links, "./x" and /dev/stdout
     * redirected into a file are seen through */
    if (sfd >= 0 ? fstat(sfd, &o) != 0 : stat(path, &o) != 0) return 0; /* new: no input */
    if (!S_ISREG(o.st_mode)) return 0; /* a device or pipe holds no input */
    for (int i = 0; i < n; i++)
        if (inputs[i] && *inputs[i] && matches_input(&o, inputs[i]))
            return sr_fail(err, "%s: %s is an input of this run (%s); refused: writing it "
                                "would destroy the input", flag, path, inputs[i]);
    return 0;
}
