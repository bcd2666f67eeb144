/* jinja_eval.c - the Jinja subset's expression evaluator: an Expr tree
 * (jinja_expr.c) to a Value (jinja_value.c) in a scope. Names, attributes,
 * subscripts and slices follow Jinja2's sandbox: a missing attribute or
 * index is Undefined rather than an error, and Undefined fails only where
 * it is used (printed as nothing, iterated as empty, an error in
 * arithmetic). Operators follow Python. Calls go to jinja_call.c, filters
 * and tests to jinja_filter.c. Every node evaluated is a step against
 * JJ_MAX_STEPS, which bounds a render's time. */
#include "text/jinja_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int jj_step(Ctx *c, int line) {
    if (++c->steps > JJ_MAX_STEPS)
        return jj_rfail(c, line, "the template runs too long (more than %ld steps)", JJ_MAX_STEPS);
    return 0;
}

int jj_not_defined(Ctx *c, const Expr *e) {
    if (e->k == E_NAME) return jj_rfail(c, e->line, "'%.*s' is undefined", (int)(e->name.n > 60 ? 60 : e->name.n), e->name.p);
    if (e->k == E_ATTR) return jj_rfail(c, e->line, "'%.*s' of an undefined value", (int)(e->name.n > 60 ? 60 : e->name.n), e->name.p);
    return jj_rfail(c, e->line, "an undefined value is used");
}

/* obj.name, or obj[name] with a str key. */
static int get_attr(Ctx *c, const Value *obj, Str name, Value *out, const Expr *e) {
    *out = (Value){.t = V_UNDEF};
    if (obj->t == V_UNDEF) return jj_not_defined(c, e->a);
    if (obj->t == V_DICT) {
        int i = jj_dict_find(obj->u.d, name);
        if (i >= 0) *out = obj->u.d->v[i];
    } else if (obj->t == V_LOOP) {
        const LoopInfo *L = obj->u.loop;
        long long n = L->items->n, i = L->i;
        if (str_eq(name, "index")) *out = int_value(i + 1);
        else if (str_eq(name, "index0")) *out = int_value(i);
        else if (str_eq(name, "first")) *out = bool_value(i == 0);
        else if (str_eq(name, "last")) *out = bool_value(i == n - 1);
        else if (str_eq(name, "length")) *out = int_value(n);
        else if (str_eq(name, "revindex")) *out = int_value(n - i);
        else if (str_eq(name, "revindex0")) *out = int_value(n - i - 1);
        else if (str_eq(name, "depth")) *out = int_value(1);
        else if (str_eq(name, "depth0")) *out = int_value(0);
        else if (str_eq(name, "previtem")) { if (i > 0) *out = L->items->v[i - 1]; }
        else if (str_eq(name, "nextitem")) { if (i + 1 < n) *out = L->items->v[i + 1]; }
        else return jj_rfail(c, e->line, "unsupported: loop.%.*s", (int)(name.n > 40 ? 40 : name.n), name.p);
    }
    return 0;
}

/* Python's normalization of an index into 0..n-1; -1 when outside. */
static long long norm_index(long long i, long long n) {
    if (i < 0) i += n;
    return i >= 0 && i < n ? i : -1;
}

static int get_index(Ctx *c, const Value *obj, const Value *key, Value *out, const Expr *e) {
    *out = (Value){.t = V_UNDEF};
    if (obj->t == V_UNDEF) return jj_not_defined(c, e->a);
    if (obj->t == V_DICT && key->t == V_STR) return get_attr(c, obj, key->u.s, out, e);
    if (obj->t == V_LOOP && key->t == V_STR) return get_attr(c, obj, key->u.s, out, e);
    if (((obj->t == V_LIST && obj->ns != LIST_ITER) || obj->t == V_STR) &&
        (key->t == V_INT || key->t == V_BOOL)) {
        if (obj->t == V_LIST) {
            long long i = norm_index(key->u.i, obj->u.l->n);
            if (i >= 0) *out = obj->u.l->v[i];
            return 0;
        }
        long long n;
        size_t *off = jj_cp_offsets(c, obj->u.s, &n);
        if (!off) return jj_oom(c);
        long long i = norm_index(key->u.i, n);
        if (i >= 0) return jj_make_str(c, obj->u.s.p + off[i], off[i + 1] - off[i], out);
    }
    return 0; /* Jinja2: a failed lookup is undefined, not an error */
}

