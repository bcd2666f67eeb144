/* jinja_filter.c - the tests (`x is defined`) and filters (`x | trim`) of
 * the Jinja subset: the ones the Llama 3, Qwen2/2.5/3 and SmolLM2 chat
 * templates use, with Jinja2's behaviour for each (tojson is transformers'
 * own: json.dumps without escaping non-ASCII). An unknown one fails when
 * it is applied, naming it. */
#include "text/jinja_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- tests ---- */

/* `v is name(args)`: *out is 1 when it holds. */
int jj_run_test(Ctx *c, Str name, const Value *v, const Args *a, int *out, int line) {
    const Value *x = jj_arg(a, 0, "value");
    static const char *const WITH_ARG[] = {"equalto", "eq", "==", "sameas", "ne", "!=", "in", NULL};
    static const char *const NO_ARG[] = {
        "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true",
        "false", "mapping", "iterable", "sequence", "callable", "odd", "even", "lower", "upper",
        NULL};
    int takes_arg = 0, known = 0;
    for (int i = 0; WITH_ARG[i]; i++) takes_arg |= str_eq(name, WITH_ARG[i]);
    for (int i = 0; NO_ARG[i]; i++) known |= str_eq(name, NO_ARG[i]);
    if ((known || takes_arg) && a->n_pos + a->n_kw > takes_arg)
        return jj_rfail(c, line, "the test '%.*s' takes %s", (int)(name.n > 40 ? 40 : name.n), name.p,
                     takes_arg ? "one argument" : "no argument");
    if (str_eq(name, "defined")) *out = v->t != V_UNDEF;
    else if (str_eq(name, "undefined")) *out = v->t == V_UNDEF;
    else if (str_eq(name, "none")) *out = v->t == V_NONE;
    else if (str_eq(name, "string")) *out = v->t == V_STR;
    else if (str_eq(name, "number")) *out = is_number(v);
    else if (str_eq(name, "integer")) *out = v->t == V_INT;
    else if (str_eq(name, "float")) *out = v->t == V_FLOAT;
    else if (str_eq(name, "boolean")) *out = v->t == V_BOOL;
    else if (str_eq(name, "true")) *out = v->t == V_BOOL && v->u.i;
    else if (str_eq(name, "false")) *out = v->t == V_BOOL && !v->u.i;
    else if (str_eq(name, "mapping")) *out = v->t == V_DICT && !v->ns;
    else if (str_eq(name, "iterable")) *out = v->t == V_STR || v->t == V_LIST || (v->t == V_DICT && !v->ns) || v->t == V_UNDEF;
    else if (str_eq(name, "sequence")) *out = v->t == V_STR || (v->t == V_LIST && v->ns != LIST_ITER) || (v->t == V_DICT && !v->ns);
    else if (str_eq(name, "callable")) *out = v->t == V_FUNC;
    else if (str_eq(name, "equalto") || str_eq(name, "eq") || str_eq(name, "==") || str_eq(name, "sameas")) {
        if (!x) return jj_rfail(c, line, "the test '%.*s' needs an argument", (int)name.n, name.p);
        *out = jj_values_equal(v, x);
        if (str_eq(name, "sameas") && !(v->t == V_NONE || v->t == V_BOOL || v->t == V_UNDEF))
            return jj_rfail(c, line, "unsupported: 'sameas' on a %s", jj_type_name(v));
    } else if (str_eq(name, "ne") || str_eq(name, "!=")) {
        if (!x) return jj_rfail(c, line, "the test 'ne' needs an argument");
        *out = !jj_values_equal(v, x);
    } else if (str_eq(name, "odd") || str_eq(name, "even")) {
        long long i = 0;
        if (jj_as_int(c, v, &i, line, "the value of 'odd'/'even'") != 0) return -1;
        *out = (i % 2 != 0) == str_eq(name, "odd");
    } else if (str_eq(name, "lower") || str_eq(name, "upper")) {
        if (jj_want_str(c, v, "the test 'lower'/'upper'", line) != 0) return -1;
        int up = str_eq(name, "upper"), cased = 0, ok = 1;
        for (size_t i = 0; i < v->u.s.n; i++) {
            char ch = v->u.s.p[i];
            if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
                cased = 1;
                if ((ch >= 'a' && ch <= 'z') == up) ok = 0;
            }
        }
        *out = ok && cased;
    } else if (str_eq(name, "in")) {
        if (!x) return jj_rfail(c, line, "the test 'in' needs an argument");
        if (x->t == V_LIST) {
            *out = 0;
            for (int i = 0; i < x->u.l->n; i++) *out |= jj_values_equal(v, &x->u.l->v[i]);
        } else if (x->t == V_STR && v->t == V_STR) {
            *out = 0;
            for (size_t i = 0; !*out && i + v->u.s.n <= x->u.s.n; i++)
                *out = memcmp(x->u.s.p + i, v->u.s.p, v->u.s.n) == 0;
        } else if (x->t == V_DICT && v->t == V_STR) {
            *out = jj_dict_find(x->u.d, v->u.s) >= 0;
        } else {
            return jj_rfail(c, line, "unsupported: 'in' on a %s", jj_type_name(x));
        }
    } else {
        return jj_rfail(c, line, "unsupported construct: the test '%.*s'", (int)(name.n > 40 ? 40 : name.n), name.p);
    }
    return 0;
}

