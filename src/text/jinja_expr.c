/* jinja_expr.c - the Jinja subset's expression parser: the tokens of one
 * tag (jinja_lex.c) into an Expr tree, with Jinja2's grammar and
 * precedence, loosest first: `a if b else c`, or, and, not, comparisons
 * (chained, as in Python), + and -, ~, * / // %, **, unary - and +, then
 * filters and tests, postfix attributes, subscripts and calls, and
 * literals. Every recursion passes through jj_enter, so a deeply nested
 * expression is an error, not a stack overflow. The nodes live in the
 * template's arena. */
#include "text/jinja_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static Expr *new_expr(Parser *ps, EKind k) {
    Expr *e = jj_arena_alloc(ps->a, sizeof *e);
    if (!e) {
        jj_fail(ps->err, ps->origin, 0, "template too large");
        return NULL;
    }
    memset(e, 0, sizeof *e);
    e->k = k, e->line = ps->line;
    return e;
}

/* Makes room for element n of an arena array holding n elements. The
 * capacity is implied by n (4, then the next power of two), so no field
 * stores it: a new block is due exactly when n is 0 or a power of two >= 4. */
void *jj_grow(Parser *ps, void *arr, int n, size_t size) {
    if (n > 0 && (n < 4 || (n & (n - 1)) != 0)) return arr;
    int cap = n == 0 ? 4 : n * 2;
    void *a = jj_arena_alloc(ps->a, (size_t)cap * size);
    if (!a) {
        jj_fail(ps->err, ps->origin, 0, "template too large");
        return NULL;
    }
    if (n) memcpy(a, arr, (size_t)n * size);
    return a;
}

static int add_arg(Parser *ps, Expr *e, Expr *arg, Str kw) {
    Expr **args = jj_grow(ps, e->args, e->n, sizeof *args);
    Str *kws = jj_grow(ps, e->kw, e->n, sizeof *kws);
    if (!args || !kws) return -1;
    e->args = args, e->kw = kws;
    e->args[e->n] = arg, e->kw[e->n] = kw;
    e->n++;
    return 0;
}

static Expr *parse_unary(Parser *ps, int with_filter);
static Expr *parse_primary(Parser *ps);
static Expr *parse_postfix(Parser *ps, Expr *e);

int jj_enter(Parser *ps) {
    if (++ps->depth > JJ_MAX_DEPTH) {
        jj_perr(ps, "nested too deeply (more than %d levels)", JJ_MAX_DEPTH);
        return -1;
    }
    return 0;
}

/* Call arguments after '(' up to ')': positional, then name=value. */
static int parse_args(Parser *ps, Expr *e) {
    if (jj_accept(ps, ")")) return 0;
    for (;;) {
        Str kw = {NULL, 0};
        Tok t = jj_peek_tok(ps);
        if (t.k == T_NAME) {
            const char *save = ps->p;
            int save_line = ps->line;
            jj_take(ps, t);
            Tok eq = jj_peek_tok(ps);
            if (is_op(eq, "=")) {
                jj_take(ps, eq);
                kw = (Str){t.p, t.n};
            } else {
                ps->p = save, ps->line = save_line;
            }
        } else if (is_op(t, "*") || is_op(t, "**")) {
            jj_perr(ps, "unsupported construct: *args or **kwargs in a call");
            return -1;
        }
        if (!kw.p && e->n > 0 && e->kw[e->n - 1].p) {
            jj_perr(ps, "a positional argument follows a keyword argument");
            return -1;
        }
        Expr *a = jj_parse_expr(ps);
        if (!a || add_arg(ps, e, a, kw) != 0) return -1;
        if (jj_accept(ps, ")")) return 0;
        if (jj_expect(ps, ",") != 0) return -1;
        if (jj_accept(ps, ")")) return 0;
    }
}

/* e(...): the call of e, its '(' already taken. */
static Expr *parse_call(Parser *ps, Expr *e) {
    Expr *c = new_expr(ps, E_CALL);
    if (!c) return NULL;
    c->a = e;
    return parse_args(ps, c) != 0 ? NULL : c;
}