static int get_slice(Ctx *c, Frame *f, const Expr *e, const Value *obj, Value *out) {
    long long n, lim[3] = {0, 0, 1};
    int given[3] = {0, 0, 0};
    const Expr *parts[3] = {e->b, e->c, e->d};
    for (int k = 0; k < 3; k++) {
        if (!parts[k]) continue;
        Value v;
        if (jj_eval(c, f, parts[k], &v) != 0) return -1;
        if (v.t == V_NONE) continue;
        /* Jinja2 slices in Python directly (not through its getitem, which
         * turns failures into Undefined), so a bad bound is Python's error */
        if (jj_as_int(c, &v, &lim[k], e->line, "a slice bound") != 0) return -1;
        given[k] = 1;
    }
    size_t *off = NULL;
    if (obj->t == V_LIST && obj->ns != LIST_ITER) n = obj->u.l->n;
    else if (obj->t == V_STR) {
        if (!(off = jj_cp_offsets(c, obj->u.s, &n))) return jj_oom(c);
    } else if (obj->t == V_UNDEF) {
        return jj_not_defined(c, e->a);
    } else {
        return jj_rfail(c, e->line, "a %s cannot be sliced", jj_type_name(obj));
    }
    long long stepv = lim[2];
    if (stepv == 0) return jj_rfail(c, e->line, "slice step cannot be zero");
    long long lo, hi;
    /* PySlice_AdjustIndices */
    for (int k = 0; k < 2; k++) {
        long long *x = &lim[k];
        if (!given[k]) {
            *x = stepv > 0 ? (k == 0 ? 0 : n) : (k == 0 ? n - 1 : -1);
            continue;
        }
        if (*x < 0) {
            *x += n;
            if (*x < 0) *x = stepv < 0 ? -1 : 0;
        } else if (*x >= n) {
            *x = stepv < 0 ? n - 1 : n;
        }
    }
    lo = lim[0], hi = lim[1];
    long long count = 0;
    if (stepv > 0 && lo < hi) count = (hi - lo - 1) / stepv + 1;
    if (stepv < 0 && hi < lo) count = (lo - hi - 1) / (-stepv) + 1;
    if (obj->t == V_LIST) {
        List *l = jj_new_list(c, (int)count);
        if (!l) return jj_oom(c);
        for (long long i = 0; i < count; i++) l->v[i] = obj->u.l->v[lo + i * stepv];
        *out = list_value(l);
        out->ns = obj->ns; /* a tuple's slice is a tuple */
        return 0;
    }
    Buf b = {0};
    for (long long i = 0; i < count; i++) {
        long long k = lo + i * stepv;
        if (jj_buf_put(c, &b, obj->u.s.p + off[k], off[k + 1] - off[k]) != 0) {
            free(b.p);
            return -1;
        }
    }
    return jj_buf_take(c, &b, out);
}

/* ---- operators ---- */

/* a OP b for the BinOps, with Python's rules: int arithmetic that refuses
 * to overflow (Python would grow the int), floor division and modulo that
 * round toward minus infinity, str and list + and *. */

