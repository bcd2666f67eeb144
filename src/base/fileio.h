/* fileio.h - whole-file reads with a size cap, and output files that appear
 * atomically (written to a temporary name, renamed on success), so an
 * interrupted run never leaves a half-written file that looks complete. */
#ifndef SPECREJ_FILEIO_H
#define SPECREJ_FILEIO_H

#include <stdio.h>
#include <stddef.h>

#include "base/error.h"

/* Reads all of path into a malloc'd, NUL-terminated buffer. Files larger
 * than max_bytes are refused (hostile inputs stay cheap). */
int file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len,
                  SrError *err);

/* Hostile JSON stays cheap: a parser allocates one node (~64 bytes, ~80
 * with malloc's overhead) per value, so 100 MB of "[0,0,0,..." would cost
 * about 4 GB. This counts, without parsing, an upper bound of the values in
 * text (commas and containers outside strings, plus one); every JSON read
 * (json.h: sr_json_parse) refuses text above JSON_MAX_VALUES, i.e. at most
 * about 340 MB of nodes. The largest real files are tokenizer.json's: about
 * 10^6 values for Llama 3 (128k tokens, 280k merges as pairs). */
#define JSON_MAX_VALUES (1u << 22)
size_t json_count_values(const char *text, size_t len);

/* Size of a regular file, or -1 with err filled. */
long long file_size(const char *path, SrError *err);

typedef struct AtomicFile {
    FILE *fp;
    char *final_path;
    char *tmp_path; /* NULL when written in place (not a regular file) or stdout */
    int slot;       /* its entry in the signal cleanup list, -1 for none */
    int err;        /* errno of the first failed atomic_write, 0 if none */
} AtomicFile;

/* Opens path for writing. "-" means stdout; /dev/stdout, /dev/stderr,
 * /dev/fd/N and /proc/self/fd/N write to that open stream (a copy of its
 * descriptor: appending where the shell appends, never truncating or
 * replacing the file behind it). A regular file (or a new one) is
 * written to "<path>.tmp.<pid>" (created exclusively: never over another
 * writer's) and renamed onto path by atomic_commit; through a symbolic link,
 * the file at the end of the links is the one replaced (or created, for a
 * dangling link). Two runs writing one output each write their own
 * temporary file and rename it: the file is whole, and the last to finish
 * wins. Anything else (a device such as
 * /dev/null or /dev/full, a FIFO, /dev/stdout on a pipe) is written in place:
 * renaming over it would replace the device node by a regular file.
 * While a temporary file exists, SIGINT, SIGTERM and SIGHUP remove it before
 * the process dies as the signal says (see fileio.c). */
int atomic_open(AtomicFile *af, const char *path, SrError *err);
/* fwrite that keeps the errno of a failure for atomic_commit's message
 * ("no space left on device" rather than a bare "write failed"). */
int atomic_write(AtomicFile *af, const void *data, size_t n);
/* Flushes, closes and renames onto the final path. */
int atomic_commit(AtomicFile *af, SrError *err);
/* Closes and deletes the temporary file (use on every error path). */
void atomic_abort(AtomicFile *af);
/* Whether atomic_open(path) would succeed, without creating anything that
 * outlives the call and without opening a FIFO (which would wait for a
 * reader): for checking output paths before a long run. */
int atomic_probe(const char *path, SrError *err);

/* The descriptor a path names when it is a stream rather than a file: 1 for
 * "-" and /dev/stdout, 2 for /dev/stderr, N for /dev/fd/N and
 * /proc/self/fd/N; -1 otherwise. */
int file_stream_fd(const char *path);
/* strerror(e), except ENOSPC: "no space left on device". */
const char *file_errstr(int e);
/* Refuses (err names flag and path) an output path that is one of the
 * inputs[0..n) (NULL entries skipped) by device and inode: a file, or any
 * regular file directly inside an input folder (a model's config.json).
 * Check before anything is written. */
int output_not_input(const char *flag, const char *path, const char *const *inputs, int n,
                     SrError *err);

#endif
