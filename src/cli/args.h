/* args.h - strict parsing of command-line values.
 *
 * Every number a user types is checked completely: no trailing junk, no
 * overflow, inside the documented range. The error names the flag, e.g.
 * "--alpha: 1.5 is outside [0, 1)". Commands walk argv themselves with
 * args_take_value() so that each cmd_*.c shows its own flags at a glance. */
#ifndef SPECREJ_ARGS_H
#define SPECREJ_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* If argv[*i] equals flag (or alias when alias is non-NULL: "-x" or a second
 * long name), stores the next argument in *value, advances *i past it and
 * returns 1; "--flag=value" (long names) gives the value in the same
 * argument. Returns 0 when the flag does not match; returns -1 (err filled)
 * when the value is missing. */
int args_take_value(int argc, char **argv, int *i, const char *flag, const char *alias,
                    const char **value, SrError *err);
/* A command returns ARGS_USAGE (err filled) when its command line is wrong:
 * an unknown flag, a missing or malformed value, a required flag missing.
 * main exits 2 for it and 1 for any other failure (README, "Exit status"). */
#define ARGS_USAGE (-2)
/* sr_fail(err, ...) that returns ARGS_USAGE. */
int args_usage(SrError *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Whether a is the boolean flag (or its alias). */
int args_is_flag(const char *a, const char *flag, const char *alias);

int args_parse_int(const char *flag, const char *s, long long min, long long max,
                   long long *out, SrError *err);
/* A seed: every integer in [0, 2^64-1], exactly (a double or a long long
 * cannot hold them all). */
int args_parse_u64(const char *flag, const char *s, uint64_t *out, SrError *err);
/* strtod over the whole of s: 0 and *out set for a finite number (a
 * denormal such as 1e-320 included), -1 otherwise (junk, overflow, inf, nan). */
int args_strtod(const char *s, double *out);
/* x for a message: an integer as digits ("2147483647"), anything else with
 * every digit it needs ("%.17g"); returns buf. */
const char *args_fmt_limit(double x, char *buf, size_t cap);
/* Floats: finite, within [min, max] (max_inclusive = 0 makes it [min, max)). */
int args_parse_double(const char *flag, const char *s, double min, double max,
                      int max_inclusive, double *out, SrError *err);
/* Byte sizes: "1048576", "512K", "64M", "2G" (binary units). */
int args_parse_bytes(const char *flag, const char *s, size_t *out, SrError *err);
/* --weights f32|bf16|f16|auto (every command that loads a model): when
 * argv[*i] is it, sets *weights (MODEL_WEIGHTS_AUTO or a MODEL_DTYPE_, for
 * model_load_as) and returns 1; 0 when it is another flag; -1 (err filled)
 * for a missing or unknown value. */
int args_take_weights(int argc, char **argv, int *i, int *weights, SrError *err);
#define ARGS_WEIGHTS_HELP                                                                    \
    "  --weights DTYPE       how the matrices are held: f32, bf16 or f16 (default: the\n" \
    "                        checkpoint's own, f32 for llama2.c files; README, \"Weights\")\n"
/* --kv-dtype f32|bf16|f16 (wherever --weights is taken): the KV cache's
 * element type (ModelLoadOptions.kv_dtype); as args_take_weights. */
int args_take_kv_dtype(int argc, char **argv, int *i, int *kv_dtype, SrError *err);
#define ARGS_KV_DTYPE_HELP                                                                   \
    "  --kv-dtype DTYPE      how the KV cache holds keys and values: f32 (default), bf16\n" \
    "                        or f16: half the bytes per token, so a KV budget holds twice\n" \
    "                        the candidates; keys and values rounded (README, \"KV cache\")\n"

/* Comma-separated ints, e.g. "--ids 5,17,3" or "--schedule 8,16,32". */
int args_parse_int_list(const char *flag, const char *s, long long min, long long max,
                        int **out, int *n, SrError *err);

#endif