/* Comma-separated expressions up to close, into e->args. */
static int parse_items(Parser *ps, Expr *e, const char *close, int dict) {
    if (jj_accept(ps, close)) return 0;
    for (;;) {
        Expr *k = jj_parse_expr(ps);
        if (!k || add_arg(ps, e, k, (Str){NULL, 0}) != 0) return -1;
        if (dict) {
            if (jj_expect(ps, ":") != 0) return -1;
            Expr *v = jj_parse_expr(ps);
            if (!v || add_arg(ps, e, v, (Str){NULL, 0}) != 0) return -1;
        }
        if (jj_accept(ps, close)) return 0;
        if (jj_expect(ps, ",") != 0) return -1;
        if (jj_accept(ps, close)) return 0;
    }
}

static Expr *parse_primary(Parser *ps) {
    if (jj_enter(ps) != 0) return NULL;
    Tok t = jj_peek_tok(ps);
    Expr *e = NULL;
    char b[48];
    if (t.k == T_NAME) {
        jj_take(ps, t);
        if (!(e = new_expr(ps, E_LIT))) return NULL;
        if (is_kw(t, "true") || is_kw(t, "True")) {
            e->lit = (Value){.t = V_BOOL, .u.i = 1};
        } else if (is_kw(t, "false") || is_kw(t, "False")) {
            e->lit = (Value){.t = V_BOOL, .u.i = 0};
        } else if (is_kw(t, "none") || is_kw(t, "None")) {
            e->lit = (Value){.t = V_NONE};
        } else {
            e->k = E_NAME;
            e->name = (Str){t.p, t.n};
        }
    } else if (t.k == T_STR) {
        /* adjacent literals concatenate, as in Python */
        if (!(e = new_expr(ps, E_LIT))) return NULL;
        e->lit.t = V_STR;
        Str acc = {"", 0};
        while (t.k == T_STR) {
            jj_take(ps, t);
            Str one = {NULL, 0};
            if (jj_unescape(ps, t.p + 1, t.n - 2, &one) != 0) return NULL;
            if (acc.n == 0) {
                acc = one;
            } else {
                char *c = jj_arena_alloc(ps->a, acc.n + one.n + 1);
                if (!c) {
                    jj_fail(ps->err, ps->origin, 0, "template too large");
                    return NULL;
                }
                memcpy(c, acc.p, acc.n), memcpy(c + acc.n, one.p, one.n);
                c[acc.n + one.n] = 0;
                acc = (Str){c, acc.n + one.n};
            }
            t = jj_peek_tok(ps);
        }
        e->lit.u.s = acc;
    } else if (t.k == T_INT || t.k == T_FLOAT) {
        jj_take(ps, t);
        if (!(e = new_expr(ps, E_LIT))) return NULL;
        char num[64];
        size_t k = 0;
        for (size_t i = 0; i < t.n && k + 1 < sizeof num; i++)
            if (t.p[i] != '_') num[k++] = t.p[i];
        num[k] = 0;
        if (t.k == T_INT) {
            unsigned long long v = strtoull(num, NULL, 10);
            if (k > 19 || v > (unsigned long long)LLONG_MAX) {
                jj_perr(ps, "integer literal %s is too large", num);
                return NULL;
            }
            e->lit = (Value){.t = V_INT, .u.i = (long long)v};
        } else {
            e->lit = (Value){.t = V_FLOAT, .u.f = strtod(num, NULL)};
        }
    } else if (is_op(t, "(")) {
        jj_take(ps, t);
        if (jj_accept(ps, ")")) { /* the empty tuple */
            if (!(e = new_expr(ps, E_LIST))) return NULL;
            e->op = 1;
        } else {
            Expr *first = jj_parse_expr(ps);
            if (!first) return NULL;
            if (jj_accept(ps, ",")) {
                if (!(e = new_expr(ps, E_LIST))) return NULL;
                e->op = 1; /* a tuple */
                if (add_arg(ps, e, first, (Str){NULL, 0}) != 0) return NULL;
                if (parse_items(ps, e, ")", 0) != 0) return NULL;
            } else {
                if (jj_expect(ps, ")") != 0) return NULL;
                e = first;
            }
        }
    } else if (is_op(t, "[")) {
        jj_take(ps, t);
        if (!(e = new_expr(ps, E_LIST)) || parse_items(ps, e, "]", 0) != 0) return NULL;
    } else if (is_op(t, "{")) {
        jj_take(ps, t);
        if (!(e = new_expr(ps, E_DICT)) || parse_items(ps, e, "}", 1) != 0) return NULL;
    } else {
        jj_perr(ps, "expected an expression, found %s", jj_near(ps, b, sizeof b));
        return NULL;
    }
    ps->depth--;
    return e;
}

