/* args.c - strict parsing of command-line values (args.h): whole numbers,
 * byte sizes, id lists, flags with =VALUE. */
#include "cli/args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/model.h"

/* "--flag=value" -> "value" when a is flag followed by '='; NULL otherwise.
 * Long names only: "-s=3" would be a typo for "-s 3" as often as not. */
static const char *inline_value(const char *a, const char *flag) {
    if (!flag || strncmp(flag, "--", 2) != 0) return NULL;
    size_t n = strlen(flag);
    return strncmp(a, flag, n) == 0 && a[n] == '=' ? a + n + 1 : NULL;
}

int args_take_value(int argc, char **argv, int *i, const char *flag, const char *alias,
                    const char **value, SrError *err) {
    const char *a = argv[*i];
    const char *inl = inline_value(a, flag);
    if (!inl) inl = inline_value(a, alias);
    if (inl) {
        *value = inl;
        return 1;
    }
    if (strcmp(a, flag) != 0 && !(alias && strcmp(a, alias) == 0)) return 0;
    if (*i + 1 >= argc) return sr_fail(err, "%s: missing value", flag);
    *value = argv[++*i];
    return 1;
}

int args_take_weights(int argc, char **argv, int *i, int *weights, SrError *err) {
    const char *v = NULL;
    int r = args_take_value(argc, argv, i, "--weights", NULL, &v, err);
    if (r <= 0) return r;
    int w = model_weights_parse(v);
    if (w < -1) return sr_fail(err, "--weights: '%s' is not f32, bf16, f16 or auto", v);
    *weights = w;
    return 1;
}

int args_take_kv_dtype(int argc, char **argv, int *i, int *kv_dtype, SrError *err) {
    const char *v = NULL;
    int r = args_take_value(argc, argv, i, "--kv-dtype", NULL, &v, err);
    if (r <= 0) return r;
    int d = model_kv_dtype_parse(v);
    if (d < 0) return sr_fail(err, "--kv-dtype: '%s' is not f32, bf16 or f16", v);
    *kv_dtype = d;
    return 1;
}

int args_usage(SrError *err, const char *fmt, ...) {
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sr_fail(err, "%s", msg);
    return ARGS_USAGE;
}

int args_is_flag(const char *a, const char *flag, const char *alias) {
    return strcmp(a, flag) == 0 || (alias && strcmp(a, alias) == 0);
}

int args_parse_int(const char *flag, const char *s, long long min, long long max,
                   long long *out, SrError *err) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || isspace((unsigned char)s[0]) || *end != 0 || errno == ERANGE)
        return sr_fail(err, "%s: '%s' is not an integer", flag, s);
    if (v < min || v > max)
        return sr_fail(err, "%s: %lld is outside [%lld, %lld]", flag, v, min, max);
    *out = v;
    return 0;
}

int args_parse_u64(const char *flag, const char *s, uint64_t *out, SrError *err) {
    char *end = NULL;
    errno = 0;
    /* strtoull skips spaces and negates "-1" into 2^64-1: digits only */
    unsigned long long v = isdigit((unsigned char)s[0]) ? strtoull(s, &end, 10) : 0;
    if (!isdigit((unsigned char)s[0]) || *end != 0 || errno == ERANGE)
        return sr_fail(err, "%s: '%s' is not an integer in [0, %llu]", flag, s,
                       (unsigned long long)UINT64_MAX);
    *out = (uint64_t)v;
    return 0;
}

int args_strtod(const char *s, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || isspace((unsigned char)s[0]) || *end != 0 || !isfinite(v)) return -1;
    /* ERANGE on underflow (1e-320: a denormal, or 1e-400: 0) still gives a
     * finite value, which is what was typed as nearly as a double can say;
     * only overflow (HUGE_VAL) is refused */
    if (errno == ERANGE && fabs(v) == HUGE_VAL) return -1;
    *out = v;
    return 0;
}

const char *args_fmt_limit(double x, char *buf, size_t cap) {
    /* 2147483647, not 2.14748e+09: an integer limit as an integer */
    if (isfinite(x) && x == floor(x) && fabs(x) < 1e17) {
        snprintf(buf, cap, "%.0f", x);
        return buf;
    }
    /* else the shortest form that reads back as x (1e-09, not
     * 1.0000000000000001e-09) */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    return buf;
}

int args_parse_double(const char *flag, const char *s, double min, double max,
                      int max_inclusive, double *out, SrError *err) {
    double v;
    if (args_strtod(s, &v) != 0) return sr_fail(err, "%s: '%s' is not a finite number", flag, s);
    char lo[40], hi[40];
    if (v < min || v > max || (!max_inclusive && v == max))
        return sr_fail(err, "%s: %s is outside [%s, %s%c", flag, s,
                       args_fmt_limit(min, lo, sizeof lo), args_fmt_limit(max, hi, sizeof hi),
                       max_inclusive ? ']' : ')');
    *out = v;
    return 0;
}

int args_parse_bytes(const char *flag, const char *s, size_t *out, SrError *err) {
    char *end = NULL;
    errno = 0;
    /* strtoull would skip spaces and negate "-1" into a huge size */
    if (!isdigit((unsigned char)*s)) return sr_fail(err, "%s: '%s' is not a byte size", flag, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno == ERANGE) return sr_fail(err, "%s: '%s' is not a byte size", flag, s);
    unsigned long long mult = 1;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mult = 1ULL << 10; break;
        case 'm': case 'M': mult = 1ULL << 20; break;
        case 'g': case 'G': mult = 1ULL << 30; break;
        default: return sr_fail(err, "%s: '%s' is not a byte size (use e.g. 64M)", flag, s);
        }
        if (end[1] != 0 && !((end[1] == 'B' || end[1] == 'b') && end[2] == 0))
            return sr_fail(err, "%s: '%s' is not a byte size (use e.g. 64M)", flag, s);
    }
    if (v > SIZE_MAX / mult) return sr_fail(err, "%s: '%s' is too large", flag, s);
    *out = (size_t)(v * mult);
    return 0;
}

int args_parse_int_list(const char *flag, const char *s, long long min, long long max,
                        int **out, int *n, SrError *err) {
    size_t count = 1;
    for (const char *p = s; *p; p++) count += (*p == ',');
    if (count > (1u << 20)) return sr_fail(err, "%s: too many values", flag);
    int *vals = malloc(count * sizeof *vals);
    if (!vals) return sr_fail(err, "%s: out of memory", flag);
    const char *p = s;
    for (size_t k = 0; k < count; k++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[32];
        if (len == 0 || len >= sizeof buf) {
            free(vals);
            return sr_fail(err, "%s: bad list '%s' (expected e.g. 5,17,3)", flag, s);
        }
        memcpy(buf, p, len);
        buf[len] = 0;
        long long v;
        if (args_parse_int(flag, buf, min, max, &v, err) != 0) {
            free(vals);
            return -1;
        }
        vals[k] = (int)v;
        p = comma ? comma + 1 : p + len;
    }
    *out = vals;
    *n = (int)count;
    return 0;
}
