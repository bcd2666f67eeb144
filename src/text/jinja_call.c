/* jinja_call.c - calls in the Jinja subset: argument lists checked
 * against what a function takes, the three built-ins a chat template may
 * call (raise_exception, namespace, range), and the str and dict methods
 * (strip, split, replace, startswith, lower, ..., items, get). A method or
 * argument outside the subset fails when the call runs, never at parse
 * time, so a branch a plain chat never takes cannot refuse a template. */
#include "text/jinja_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arguments ---- */

int jj_eval_args(Ctx *c, Frame *f, const Expr *e, Args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < e->n; i++) {
        Value v;
        if (jj_eval(c, f, e->args[i], &v) != 0) return -1;
        if (e->kw[i].p) {
            if (a->n_kw == 4) return jj_rfail(c, e->line, "too many keyword arguments");
            a->kw_name[a->n_kw] = e->kw[i], a->kw[a->n_kw++] = v;
        } else {
            if (a->n_pos == 4) return jj_rfail(c, e->line, "too many arguments");
            a->pos[a->n_pos++] = v;
        }
    }
    return 0;
}

/* Argument i by position or by name; NULL when not given. */
const Value *jj_arg(const Args *a, int i, const char *name) {
    if (i < a->n_pos) return &a->pos[i];
    for (int k = 0; k < a->n_kw; k++)
        if (str_eq(a->kw_name[k], name)) return &a->kw[k];
    return NULL;
}

/* Fails on arguments beyond the names a function knows. */
int jj_check_args(Ctx *c, const Args *a, const char *const *names, const char *fn, int line) {
    int known = 0;
    while (names[known]) known++;
    if (a->n_pos > known) return jj_rfail(c, line, "%s takes at most %d arguments", fn, known);
    for (int k = 0; k < a->n_kw; k++) {
        int ok = 0;
        for (int i = a->n_pos; i < known; i++) ok |= str_eq(a->kw_name[k], names[i]);
        if (!ok)
            return jj_rfail(c, line, "unsupported: %s(%.*s=...)", fn,
                         (int)(a->kw_name[k].n > 40 ? 40 : a->kw_name[k].n), a->kw_name[k].p);
    }
    return 0;
}

/* ---- str and dict methods, and the helpers filters share with them ---- */

static int in_set(Str chars, const char *p) { return memchr(chars.p, *p, chars.n) != NULL; }

static int is_py_space(char ch) { return is_space(ch) || (ch >= 0x1c && ch <= 0x1f); }

/* Python's str.strip/lstrip/rstrip; chars NULL: whitespace. Stripping by
 * bytes is stripping by code points while chars are ASCII. */
int jj_strip(Ctx *c, Str s, const Value *chars, int left, int right, Value *out, int line) {
    Str set = {NULL, 0};
    if (chars && chars->t != V_NONE) {
        if (jj_want_str(c, chars, "strip", line) != 0) return -1;
        set = chars->u.s;
        for (size_t i = 0; i < set.n; i++)
            if ((unsigned char)set.p[i] >= 0x80)
                return jj_rfail(c, line, "unsupported: strip() of non-ASCII characters");
    }
    size_t a = 0, b = s.n;
    while (left && a < b && (set.p ? in_set(set, s.p + a) : is_py_space(s.p[a]))) a++;
    while (right && b > a && (set.p ? in_set(set, s.p + b - 1) : is_py_space(s.p[b - 1]))) b--;
    *out = (Value){.t = V_STR, .u.s = {s.p + a, b - a}};
    return 0;
}