/* Subscript after '[': an index or a slice [a:b:c]. */
static Expr *parse_subscript(Parser *ps, Expr *obj) {
    Expr *parts[3] = {NULL, NULL, NULL};
    int colons = 0;
    for (;;) {
        Tok t = jj_peek_tok(ps);
        if (is_op(t, "]")) break;
        if (is_op(t, ":")) {
            if (++colons > 2) {
                jj_perr(ps, "a slice has more than two ':'");
                return NULL;
            }
            jj_take(ps, t);
            continue;
        }
        if (parts[colons]) {
            char b[48];
            jj_perr(ps, "expected ']', found %s", jj_near(ps, b, sizeof b));
            return NULL;
        }
        if (!(parts[colons] = jj_parse_expr(ps))) return NULL;
        if (!colons && is_op(jj_peek_tok(ps), ",")) { /* x[a, b]: the key is a tuple */
            Expr *t = new_expr(ps, E_LIST);
            if (!t || add_arg(ps, t, parts[0], (Str){NULL, 0}) != 0) return NULL;
            t->op = 1;
            while (jj_accept(ps, ",") && !is_op(jj_peek_tok(ps), "]")) {
                Expr *x = jj_parse_expr(ps);
                if (!x || add_arg(ps, t, x, (Str){NULL, 0}) != 0) return NULL;
            }
            parts[0] = t;
        }
    }
    if (jj_expect(ps, "]") != 0) return NULL;
    Expr *e = new_expr(ps, colons ? E_SLICE : E_INDEX);
    if (!e) return NULL;
    if (!colons && !parts[0]) {
        jj_perr(ps, "an empty subscript []");
        return NULL;
    }
    e->a = obj, e->b = parts[0], e->c = parts[1], e->d = parts[2];
    return e;
}

static Expr *parse_postfix(Parser *ps, Expr *e) {
    for (;;) {
        Tok t = jj_peek_tok(ps);
        if (is_op(t, ".")) {
            jj_take(ps, t);
            Tok n = jj_peek_tok(ps);
            if (n.k == T_NAME) {
                jj_take(ps, n);
                Expr *a = new_expr(ps, E_ATTR);
                if (!a) return NULL;
                a->a = e, a->name = (Str){n.p, n.n};
                e = a;
            } else if (n.k == T_INT) { /* x.0 is x[0] */
                Expr *i = parse_primary(ps);
                Expr *a = i ? new_expr(ps, E_INDEX) : NULL;
                if (!a) return NULL;
                a->a = e, a->b = i;
                e = a;
            } else {
                char b[48];
                jj_perr(ps, "expected a name after '.', found %s", jj_near(ps, b, sizeof b));
                return NULL;
            }
        } else if (is_op(t, "[")) {
            jj_take(ps, t);
            if (!(e = parse_subscript(ps, e))) return NULL;
        } else if (is_op(t, "(")) {
            jj_take(ps, t);
            if (!(e = parse_call(ps, e))) return NULL;
        } else {
            return e;
        }
    }
}

/* A filter or test name: dotted names are not supported. */
static int parse_name(Parser *ps, Str *out, const char *what) {
    Tok t = jj_peek_tok(ps);
    if (t.k != T_NAME) {
        char b[48];
        return jj_perr(ps, "expected a %s name, found %s", what, jj_near(ps, b, sizeof b));
    }
    jj_take(ps, t);
    *out = (Str){t.p, t.n};
    return 0;
}

