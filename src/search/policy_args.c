/* policy_args.c - parsing and checking declared parameters' values (a
 * policy's, a reward source's) against their declaration (policy_args.h). */
#include "search/policy_args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_list(PolicyParamType t) { return t == POLICY_INT_LIST || t == POLICY_DOUBLE_LIST; }
static int is_int(PolicyParamType t) { return t == POLICY_INT || t == POLICY_INT_LIST; }

ParamOwner policy_owner(const Policy *p) {
    return (ParamOwner){"policy", p->name, "--policy-arg", p->params, p->n_params, p->validate};
}

int param_index(const ParamOwner *o, const char *name) {
    for (int k = 0; k < o->n_params; k++)
        if (strcmp(o->params[k].name, name) == 0) return k;
    return -1;
}

const char *param_label(const ParamOwner *o, const PolicyParam *q, char *buf, size_t cap) {
    if (q->flag) return q->flag;
    snprintf(buf, cap, "%s %s", o->arg_flag, q->name);
    return buf;
}

int policy_param_index(const Policy *p, const char *name) {
    ParamOwner o = policy_owner(p);
    return param_index(&o, name);
}

const char *policy_param_label(const PolicyParam *q, char *buf, size_t cap) {
    ParamOwner o = {.arg_flag = "--policy-arg"};
    return param_label(&o, q, buf, cap);
}

/* x for a message: an integer whole (1000000, not 1e+06), anything else in
 * the shortest form that reads back as x (-0.2, 1e-320). */