static int do_split(Ctx *c, Str s, const Value *sep, const Value *maxv, Value *out, int line) {
    long long max = -1;
    if (maxv && jj_as_int(c, maxv, &max, line, "split's maxsplit") != 0) return -1;
    int n = 0, cap = 8;
    Value *items = jj_arena_alloc(&c->a, (size_t)cap * sizeof *items);
    if (!items) return jj_oom(c);
#define ADD(p_, n_) do { if (n == cap) { Value *g_ = jj_arena_alloc(&c->a, (size_t)cap * 2 * sizeof *g_); if (!g_) return jj_oom(c); memcpy(g_, items, (size_t)n * sizeof *g_); items = g_, cap *= 2; } items[n++] = (Value){.t = V_STR, .u.s = {(p_), (n_)}}; } while (0)
    if (!sep || sep->t == V_NONE) { /* runs of whitespace, no empty pieces */
        size_t i = 0;
        while (i < s.n) {
            while (i < s.n && is_py_space(s.p[i])) i++;
            if (i == s.n) break;
            size_t j = i;
            if (max >= 0 && n == max) j = s.n;
            else while (j < s.n && !is_py_space(s.p[j])) j++;
            if (j == s.n && max >= 0 && n == max) { /* the rest, right-stripped */
                while (j > i && is_py_space(s.p[j - 1])) j--;
            }
            ADD(s.p + i, j - i);
            i = j;
            if (max >= 0 && n > max) break;
        }
    } else {
        if (jj_want_str(c, sep, "split", line) != 0) return -1;
        Str d = sep->u.s;
        if (d.n == 0) return jj_rfail(c, line, "split: empty separator");
        size_t i = 0;
        for (;;) {
            const char *hit = NULL;
            if (max < 0 || n < max)
                for (size_t k = i; k + d.n <= s.n; k++)
                    if (memcmp(s.p + k, d.p, d.n) == 0) {
                        hit = s.p + k;
                        break;
                    }
            if (!hit) {
                ADD(s.p + i, s.n - i);
                break;
            }
            ADD(s.p + i, (size_t)(hit - (s.p + i)));
            i = (size_t)(hit - s.p) + d.n;
        }
    }
#undef ADD
    List *l = jj_arena_alloc(&c->a, sizeof *l);
    if (!l) return jj_oom(c);
    l->n = n, l->v = items;
    *out = list_value(l);
    return 0;
}

int jj_replace(Ctx *c, Str s, const Value *from, const Value *to, const Value *countv,
                      Value *out, int line) {
    if (jj_want_str(c, from, "replace", line) != 0 || jj_want_str(c, to, "replace", line) != 0) return -1;
    long long count = -1;
    if (countv && jj_as_int(c, countv, &count, line, "replace's count") != 0) return -1;
    Str a = from->u.s, b = to->u.s;
    if (a.n == 0) return jj_rfail(c, line, "unsupported: replace() of the empty string");
    Buf o = {0};
    size_t i = 0;
    while (i < s.n) {
        if (count != 0 && i + a.n <= s.n && memcmp(s.p + i, a.p, a.n) == 0) {
            if (jj_buf_put(c, &o, b.p, b.n) != 0) goto fail;
            i += a.n;
            if (count > 0) count--;
        } else {
            if (jj_buf_put(c, &o, s.p + i, 1) != 0) goto fail;
            i++;
        }
    }
    return jj_buf_take(c, &o, out);
fail:
    free(o.p);
    return -1;
}