static int arith(Ctx *c, int op, const Value *a, const Value *b, Value *out, int line) {
    if (op == OP_CONCAT) {
        Buf o = {0};
        if (jj_write_str(c, &o, a, line) != 0 || jj_write_str(c, &o, b, line) != 0) {
            free(o.p);
            return -1;
        }
        return jj_buf_take(c, &o, out);
    }
    if (a->t == V_UNDEF || b->t == V_UNDEF)
        return jj_rfail(c, line, "an undefined value in arithmetic");
    if (op == OP_ADD && ((a->t == V_STR && b->t == V_STR) || (a->t == V_LIST && b->t == V_LIST))) {
        if (a->t == V_STR) {
            Buf o = {0};
            if (jj_buf_put(c, &o, a->u.s.p, a->u.s.n) != 0 || jj_buf_put(c, &o, b->u.s.p, b->u.s.n) != 0) {
                free(o.p);
                return -1;
            }
            return jj_buf_take(c, &o, out);
        }
        if (a->ns != b->ns || a->ns == LIST_ITER)
            return jj_rfail(c, line, "unsupported operand types for +: %s and %s", jj_type_name(a),
                         jj_type_name(b));
        if ((long long)a->u.l->n + b->u.l->n > JJ_MAX_RANGE) return jj_rfail(c, line, "a list grows too long");
        List *l = jj_new_list(c, a->u.l->n + b->u.l->n);
        if (!l) return jj_oom(c);
        for (int i = 0; i < a->u.l->n; i++) l->v[i] = a->u.l->v[i];
        for (int i = 0; i < b->u.l->n; i++) l->v[a->u.l->n + i] = b->u.l->v[i];
        *out = list_value(l);
        return 0;
    }
    if (op == OP_MUL && ((a->t == V_LIST && a->ns != LIST_ITER && (b->t == V_INT || b->t == V_BOOL)) ||
                         (b->t == V_LIST && b->ns != LIST_ITER && (a->t == V_INT || a->t == V_BOOL)))) {
        const Value *l = a->t == V_LIST ? a : b;
        long long k = a->t == V_LIST ? b->u.i : a->u.i;
        if (k < 0) k = 0;
        if (l->u.l->n > 0 && k > JJ_MAX_RANGE / l->u.l->n) return jj_rfail(c, line, "a list grows too long");
        List *r = jj_new_list(c, (int)(k * l->u.l->n));
        if (!r) return jj_oom(c);
        for (long long i = 0; i < k * l->u.l->n; i++) r->v[i] = l->u.l->v[i % l->u.l->n];
        *out = list_value(r);
        out->ns = l->ns;
        return 0;
    }
    if (op == OP_MUL && ((a->t == V_STR && (b->t == V_INT || b->t == V_BOOL)) ||
                         (b->t == V_STR && (a->t == V_INT || a->t == V_BOOL)))) {
        const Value *s = a->t == V_STR ? a : b;
        long long k = a->t == V_STR ? b->u.i : a->u.i;
        if (k > 0 && s->u.s.n > 0 && (unsigned long long)k > JJ_MAX_OUTPUT / s->u.s.n)
            return jj_rfail(c, line, "a repeated string grows too long");
        Buf o = {0};
        for (long long i = 0; i < k; i++)
            if (jj_buf_put(c, &o, s->u.s.p, s->u.s.n) != 0) {
                free(o.p);
                return -1;
            }
        if (k <= 0 || s->u.s.n == 0) return jj_make_str(c, "", 0, out);
        return jj_buf_take(c, &o, out);
    }
    static const char *const OPS[] = {"+", "-", "*", "/", "//", "%", "**", "~"};
    if (!is_number(a) || !is_number(b))
        return jj_rfail(c, line, "unsupported operand types for %s: %s and %s", OPS[op],
                     jj_type_name(a), jj_type_name(b));
    if (a->t != V_FLOAT && b->t != V_FLOAT && op != OP_DIV) {
        long long x = a->u.i, y = b->u.i, r = 0;
        int ovf = 0;
        switch (op) {
        case OP_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
        case OP_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
        case OP_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
        case OP_FLOORDIV:
        case OP_MOD:
            if (y == 0) return jj_rfail(c, line, "integer division or modulo by zero");
            if (x == LLONG_MIN && y == -1) { ovf = 1; break; }
            r = op == OP_FLOORDIV ? x / y : x % y;
            if (op == OP_FLOORDIV && (x % y != 0) && ((x < 0) != (y < 0))) r--;
            if (op == OP_MOD && r != 0 && ((r < 0) != (y < 0))) r += y;
            break;
        case OP_POW:
            if (y < 0) goto as_float;
            r = 1;
            for (long long i = 0; i < y && !ovf; i++) ovf = __builtin_mul_overflow(r, x, &r);
            break;
        }
        if (ovf) return jj_rfail(c, line, "integer overflow");
        *out = int_value(r);
        return 0;
    }
as_float:;
    double x = num_of(a), y = num_of(b), r = 0;
    switch (op) {
    case OP_ADD: r = x + y; break;
    case OP_SUB: r = x - y; break;
    case OP_MUL: r = x * y; break;
    case OP_DIV:
        if (y == 0) return jj_rfail(c, line, "division by zero");
        r = x / y;
        break;
    case OP_FLOORDIV:
    case OP_MOD: {
        if (y == 0) return jj_rfail(c, line, "float division or modulo by zero");
        /* CPython's float_divmod, so that 1 % 0.1 is 0.09999999999999995 */
        double mod = fmod(x, y), div = (x - mod) / y, fd;
        if (mod != 0) {
            if ((y < 0) != (mod < 0)) mod += y, div -= 1.0;
        } else {
            mod = copysign(0.0, y);
        }
        if (div != 0) {
            fd = floor(div);
            if (div - fd > 0.5) fd += 1.0;
        } else {
            fd = copysign(0.0, x / y);
        }
        r = op == OP_MOD ? mod : fd;
        break;
    }
    case OP_POW: r = pow(x, y); break;
    }
    *out = (Value){.t = V_FLOAT, .u.f = r};
    return 0;
}

