/* jinja_value.c - the values a render computes: the output buffer, strings,
 * lists, dicts and scopes in the render's arena; truth, equality and
 * Python's str(), repr() and json.dumps() of them, which is where a chat
 * template's output bytes come from (the float and repr rules follow
 * CPython, so `{{ 0.1 }}` and `{{ messages }}` print as Jinja2 prints them).
 * Failures are reported with jj_rfail, which names the template and line. */
#include "text/jinja_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *jj_type_name(const Value *v) {
    static const char *const N[] = {"Undefined", "NoneType", "bool", "int", "float",
                                    "str", "list", "dict", "loop", "function"};
    if (v->ns) return v->t == V_DICT ? "Namespace" : v->ns == LIST_TUPLE ? "tuple" : "generator";
    return N[v->t];
}

int jj_rfail(Ctx *c, int line, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return jj_fail(c->err, c->origin, line, "%s", msg);
}

int jj_oom(Ctx *c) {
    return jj_rfail(c, 0, "the render needs more than %zu MiB", JJ_MAX_ARENA >> 20);
}

int jj_buf_put(Ctx *c, Buf *b, const char *p, size_t n) {
    if (n == 0) return 0;
    if (b->n + n > JJ_MAX_OUTPUT)
        return jj_rfail(c, 0, "the output is longer than %zu MiB", JJ_MAX_OUTPUT >> 20);
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return jj_oom(c);
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

int jj_buf_puts(Ctx *c, Buf *b, const char *s) { return jj_buf_put(c, b, s, strlen(s)); }

/* The buffer's text as an arena string; the buffer is emptied. */
int jj_buf_take(Ctx *c, Buf *b, Value *out) {
    char *s = jj_arena_alloc(&c->a, b->n + 1);
    if (!s) {
        free(b->p);
        *b = (Buf){0};
        return jj_oom(c);
    }
    if (b->n) memcpy(s, b->p, b->n);
    s[b->n] = 0;
    *out = (Value){.t = V_STR, .u.s = {s, b->n}};
    free(b->p);
    *b = (Buf){0};
    return 0;
}

int jj_make_str(Ctx *c, const char *p, size_t n, Value *out) {
    char *s = jj_arena_alloc(&c->a, n + 1);
    if (!s) return jj_oom(c);
    if (n) memcpy(s, p, n);
    s[n] = 0;
    *out = (Value){.t = V_STR, .u.s = {s, n}};
    return 0;
}

List *jj_new_list(Ctx *c, int n) {
    List *l = jj_arena_alloc(&c->a, sizeof *l + (size_t)(n > 0 ? n : 1) * sizeof(Value));
    if (!l) return NULL;
    l->n = n;
    l->v = (Value *)(l + 1);
    return l;
}

int jj_dict_find(const Dict *d, Str k) {
    for (int i = 0; i < d->n; i++)
        if (str_same(d->k[i], k)) return i;
    return -1;
}

int jj_dict_set(Ctx *c, Dict *d, Str k, Value v) {
    int i = jj_dict_find(d, k);
    if (i >= 0) {
        d->v[i] = v;
        return 0;
    }
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        Str *ks = jj_arena_alloc(&c->a, (size_t)cap * sizeof *ks);
        Value *vs = jj_arena_alloc(&c->a, (size_t)cap * sizeof *vs);
        if (!ks || !vs) return jj_oom(c);
        if (d->n) memcpy(ks, d->k, (size_t)d->n * sizeof *ks), memcpy(vs, d->v, (size_t)d->n * sizeof *vs);
        d->k = ks, d->v = vs, d->cap = cap;
    }
    d->k[d->n] = k, d->v[d->n] = v;
    d->n++;
    return 0;
}

Dict *jj_new_dict(Ctx *c) {
    Dict *d = jj_arena_alloc(&c->a, sizeof *d);
    if (d) memset(d, 0, sizeof *d);
    return d;
}

int jj_frame_set(Ctx *c, Frame *f, Str name, Value v) {
    for (int i = 0; i < f->n; i++)
        if (str_same(f->vars[i].name, name)) {
            f->vars[i].v = v;
            return 0;
        }
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 8;
        Var *vs = jj_arena_alloc(&c->a, (size_t)cap * sizeof *vs);
        if (!vs) return jj_oom(c);
        if (f->n) memcpy(vs, f->vars, (size_t)f->n * sizeof *vs);
        f->vars = vs, f->cap = cap;
    }
    f->vars[f->n++] = (Var){name, v};
    return 0;
}