int jj_case(Ctx *c, Str s, int mode, Value *out) {
    /* mode 0 lower, 1 upper, 2 capitalize; ASCII letters only, which is
     * what Python does for them (others are left as they are) */
    char *p = jj_arena_alloc(&c->a, s.n + 1);
    if (!p) return jj_oom(c);
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        int up = mode == 1 || (mode == 2 && i == 0);
        if (up && ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
        if (!up && ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        p[i] = ch;
    }
    p[s.n] = 0;
    *out = (Value){.t = V_STR, .u.s = {p, s.n}};
    return 0;
}

static int starts_ends(Ctx *c, Str s, const Value *x, int ends, Value *out, int line) {
    int n = 1, hit = 0;
    const Value *opts = x;
    if (x && x->t == V_LIST) n = x->u.l->n, opts = x->u.l->v;
    for (int i = 0; i < n; i++) {
        if (jj_want_str(c, &opts[i], ends ? "endswith" : "startswith", line) != 0) return -1;
        Str p = opts[i].u.s;
        if (p.n <= s.n && memcmp(ends ? s.p + s.n - p.n : s.p, p.p, p.n) == 0) hit = 1;
    }
    *out = bool_value(hit);
    return 0;
}

static int str_method(Ctx *c, Str s, Str m, const Args *a, Value *out, int line) {
    static const char *const NONE_[] = {NULL};
    static const char *const CHARS[] = {"chars", NULL};
    if (str_eq(m, "startswith") || str_eq(m, "endswith")) {
        static const char *const N[] = {"prefix", NULL};
        if (jj_check_args(c, a, N, "startswith", line) != 0) return -1;
        return starts_ends(c, s, jj_arg(a, 0, "prefix"), str_eq(m, "endswith"), out, line);
    }
    if (str_eq(m, "strip") || str_eq(m, "lstrip") || str_eq(m, "rstrip")) {
        if (jj_check_args(c, a, CHARS, "strip", line) != 0) return -1;
        return jj_strip(c, s, jj_arg(a, 0, "chars"), m.p[0] != 'r', m.p[0] != 'l', out, line);
    }
    if (str_eq(m, "split")) {
        static const char *const N[] = {"sep", "maxsplit", NULL};
        if (jj_check_args(c, a, N, "split", line) != 0) return -1;
        return do_split(c, s, jj_arg(a, 0, "sep"), jj_arg(a, 1, "maxsplit"), out, line);
    }
    if (str_eq(m, "replace")) {
        static const char *const N[] = {"old", "new", "count", NULL};
        if (jj_check_args(c, a, N, "replace", line) != 0) return -1;
        return jj_replace(c, s, jj_arg(a, 0, "old"), jj_arg(a, 1, "new"), jj_arg(a, 2, "count"), out, line);
    }
    int mode = str_eq(m, "lower") ? 0 : str_eq(m, "upper") ? 1 : str_eq(m, "capitalize") ? 2 : -1;
    if (mode >= 0) {
        if (jj_check_args(c, a, NONE_, "lower", line) != 0) return -1;
        return jj_case(c, s, mode, out);
    }
    return jj_rfail(c, line, "unsupported construct: the string method .%.*s()", (int)(m.n > 40 ? 40 : m.n), m.p);
}

int jj_dict_items(Ctx *c, const Dict *d, int what, Value *out) {
    /* what: 0 keys, 1 values, 2 items as [key, value] pairs */
    List *l = jj_new_list(c, d->n);
    if (!l) return jj_oom(c);
    for (int i = 0; i < d->n; i++) {
        Value k = {.t = V_STR, .u.s = d->k[i]};
        if (what == 0) l->v[i] = k;
        else if (what == 1) l->v[i] = d->v[i];
        else {
            List *p = jj_new_list(c, 2);
            if (!p) return jj_oom(c);
            p->v[0] = k, p->v[1] = d->v[i];
            l->v[i] = list_value(p);
            l->v[i].ns = 1; /* Python's items() gives tuples */
        }
    }
    *out = list_value(l);
    return 0;
}

static int dict_method(Ctx *c, const Value *obj, Str m, const Args *a, Value *out, int line) {
    static const char *const NONE_[] = {NULL};
    int what = str_eq(m, "keys") ? 0 : str_eq(m, "values") ? 1 : str_eq(m, "items") ? 2 : -1;
    if (what >= 0) {
        if (jj_check_args(c, a, NONE_, "items", line) != 0) return -1;
        return jj_dict_items(c, obj->u.d, what, out);
    }
    if (str_eq(m, "get")) {
        static const char *const N[] = {"key", "default", NULL};
        if (jj_check_args(c, a, N, "get", line) != 0) return -1;
        const Value *k = jj_arg(a, 0, "key"), *d = jj_arg(a, 1, "default");
        if (!k) return jj_rfail(c, line, "get() needs a key");
        int i = k->t == V_STR ? jj_dict_find(obj->u.d, k->u.s) : -1;
        *out = i >= 0 ? obj->u.d->v[i] : d ? *d : (Value){.t = V_NONE};
        return 0;
    }
    return jj_rfail(c, line, "unsupported construct: the dict method .%.*s()", (int)(m.n > 40 ? 40 : m.n), m.p);
}

/* ---- the built-in functions and calls ---- */

static int call_builtin(Ctx *c, FnId fn, const Args *a, Value *out, int line) {
    if (fn == FN_RAISE) {
        Str msg = {"", 0};
        if (a->n_pos > 0 && jj_to_str(c, &a->pos[0], &msg, line) != 0) return -1;
        /* the message is the template author's: quote it, clipped and on one line */
        char m[300];
        size_t k = 0;
        for (size_t i = 0; i < msg.n && k + 1 < sizeof m; i++)
            m[k++] = msg.p[i] == '\n' || msg.p[i] == '\r' ? ' ' : msg.p[i];
        m[k] = 0;
        return jj_rfail(c, line, "raise_exception: %s", m);
    }
    if (fn == FN_NAMESPACE) {
        if (a->n_pos) return jj_rfail(c, line, "unsupported: namespace() with positional arguments");
        Dict *d = jj_new_dict(c);
        if (!d) return jj_oom(c);
        for (int i = 0; i < a->n_kw; i++)
            if (jj_dict_set(c, d, a->kw_name[i], a->kw[i]) != 0) return -1;
        *out = (Value){.t = V_DICT, .ns = 1, .u.d = d};
        return 0;
    }
    /* range */
    static const char *const N[] = {"start", "stop", "step", NULL};
    if (jj_check_args(c, a, N, "range", line) != 0 || a->n_kw) return jj_rfail(c, line, "range() takes positional arguments");
    long long v[3] = {0, 0, 1};
    if (a->n_pos == 0) return jj_rfail(c, line, "range() needs an argument");
    for (int i = 0; i < a->n_pos; i++)
        if (jj_as_int(c, &a->pos[i], &v[i], line, "a range() argument") != 0) return -1;
    if (a->n_pos == 1) v[1] = v[0], v[0] = 0;
    if (v[2] == 0) return jj_rfail(c, line, "range() step must not be zero");
    long long n = 0;
    if (v[2] > 0 && v[0] < v[1]) n = (v[1] - v[0] - 1) / v[2] + 1;
    if (v[2] < 0 && v[1] < v[0]) n = (v[0] - v[1] - 1) / (-v[2]) + 1;
    if (n > JJ_MAX_RANGE) return jj_rfail(c, line, "range() of more than %d numbers", JJ_MAX_RANGE);
    List *l = jj_new_list(c, (int)n);
    if (!l) return jj_oom(c);
    for (long long i = 0; i < n; i++) l->v[i] = int_value(v[0] + i * v[2]);
    *out = list_value(l);
    return 0;
}

int jj_eval_call(Ctx *c, Frame *f, const Expr *e, Value *out) {
    Args a;
    if (e->a->k == E_ATTR) { /* a method: obj.name(...) */
        Value obj;
        if (jj_eval(c, f, e->a->a, &obj) != 0) return -1;
        if (obj.t == V_STR || (obj.t == V_DICT && !obj.ns)) {
            if (jj_eval_args(c, f, e, &a) != 0) return -1;
            if (obj.t == V_STR) return str_method(c, obj.u.s, e->a->name, &a, out, e->line);
            int i = jj_dict_find(obj.u.d, e->a->name);
            if (i < 0 || obj.u.d->v[i].t != V_FUNC)
                return dict_method(c, &obj, e->a->name, &a, out, e->line);
        }
    }
    Value fn;
    if (jj_eval(c, f, e->a, &fn) != 0) return -1;
    if (fn.t != V_FUNC) {
        if (fn.t == V_UNDEF) return jj_not_defined(c, e->a);
        return jj_rfail(c, e->line, "unsupported construct: calling a %s", jj_type_name(&fn));
    }
    if (jj_eval_args(c, f, e, &a) != 0) return -1;
    return call_builtin(c, fn.u.fn, &a, out, e->line);
}