/* a OP b for the CmpOps; `in` is the test of that name. */
static int compare(Ctx *c, int op, const Value *a, const Value *b, int *out, int line) {
    if (op == C_EQ || op == C_NE) {
        *out = jj_values_equal(a, b) == (op == C_EQ);
        return 0;
    }
    if (op == C_IN || op == C_NOTIN) {
        Args t;
        memset(&t, 0, sizeof t);
        t.pos[0] = *b, t.n_pos = 1;
        if (b->t == V_UNDEF) { /* Undefined iterates as empty */
            *out = op == C_NOTIN;
            return 0;
        }
        if (b->t == V_STR && a->t != V_STR)
            return jj_rfail(c, line, "'in <string>' requires a string on the left, not %s", jj_type_name(a));
        if (jj_run_test(c, (Str){"in", 2}, a, &t, out, line) != 0) return -1;
        if (op == C_NOTIN) *out = !*out;
        return 0;
    }
    int r;
    if (is_number(a) && is_number(b)) {
        double x = num_of(a), y = num_of(b);
        if (a->t != V_FLOAT && b->t != V_FLOAT) r = a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
        else r = x < y ? -1 : x > y ? 1 : 0;
        if (isnan(x) || isnan(y)) {
            *out = 0;
            return 0;
        }
    } else if (a->t == V_STR && b->t == V_STR) {
        size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        r = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
        if (r == 0) r = a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n;
    } else {
        return jj_rfail(c, line, "cannot order %s and %s", jj_type_name(a), jj_type_name(b));
    }
    *out = op == C_LT ? r < 0 : op == C_LE ? r <= 0 : op == C_GT ? r > 0 : r >= 0;
    return 0;
}

/* ---- expressions ---- */