const Value *jj_frame_get(const Frame *f, Str name) {
    for (; f; f = f->up)
        for (int i = f->n - 1; i >= 0; i--)
            if (str_same(f->vars[i].name, name)) return &f->vars[i].v;
    return NULL;
}

int jj_truthy(const Value *v) {
    switch (v->t) {
    case V_UNDEF: case V_NONE: return 0;
    case V_BOOL: case V_INT: return v->u.i != 0;
    case V_FLOAT: return v->u.f != 0;
    case V_STR: return v->u.s.n != 0;
    case V_LIST: return v->ns == LIST_ITER || v->u.l->n != 0;
    case V_DICT: return v->ns || v->u.d->n != 0;
    default: return 1;
    }
}

/* UTF-8 code points: Python strings count, index and slice by them. A
 * byte that starts no valid sequence counts as one. */
static size_t cp_len_at(const char *p, size_t n) {
    unsigned char b = (unsigned char)p[0];
    size_t k = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
    if (k > n) return 1;
    for (size_t i = 1; i < k; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80) return 1;
    return k;
}

/* Offsets of each code point of s (plus the end); *count code points. */
size_t *jj_cp_offsets(Ctx *c, Str s, long long *count) {
    size_t *off = jj_arena_alloc(&c->a, (s.n + 1) * sizeof *off);
    if (!off) return NULL;
    long long k = 0;
    for (size_t i = 0; i < s.n; i += cp_len_at(s.p + i, s.n - i)) off[k++] = i;
    off[k] = s.n;
    *count = k;
    return off;
}

long long jj_cp_count(Str s) {
    long long k = 0;
    for (size_t i = 0; i < s.n; i += cp_len_at(s.p + i, s.n - i)) k++;
    return k;
}

/* Python's repr of a float: the shortest digits that read back the same,
 * in fixed notation for exponents -4..15, else d.ddde+XX. */
static void float_repr(double x, char *out, size_t cap) {
    if (isnan(x)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(out, cap, x < 0 ? "-inf" : "inf");
        return;
    }
    char e[40];
    for (int p = 0; p < 17; p++) {
        snprintf(e, sizeof e, "%.*e", p, x);
        if (strtod(e, NULL) == x) break;
    }
    char digits[24];
    int nd = 0, neg = e[0] == '-';
    const char *q = e + neg;
    for (; *q && *q != 'e'; q++)
        if (*q != '.') digits[nd++] = *q;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int exp = atoi(q + 1);
    char *o = out;
    size_t left = cap;
#define PUT(...) do { int w_ = snprintf(o, left, __VA_ARGS__); if (w_ < 0 || (size_t)w_ >= left) return; o += w_, left -= (size_t)w_; } while (0)
    if (neg) PUT("-");
    if (exp < -4 || exp >= 16) {
        PUT("%c", digits[0]);
        if (nd > 1) PUT(".%s", digits + 1);
        PUT("e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        PUT("0.");
        for (int i = 0; i < -exp - 1; i++) PUT("0");
        PUT("%s", digits);
    } else {
        for (int i = 0; i <= exp; i++) PUT("%c", i < nd ? digits[i] : '0');
        PUT(".");
        if (nd > exp + 1) PUT("%s", digits + exp + 1);
        else PUT("0");
    }
#undef PUT
}

/* Python's repr of a str. */
static int write_repr_str(Ctx *c, Buf *b, Str s) {
    int has1 = memchr(s.p, '\'', s.n) != NULL, has2 = memchr(s.p, '"', s.n) != NULL;
    char q = has1 && !has2 ? '"' : '\'';
    if (jj_buf_put(c, b, &q, 1) != 0) return -1;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        char esc[8];
        const char *w = NULL;
        if (ch == '\\') w = "\\\\";
        else if (ch == (unsigned char)q) w = q == '\'' ? "\\'" : "\\\"";
        else if (ch == '\n') w = "\\n";
        else if (ch == '\r') w = "\\r";
        else if (ch == '\t') w = "\\t";
        else if (ch < 0x20 || ch == 0x7f) snprintf(esc, sizeof esc, "\\x%02x", ch), w = esc;
        if (w ? jj_buf_puts(c, b, w) : jj_buf_put(c, b, s.p + i, 1)) return -1;
    }
    return jj_buf_put(c, b, &q, 1);
}