static const char *fmt_num(double x, char *buf, size_t cap) {
    if (x == floor(x) && fabs(x) < 1e17) {
        snprintf(buf, cap, "%.0f", x);
        return buf;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    return buf;
}

/* "outside [0, 1)": ints print whole, others as %g; "[0, inf)" where the
 * range has no top (--help: ">= 0"). */
static int out_of_range(const PolicyParam *q, const char *label, double v, SrError *err) {
    char lo[40], hi[40], val[40];
    if (q->hi >= POLICY_NO_MAX)
        return sr_fail(err, "%s: %s is outside [%s, inf)", label, fmt_num(v, val, sizeof val),
                       fmt_num(q->lo, lo, sizeof lo));
    if (is_int(q->type))
        return sr_fail(err, "%s: %.0f is outside [%.0f, %.0f%c", label, v, q->lo, q->hi,
                       q->hi_open ? ')' : ']');
    return sr_fail(err, "%s: %s is outside [%s, %s%c", label, fmt_num(v, val, sizeof val),
                   fmt_num(q->lo, lo, sizeof lo), fmt_num(q->hi, hi, sizeof hi),
                   q->hi_open ? ')' : ']');
}

static int in_range(const PolicyParam *q, double v) {
    return v >= q->lo && (q->hi >= POLICY_NO_MAX || (q->hi_open ? v < q->hi : v <= q->hi));
}

/* One number of the parameter's kind, the whole of s. */
static int parse_one(const PolicyParam *q, const char *label, const char *s, double *out,
                     SrError *err) {
    char *end;
    errno = 0;
    if (is_int(q->type)) {
        long long v = strtoll(s, &end, 10);
        if (end == s || isspace((unsigned char)s[0]) || *end != 0 || errno == ERANGE)
            return sr_fail(err, "%s: '%s' is not an integer", label, s);
        *out = (double)v;
    } else {
        double v = strtod(s, &end);
        /* ERANGE from an underflow (1e-320, a denormal) still leaves a finite
         * value, the nearest to what was typed: only overflow is refused */
        if (end == s || isspace((unsigned char)s[0]) || *end != 0 ||
            (errno == ERANGE && fabs(v) == HUGE_VAL) || !isfinite(v))
            return sr_fail(err, "%s: '%s' is not a finite number", label, s);
        *out = v;
    }
    return in_range(q, *out) ? 0 : out_of_range(q, label, *out, err);
}

static int parse_list(const PolicyParam *q, PolicyArgs *a, int k, const char *label,
                      const char *s, SrError *err) {
    int at = a->n_store, n = 0;
    for (const char *p = s;; n++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[64];
        if (len == 0 || len >= sizeof buf)
            return sr_fail(err, "%s: bad list '%s' (expected e.g. %s)", label, s,
                           q->example ? q->example : "1,2,3");
        if (at + n >= POLICY_MAX_LIST)
            return sr_fail(err, "%s: too many values (at most %d in all)", label,
                           POLICY_MAX_LIST);
        memcpy(buf, p, len);
        buf[len] = 0;
        if (parse_one(q, label, buf, &a->store[at + n], err) != 0) return -1;
        if (!comma) break;
        p = comma + 1;
    }
    a->n_store = at + n + 1;
    a->at[k] = at, a->len[k] = n + 1;
    return 0;
}

static int set_k(const ParamOwner *o, PolicyArgs *a, int k, const char *text, const char *label,
                 SrError *err) {
    const PolicyParam *q = &o->params[k];
    char buf[64];
    if (!label) label = param_label(o, q, buf, sizeof buf);
    int rc = is_list(q->type) ? parse_list(q, a, k, label, text, err)
                              : parse_one(q, label, text, &a->num[k], err);
    if (rc == 0) a->set[k] = 1;
    return rc;
}

int param_args_init(const ParamOwner *o, PolicyArgs *a, SrError *err) {
    memset(a, 0, sizeof *a);
    if (o->n_params > POLICY_MAX_PARAMS)
        return sr_fail(err, "%s %s: %d parameters (at most %d)", o->kind, o->name, o->n_params,
                       POLICY_MAX_PARAMS);
    for (int k = 0; k < o->n_params; k++)
        if (o->params[k].def && set_k(o, a, k, o->params[k].def, NULL, err) != 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return sr_fail(err, "%s %s: its default: %s", o->kind, o->name, msg);
        }
    return 0;
}

int param_args_set(const ParamOwner *o, PolicyArgs *a, const char *name, const char *text,
                   const char *label, SrError *err) {
    int k = param_index(o, name);
    if (k < 0)
        return sr_fail(err, "%s: %s %s takes no parameter '%s'", label ? label : o->arg_flag,
                       o->kind, o->name, name);
    return set_k(o, a, k, text, label, err);
}

int param_args_check(const ParamOwner *o, const PolicyArgs *a, SrError *err) {
    for (int k = 0; k < o->n_params; k++) {
        const PolicyParam *q = &o->params[k];
        char buf[64];
        const char *label = param_label(o, q, buf, sizeof buf);
        if (!a->set[k]) return sr_fail(err, "%s: required (%s)", label, q->help);
        int n = 1;
        const double *v = is_list(q->type) ? policy_list(a, k, &n) : &a->num[k];
        for (int i = 0; i < n; i++) {
            if (!in_range(q, v[i])) return out_of_range(q, label, v[i], err);
            if (is_int(q->type) && v[i] != floor(v[i]))
                return sr_fail(err, "%s: %g is not an integer", label, v[i]);
        }
    }
    return o->validate ? o->validate(a, err) : 0;
}

int policy_args_init(const Policy *p, PolicyArgs *a, SrError *err) {
    ParamOwner o = policy_owner(p);
    return param_args_init(&o, a, err);
}

int policy_args_set(const Policy *p, PolicyArgs *a, const char *name, const char *text,
                    const char *label, SrError *err) {
    ParamOwner o = policy_owner(p);
    return param_args_set(&o, a, name, text, label, err);
}

void policy_args_put(const Policy *p, PolicyArgs *a, const char *name, double v) {
    int k = policy_param_index(p, name);
    if (k < 0 || is_list(p->params[k].type)) return;
    a->num[k] = v;
    a->set[k] = 1;
}

int policy_args_check(const Policy *p, const PolicyArgs *a, SrError *err) {
    ParamOwner o = policy_owner(p);
    return param_args_check(&o, a, err);
}