/* ---- filters ---- */

/* select, reject, selectattr, rejectattr: keep the items (or those whose
 * attribute) pass the named test, or are true without one. */

static int select_like(Ctx *c, Str fname, const Value *v, const Args *a, Value *out, int line) {
    int attr = fname.p[fname.n - 4] == 'a'; /* selectattr, rejectattr */
    int keep_true = fname.p[0] == 's';
    const List *items;
    if (jj_iter_items(c, v, &items, line) != 0) return -1;
    int first = attr ? 1 : 0;
    Args ta;
    memset(&ta, 0, sizeof ta);
    if (a->n_kw) return jj_rfail(c, line, "unsupported: keyword arguments of %.*s", (int)fname.n, fname.p);
    for (int i = first + 1; i < a->n_pos; i++) ta.pos[ta.n_pos++] = a->pos[i];
    Str test = {NULL, 0};
    if (a->n_pos > first) {
        if (jj_want_str(c, &a->pos[first], "the test name", line) != 0) return -1;
        test = a->pos[first].u.s;
    }
    if (attr && (a->n_pos < 1 || a->pos[0].t != V_STR))
        return jj_rfail(c, line, "%.*s needs an attribute name", (int)fname.n, fname.p);
    List *l = jj_new_list(c, items->n);
    if (!l) return jj_oom(c);
    l->n = 0;
    for (int i = 0; i < items->n; i++) {
        Value x = items->v[i];
        if (attr) {
            Value obj = x;
            x = (Value){.t = V_UNDEF};
            if (obj.t == V_DICT) {
                int k = jj_dict_find(obj.u.d, a->pos[0].u.s);
                if (k >= 0) x = obj.u.d->v[k];
            }
        }
        int ok;
        if (test.p) {
            if (jj_run_test(c, test, &x, &ta, &ok, line) != 0) return -1;
        } else {
            ok = jj_truthy(&x);
        }
        if (ok == keep_true) l->v[l->n++] = items->v[i];
    }
    *out = list_value(l);
    out->ns = LIST_ITER;
    return 0;
}