static int write_repr(Ctx *c, Buf *b, const Value *v, int line) {
    if (++c->depth > JJ_MAX_DEPTH) return jj_rfail(c, line, "a value is nested too deeply");
    int rc = 0;
    if (v->t == V_STR) {
        rc = write_repr_str(c, b, v->u.s);
    } else if (v->t == V_LIST && v->ns != LIST_ITER) {
        rc = jj_buf_puts(c, b, v->ns ? "(" : "[");
        for (int i = 0; rc == 0 && i < v->u.l->n; i++)
            rc = (i ? jj_buf_puts(c, b, ", ") : 0) || write_repr(c, b, &v->u.l->v[i], line) ? -1 : 0;
        if (rc == 0 && v->ns && v->u.l->n == 1) rc = jj_buf_puts(c, b, ",");
        if (rc == 0) rc = jj_buf_puts(c, b, v->ns ? ")" : "]");
    } else if (v->t == V_DICT && !v->ns) {
        rc = jj_buf_puts(c, b, "{");
        for (int i = 0; rc == 0 && i < v->u.d->n; i++)
            rc = (i ? jj_buf_puts(c, b, ", ") : 0) || write_repr_str(c, b, v->u.d->k[i]) ||
                 jj_buf_puts(c, b, ": ") || write_repr(c, b, &v->u.d->v[i], line) ? -1 : 0;
        if (rc == 0) rc = jj_buf_puts(c, b, "}");
    } else {
        rc = jj_write_str(c, b, v, line);
    }
    c->depth--;
    return rc;
}

/* Python's str() of a value, appended to b. */
int jj_write_str(Ctx *c, Buf *b, const Value *v, int line) {
    char num[64];
    switch (v->t) {
    case V_UNDEF: return 0;
    case V_NONE: return jj_buf_puts(c, b, "None");
    case V_BOOL: return jj_buf_puts(c, b, v->u.i ? "True" : "False");
    case V_INT: snprintf(num, sizeof num, "%lld", v->u.i); return jj_buf_puts(c, b, num);
    case V_FLOAT: float_repr(v->u.f, num, sizeof num); return jj_buf_puts(c, b, num);
    case V_STR: return jj_buf_put(c, b, v->u.s.p, v->u.s.n);
    case V_LIST: if (v->ns != LIST_ITER) return write_repr(c, b, v, line); break;
    case V_DICT: if (!v->ns) return write_repr(c, b, v, line); break;
    default: break;
    }
    return jj_rfail(c, line, "unsupported: turning a %s into text", jj_type_name(v));
}

int jj_to_str(Ctx *c, const Value *v, Str *out, int line) {
    if (v->t == V_STR) {
        *out = v->u.s;
        return 0;
    }
    Buf b = {0};
    Value s;
    if (jj_write_str(c, &b, v, line) != 0) {
        free(b.p);
        return -1;
    }
    if (jj_buf_take(c, &b, &s) != 0) return -1;
    *out = s.u.s;
    return 0;
}

