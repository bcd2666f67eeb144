/* error.c - errors as values (error.h): one-line messages and allocation
 * that says what failed. */
#include "base/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int sr_fail(SrError *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* one line, whatever bytes a file or an argument put into it */
        for (char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    }
    return -1;
}

void *sr_calloc(size_t count, size_t size, SrError *err) {
    if (size != 0 && count > SIZE_MAX / size) {
        sr_fail(err, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) sr_fail(err, "out of memory allocating %zu bytes", count * size);
    return p;
}

void *sr_malloc_array(size_t count, size_t size, SrError *err) {
    if (size != 0 && count > SIZE_MAX / size) {
        sr_fail(err, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    size_t bytes = count * size;
    void *p = malloc(bytes > 0 ? bytes : 1);
    if (!p) sr_fail(err, "out of memory allocating %zu bytes", count * size);
    return p;
}

const char *sr_nonfinite_name(double x) {
    if (isnan(x)) return "NaN";
    if (isinf(x)) return x > 0 ? "inf" : "-inf";
    return "finite";
}