static Expr *parse_filters(Parser *ps, Expr *e) {
    for (;;) {
        Tok t = jj_peek_tok(ps);
        if (is_op(t, "|")) {
            jj_take(ps, t);
            Expr *f = new_expr(ps, E_FILTER);
            if (!f || parse_name(ps, &f->name, "filter") != 0) return NULL;
            f->a = e;
            if (jj_accept(ps, "(") && parse_args(ps, f) != 0) return NULL;
            e = f;
        } else if (is_kw(t, "is")) {
            jj_take(ps, t);
            Expr *f = new_expr(ps, E_TEST);
            if (!f) return NULL;
            f->op = jj_accept(ps, "not");
            if (parse_name(ps, &f->name, "test") != 0) return NULL;
            f->a = e;
            Tok n = jj_peek_tok(ps);
            if (is_op(n, "(")) {
                jj_take(ps, n);
                if (parse_args(ps, f) != 0) return NULL;
            } else if ((n.k == T_NAME || n.k == T_STR || n.k == T_INT || n.k == T_FLOAT ||
                        is_op(n, "[") || is_op(n, "{")) &&
                       !is_kw(n, "else") && !is_kw(n, "or") && !is_kw(n, "and")) {
                /* `x is equalto 5`, `x is sameas false`: one argument without parentheses,
                 * taken exactly where Jinja2's parser takes one (even `if`) */
                if (is_kw(n, "is")) {
                    jj_perr(ps, "multiple tests cannot be chained with 'is'");
                    return NULL;
                }
                Expr *arg = parse_primary(ps);
                if (!arg || !(arg = parse_postfix(ps, arg))) return NULL;
                if (add_arg(ps, f, arg, (Str){NULL, 0}) != 0) return NULL;
            }
            e = f;
        } else if (is_op(t, "(")) {
            jj_take(ps, t);
            if (!(e = parse_call(ps, e))) return NULL;
        } else {
            return e;
        }
    }
}

static Expr *parse_unary(Parser *ps, int with_filter) {
    if (jj_enter(ps) != 0) return NULL;
    Tok t = jj_peek_tok(ps);
    Expr *e;
    if (is_op(t, "-") || is_op(t, "+")) {
        jj_take(ps, t);
        e = new_expr(ps, is_op(t, "-") ? E_NEG : E_POS);
        if (!e || !(e->a = parse_unary(ps, 0))) return NULL;
    } else {
        e = parse_primary(ps);
    }
    if (e) e = parse_postfix(ps, e);
    if (e && with_filter) e = parse_filters(ps, e);
    ps->depth--;
    return e;
}

/* An operator of one level of the grammar, spelled as it is in a template. */
typedef struct {
    const char *tok;
    int op;
} OpName;

/* The operator t names among ops (an operator or a keyword such as `in`), or -1. */
static int op_of(Tok t, const OpName *ops) {
    for (int i = 0; ops[i].tok; i++)
        if (is_op(t, ops[i].tok) || is_kw(t, ops[i].tok)) return ops[i].op;
    return -1;
}

/* The arithmetic levels, loosest first; a level's operands are the next
 * level's expressions, the last level's are unary expressions. All are
 * left-associative, `**` too (Jinja2 reads 2 ** 3 ** 2 as 64). */
static const OpName ARITH[][5] = {
    {{"+", OP_ADD}, {"-", OP_SUB}, {NULL, 0}},
    {{"~", OP_CONCAT}, {NULL, 0}},
    {{"*", OP_MUL}, {"/", OP_DIV}, {"//", OP_FLOORDIV}, {"%", OP_MOD}, {NULL, 0}},
    {{"**", OP_POW}, {NULL, 0}},
};
enum { N_ARITH = sizeof ARITH / sizeof ARITH[0] };

static Expr *parse_arith(Parser *ps, int level) {
    if (level == N_ARITH) return parse_unary(ps, 1);
    Expr *e = parse_arith(ps, level + 1);
    for (;;) {
        if (!e) return NULL;
        Tok t = jj_peek_tok(ps);
        int op = op_of(t, ARITH[level]);
        if (op < 0) return e;
        jj_take(ps, t);
        /* the node after its right operand: its line is where that ends,
         * which is the line an arithmetic error names */
        Expr *rhs = parse_arith(ps, level + 1), *bin = rhs ? new_expr(ps, E_BIN) : NULL;
        if (!bin) return NULL;
        bin->op = op, bin->a = e, bin->b = rhs;
        e = bin;
    }
}

static const OpName COMPARE[] = {{"==", C_EQ}, {"!=", C_NE}, {"<", C_LT}, {"<=", C_LE},
                                  {">", C_GT}, {">=", C_GE}, {"in", C_IN}, {NULL, 0}};