/* transformers' tojson: json.dumps(x, ensure_ascii=False, indent=indent). */
int jj_write_json(Ctx *c, Buf *b, const Value *v, int indent, int level, int line) {
    if (++c->depth > JJ_MAX_DEPTH) return jj_rfail(c, line, "a value is nested too deeply");
    char num[64];
    int rc = 0;
    switch (v->t) {
    case V_NONE: rc = jj_buf_puts(c, b, "null"); break;
    case V_BOOL: rc = jj_buf_puts(c, b, v->u.i ? "true" : "false"); break;
    case V_INT: snprintf(num, sizeof num, "%lld", v->u.i); rc = jj_buf_puts(c, b, num); break;
    case V_FLOAT:
        if (isnan(v->u.f)) snprintf(num, sizeof num, "NaN");
        else if (isinf(v->u.f)) snprintf(num, sizeof num, v->u.f < 0 ? "-Infinity" : "Infinity");
        else float_repr(v->u.f, num, sizeof num);
        rc = jj_buf_puts(c, b, num);
        break;
    case V_STR:
        rc = jj_buf_puts(c, b, "\"");
        for (size_t i = 0; rc == 0 && i < v->u.s.n; i++) {
            unsigned char ch = (unsigned char)v->u.s.p[i];
            char esc[8];
            const char *w = NULL;
            if (ch == '"') w = "\\\"";
            else if (ch == '\\') w = "\\\\";
            else if (ch == '\n') w = "\\n";
            else if (ch == '\r') w = "\\r";
            else if (ch == '\t') w = "\\t";
            else if (ch == '\b') w = "\\b";
            else if (ch == '\f') w = "\\f";
            else if (ch < 0x20) snprintf(esc, sizeof esc, "\\u%04x", ch), w = esc;
            rc = w ? jj_buf_puts(c, b, w) : jj_buf_put(c, b, v->u.s.p + i, 1);
        }
        if (rc == 0) rc = jj_buf_puts(c, b, "\"");
        break;
    case V_LIST:
    case V_DICT: {
        if (v->ns == (v->t == V_DICT ? 1 : LIST_ITER)) {
            rc = jj_rfail(c, line, "tojson: a %s is not JSON serializable", jj_type_name(v));
            break;
        }
        int is_list = v->t == V_LIST, n = is_list ? v->u.l->n : v->u.d->n;
        rc = jj_buf_puts(c, b, is_list ? "[" : "{");
        for (int i = 0; rc == 0 && i < n; i++) {
            if (i) rc = jj_buf_puts(c, b, indent >= 0 ? "," : ", ");
            if (rc == 0 && indent >= 0) {
                rc = jj_buf_puts(c, b, "\n");
                for (long k = 0; rc == 0 && k < (long)indent * (level + 1); k++) rc = jj_buf_puts(c, b, " ");
            }
            if (rc == 0 && !is_list) {
                Value key = {.t = V_STR, .u.s = v->u.d->k[i]};
                rc = jj_write_json(c, b, &key, indent, level + 1, line) || jj_buf_puts(c, b, ": ") ? -1 : 0;
            }
            if (rc == 0)
                rc = jj_write_json(c, b, is_list ? &v->u.l->v[i] : &v->u.d->v[i], indent, level + 1, line);
        }
        if (rc == 0 && indent >= 0 && n > 0) {
            rc = jj_buf_puts(c, b, "\n");
            for (long k = 0; rc == 0 && k < (long)indent * level; k++) rc = jj_buf_puts(c, b, " ");
        }
        if (rc == 0) rc = jj_buf_puts(c, b, is_list ? "]" : "}");
        break;
    }
    default:
        rc = jj_rfail(c, line, "tojson: a %s is not JSON serializable", jj_type_name(v));
    }
    c->depth--;
    return rc;
}

int jj_values_equal(const Value *a, const Value *b) {
    if (is_number(a) && is_number(b)) {
        if (a->t != V_FLOAT && b->t != V_FLOAT) return a->u.i == b->u.i;
        return num_of(a) == num_of(b);
    }
    if (a->t != b->t) return 0;
    switch (a->t) {
    case V_UNDEF: case V_NONE: return 1;
    case V_STR: return str_same(a->u.s, b->u.s);
    case V_LIST:
        if (a->u.l->n != b->u.l->n) return 0;
        for (int i = 0; i < a->u.l->n; i++)
            if (!jj_values_equal(&a->u.l->v[i], &b->u.l->v[i])) return 0;
        return 1;
    case V_DICT:
        if (a->ns || b->ns) return a->u.d == b->u.d;
        if (a->u.d->n != b->u.d->n) return 0;
        for (int i = 0; i < a->u.d->n; i++) {
            int j = jj_dict_find(b->u.d, a->u.d->k[i]);
            if (j < 0 || !jj_values_equal(&a->u.d->v[i], &b->u.d->v[j])) return 0;
        }
        return 1;
    case V_LOOP: return a->u.loop == b->u.loop;
    case V_FUNC: return a->u.fn == b->u.fn;
    default: return 0;
    }
}

int jj_as_int(Ctx *c, const Value *v, long long *out, int line, const char *what) {
    if (v->t == V_INT || v->t == V_BOOL) {
        *out = v->u.i;
        return 0;
    }
    return jj_rfail(c, line, "%s must be an integer, not %s", what, jj_type_name(v));
}

int jj_want_str(Ctx *c, const Value *v, const char *what, int line) {
    if (v && v->t == V_STR) return 0;
    return jj_rfail(c, line, "%s: expected a string, got %s", what, v ? jj_type_name(v) : "nothing");
}