int jj_eval(Ctx *c, Frame *f, const Expr *e, Value *out) {
    if (jj_step(c, e->line) != 0) return -1;
    Value a, b;
    int r = 1;
    switch (e->k) {
    case E_LIT:
        *out = e->lit;
        return 0;
    case E_NAME: {
        const Value *v = jj_frame_get(f, e->name);
        if (v) *out = *v;
        else if (str_eq(e->name, "raise_exception")) *out = (Value){.t = V_FUNC, .u.fn = FN_RAISE};
        else if (str_eq(e->name, "namespace")) *out = (Value){.t = V_FUNC, .u.fn = FN_NAMESPACE};
        else if (str_eq(e->name, "range")) *out = (Value){.t = V_FUNC, .u.fn = FN_RANGE};
        else *out = (Value){.t = V_UNDEF};
        return 0;
    }
    case E_ATTR:
        if (jj_eval(c, f, e->a, &a) != 0) return -1;
        return get_attr(c, &a, e->name, out, e);
    case E_INDEX:
        if (jj_eval(c, f, e->a, &a) != 0 || jj_eval(c, f, e->b, &b) != 0) return -1;
        return get_index(c, &a, &b, out, e);
    case E_SLICE:
        if (jj_eval(c, f, e->a, &a) != 0) return -1;
        return get_slice(c, f, e, &a, out);
    case E_CALL:
        return jj_eval_call(c, f, e, out);
    case E_FILTER: {
        Args args;
        if (jj_eval(c, f, e->a, &a) != 0 || jj_eval_args(c, f, e, &args) != 0) return -1;
        return jj_apply_filter(c, e->name, &a, &args, out, e->line);
    }
    case E_TEST: {
        Args args;
        if (jj_eval(c, f, e->a, &a) != 0 || jj_eval_args(c, f, e, &args) != 0) return -1;
        if (jj_run_test(c, e->name, &a, &args, &r, e->line) != 0) return -1;
        *out = bool_value(r != e->op);
        return 0;
    }
    case E_NEG:
    case E_POS:
        if (jj_eval(c, f, e->a, &a) != 0) return -1;
        if (!is_number(&a)) return jj_rfail(c, e->line, "unary %c of a %s", e->k == E_NEG ? '-' : '+', jj_type_name(&a));
        if (e->k == E_POS) *out = a.t == V_BOOL ? int_value(a.u.i) : a;
        else if (a.t == V_FLOAT) *out = (Value){.t = V_FLOAT, .u.f = -a.u.f};
        else if (a.u.i == LLONG_MIN) return jj_rfail(c, e->line, "integer overflow");
        else *out = int_value(-a.u.i);
        return 0;
    case E_NOT:
        if (jj_eval(c, f, e->a, &a) != 0) return -1;
        *out = bool_value(!jj_truthy(&a));
        return 0;
    case E_BIN:
        if (jj_eval(c, f, e->a, &a) != 0 || jj_eval(c, f, e->b, &b) != 0) return -1;
        return arith(c, e->op, &a, &b, out, e->line);
    case E_AND:
    case E_OR:
        if (jj_eval(c, f, e->a, &a) != 0) return -1;
        if (jj_truthy(&a) == (e->k == E_OR)) {
            *out = a;
            return 0;
        }
        return jj_eval(c, f, e->b, out);
    case E_CMP: {
        Value left;
        if (jj_eval(c, f, e->args[0], &left) != 0) return -1;
        for (int i = 1; i < e->n; i++) {
            Value right;
            if (jj_eval(c, f, e->args[i], &right) != 0) return -1;
            if (compare(c, e->ops[i - 1], &left, &right, &r, e->line) != 0) return -1;
            if (!r) break;
            left = right;
        }
        *out = bool_value(r);
        return 0;
    }
    case E_COND:
        if (jj_eval(c, f, e->b, &a) != 0) return -1;
        if (jj_truthy(&a)) return jj_eval(c, f, e->a, out);
        if (e->c) return jj_eval(c, f, e->c, out);
        *out = (Value){.t = V_UNDEF};
        return 0;
    case E_LIST: {
        List *l = jj_new_list(c, e->n);
        if (!l) return jj_oom(c);
        for (int i = 0; i < e->n; i++)
            if (jj_eval(c, f, e->args[i], &l->v[i]) != 0) return -1;
        *out = list_value(l);
        out->ns = e->op;
        return 0;
    }
    case E_DICT: {
        Dict *d = jj_new_dict(c);
        if (!d) return jj_oom(c);
        for (int i = 0; i + 1 < e->n; i += 2) {
            if (jj_eval(c, f, e->args[i], &a) != 0 || jj_eval(c, f, e->args[i + 1], &b) != 0) return -1;
            if (a.t != V_STR) return jj_rfail(c, e->line, "unsupported: a dict key that is a %s", jj_type_name(&a));
            if (jj_dict_set(c, d, a.u.s, b) != 0) return -1;
        }
        *out = (Value){.t = V_DICT, .u.d = d};
        return 0;
    }
    }
    return jj_rfail(c, e->line, "internal: unknown expression");
}