/* a < b <= c: one E_CMP node with the operands in args and the operators in ops. */
static Expr *parse_compare(Parser *ps) {
    Expr *first = parse_arith(ps, 0);
    if (!first) return NULL;
    Expr *e = NULL;
    for (;;) {
        Tok t = jj_peek_tok(ps);
        int op = op_of(t, COMPARE);
        if (op < 0 && is_kw(t, "not")) { /* `not in`, or a `not` that is not ours */
            const char *save = ps->p;
            int save_line = ps->line;
            jj_take(ps, t);
            if (is_kw(jj_peek_tok(ps), "in")) {
                op = C_NOTIN;
                t = jj_peek_tok(ps);
            } else {
                ps->p = save, ps->line = save_line;
            }
        }
        if (op < 0) return e ? e : first;
        jj_take(ps, t);
        if (!e) {
            if (!(e = new_expr(ps, E_CMP)) || add_arg(ps, e, first, (Str){NULL, 0}) != 0)
                return NULL;
        }
        Expr *rhs = parse_arith(ps, 0);
        if (!rhs || add_arg(ps, e, rhs, (Str){NULL, 0}) != 0) return NULL;
        int *ops = jj_grow(ps, e->ops, e->n - 2, sizeof *ops);
        if (!ops) return NULL;
        e->ops = ops;
        e->ops[e->n - 2] = op;
    }
}

static Expr *parse_not(Parser *ps) {
    if (is_kw(jj_peek_tok(ps), "not")) {
        if (jj_enter(ps) != 0) return NULL;
        jj_take(ps, jj_peek_tok(ps));
        Expr *e = new_expr(ps, E_NOT);
        if (!e || !(e->a = parse_not(ps))) return NULL;
        ps->depth--;
        return e;
    }
    return parse_compare(ps);
}

/* `a or b` (k E_OR, over `and` levels) and `a and b` (k E_AND, over `not`
 * levels): nodes of their own, since they return an operand, not a bool. */
static Expr *parse_logic(Parser *ps, EKind k) {
    Expr *e = k == E_OR ? parse_logic(ps, E_AND) : parse_not(ps);
    while (e && jj_accept(ps, k == E_OR ? "or" : "and")) {
        Expr *x = new_expr(ps, k);
        if (!x || !(x->b = k == E_OR ? parse_logic(ps, E_AND) : parse_not(ps))) return NULL;
        x->a = e, e = x;
    }
    return e;
}

Expr *jj_parse_or(Parser *ps) { return parse_logic(ps, E_OR); }

Expr *jj_parse_expr(Parser *ps) {
    if (jj_enter(ps) != 0) return NULL;
    Expr *e = jj_parse_or(ps);
    while (e && jj_accept(ps, "if")) {
        Expr *c = new_expr(ps, E_COND);
        if (!c || !(c->b = jj_parse_or(ps))) return NULL;
        c->a = e;
        if (jj_accept(ps, "else") && !(c->c = jj_parse_expr(ps))) return NULL;
        e = c;
    }
    ps->depth--;
    return e;
}

/* Without condexpr (an if's condition, as in Jinja2) `a if b else c` is
 * not one expression. */
Expr *jj_parse_tag_expr(Parser *ps, int condexpr) {
    Expr *e = condexpr ? jj_parse_expr(ps) : jj_parse_or(ps);
    if (!e) return NULL;
    if (is_op(jj_peek_tok(ps), ",")) {
        Expr *l = new_expr(ps, E_LIST);
        if (!l || add_arg(ps, l, e, (Str){NULL, 0}) != 0) return NULL;
        while (jj_accept(ps, ",")) {
            if (jj_peek_tok(ps).k == T_END) break;
            Expr *x = condexpr ? jj_parse_expr(ps) : jj_parse_or(ps);
            if (!x || add_arg(ps, l, x, (Str){NULL, 0}) != 0) return NULL;
        }
        e = l;
    }
    if (jj_peek_tok(ps).k != T_END) {
        char b[48];
        jj_perr(ps, "unexpected %s", jj_near(ps, b, sizeof b));
        return NULL;
    }
    return e;
}
