/* error.h - errors are values.
 *
 * Every fallible function returns an int status (0 = success, -1 = failure)
 * and, on failure, fills an SrError with one human-readable line that names
 * the file (or argument) and the problem. Only main() prints it, as
 * "specrej: <msg>", and exits non-zero. */
#ifndef SPECREJ_ERROR_H
#define SPECREJ_ERROR_H

#include <stddef.h>

typedef struct SrError {
    char msg[512];
} SrError;

/* Formats the message into err (if err is non-NULL) and returns -1, so that
 * callers can write `return sr_fail(err, "%s: bad magic", path);`. */
int sr_fail(SrError *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* "NaN", "inf" or "-inf" for a non-finite x (the sign of a NaN is noise),
 * for messages about numbers that cannot be ranked; "finite" otherwise. */
const char *sr_nonfinite_name(double x);

/* Allocation helpers that report failure through err instead of aborting.
 * They return NULL (and fill err) when the allocation fails or when
 * count * size overflows. */
void *sr_calloc(size_t count, size_t size, SrError *err);
void *sr_malloc_array(size_t count, size_t size, SrError *err);

#endif
