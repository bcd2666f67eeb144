/* fuzz_args.c - command-line number parsing (src/cli/args.h): budgets, alpha,
 * N, id lists. Each result is compared with an independent reference parser
 * written here: a value is accepted exactly when it is a plain decimal
 * number ([+-]digits, no spaces, no junk) inside the range, and the parsed
 * value is the reference's. Errors must be one line that names the flag.
 *
 * Input: byte 0 picks the function and range, the rest is the argument. */
#include "fuzz_util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>

#include "cli/args.h"

/* Reference: [+-]?[0-9]+ with overflow detection; 0 ok, -1 not a number. */
static int ref_int(const char *s, long long *out) {
    int neg = 0;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (!isdigit((unsigned char)*s)) return -1;
    unsigned long long mag = 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s)) return -1;
        unsigned d = (unsigned)(*s - '0');
        if (mag > (ULLONG_MAX - d) / 10) return -1;
        mag = mag * 10 + d;
    }
    if (neg ? mag > (unsigned long long)LLONG_MAX + 1 : mag > (unsigned long long)LLONG_MAX)
        return -1;
    *out = neg ? (long long)(0 - mag) : (long long)mag;
    return 0;
}

static void check_msg(const SrError *err, const char *flag) {
    FUZZ_CHECK(strncmp(err->msg, flag, strlen(flag)) == 0);
    FUZZ_CHECK(strchr(err->msg, '\n') == NULL && strchr(err->msg, '\r') == NULL);
}

static const struct { long long lo, hi; } RANGES[] = {
    {0, INT_MAX}, {1, 1 << 20}, {-5, 5}, {LLONG_MIN, LLONG_MAX},
};

static void check_int(const char *s, int r) {
    SrError err = {{0}};
    long long lo = RANGES[r].lo, hi = RANGES[r].hi, v = 12345, want;
    int rc = args_parse_int("--n", s, lo, hi, &v, &err);
    int ok = ref_int(s, &want) == 0 && want >= lo && want <= hi;
    FUZZ_CHECK(rc == (ok ? 0 : -1));
    if (ok) FUZZ_CHECK(v == want);
    else check_msg(&err, "--n");
}

/* Plain decimal floats: [+-]?digits[.digits][e[+-]digits] (no hex, inf,
 * nan or spaces); those must parse exactly as strtod does. */
static int plain_decimal(const char *s) {
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    int digits = 0;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++, digits++;
    }
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    return *p == 0;
}

static void check_double(const char *s, int incl) {
    SrError err = {{0}};
    double v = -7;
    int rc = args_parse_double("--alpha", s, 0.0, 1.0, incl, &v, &err);
    if (rc == 0) {
        FUZZ_CHECK(isfinite(v) && v >= 0.0 && (incl ? v <= 1.0 : v < 1.0));
        FUZZ_CHECK(!isspace((unsigned char)s[0])); /* no leniency at either end */
    } else {
        check_msg(&err, "--alpha");
    }
    if (plain_decimal(s)) {
        errno = 0;
        double want = strtod(s, NULL);
        /* underflow and overflow (ERANGE) may be refused: not the value typed */
        int ok = errno == 0 && want >= 0.0 && (incl ? want <= 1.0 : want < 1.0);
        if (ok) FUZZ_CHECK(rc == 0 && v == want);
    }
}

/* Reference for byte sizes: digits, then optionally K/M/G, then optional B. */
static void check_bytes(const char *s) {
    SrError err = {{0}};
    size_t v = 7;
    int rc = args_parse_bytes("--kv-budget", s, &v, &err);
    const char *p = s;
    unsigned long long mag = 0;
    int ok = isdigit((unsigned char)*p), over = 0;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (mag > (ULLONG_MAX - d) / 10) over = 1;
        else mag = mag * 10 + d;
    }
    unsigned long long mult = 1;
    if (*p) {
        switch (*p) {
        case 'k': case 'K': mult = 1ULL << 10; break;
        case 'm': case 'M': mult = 1ULL << 20; break;
        case 'g': case 'G': mult = 1ULL << 30; break;
        default: ok = 0;
        }
        if (ok) p++;
        if (ok && (*p == 'b' || *p == 'B')) p++;
        if (*p) ok = 0;
    }
    if (over || (ok && mag > SIZE_MAX / mult)) ok = 0;
    FUZZ_CHECK(rc == (ok ? 0 : -1));
    if (ok) FUZZ_CHECK(v == (size_t)(mag * mult));
    else check_msg(&err, "--kv-budget");
}

static void check_list(const char *s, int r) {
    SrError err = {{0}};
    long long lo = RANGES[r].lo > INT_MIN ? RANGES[r].lo : INT_MIN;
    long long hi = RANGES[r].hi < INT_MAX ? RANGES[r].hi : INT_MAX;
    int *vals = NULL, n = -1;
    int rc = args_parse_int_list("--ids", s, lo, hi, &vals, &n, &err);
    /* reference: split on ',' and parse each piece */
    size_t count = 1;
    for (const char *p = s; *p; p++) count += *p == ',';
    int ok = 1;
    long long *want = malloc(count * sizeof *want);
    if (!want) abort();
    const char *p = s;
    for (size_t k = 0; k < count && ok; k++) {
        size_t len = strcspn(p, ",");
        char *piece = fuzz_cstr((const uint8_t *)p, len);
        /* args.c documents no length limit, but a piece of 32+ characters
         * is necessarily padded with zeros: refusing it is acceptable */
        ok = len < 32 && ref_int(piece, &want[k]) == 0 && want[k] >= lo && want[k] <= hi;
        free(piece);
        p += len + 1;
    }
    FUZZ_CHECK(rc == (ok ? 0 : -1));
    if (ok) {
        FUZZ_CHECK((size_t)n == count);
        for (size_t k = 0; k < count; k++) FUZZ_CHECK(vals[k] == want[k]);
        free(vals);
    } else {
        check_msg(&err, "--ids");
    }
    free(want);
}

static void fuzz_args(const uint8_t *data, size_t size) {
    if (size < 1) return;
    char *s = fuzz_cstr(data + 1, size - 1);
    int sel = data[0];
    switch (sel % 4) {
    case 0: check_int(s, (sel / 4) % 4); break;
    case 1: check_double(s, (sel / 4) % 2); break;
    case 2: check_bytes(s); break;
    default: check_list(s, (sel / 4) % 4); break;
    }
    free(s);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_args(data, size);
    return 0;
}
#endif