int jj_apply_filter(Ctx *c, Str name, const Value *v, const Args *a, Value *out, int line) {
    static const char *const NONE_[] = {NULL};
    if (str_eq(name, "trim")) {
        static const char *const N[] = {"chars", NULL};
        if (jj_check_args(c, a, N, "trim", line) != 0) return -1;
        Str s;
        if (jj_to_str(c, v, &s, line) != 0) return -1;
        return jj_strip(c, s, jj_arg(a, 0, "chars"), 1, 1, out, line);
    }
    if (str_eq(name, "length") || str_eq(name, "count")) {
        if (jj_check_args(c, a, NONE_, "length", line) != 0) return -1;
        if (v->t == V_STR) *out = int_value(jj_cp_count(v->u.s));
        else if (v->t == V_LIST && v->ns != LIST_ITER) *out = int_value(v->u.l->n);
        else if (v->t == V_DICT && !v->ns) *out = int_value(v->u.d->n);
        else if (v->t == V_UNDEF) *out = int_value(0);
        else return jj_rfail(c, line, "length of a %s", jj_type_name(v));
        return 0;
    }
    if (str_eq(name, "tojson")) {
        static const char *const N[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
        if (jj_check_args(c, a, N, "tojson", line) != 0) return -1;
        const Value *ea = jj_arg(a, 0, "ensure_ascii"), *ind = jj_arg(a, 1, "indent");
        const Value *sep = jj_arg(a, 2, "separators"), *sk = jj_arg(a, 3, "sort_keys");
        if ((ea && jj_truthy(ea)) || (sep && sep->t != V_NONE) || (sk && jj_truthy(sk)))
            return jj_rfail(c, line, "unsupported: tojson with ensure_ascii, separators or sort_keys");
        long long indent = -1;
        if (ind && ind->t != V_NONE && jj_as_int(c, ind, &indent, line, "tojson's indent") != 0) return -1;
        if (indent > 64) return jj_rfail(c, line, "tojson: indent above 64");
        Buf b = {0};
        if (jj_write_json(c, &b, v, indent < 0 ? -1 : (int)indent, 0, line) != 0) {
            free(b.p);
            return -1;
        }
        return jj_buf_take(c, &b, out);
    }
    if (str_eq(name, "default") || str_eq(name, "d")) {
        static const char *const N[] = {"default_value", "boolean", NULL};
        if (jj_check_args(c, a, N, "default", line) != 0) return -1;
        const Value *dv = jj_arg(a, 0, "default_value"), *bo = jj_arg(a, 1, "boolean");
        int use = v->t == V_UNDEF || (bo && jj_truthy(bo) && !jj_truthy(v));
        *out = use ? (dv ? *dv : str_value("")) : *v;
        return 0;
    }
    if (str_eq(name, "first") || str_eq(name, "last")) {
        if (jj_check_args(c, a, NONE_, "first", line) != 0) return -1;
        const List *items;
        if (name.p[0] == 'l' && v->t == V_LIST && v->ns == LIST_ITER)
            return jj_rfail(c, line, "last: a generator is not reversible");
        if (jj_iter_items(c, v, &items, line) != 0) return -1;
        *out = (Value){.t = V_UNDEF};
        if (items->n) *out = items->v[name.p[0] == 'f' ? 0 : items->n - 1];
        return 0;
    }
    if (str_eq(name, "join")) {
        static const char *const N[] = {"d", NULL};
        if (jj_check_args(c, a, N, "join", line) != 0) return -1;
        const Value *sepv = jj_arg(a, 0, "d");
        Str sep = {"", 0};
        if (sepv && jj_to_str(c, sepv, &sep, line) != 0) return -1;
        const List *items;
        if (jj_iter_items(c, v, &items, line) != 0) return -1;
        Buf b = {0};
        for (int i = 0; i < items->n; i++)
            if ((i && jj_buf_put(c, &b, sep.p, sep.n) != 0) || jj_write_str(c, &b, &items->v[i], line) != 0) {
                free(b.p);
                return -1;
            }
        return jj_buf_take(c, &b, out);
    }
    int mode = str_eq(name, "lower") ? 0 : str_eq(name, "upper") ? 1 : str_eq(name, "capitalize") ? 2 : -1;
    if (mode >= 0 || str_eq(name, "string")) {
        if (jj_check_args(c, a, NONE_, "string", line) != 0) return -1;
        Str s;
        if (jj_to_str(c, v, &s, line) != 0) return -1;
        if (mode < 0) return jj_make_str(c, s.p, s.n, out);
        return jj_case(c, s, mode, out);
    }
    if (str_eq(name, "replace")) {
        static const char *const N[] = {"old", "new", "count", NULL};
        if (jj_check_args(c, a, N, "replace", line) != 0) return -1;
        Str s;
        if (jj_to_str(c, v, &s, line) != 0) return -1;
        return jj_replace(c, s, jj_arg(a, 0, "old"), jj_arg(a, 1, "new"), jj_arg(a, 2, "count"), out, line);
    }
    if (str_eq(name, "items")) {
        if (jj_check_args(c, a, NONE_, "items", line) != 0) return -1;
        if (v->t != V_DICT || v->ns) {
            /* Jinja2's items is a generator that fails only when walked;
             * here it is empty (a template never walks items of a non-dict) */
            List *l = jj_new_list(c, 0);
            if (!l) return jj_oom(c);
            *out = list_value(l);
            out->ns = LIST_ITER;
            return 0;
        }
        if (jj_dict_items(c, v->u.d, 2, out) != 0) return -1;
        out->ns = LIST_ITER;
        return 0;
    }
    if (str_eq(name, "list") || str_eq(name, "reverse")) {
        if (jj_check_args(c, a, NONE_, "list", line) != 0) return -1;
        if (v->t == V_STR && name.p[0] == 'r') {
            long long n;
            size_t *off = jj_cp_offsets(c, v->u.s, &n);
            if (!off) return jj_oom(c);
            Buf b = {0};
            for (long long i = n - 1; i >= 0; i--)
                if (jj_buf_put(c, &b, v->u.s.p + off[i], off[i + 1] - off[i]) != 0) {
                    free(b.p);
                    return -1;
                }
            return jj_buf_take(c, &b, out);
        }
        const List *items;
        if (jj_iter_items(c, v, &items, line) != 0) return -1;
        List *l = jj_new_list(c, items->n);
        if (!l) return jj_oom(c);
        for (int i = 0; i < items->n; i++)
            l->v[i] = items->v[name.p[0] == 'r' ? items->n - 1 - i : i];
        *out = list_value(l);
        if (name.p[0] == 'r') out->ns = LIST_ITER; /* reversed(): an iterator */
        return 0;
    }
    if (str_eq(name, "select") || str_eq(name, "reject") || str_eq(name, "selectattr") ||
        str_eq(name, "rejectattr"))
        return select_like(c, name, v, a, out, line);
    if (str_eq(name, "int")) {
        if (jj_check_args(c, a, NONE_, "int", line) != 0) return -1;
        /* Jinja2's int: what does not convert is 0 */
        *out = int_value(0);
        if (v->t == V_INT || v->t == V_BOOL) *out = int_value(v->u.i);
        else if (v->t == V_FLOAT && v->u.f > -9e18 && v->u.f < 9e18) *out = int_value((long long)v->u.f);
        else if (v->t == V_STR && v->u.s.n < 64) {
            char num[64], *end;
            memcpy(num, v->u.s.p, v->u.s.n);
            num[v->u.s.n] = 0;
            double d = strtod(num, &end);
            int digits_only = 1;
            for (const char *q = num; *q; q++)
                if (!is_space(*q) && !is_digit(*q) && *q != '-' && *q != '+' && *q != '.') digits_only = 0;
            while (*end && is_space(*end)) end++;
            if (end != num && !*end && digits_only && d > -9e18 && d < 9e18) *out = int_value((long long)d);
        }
        return 0;
    }
    if (str_eq(name, "abs")) {
        if (jj_check_args(c, a, NONE_, "abs", line) != 0) return -1;
        if (v->t == V_FLOAT) *out = (Value){.t = V_FLOAT, .u.f = fabs(v->u.f)};
        else if ((v->t == V_INT || v->t == V_BOOL) && v->u.i != LLONG_MIN) *out = int_value(v->u.i < 0 ? -v->u.i : v->u.i);
        else return jj_rfail(c, line, "abs of a %s", jj_type_name(v));
        return 0;
    }
    return jj_rfail(c, line, "unsupported construct: the filter '%.*s'", (int)(name.n > 40 ? 40 : name.n), name.p);
}

/* The items a for-loop or a filter walks: a list, a dict's keys, a
 * string's characters; Undefined is empty. */
int jj_iter_items(Ctx *c, const Value *v, const List **out, int line) {
    if (v->t == V_LIST) {
        *out = v->u.l;
        return 0;
    }
    if (v->t == V_UNDEF) {
        List *l = jj_new_list(c, 0);
        if (!l) return jj_oom(c);
        *out = l;
        return 0;
    }
    if (v->t == V_DICT && !v->ns) {
        Value k;
        if (jj_dict_items(c, v->u.d, 0, &k) != 0) return -1;
        *out = k.u.l;
        return 0;
    }
    if (v->t == V_STR) {
        long long n;
        size_t *off = jj_cp_offsets(c, v->u.s, &n);
        List *l = off ? jj_new_list(c, (int)n) : NULL;
        if (!l) return jj_oom(c);
        for (long long i = 0; i < n; i++)
            l->v[i] = (Value){.t = V_STR, .u.s = {v->u.s.p + off[i], off[i + 1] - off[i]}};
        *out = l;
        return 0;
    }
    return jj_rfail(c, line, "a %s is not iterable", jj_type_name(v));
}
