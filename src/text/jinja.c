/* jinja.c - a Jinja subset for chat templates (see jinja.h).
 *
 * Three stages. The lexer cuts the source into text, {{ }} and {% %}
 * chunks and applies the whitespace rules exactly as Jinja2's lexer does
 * with trim_blocks and lstrip_blocks (the same regex-level decisions,
 * including its "line_starting" flag). The parser turns the chunks into a
 * tree of statements and expressions with Jinja2's precedence. The
 * evaluator walks the tree with Python's semantics for the values a chat
 * template meets (str, int, float, bool, None, list, dict, Undefined) and
 * Jinja2's scoping: each for-loop iteration is a fresh frame, so a set
 * inside a loop is gone at the next iteration, which is why templates use
 * namespace(). All memory of a parse or a render is one arena, freed at
 * once; its size, the nesting depth and the steps of a render are capped so
 * that a hostile template fails with a message instead of exhausting the
 * machine. */
#define _POSIX_C_SOURCE 200809L
#include "text/jinja.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JJ_MAX_SOURCE (1u << 20)      /* a real chat template is < 20 KiB */
#define JJ_MAX_DEPTH 96               /* nesting of statements and expressions */
#define JJ_MAX_ARENA ((size_t)64 << 20)
#define JJ_MAX_OUTPUT ((size_t)16 << 20)
#define JJ_MAX_STEPS 4000000L         /* evaluated nodes per render */
#define JJ_MAX_RANGE 100000

/* ---- arena ---- */

typedef struct ABlock {
    struct ABlock *next;
    size_t cap, used;
    max_align_t data[];
} ABlock;

typedef struct {
    ABlock *head;
    size_t total;
} Arena;

static void *arena_alloc(Arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n > JJ_MAX_ARENA || a->total + n > JJ_MAX_ARENA) return NULL;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        ABlock *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head, b->cap = cap, b->used = 0;
        a->head = b;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    a->total += n;
    return p;
}

static void arena_free(Arena *a) {
    for (ABlock *b = a->head, *n; b; b = n) n = b->next, free(b);
    a->head = NULL, a->total = 0;
}

/* ---- values ---- */

typedef struct {
    const char *p;
    size_t n;
} Str;

typedef enum { V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_LOOP, V_FUNC } VType;
typedef enum { FN_RAISE, FN_NAMESPACE, FN_RANGE } FnId;

struct List;
struct Dict;
struct LoopInfo;

typedef struct Value {
    VType t;
    int ns; /* a dict made by namespace() (the one thing `set x.y` may change);
             * for a list: LIST_TUPLE, which only prints differently, or
             * LIST_ITER, what Jinja2's select, reject, reverse and items
             * return: an iterator, true even when empty, that can be walked
             * (for, list, join, first) but not printed, measured or indexed */
    union {
        long long i;
        double f;
        Str s;
        struct List *l;
        struct Dict *d;
        const struct LoopInfo *loop;
        FnId fn;
    } u;
} Value;

typedef struct List {
    int n;
    Value *v;
} List;

enum { LIST_PLAIN, LIST_TUPLE, LIST_ITER };

typedef struct Dict {
    int n, cap;
    Str *k;
    Value *v;
} Dict;

typedef struct LoopInfo {
    const List *items;
    int i;
} LoopInfo;

static const char *type_name(const Value *v) {
    static const char *const N[] = {"Undefined", "NoneType", "bool", "int", "float",
                                    "str", "list", "dict", "loop", "function"};
    if (v->ns) return v->t == V_DICT ? "Namespace" : v->ns == LIST_TUPLE ? "tuple" : "generator";
    return N[v->t];
}

/* ---- expressions and statements ---- */

typedef enum {
    E_LIT, E_NAME, E_ATTR, E_INDEX, E_SLICE, E_CALL, E_FILTER, E_TEST,
    E_NEG, E_POS, E_NOT, E_BIN, E_AND, E_OR, E_CMP, E_COND, E_LIST, E_DICT
} EKind;

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT } BinOp;
typedef enum { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE, C_IN, C_NOTIN } CmpOp;

typedef struct Expr {
    EKind k;
    int line;
    int op;      /* BinOp; E_TEST: negated */
    Value lit;   /* E_LIT */
    Str name;    /* E_NAME, E_ATTR, E_FILTER, E_TEST */
    struct Expr *a, *b, *c, *d;
    struct Expr **args; /* call, filter and test arguments; list and dict items; compare operands */
    Str *kw;            /* keyword names of args (n == 0: positional); E_CMP: unused */
    int *ops;           /* E_CMP operators */
    int n;
} Expr;

typedef enum { S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_BREAK, S_CONTINUE, S_GEN } SKind;

typedef struct Body {
    struct Stmt **s;
    int n;
} Body;

typedef struct Stmt {
    SKind k;
    int line;
    Str text;           /* S_TEXT */
    Expr *e;            /* S_OUT, S_SET value, S_FOR iterable */
    Expr **conds;       /* S_IF: one per branch, NULL for else */
    Body *bodies;       /* S_IF branches */
    int n;
    Str names[2];       /* S_FOR targets (n names); S_SET: name and attribute */
    int n_names;
    Body body, orelse;  /* S_FOR, S_GEN */
} Stmt;

struct JinjaTemplate {
    Arena arena;
    Body root;
    char *origin;
};

/* ---- errors ---- */

static int jfail(SrError *err, const char *origin, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int jfail(SrError *err, const char *origin, int line, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) return sr_fail(err, "%s: line %d: %s", origin, line, msg);
    return sr_fail(err, "%s: %s", origin, msg);
}

/* ---- lexer: chunks ---- */

typedef enum { CH_TEXT, CH_VAR, CH_BLOCK } ChKind;

typedef struct {
    ChKind k;
    const char *p; /* text, or the inside of the tag without its markers */
    size_t n;
    int line;
} Chunk;

typedef struct {
    Arena *a;
    const char *origin;
    SrError *err;
    const char *src, *end;
    Chunk *ch;
    int n_ch, cap_ch;
    /* parser state */
    int pos;          /* next chunk */
    const char *p, *pe; /* expression cursor inside the current chunk */
    int line;
    int depth;
    int loops; /* enclosing for-loops, for break and continue */
} Parser;

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static int is_name0(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_name1(char c) { return is_name0(c) || is_digit(c); }

static int count_lines(const char *a, const char *b) {
    int n = 0;
    for (; a < b; a++) n += *a == '\n';
    return n;
}

static int push_chunk(Parser *ps, ChKind k, const char *p, size_t n, int line) {
    if (k == CH_TEXT && n == 0) return 0;
    if (ps->n_ch == ps->cap_ch) {
        int cap = ps->cap_ch ? 2 * ps->cap_ch : 64;
        Chunk *c = arena_alloc(ps->a, (size_t)cap * sizeof *c);
        if (!c) return jfail(ps->err, ps->origin, 0, "template too large");
        if (ps->n_ch) memcpy(c, ps->ch, (size_t)ps->n_ch * sizeof *c);
        ps->ch = c, ps->cap_ch = cap;
    }
    ps->ch[ps->n_ch++] = (Chunk){k, p, n, line};
    return 0;
}

/* Skips a string literal starting at *q (a quote); 0 when it is closed. */
static int skip_string(const char **q, const char *end) {
    char quote = **q;
    for (const char *s = *q + 1; s < end; s++) {
        if (*s == '\\') {
            s++;
            continue;
        }
        if (*s == quote) {
            *q = s + 1;
            return 0;
        }
    }
    return -1;
}

/* The end of a {{ or {% tag whose inside starts at q: Jinja2 matches the
 * end marker only outside strings and with brackets balanced. Returns the
 * position of the end marker (its optional '-' or '+' included) or NULL. */
static const char *find_tag_end(const char *q, const char *end, char close, int *sign) {
    int depth = 0;
    while (q < end) {
        char c = *q;
        if (c == '\'' || c == '"') {
            if (skip_string(&q, end) != 0) return NULL;
            continue;
        }
        if (depth == 0) {
            if ((c == '-' || c == '+') && q + 2 < end && q[1] == close && q[2] == '}' &&
                (c == '-' || close == '%')) {
                *sign = c;
                return q;
            }
            if (c == close && q + 1 < end && q[1] == '}') {
                *sign = 0;
                return q;
            }
        }
        if (c == '(' || c == '[' || c == '{') depth++;
        if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
        q++;
    }
    return NULL;
}

/* Cuts the (newline-normalized) source into chunks, applying -/+ markers,
 * lstrip_blocks and trim_blocks as Jinja2's lexer does. */
static int lex(Parser *ps) {
    const char *s = ps->src, *end = ps->end;
    int line = 1, line_starting = 1;
    while (s < end) {
        const char *q = s;
        while (q + 1 < end && !(q[0] == '{' && (q[1] == '{' || q[1] == '%' || q[1] == '#')))
            q++;
        if (q + 1 >= end) { /* no more tags */
            if (push_chunk(ps, CH_TEXT, s, (size_t)(end - s), line) != 0) return -1;
            break;
        }
        char kind = q[1];
        char sign = q + 2 < end && (q[2] == '-' || q[2] == '+') ? q[2] : 0;
        const char *te = q;
        if (sign == '-') {
            while (te > s && is_space(te[-1])) te--;
        } else if (sign != '+' && kind != '{') {
            const char *l = q;
            while (l > s && l[-1] != '\n') l--;
            if ((l > s || line_starting) && l < q) {
                const char *w = l;
                while (w < q && (*w == ' ' || *w == '\t' || *w == '\r' || *w == '\f' ||
                                 *w == '\v'))
                    w++;
                if (w == q) te = l;
            }
        }
        if (push_chunk(ps, CH_TEXT, s, (size_t)(te - s), line) != 0) return -1;
        line += count_lines(s, q);
        int tag_line = line;
        const char *in = q + 2 + (sign ? 1 : 0), *after;
        if (kind == '#') {
            const char *c = in;
            while (c + 1 < end && !(c[0] == '#' && c[1] == '}')) c++;
            if (c + 1 >= end)
                return jfail(ps->err, ps->origin, tag_line, "a comment is not closed");
            int csign = c > in && (c[-1] == '-' || c[-1] == '+') ? c[-1] : 0;
            after = c + 2;
            if (csign == '-')
                while (after < end && is_space(*after)) after++;
            else if (csign != '+' && after < end && *after == '\n')
                after++;
        } else {
            int esign;
            const char *c = find_tag_end(in, end, kind == '{' ? '}' : '%', &esign);
            if (!c)
                return jfail(ps->err, ps->origin, tag_line, "a %s tag is not closed",
                             kind == '{' ? "{{" : "{%");
            if (push_chunk(ps, kind == '{' ? CH_VAR : CH_BLOCK, in, (size_t)(c - in),
                           tag_line) != 0)
                return -1;
            after = c + (esign ? 3 : 2);
            if (esign == '-')
                while (after < end && is_space(*after)) after++;
            else if (kind == '%' && esign != '+' && after < end && *after == '\n')
                after++;
        }
        line_starting = after[-1] == '\n';
        line += count_lines(q, after);
        s = after;
    }
    return 0;
}

/* ---- parser: expression tokens ---- */

typedef enum { T_END, T_NAME, T_STR, T_INT, T_FLOAT, T_OP } TokKind;

typedef struct {
    TokKind k;
    const char *p;
    size_t n;
} Tok;

static void skip_ws(Parser *ps) {
    while (ps->p < ps->pe && is_space(*ps->p)) {
        if (*ps->p == '\n') ps->line++;
        ps->p++;
    }
}

static Tok peek_tok(Parser *ps) {
    skip_ws(ps);
    const char *p = ps->p, *e = ps->pe;
    Tok t = {T_END, p, 0};
    if (p >= e) return t;
    if (is_name0(*p)) {
        const char *q = p;
        while (q < e && is_name1(*q)) q++;
        return (Tok){T_NAME, p, (size_t)(q - p)};
    }
    if (is_digit(*p)) {
        const char *q = p;
        while (q < e && (is_digit(*q) || *q == '_')) q++;
        int fl = 0;
        if (q + 1 < e && *q == '.' && is_digit(q[1])) {
            fl = 1, q++;
            while (q < e && (is_digit(*q) || *q == '_')) q++;
        }
        if (q < e && (*q == 'e' || *q == 'E')) {
            const char *r = q + 1;
            if (r < e && (*r == '+' || *r == '-')) r++;
            if (r < e && is_digit(*r)) {
                fl = 1, q = r;
                while (q < e && is_digit(*q)) q++;
            }
        }
        return (Tok){fl ? T_FLOAT : T_INT, p, (size_t)(q - p)};
    }
    if (*p == '\'' || *p == '"') {
        const char *q = p;
        if (skip_string(&q, e) != 0) return (Tok){T_OP, p, 0}; /* reported by expect */
        return (Tok){T_STR, p, (size_t)(q - p)};
    }
    static const char *const TWO[] = {"==", "!=", "<=", ">=", "//", "**", NULL};
    for (int i = 0; TWO[i]; i++)
        if (p + 1 < e && p[0] == TWO[i][0] && p[1] == TWO[i][1]) return (Tok){T_OP, p, 2};
    if (strchr("+-*/%~<>=()[]{}.,:|", *p)) return (Tok){T_OP, p, 1};
    return (Tok){T_OP, p, 0};
}

/* Consumes t; a string literal may span lines (Llama 3's does), which
 * the line of later messages must count. */
static void take(Parser *ps, Tok t) {
    ps->line += count_lines(t.p, t.p + t.n);
    ps->p = t.p + t.n;
}

static int tok_is(Tok t, TokKind k, const char *s) {
    return t.k == k && t.n == strlen(s) && memcmp(t.p, s, t.n) == 0;
}
static int is_op(Tok t, const char *s) { return tok_is(t, T_OP, s); }
static int is_kw(Tok t, const char *s) { return tok_is(t, T_NAME, s); }

static int accept(Parser *ps, const char *op) {
    Tok t = peek_tok(ps);
    if (t.k == T_END || !(is_op(t, op) || is_kw(t, op))) return 0;
    take(ps, t);
    return 1;
}

static int perr(Parser *ps, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int perr(Parser *ps, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return jfail(ps->err, ps->origin, ps->line, "%s", msg);
}

/* A short quote of what the parser stopped at, for messages. */
static const char *near(Parser *ps, char *buf, size_t cap) {
    Tok t = peek_tok(ps);
    if (t.k == T_END) return "the end of the tag";
    size_t n = t.n ? t.n : 1;
    if (n > 30) n = 30;
    snprintf(buf, cap, "'%.*s'", (int)n, t.p);
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 32) *c = '?';
    return buf;
}

static int expect(Parser *ps, const char *op) {
    if (accept(ps, op)) return 0;
    char b[48];
    return perr(ps, "expected '%s', found %s", op, near(ps, b, sizeof b));
}

static Expr *new_expr(Parser *ps, EKind k) {
    Expr *e = arena_alloc(ps->a, sizeof *e);
    if (!e) {
        jfail(ps->err, ps->origin, 0, "template too large");
        return NULL;
    }
    memset(e, 0, sizeof *e);
    e->k = k, e->line = ps->line;
    return e;
}

/* Makes room for element n of an arena array holding n elements. The
 * capacity is implied by n (4, then the next power of two), so no field
 * stores it: a new block is due exactly when n is 0 or a power of two >= 4. */
static void *grow(Parser *ps, void *arr, int n, size_t size) {
    if (n > 0 && (n < 4 || (n & (n - 1)) != 0)) return arr;
    int cap = n == 0 ? 4 : n * 2;
    void *a = arena_alloc(ps->a, (size_t)cap * size);
    if (!a) {
        jfail(ps->err, ps->origin, 0, "template too large");
        return NULL;
    }
    if (n) memcpy(a, arr, (size_t)n * size);
    return a;
}

static int add_arg(Parser *ps, Expr *e, Expr *arg, Str kw) {
    Expr **args = grow(ps, e->args, e->n, sizeof *args);
    Str *kws = grow(ps, e->kw, e->n, sizeof *kws);
    if (!args || !kws) return -1;
    e->args = args, e->kw = kws;
    e->args[e->n] = arg, e->kw[e->n] = kw;
    e->n++;
    return 0;
}

/* Unescapes a string literal as Python's unicode-escape does for the
 * escapes a template uses; an unknown escape keeps its backslash. */
static int unescape(Parser *ps, const char *p, size_t n, Str *out) {
    char *o = arena_alloc(ps->a, n * 2 + 1);
    if (!o) return jfail(ps->err, ps->origin, 0, "template too large");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\\' || i + 1 == n) {
            o[k++] = p[i];
            continue;
        }
        char c = p[++i];
        const char *simple = strchr("n\nt\tr\r\\\\''\"\"a\ab\bf\fv\v0\0", c);
        if (c && simple && (simple - "n\nt\tr\r\\\\''\"\"a\ab\bf\fv\v0\0") % 2 == 0) {
            o[k++] = simple[1];
            continue;
        }
        if (c == '\n') continue; /* backslash-newline: a line continuation */
        int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
        if (!digits) {
            o[k++] = '\\', o[k++] = c;
            continue;
        }
        unsigned long cp = 0;
        for (int d = 0; d < digits; d++) {
            char h = i + 1 + (size_t)d < n ? p[i + 1 + d] : 0;
            int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (v < 0) return perr(ps, "a string has a truncated \\%c escape", c);
            cp = cp * 16 + (unsigned long)v;
        }
        i += (size_t)digits;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return perr(ps, "a string has an invalid \\%c escape", c);
        if (cp < 0x80) {
            o[k++] = (char)cp;
        } else if (cp < 0x800) {
            o[k++] = (char)(0xC0 | cp >> 6), o[k++] = (char)(0x80 | (cp & 63));
        } else if (cp < 0x10000) {
            o[k++] = (char)(0xE0 | cp >> 12), o[k++] = (char)(0x80 | (cp >> 6 & 63));
            o[k++] = (char)(0x80 | (cp & 63));
        } else {
            o[k++] = (char)(0xF0 | cp >> 18), o[k++] = (char)(0x80 | (cp >> 12 & 63));
            o[k++] = (char)(0x80 | (cp >> 6 & 63)), o[k++] = (char)(0x80 | (cp & 63));
        }
    }
    o[k] = 0;
    *out = (Str){o, k};
    return 0;
}

static Expr *parse_expr(Parser *ps);
static Expr *parse_or(Parser *ps);
static Expr *parse_unary(Parser *ps, int with_filter);
static Expr *parse_primary(Parser *ps);
static Expr *parse_postfix(Parser *ps, Expr *e);

static int enter(Parser *ps) {
    if (++ps->depth > JJ_MAX_DEPTH) {
        perr(ps, "nested too deeply (more than %d levels)", JJ_MAX_DEPTH);
        return -1;
    }
    return 0;
}

/* Call arguments after '(' up to ')': positional, then name=value. */
static int parse_args(Parser *ps, Expr *e) {
    if (accept(ps, ")")) return 0;
    for (;;) {
        Str kw = {NULL, 0};
        Tok t = peek_tok(ps);
        if (t.k == T_NAME) {
            const char *save = ps->p;
            int save_line = ps->line;
            take(ps, t);
            Tok eq = peek_tok(ps);
            if (is_op(eq, "=")) {
                take(ps, eq);
                kw = (Str){t.p, t.n};
            } else {
                ps->p = save, ps->line = save_line;
            }
        } else if (is_op(t, "*") || is_op(t, "**")) {
            perr(ps, "unsupported construct: *args or **kwargs in a call");
            return -1;
        }
        if (!kw.p && e->n > 0 && e->kw[e->n - 1].p) {
            perr(ps, "a positional argument follows a keyword argument");
            return -1;
        }
        Expr *a = parse_expr(ps);
        if (!a || add_arg(ps, e, a, kw) != 0) return -1;
        if (accept(ps, ")")) return 0;
        if (expect(ps, ",") != 0) return -1;
        if (accept(ps, ")")) return 0;
    }
}

/* Comma-separated expressions up to close, into e->args. */
static int parse_items(Parser *ps, Expr *e, const char *close, int dict) {
    if (accept(ps, close)) return 0;
    for (;;) {
        Expr *k = parse_expr(ps);
        if (!k || add_arg(ps, e, k, (Str){NULL, 0}) != 0) return -1;
        if (dict) {
            if (expect(ps, ":") != 0) return -1;
            Expr *v = parse_expr(ps);
            if (!v || add_arg(ps, e, v, (Str){NULL, 0}) != 0) return -1;
        }
        if (accept(ps, close)) return 0;
        if (expect(ps, ",") != 0) return -1;
        if (accept(ps, close)) return 0;
    }
}

static Expr *parse_primary(Parser *ps) {
    if (enter(ps) != 0) return NULL;
    Tok t = peek_tok(ps);
    Expr *e = NULL;
    char b[48];
    if (t.k == T_NAME) {
        take(ps, t);
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
            take(ps, t);
            Str one = {NULL, 0};
            if (unescape(ps, t.p + 1, t.n - 2, &one) != 0) return NULL;
            if (acc.n == 0) {
                acc = one;
            } else {
                char *c = arena_alloc(ps->a, acc.n + one.n + 1);
                if (!c) {
                    jfail(ps->err, ps->origin, 0, "template too large");
                    return NULL;
                }
                memcpy(c, acc.p, acc.n), memcpy(c + acc.n, one.p, one.n);
                c[acc.n + one.n] = 0;
                acc = (Str){c, acc.n + one.n};
            }
            t = peek_tok(ps);
        }
        e->lit.u.s = acc;
    } else if (t.k == T_INT || t.k == T_FLOAT) {
        take(ps, t);
        if (!(e = new_expr(ps, E_LIT))) return NULL;
        char num[64];
        size_t k = 0;
        for (size_t i = 0; i < t.n && k + 1 < sizeof num; i++)
            if (t.p[i] != '_') num[k++] = t.p[i];
        num[k] = 0;
        if (t.k == T_INT) {
            unsigned long long v = strtoull(num, NULL, 10);
            if (k > 19 || v > (unsigned long long)LLONG_MAX) {
                perr(ps, "integer literal %s is too large", num);
                return NULL;
            }
            e->lit = (Value){.t = V_INT, .u.i = (long long)v};
        } else {
            e->lit = (Value){.t = V_FLOAT, .u.f = strtod(num, NULL)};
        }
    } else if (is_op(t, "(")) {
        take(ps, t);
        if (accept(ps, ")")) { /* the empty tuple */
            if (!(e = new_expr(ps, E_LIST))) return NULL;
            e->op = 1;
        } else {
            Expr *first = parse_expr(ps);
            if (!first) return NULL;
            if (accept(ps, ",")) {
                if (!(e = new_expr(ps, E_LIST))) return NULL;
                e->op = 1; /* a tuple */
                if (add_arg(ps, e, first, (Str){NULL, 0}) != 0) return NULL;
                if (parse_items(ps, e, ")", 0) != 0) return NULL;
            } else {
                if (expect(ps, ")") != 0) return NULL;
                e = first;
            }
        }
    } else if (is_op(t, "[")) {
        take(ps, t);
        if (!(e = new_expr(ps, E_LIST)) || parse_items(ps, e, "]", 0) != 0) return NULL;
    } else if (is_op(t, "{")) {
        take(ps, t);
        if (!(e = new_expr(ps, E_DICT)) || parse_items(ps, e, "}", 1) != 0) return NULL;
    } else {
        perr(ps, "expected an expression, found %s", near(ps, b, sizeof b));
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
        Tok t = peek_tok(ps);
        if (is_op(t, "]")) break;
        if (is_op(t, ":")) {
            if (++colons > 2) {
                perr(ps, "a slice has more than two ':'");
                return NULL;
            }
            take(ps, t);
            continue;
        }
        if (parts[colons]) {
            char b[48];
            perr(ps, "expected ']', found %s", near(ps, b, sizeof b));
            return NULL;
        }
        if (!(parts[colons] = parse_expr(ps))) return NULL;
        if (!colons && is_op(peek_tok(ps), ",")) { /* x[a, b]: the key is a tuple */
            Expr *t = new_expr(ps, E_LIST);
            if (!t || add_arg(ps, t, parts[0], (Str){NULL, 0}) != 0) return NULL;
            t->op = 1;
            while (accept(ps, ",") && !is_op(peek_tok(ps), "]")) {
                Expr *x = parse_expr(ps);
                if (!x || add_arg(ps, t, x, (Str){NULL, 0}) != 0) return NULL;
            }
            parts[0] = t;
        }
    }
    if (expect(ps, "]") != 0) return NULL;
    Expr *e = new_expr(ps, colons ? E_SLICE : E_INDEX);
    if (!e) return NULL;
    if (!colons && !parts[0]) {
        perr(ps, "an empty subscript []");
        return NULL;
    }
    e->a = obj, e->b = parts[0], e->c = parts[1], e->d = parts[2];
    return e;
}

static Expr *parse_postfix(Parser *ps, Expr *e) {
    for (;;) {
        Tok t = peek_tok(ps);
        if (is_op(t, ".")) {
            take(ps, t);
            Tok n = peek_tok(ps);
            if (n.k == T_NAME) {
                take(ps, n);
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
                perr(ps, "expected a name after '.', found %s", near(ps, b, sizeof b));
                return NULL;
            }
        } else if (is_op(t, "[")) {
            take(ps, t);
            if (!(e = parse_subscript(ps, e))) return NULL;
        } else if (is_op(t, "(")) {
            take(ps, t);
            Expr *c = new_expr(ps, E_CALL);
            if (!c) return NULL;
            c->a = e;
            if (parse_args(ps, c) != 0) return NULL;
            e = c;
        } else {
            return e;
        }
    }
}

/* A filter or test name: dotted names are not supported. */
static int parse_name(Parser *ps, Str *out, const char *what) {
    Tok t = peek_tok(ps);
    if (t.k != T_NAME) {
        char b[48];
        return perr(ps, "expected a %s name, found %s", what, near(ps, b, sizeof b));
    }
    take(ps, t);
    *out = (Str){t.p, t.n};
    return 0;
}

static Expr *parse_filters(Parser *ps, Expr *e) {
    for (;;) {
        Tok t = peek_tok(ps);
        if (is_op(t, "|")) {
            take(ps, t);
            Expr *f = new_expr(ps, E_FILTER);
            if (!f || parse_name(ps, &f->name, "filter") != 0) return NULL;
            f->a = e;
            if (accept(ps, "(") && parse_args(ps, f) != 0) return NULL;
            e = f;
        } else if (is_kw(t, "is")) {
            take(ps, t);
            Expr *f = new_expr(ps, E_TEST);
            if (!f) return NULL;
            f->op = accept(ps, "not");
            if (parse_name(ps, &f->name, "test") != 0) return NULL;
            f->a = e;
            Tok n = peek_tok(ps);
            if (is_op(n, "(")) {
                take(ps, n);
                if (parse_args(ps, f) != 0) return NULL;
            } else if ((n.k == T_NAME || n.k == T_STR || n.k == T_INT || n.k == T_FLOAT ||
                        is_op(n, "[") || is_op(n, "{")) &&
                       !is_kw(n, "else") && !is_kw(n, "or") && !is_kw(n, "and")) {
                /* `x is equalto 5`, `x is sameas false`: one argument without parentheses,
                 * taken exactly where Jinja2's parser takes one (even `if`) */
                if (is_kw(n, "is")) {
                    perr(ps, "multiple tests cannot be chained with 'is'");
                    return NULL;
                }
                Expr *arg = parse_primary(ps);
                if (!arg || !(arg = parse_postfix(ps, arg))) return NULL;
                if (add_arg(ps, f, arg, (Str){NULL, 0}) != 0) return NULL;
            }
            e = f;
        } else if (is_op(t, "(")) {
            take(ps, t);
            Expr *c = new_expr(ps, E_CALL);
            if (!c) return NULL;
            c->a = e;
            if (parse_args(ps, c) != 0) return NULL;
            e = c;
        } else {
            return e;
        }
    }
}

static Expr *parse_unary(Parser *ps, int with_filter) {
    if (enter(ps) != 0) return NULL;
    Tok t = peek_tok(ps);
    Expr *e;
    if (is_op(t, "-") || is_op(t, "+")) {
        take(ps, t);
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

static Expr *binary(Parser *ps, int op, Expr *a, Expr *b) {
    if (!a || !b) return NULL;
    Expr *e = new_expr(ps, E_BIN);
    if (!e) return NULL;
    e->op = op, e->a = a, e->b = b;
    return e;
}

static Expr *parse_pow(Parser *ps) {
    Expr *e = parse_unary(ps, 1);
    while (e && accept(ps, "**")) e = binary(ps, OP_POW, e, parse_unary(ps, 1));
    return e;
}

static Expr *parse_math2(Parser *ps) {
    Expr *e = parse_pow(ps);
    for (;;) {
        if (!e) return NULL;
        Tok t = peek_tok(ps);
        int op = is_op(t, "*") ? OP_MUL : is_op(t, "/") ? OP_DIV : is_op(t, "//") ? OP_FLOORDIV
               : is_op(t, "%") ? OP_MOD : -1;
        if (op < 0) return e;
        take(ps, t);
        e = binary(ps, op, e, parse_pow(ps));
    }
}

static Expr *parse_concat(Parser *ps) {
    Expr *e = parse_math2(ps);
    while (e && accept(ps, "~")) e = binary(ps, OP_CONCAT, e, parse_math2(ps));
    return e;
}

static Expr *parse_math1(Parser *ps) {
    Expr *e = parse_concat(ps);
    for (;;) {
        if (!e) return NULL;
        Tok t = peek_tok(ps);
        int op = is_op(t, "+") ? OP_ADD : is_op(t, "-") ? OP_SUB : -1;
        if (op < 0) return e;
        take(ps, t);
        e = binary(ps, op, e, parse_concat(ps));
    }
}

static Expr *parse_compare(Parser *ps) {
    Expr *first = parse_math1(ps);
    if (!first) return NULL;
    Expr *e = NULL;
    for (;;) {
        Tok t = peek_tok(ps);
        int op = is_op(t, "==") ? C_EQ : is_op(t, "!=") ? C_NE : is_op(t, "<") ? C_LT
               : is_op(t, "<=") ? C_LE : is_op(t, ">") ? C_GT : is_op(t, ">=") ? C_GE
               : is_kw(t, "in") ? C_IN : -1;
        if (op < 0 && is_kw(t, "not")) { /* `not in` */
            const char *save = ps->p;
            int save_line = ps->line;
            take(ps, t);
            if (is_kw(peek_tok(ps), "in")) {
                op = C_NOTIN;
                t = peek_tok(ps);
            } else {
                ps->p = save, ps->line = save_line;
            }
        }
        if (op < 0) return e ? e : first;
        take(ps, t);
        if (!e) {
            if (!(e = new_expr(ps, E_CMP)) || add_arg(ps, e, first, (Str){NULL, 0}) != 0)
                return NULL;
        }
        Expr *rhs = parse_math1(ps);
        if (!rhs || add_arg(ps, e, rhs, (Str){NULL, 0}) != 0) return NULL;
        int *ops = grow(ps, e->ops, e->n - 2, sizeof *ops);
        if (!ops) return NULL;
        e->ops = ops;
        e->ops[e->n - 2] = op;
    }
}

static Expr *parse_not(Parser *ps) {
    if (is_kw(peek_tok(ps), "not")) {
        if (enter(ps) != 0) return NULL;
        take(ps, peek_tok(ps));
        Expr *e = new_expr(ps, E_NOT);
        if (!e || !(e->a = parse_not(ps))) return NULL;
        ps->depth--;
        return e;
    }
    return parse_compare(ps);
}

static Expr *parse_and(Parser *ps) {
    Expr *e = parse_not(ps);
    while (e && accept(ps, "and")) {
        Expr *a = new_expr(ps, E_AND);
        if (!a || !(a->b = parse_not(ps))) return NULL;
        a->a = e, e = a;
    }
    return e;
}

static Expr *parse_or(Parser *ps) {
    Expr *e = parse_and(ps);
    while (e && accept(ps, "or")) {
        Expr *a = new_expr(ps, E_OR);
        if (!a || !(a->b = parse_and(ps))) return NULL;
        a->a = e, e = a;
    }
    return e;
}

static Expr *parse_expr(Parser *ps) {
    if (enter(ps) != 0) return NULL;
    Expr *e = parse_or(ps);
    while (e && accept(ps, "if")) {
        Expr *c = new_expr(ps, E_COND);
        if (!c || !(c->b = parse_or(ps))) return NULL;
        c->a = e;
        if (accept(ps, "else") && !(c->c = parse_expr(ps))) return NULL;
        e = c;
    }
    ps->depth--;
    return e;
}

/* An expression that must fill the rest of the tag; a bare tuple
 * `{{ a, b }}` becomes a list. Without condexpr (an if's condition, as in
 * Jinja2) `a if b else c` is not one. */
static Expr *parse_tag_expr_as(Parser *ps, int condexpr) {
    Expr *e = condexpr ? parse_expr(ps) : parse_or(ps);
    if (!e) return NULL;
    if (is_op(peek_tok(ps), ",")) {
        Expr *l = new_expr(ps, E_LIST);
        if (!l || add_arg(ps, l, e, (Str){NULL, 0}) != 0) return NULL;
        while (accept(ps, ",")) {
            if (peek_tok(ps).k == T_END) break;
            Expr *x = condexpr ? parse_expr(ps) : parse_or(ps);
            if (!x || add_arg(ps, l, x, (Str){NULL, 0}) != 0) return NULL;
        }
        e = l;
    }
    if (peek_tok(ps).k != T_END) {
        char b[48];
        perr(ps, "unexpected %s", near(ps, b, sizeof b));
        return NULL;
    }
    return e;
}

static Expr *parse_tag_expr(Parser *ps) { return parse_tag_expr_as(ps, 1); }

/* ---- parser: statements ---- */

static int end_of_tag(Parser *ps) {
    if (peek_tok(ps).k == T_END) return 0;
    char b[48];
    return perr(ps, "unexpected %s", near(ps, b, sizeof b));
}

/* Positions the expression cursor on block chunk i; returns its keyword. */
static Tok open_block(Parser *ps, int i) {
    ps->p = ps->ch[i].p, ps->pe = ps->ch[i].p + ps->ch[i].n, ps->line = ps->ch[i].line;
    Tok t = peek_tok(ps);
    if (t.k == T_NAME) take(ps, t);
    return t;
}

static int add_stmt(Parser *ps, Body *b, Stmt *s) {
    Stmt **arr = grow(ps, b->s, b->n, sizeof *arr);
    if (!arr) return -1;
    b->s = arr;
    b->s[b->n++] = s;
    return 0;
}

static Stmt *new_stmt(Parser *ps, SKind k, int line) {
    Stmt *s = arena_alloc(ps->a, sizeof *s);
    if (!s) {
        jfail(ps->err, ps->origin, 0, "template too large");
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->k = k, s->line = line;
    return s;
}

static int parse_body(Parser *ps, Body *b, const char *const *ends, Tok *stop);

static const char *const UNSUPPORTED[] = {
    "macro", "call", "filter", "include", "import", "from", "extends", "block", "raw",
    "with", "autoescape", "trans", "do", "endmacro", NULL};

/* Parses the statement of block chunk ps->pos (already opened, keyword kw). */
static int parse_stmt(Parser *ps, Body *b, Tok kw) {
    int line = ps->line;
    char kwb[40];
    snprintf(kwb, sizeof kwb, "%.*s", (int)(kw.n > 30 ? 30 : kw.n), kw.p);
    if (enter(ps) != 0) return -1;
    Stmt *s = NULL;
    if (is_kw(kw, "if")) {
        if (!(s = new_stmt(ps, S_IF, line))) return -1;
        Expr *cond = parse_tag_expr_as(ps, 0);
        for (;;) {
            if (!cond && s->n == 0) return -1;
            Expr **conds = grow(ps, s->conds, s->n, sizeof *conds);
            Body *bodies = grow(ps, s->bodies, s->n, sizeof *bodies);
            if (!conds || !bodies) return -1;
            s->conds = conds, s->bodies = bodies;
            s->conds[s->n] = cond;
            memset(&s->bodies[s->n], 0, sizeof s->bodies[0]);
            static const char *const ENDS[] = {"elif", "else", "endif", NULL};
            Tok stop;
            if (parse_body(ps, &s->bodies[s->n++], ENDS, &stop) != 0) return -1;
            if (is_kw(stop, "endif")) {
                if (end_of_tag(ps) != 0) return -1;
                break;
            }
            if (!cond) return perr(ps, "'%.*s' after 'else'", (int)stop.n, stop.p);
            if (is_kw(stop, "else")) {
                if (end_of_tag(ps) != 0) return -1;
                cond = NULL;
            } else if (!(cond = parse_tag_expr_as(ps, 0))) {
                return -1;
            }
        }
    } else if (is_kw(kw, "for")) {
        if (!(s = new_stmt(ps, S_FOR, line))) return -1;
        for (;;) {
            Tok n = peek_tok(ps);
            if (n.k != T_NAME || s->n_names == 2)
                return perr(ps, "unsupported construct: this for-loop target");
            take(ps, n);
            s->names[s->n_names++] = (Str){n.p, n.n};
            if (!accept(ps, ",")) break;
        }
        if (expect(ps, "in") != 0) return -1;
        /* parse_or, not parse_expr: the `if` of a loop filter is not a conditional */
        if (!(s->e = parse_or(ps))) return -1;
        if (is_op(peek_tok(ps), ",")) return perr(ps, "unsupported construct: for over a tuple");
        if (is_kw(peek_tok(ps), "if"))
            return perr(ps, "unsupported construct: a for-loop filter (for ... if ...)");
        if (is_kw(peek_tok(ps), "recursive"))
            return perr(ps, "unsupported construct: recursive for-loops");
        if (end_of_tag(ps) != 0) return -1;
        static const char *const ENDS[] = {"else", "endfor", NULL};
        Tok stop;
        ps->loops++;
        int rc = parse_body(ps, &s->body, ENDS, &stop);
        ps->loops--;
        if (rc != 0 || end_of_tag(ps) != 0) return -1;
        if (is_kw(stop, "else")) {
            static const char *const END[] = {"endfor", NULL};
            if (parse_body(ps, &s->orelse, END, &stop) != 0 || end_of_tag(ps) != 0) return -1;
        }
    } else if (is_kw(kw, "set")) {
        if (!(s = new_stmt(ps, S_SET, line))) return -1;
        Tok n = peek_tok(ps);
        if (n.k != T_NAME) return perr(ps, "unsupported construct: this set target");
        take(ps, n);
        s->names[0] = (Str){n.p, n.n};
        s->n_names = 1;
        if (accept(ps, ".")) {
            Tok at = peek_tok(ps);
            if (at.k != T_NAME) return perr(ps, "unsupported construct: this set target");
            take(ps, at);
            s->names[1] = (Str){at.p, at.n};
            s->n_names = 2;
        }
        if (is_op(peek_tok(ps), ","))
            return perr(ps, "unsupported construct: set with several targets");
        if (peek_tok(ps).k == T_END)
            return perr(ps, "unsupported construct: a block set ({%% set x %%}...{%% endset %%})");
        if (expect(ps, "=") != 0 || !(s->e = parse_tag_expr(ps))) return -1;
    } else if (is_kw(kw, "break") || is_kw(kw, "continue")) {
        if (ps->loops == 0) return perr(ps, "'%s' outside a for-loop", kwb);
        if (!(s = new_stmt(ps, is_kw(kw, "break") ? S_BREAK : S_CONTINUE, line))) return -1;
        if (end_of_tag(ps) != 0) return -1;
    } else if (is_kw(kw, "generation")) {
        /* transformers' AssistantTracker marks the assistant's text; rendering is unchanged */
        if (!(s = new_stmt(ps, S_GEN, line)) || end_of_tag(ps) != 0) return -1;
        static const char *const ENDS[] = {"endgeneration", NULL};
        Tok stop;
        if (parse_body(ps, &s->body, ENDS, &stop) != 0 || end_of_tag(ps) != 0) return -1;
    } else {
        for (int i = 0; UNSUPPORTED[i]; i++)
            if (is_kw(kw, UNSUPPORTED[i]))
                return perr(ps, "unsupported construct: {%% %s %%}", kwb);
        if (kw.k != T_NAME) return perr(ps, "expected a statement keyword");
        return perr(ps, "unknown statement '%s'", kwb);
    }
    ps->depth--;
    return add_stmt(ps, b, s);
}

/* Statements until a block whose keyword is in ends (then *stop is that
 * keyword, the cursor after it) or, with ends NULL, the end of the
 * template. */
static int parse_body(Parser *ps, Body *b, const char *const *ends, Tok *stop) {
    while (ps->pos < ps->n_ch) {
        int i = ps->pos++;
        const Chunk *c = &ps->ch[i];
        if (c->k == CH_TEXT) {
            Stmt *s = new_stmt(ps, S_TEXT, c->line);
            if (!s) return -1;
            s->text = (Str){c->p, c->n};
            if (add_stmt(ps, b, s) != 0) return -1;
        } else if (c->k == CH_VAR) {
            ps->p = c->p, ps->pe = c->p + c->n, ps->line = c->line;
            Stmt *s = new_stmt(ps, S_OUT, c->line);
            if (!s || !(s->e = parse_tag_expr(ps)) || add_stmt(ps, b, s) != 0) return -1;
        } else {
            Tok kw = open_block(ps, i);
            for (int k = 0; ends && ends[k]; k++)
                if (is_kw(kw, ends[k])) {
                    *stop = kw;
                    return 0;
                }
            static const char *const CLOSERS[] = {"elif", "else", "endif", "endfor",
                                                  "endgeneration", "endset", NULL};
            for (int k = 0; CLOSERS[k]; k++)
                if (is_kw(kw, CLOSERS[k]))
                    return perr(ps, "unexpected '%s'", CLOSERS[k]);
            if (parse_stmt(ps, b, kw) != 0) return -1;
        }
    }
    if (ends) {
        ps->line = ps->n_ch ? ps->ch[ps->n_ch - 1].line : 1;
        const char *const *last = ends;
        while (last[1]) last++;
        return perr(ps, "the template ends inside a block (no '{%% %s %%}')", *last);
    }
    return 0;
}

/* ---- parse entry ---- */

void jinja_free(JinjaTemplate *t) {
    if (!t) return;
    arena_free(&t->arena);
    free(t->origin);
    free(t);
}

int jinja_parse(const char *src, size_t len, const char *origin, JinjaTemplate **out,
                SrError *err) {
    *out = NULL;
    if (len > JJ_MAX_SOURCE)
        return jfail(err, origin, 0, "the template is larger than %u bytes", JJ_MAX_SOURCE);
    JinjaTemplate *t = calloc(1, sizeof *t);
    char *o = strdup(origin ? origin : "chat template");
    if (!t || !o) {
        free(t), free(o);
        return sr_fail(err, "%s: out of memory", origin ? origin : "chat template");
    }
    t->origin = o;
    /* Jinja2 turns \r\n and \r into \n and, without keep_trailing_newline,
     * drops one newline at the very end. */
    char *s = arena_alloc(&t->arena, len + 1);
    if (!s) {
        jinja_free(t);
        return jfail(err, origin, 0, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            s[n++] = src[i];
        }
    }
    if (n && s[n - 1] == '\n') n--;
    s[n] = 0;
    Parser ps = {.a = &t->arena, .origin = t->origin, .err = err, .src = s, .end = s + n};
    Tok none;
    if (lex(&ps) != 0 || parse_body(&ps, &t->root, NULL, &none) != 0) {
        jinja_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* ---- evaluation ---- */

typedef struct Var {
    Str name;
    Value v;
} Var;

typedef struct Frame {
    struct Frame *up;
    Var *vars;
    int n, cap;
} Frame;

enum { CTL_NONE, CTL_BREAK, CTL_CONTINUE };

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

typedef struct {
    Arena a;
    const char *origin;
    SrError *err;
    Buf out;
    long steps;
    int depth;
    int ctl;
} Ctx;

static int rfail(Ctx *c, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int rfail(Ctx *c, int line, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return jfail(c->err, c->origin, line, "%s", msg);
}

static int oom(Ctx *c) {
    return rfail(c, 0, "the render needs more than %zu MiB", JJ_MAX_ARENA >> 20);
}

static int buf_put(Ctx *c, Buf *b, const char *p, size_t n) {
    if (n == 0) return 0;
    if (b->n + n > JJ_MAX_OUTPUT)
        return rfail(c, 0, "the output is longer than %zu MiB", JJ_MAX_OUTPUT >> 20);
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return oom(c);
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

static int buf_puts(Ctx *c, Buf *b, const char *s) { return buf_put(c, b, s, strlen(s)); }

/* The buffer's text as an arena string; the buffer is emptied. */
static int buf_take(Ctx *c, Buf *b, Value *out) {
    char *s = arena_alloc(&c->a, b->n + 1);
    if (!s) {
        free(b->p);
        *b = (Buf){0};
        return oom(c);
    }
    if (b->n) memcpy(s, b->p, b->n);
    s[b->n] = 0;
    *out = (Value){.t = V_STR, .u.s = {s, b->n}};
    free(b->p);
    *b = (Buf){0};
    return 0;
}

static int make_str(Ctx *c, const char *p, size_t n, Value *out) {
    char *s = arena_alloc(&c->a, n + 1);
    if (!s) return oom(c);
    if (n) memcpy(s, p, n);
    s[n] = 0;
    *out = (Value){.t = V_STR, .u.s = {s, n}};
    return 0;
}

static List *new_list(Ctx *c, int n) {
    List *l = arena_alloc(&c->a, sizeof *l + (size_t)(n > 0 ? n : 1) * sizeof(Value));
    if (!l) return NULL;
    l->n = n;
    l->v = (Value *)(l + 1);
    return l;
}

static Value list_value(List *l) { return (Value){.t = V_LIST, .u.l = l}; }
static Value bool_value(int b) { return (Value){.t = V_BOOL, .u.i = b != 0}; }
static Value int_value(long long i) { return (Value){.t = V_INT, .u.i = i}; }
static Value str_value(const char *s) {
    return (Value){.t = V_STR, .u.s = {s, strlen(s)}};
}

static int str_eq(Str a, const char *b) { return a.n == strlen(b) && memcmp(a.p, b, a.n) == 0; }
static int str_same(Str a, Str b) { return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0); }

static int dict_find(const Dict *d, Str k) {
    for (int i = 0; i < d->n; i++)
        if (str_same(d->k[i], k)) return i;
    return -1;
}

static int dict_set(Ctx *c, Dict *d, Str k, Value v) {
    int i = dict_find(d, k);
    if (i >= 0) {
        d->v[i] = v;
        return 0;
    }
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        Str *ks = arena_alloc(&c->a, (size_t)cap * sizeof *ks);
        Value *vs = arena_alloc(&c->a, (size_t)cap * sizeof *vs);
        if (!ks || !vs) return oom(c);
        if (d->n) memcpy(ks, d->k, (size_t)d->n * sizeof *ks), memcpy(vs, d->v, (size_t)d->n * sizeof *vs);
        d->k = ks, d->v = vs, d->cap = cap;
    }
    d->k[d->n] = k, d->v[d->n] = v;
    d->n++;
    return 0;
}

static Dict *new_dict(Ctx *c) {
    Dict *d = arena_alloc(&c->a, sizeof *d);
    if (d) memset(d, 0, sizeof *d);
    return d;
}

static int frame_set(Ctx *c, Frame *f, Str name, Value v) {
    for (int i = 0; i < f->n; i++)
        if (str_same(f->vars[i].name, name)) {
            f->vars[i].v = v;
            return 0;
        }
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 8;
        Var *vs = arena_alloc(&c->a, (size_t)cap * sizeof *vs);
        if (!vs) return oom(c);
        if (f->n) memcpy(vs, f->vars, (size_t)f->n * sizeof *vs);
        f->vars = vs, f->cap = cap;
    }
    f->vars[f->n++] = (Var){name, v};
    return 0;
}

static const Value *frame_get(const Frame *f, Str name) {
    for (; f; f = f->up)
        for (int i = f->n - 1; i >= 0; i--)
            if (str_same(f->vars[i].name, name)) return &f->vars[i].v;
    return NULL;
}

static int truthy(const Value *v) {
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
static size_t *cp_offsets(Ctx *c, Str s, long long *count) {
    size_t *off = arena_alloc(&c->a, (s.n + 1) * sizeof *off);
    if (!off) return NULL;
    long long k = 0;
    for (size_t i = 0; i < s.n; i += cp_len_at(s.p + i, s.n - i)) off[k++] = i;
    off[k] = s.n;
    *count = k;
    return off;
}

static long long cp_count(Str s) {
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

static int write_str(Ctx *c, Buf *b, const Value *v, int line);

/* Python's repr of a str. */
static int write_repr_str(Ctx *c, Buf *b, Str s) {
    int has1 = memchr(s.p, '\'', s.n) != NULL, has2 = memchr(s.p, '"', s.n) != NULL;
    char q = has1 && !has2 ? '"' : '\'';
    if (buf_put(c, b, &q, 1) != 0) return -1;
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
        if (w ? buf_puts(c, b, w) : buf_put(c, b, s.p + i, 1)) return -1;
    }
    return buf_put(c, b, &q, 1);
}

static int write_repr(Ctx *c, Buf *b, const Value *v, int line) {
    if (++c->depth > JJ_MAX_DEPTH) return rfail(c, line, "a value is nested too deeply");
    int rc = 0;
    if (v->t == V_STR) {
        rc = write_repr_str(c, b, v->u.s);
    } else if (v->t == V_LIST && v->ns != LIST_ITER) {
        rc = buf_puts(c, b, v->ns ? "(" : "[");
        for (int i = 0; rc == 0 && i < v->u.l->n; i++)
            rc = (i ? buf_puts(c, b, ", ") : 0) || write_repr(c, b, &v->u.l->v[i], line) ? -1 : 0;
        if (rc == 0 && v->ns && v->u.l->n == 1) rc = buf_puts(c, b, ",");
        if (rc == 0) rc = buf_puts(c, b, v->ns ? ")" : "]");
    } else if (v->t == V_DICT && !v->ns) {
        rc = buf_puts(c, b, "{");
        for (int i = 0; rc == 0 && i < v->u.d->n; i++)
            rc = (i ? buf_puts(c, b, ", ") : 0) || write_repr_str(c, b, v->u.d->k[i]) ||
                 buf_puts(c, b, ": ") || write_repr(c, b, &v->u.d->v[i], line) ? -1 : 0;
        if (rc == 0) rc = buf_puts(c, b, "}");
    } else {
        rc = write_str(c, b, v, line);
    }
    c->depth--;
    return rc;
}

/* Python's str() of a value, appended to b. */
static int write_str(Ctx *c, Buf *b, const Value *v, int line) {
    char num[64];
    switch (v->t) {
    case V_UNDEF: return 0;
    case V_NONE: return buf_puts(c, b, "None");
    case V_BOOL: return buf_puts(c, b, v->u.i ? "True" : "False");
    case V_INT: snprintf(num, sizeof num, "%lld", v->u.i); return buf_puts(c, b, num);
    case V_FLOAT: float_repr(v->u.f, num, sizeof num); return buf_puts(c, b, num);
    case V_STR: return buf_put(c, b, v->u.s.p, v->u.s.n);
    case V_LIST: if (v->ns != LIST_ITER) return write_repr(c, b, v, line); break;
    case V_DICT: if (!v->ns) return write_repr(c, b, v, line); break;
    default: break;
    }
    return rfail(c, line, "unsupported: turning a %s into text", type_name(v));
}

static int to_str(Ctx *c, const Value *v, Str *out, int line) {
    if (v->t == V_STR) {
        *out = v->u.s;
        return 0;
    }
    Buf b = {0};
    Value s;
    if (write_str(c, &b, v, line) != 0) {
        free(b.p);
        return -1;
    }
    if (buf_take(c, &b, &s) != 0) return -1;
    *out = s.u.s;
    return 0;
}

/* transformers' tojson: json.dumps(x, ensure_ascii=False, indent=indent). */
static int write_json(Ctx *c, Buf *b, const Value *v, int indent, int level, int line) {
    if (++c->depth > JJ_MAX_DEPTH) return rfail(c, line, "a value is nested too deeply");
    char num[64];
    int rc = 0;
    switch (v->t) {
    case V_NONE: rc = buf_puts(c, b, "null"); break;
    case V_BOOL: rc = buf_puts(c, b, v->u.i ? "true" : "false"); break;
    case V_INT: snprintf(num, sizeof num, "%lld", v->u.i); rc = buf_puts(c, b, num); break;
    case V_FLOAT:
        if (isnan(v->u.f)) snprintf(num, sizeof num, "NaN");
        else if (isinf(v->u.f)) snprintf(num, sizeof num, v->u.f < 0 ? "-Infinity" : "Infinity");
        else float_repr(v->u.f, num, sizeof num);
        rc = buf_puts(c, b, num);
        break;
    case V_STR:
        rc = buf_puts(c, b, "\"");
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
            rc = w ? buf_puts(c, b, w) : buf_put(c, b, v->u.s.p + i, 1);
        }
        if (rc == 0) rc = buf_puts(c, b, "\"");
        break;
    case V_LIST:
    case V_DICT: {
        if (v->ns == (v->t == V_DICT ? 1 : LIST_ITER)) {
            rc = rfail(c, line, "tojson: a %s is not JSON serializable", type_name(v));
            break;
        }
        int is_list = v->t == V_LIST, n = is_list ? v->u.l->n : v->u.d->n;
        rc = buf_puts(c, b, is_list ? "[" : "{");
        for (int i = 0; rc == 0 && i < n; i++) {
            if (i) rc = buf_puts(c, b, indent >= 0 ? "," : ", ");
            if (rc == 0 && indent >= 0) {
                rc = buf_puts(c, b, "\n");
                for (long k = 0; rc == 0 && k < (long)indent * (level + 1); k++) rc = buf_puts(c, b, " ");
            }
            if (rc == 0 && !is_list) {
                Value key = {.t = V_STR, .u.s = v->u.d->k[i]};
                rc = write_json(c, b, &key, indent, level + 1, line) || buf_puts(c, b, ": ") ? -1 : 0;
            }
            if (rc == 0)
                rc = write_json(c, b, is_list ? &v->u.l->v[i] : &v->u.d->v[i], indent, level + 1, line);
        }
        if (rc == 0 && indent >= 0 && n > 0) {
            rc = buf_puts(c, b, "\n");
            for (long k = 0; rc == 0 && k < (long)indent * level; k++) rc = buf_puts(c, b, " ");
        }
        if (rc == 0) rc = buf_puts(c, b, is_list ? "]" : "}");
        break;
    }
    default:
        rc = rfail(c, line, "tojson: a %s is not JSON serializable", type_name(v));
    }
    c->depth--;
    return rc;
}

static int is_number(const Value *v) { return v->t == V_BOOL || v->t == V_INT || v->t == V_FLOAT; }
static double num_of(const Value *v) { return v->t == V_FLOAT ? v->u.f : (double)v->u.i; }

static int values_equal(const Value *a, const Value *b) {
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
            if (!values_equal(&a->u.l->v[i], &b->u.l->v[i])) return 0;
        return 1;
    case V_DICT:
        if (a->ns || b->ns) return a->u.d == b->u.d;
        if (a->u.d->n != b->u.d->n) return 0;
        for (int i = 0; i < a->u.d->n; i++) {
            int j = dict_find(b->u.d, a->u.d->k[i]);
            if (j < 0 || !values_equal(&a->u.d->v[i], &b->u.d->v[j])) return 0;
        }
        return 1;
    case V_LOOP: return a->u.loop == b->u.loop;
    case V_FUNC: return a->u.fn == b->u.fn;
    default: return 0;
    }
}

static int step(Ctx *c, int line) {
    if (++c->steps > JJ_MAX_STEPS)
        return rfail(c, line, "the template runs too long (more than %ld steps)", JJ_MAX_STEPS);
    return 0;
}

static int eval(Ctx *c, Frame *f, const Expr *e, Value *out);

static int not_defined(Ctx *c, const Expr *e) {
    if (e->k == E_NAME) return rfail(c, e->line, "'%.*s' is undefined", (int)(e->name.n > 60 ? 60 : e->name.n), e->name.p);
    if (e->k == E_ATTR) return rfail(c, e->line, "'%.*s' of an undefined value", (int)(e->name.n > 60 ? 60 : e->name.n), e->name.p);
    return rfail(c, e->line, "an undefined value is used");
}

/* obj.name, or obj[name] with a str key. */
static int get_attr(Ctx *c, const Value *obj, Str name, Value *out, const Expr *e) {
    *out = (Value){.t = V_UNDEF};
    if (obj->t == V_UNDEF) return not_defined(c, e->a);
    if (obj->t == V_DICT) {
        int i = dict_find(obj->u.d, name);
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
        else return rfail(c, e->line, "unsupported: loop.%.*s", (int)(name.n > 40 ? 40 : name.n), name.p);
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
    if (obj->t == V_UNDEF) return not_defined(c, e->a);
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
        size_t *off = cp_offsets(c, obj->u.s, &n);
        if (!off) return oom(c);
        long long i = norm_index(key->u.i, n);
        if (i >= 0) return make_str(c, obj->u.s.p + off[i], off[i + 1] - off[i], out);
    }
    return 0; /* Jinja2: a failed lookup is undefined, not an error */
}

static int as_int(Ctx *c, const Value *v, long long *out, int line, const char *what) {
    if (v->t == V_INT || v->t == V_BOOL) {
        *out = v->u.i;
        return 0;
    }
    return rfail(c, line, "%s must be an integer, not %s", what, type_name(v));
}

static int get_slice(Ctx *c, Frame *f, const Expr *e, const Value *obj, Value *out) {
    long long n, lim[3] = {0, 0, 1};
    int given[3] = {0, 0, 0};
    const Expr *parts[3] = {e->b, e->c, e->d};
    for (int k = 0; k < 3; k++) {
        if (!parts[k]) continue;
        Value v;
        if (eval(c, f, parts[k], &v) != 0) return -1;
        if (v.t == V_NONE) continue;
        /* Jinja2 slices in Python directly (not through its getitem, which
         * turns failures into Undefined), so a bad bound is Python's error */
        if (as_int(c, &v, &lim[k], e->line, "a slice bound") != 0) return -1;
        given[k] = 1;
    }
    size_t *off = NULL;
    if (obj->t == V_LIST && obj->ns != LIST_ITER) n = obj->u.l->n;
    else if (obj->t == V_STR) {
        if (!(off = cp_offsets(c, obj->u.s, &n))) return oom(c);
    } else if (obj->t == V_UNDEF) {
        return not_defined(c, e->a);
    } else {
        return rfail(c, e->line, "a %s cannot be sliced", type_name(obj));
    }
    long long stepv = lim[2];
    if (stepv == 0) return rfail(c, e->line, "slice step cannot be zero");
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
        List *l = new_list(c, (int)count);
        if (!l) return oom(c);
        for (long long i = 0; i < count; i++) l->v[i] = obj->u.l->v[lo + i * stepv];
        *out = list_value(l);
        out->ns = obj->ns; /* a tuple's slice is a tuple */
        return 0;
    }
    Buf b = {0};
    for (long long i = 0; i < count; i++) {
        long long k = lo + i * stepv;
        if (buf_put(c, &b, obj->u.s.p + off[k], off[k + 1] - off[k]) != 0) {
            free(b.p);
            return -1;
        }
    }
    return buf_take(c, &b, out);
}

/* ---- calls: arguments ---- */

typedef struct {
    Value pos[4];
    int n_pos;
    Str kw_name[4];
    Value kw[4];
    int n_kw;
} Args;

static int eval_args(Ctx *c, Frame *f, const Expr *e, Args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < e->n; i++) {
        Value v;
        if (eval(c, f, e->args[i], &v) != 0) return -1;
        if (e->kw[i].p) {
            if (a->n_kw == 4) return rfail(c, e->line, "too many keyword arguments");
            a->kw_name[a->n_kw] = e->kw[i], a->kw[a->n_kw++] = v;
        } else {
            if (a->n_pos == 4) return rfail(c, e->line, "too many arguments");
            a->pos[a->n_pos++] = v;
        }
    }
    return 0;
}

/* Argument i by position or by name; NULL when not given. */
static const Value *arg(const Args *a, int i, const char *name) {
    if (i < a->n_pos) return &a->pos[i];
    for (int k = 0; k < a->n_kw; k++)
        if (str_eq(a->kw_name[k], name)) return &a->kw[k];
    return NULL;
}

/* Fails on arguments beyond the names a function knows. */
static int check_args(Ctx *c, const Args *a, const char *const *names, const char *fn, int line) {
    int known = 0;
    while (names[known]) known++;
    if (a->n_pos > known) return rfail(c, line, "%s takes at most %d arguments", fn, known);
    for (int k = 0; k < a->n_kw; k++) {
        int ok = 0;
        for (int i = a->n_pos; i < known; i++) ok |= str_eq(a->kw_name[k], names[i]);
        if (!ok)
            return rfail(c, line, "unsupported: %s(%.*s=...)", fn,
                         (int)(a->kw_name[k].n > 40 ? 40 : a->kw_name[k].n), a->kw_name[k].p);
    }
    return 0;
}

static int want_str(Ctx *c, const Value *v, const char *what, int line) {
    if (v && v->t == V_STR) return 0;
    return rfail(c, line, "%s: expected a string, got %s", what, v ? type_name(v) : "nothing");
}

/* ---- str methods and the filters built on them ---- */

static int in_set(Str chars, const char *p) { return memchr(chars.p, *p, chars.n) != NULL; }

static int is_py_space(char ch) { return is_space(ch) || (ch >= 0x1c && ch <= 0x1f); }

/* Python's str.strip/lstrip/rstrip; chars NULL: whitespace. Stripping by
 * bytes is stripping by code points while chars are ASCII. */
static int do_strip(Ctx *c, Str s, const Value *chars, int left, int right, Value *out, int line) {
    Str set = {NULL, 0};
    if (chars && chars->t != V_NONE) {
        if (want_str(c, chars, "strip", line) != 0) return -1;
        set = chars->u.s;
        for (size_t i = 0; i < set.n; i++)
            if ((unsigned char)set.p[i] >= 0x80)
                return rfail(c, line, "unsupported: strip() of non-ASCII characters");
    }
    size_t a = 0, b = s.n;
    while (left && a < b && (set.p ? in_set(set, s.p + a) : is_py_space(s.p[a]))) a++;
    while (right && b > a && (set.p ? in_set(set, s.p + b - 1) : is_py_space(s.p[b - 1]))) b--;
    *out = (Value){.t = V_STR, .u.s = {s.p + a, b - a}};
    return 0;
}

static int do_split(Ctx *c, Str s, const Value *sep, const Value *maxv, Value *out, int line) {
    long long max = -1;
    if (maxv && as_int(c, maxv, &max, line, "split's maxsplit") != 0) return -1;
    int n = 0, cap = 8;
    Value *items = arena_alloc(&c->a, (size_t)cap * sizeof *items);
    if (!items) return oom(c);
#define ADD(p_, n_) do { if (n == cap) { Value *g_ = arena_alloc(&c->a, (size_t)cap * 2 * sizeof *g_); if (!g_) return oom(c); memcpy(g_, items, (size_t)n * sizeof *g_); items = g_, cap *= 2; } items[n++] = (Value){.t = V_STR, .u.s = {(p_), (n_)}}; } while (0)
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
        if (want_str(c, sep, "split", line) != 0) return -1;
        Str d = sep->u.s;
        if (d.n == 0) return rfail(c, line, "split: empty separator");
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
    List *l = arena_alloc(&c->a, sizeof *l);
    if (!l) return oom(c);
    l->n = n, l->v = items;
    *out = list_value(l);
    return 0;
}

static int do_replace(Ctx *c, Str s, const Value *from, const Value *to, const Value *countv,
                      Value *out, int line) {
    if (want_str(c, from, "replace", line) != 0 || want_str(c, to, "replace", line) != 0) return -1;
    long long count = -1;
    if (countv && as_int(c, countv, &count, line, "replace's count") != 0) return -1;
    Str a = from->u.s, b = to->u.s;
    if (a.n == 0) return rfail(c, line, "unsupported: replace() of the empty string");
    Buf o = {0};
    size_t i = 0;
    while (i < s.n) {
        if (count != 0 && i + a.n <= s.n && memcmp(s.p + i, a.p, a.n) == 0) {
            if (buf_put(c, &o, b.p, b.n) != 0) goto fail;
            i += a.n;
            if (count > 0) count--;
        } else {
            if (buf_put(c, &o, s.p + i, 1) != 0) goto fail;
            i++;
        }
    }
    return buf_take(c, &o, out);
fail:
    free(o.p);
    return -1;
}

static int do_case(Ctx *c, Str s, int mode, Value *out) {
    /* mode 0 lower, 1 upper, 2 capitalize; ASCII letters only, which is
     * what Python does for them (others are left as they are) */
    char *p = arena_alloc(&c->a, s.n + 1);
    if (!p) return oom(c);
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
        if (want_str(c, &opts[i], ends ? "endswith" : "startswith", line) != 0) return -1;
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
        if (check_args(c, a, N, "startswith", line) != 0) return -1;
        return starts_ends(c, s, arg(a, 0, "prefix"), str_eq(m, "endswith"), out, line);
    }
    if (str_eq(m, "strip") || str_eq(m, "lstrip") || str_eq(m, "rstrip")) {
        if (check_args(c, a, CHARS, "strip", line) != 0) return -1;
        return do_strip(c, s, arg(a, 0, "chars"), m.p[0] != 'r', m.p[0] != 'l', out, line);
    }
    if (str_eq(m, "split")) {
        static const char *const N[] = {"sep", "maxsplit", NULL};
        if (check_args(c, a, N, "split", line) != 0) return -1;
        return do_split(c, s, arg(a, 0, "sep"), arg(a, 1, "maxsplit"), out, line);
    }
    if (str_eq(m, "replace")) {
        static const char *const N[] = {"old", "new", "count", NULL};
        if (check_args(c, a, N, "replace", line) != 0) return -1;
        return do_replace(c, s, arg(a, 0, "old"), arg(a, 1, "new"), arg(a, 2, "count"), out, line);
    }
    int mode = str_eq(m, "lower") ? 0 : str_eq(m, "upper") ? 1 : str_eq(m, "capitalize") ? 2 : -1;
    if (mode >= 0) {
        if (check_args(c, a, NONE_, "lower", line) != 0) return -1;
        return do_case(c, s, mode, out);
    }
    return rfail(c, line, "unsupported construct: the string method .%.*s()", (int)(m.n > 40 ? 40 : m.n), m.p);
}

static int dict_items(Ctx *c, const Dict *d, int what, Value *out) {
    /* what: 0 keys, 1 values, 2 items as [key, value] pairs */
    List *l = new_list(c, d->n);
    if (!l) return oom(c);
    for (int i = 0; i < d->n; i++) {
        Value k = {.t = V_STR, .u.s = d->k[i]};
        if (what == 0) l->v[i] = k;
        else if (what == 1) l->v[i] = d->v[i];
        else {
            List *p = new_list(c, 2);
            if (!p) return oom(c);
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
        if (check_args(c, a, NONE_, "items", line) != 0) return -1;
        return dict_items(c, obj->u.d, what, out);
    }
    if (str_eq(m, "get")) {
        static const char *const N[] = {"key", "default", NULL};
        if (check_args(c, a, N, "get", line) != 0) return -1;
        const Value *k = arg(a, 0, "key"), *d = arg(a, 1, "default");
        if (!k) return rfail(c, line, "get() needs a key");
        int i = k->t == V_STR ? dict_find(obj->u.d, k->u.s) : -1;
        *out = i >= 0 ? obj->u.d->v[i] : d ? *d : (Value){.t = V_NONE};
        return 0;
    }
    return rfail(c, line, "unsupported construct: the dict method .%.*s()", (int)(m.n > 40 ? 40 : m.n), m.p);
}

/* ---- tests ---- */

static int run_test(Ctx *c, Str name, const Value *v, const Args *a, int *out, int line) {
    const Value *x = arg(a, 0, "value");
    static const char *const WITH_ARG[] = {"equalto", "eq", "==", "sameas", "ne", "!=", "in", NULL};
    static const char *const NO_ARG[] = {
        "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true",
        "false", "mapping", "iterable", "sequence", "callable", "odd", "even", "lower", "upper",
        NULL};
    int takes_arg = 0, known = 0;
    for (int i = 0; WITH_ARG[i]; i++) takes_arg |= str_eq(name, WITH_ARG[i]);
    for (int i = 0; NO_ARG[i]; i++) known |= str_eq(name, NO_ARG[i]);
    if ((known || takes_arg) && a->n_pos + a->n_kw > takes_arg)
        return rfail(c, line, "the test '%.*s' takes %s", (int)(name.n > 40 ? 40 : name.n), name.p,
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
        if (!x) return rfail(c, line, "the test '%.*s' needs an argument", (int)name.n, name.p);
        *out = values_equal(v, x);
        if (str_eq(name, "sameas") && !(v->t == V_NONE || v->t == V_BOOL || v->t == V_UNDEF))
            return rfail(c, line, "unsupported: 'sameas' on a %s", type_name(v));
    } else if (str_eq(name, "ne") || str_eq(name, "!=")) {
        if (!x) return rfail(c, line, "the test 'ne' needs an argument");
        *out = !values_equal(v, x);
    } else if (str_eq(name, "odd") || str_eq(name, "even")) {
        long long i = 0;
        if (as_int(c, v, &i, line, "the value of 'odd'/'even'") != 0) return -1;
        *out = (i % 2 != 0) == str_eq(name, "odd");
    } else if (str_eq(name, "lower") || str_eq(name, "upper")) {
        if (want_str(c, v, "the test 'lower'/'upper'", line) != 0) return -1;
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
        if (!x) return rfail(c, line, "the test 'in' needs an argument");
        if (x->t == V_LIST) {
            *out = 0;
            for (int i = 0; i < x->u.l->n; i++) *out |= values_equal(v, &x->u.l->v[i]);
        } else if (x->t == V_STR && v->t == V_STR) {
            *out = 0;
            for (size_t i = 0; !*out && i + v->u.s.n <= x->u.s.n; i++)
                *out = memcmp(x->u.s.p + i, v->u.s.p, v->u.s.n) == 0;
        } else if (x->t == V_DICT && v->t == V_STR) {
            *out = dict_find(x->u.d, v->u.s) >= 0;
        } else {
            return rfail(c, line, "unsupported: 'in' on a %s", type_name(x));
        }
    } else {
        return rfail(c, line, "unsupported construct: the test '%.*s'", (int)(name.n > 40 ? 40 : name.n), name.p);
    }
    return 0;
}

/* ---- filters ---- */

static int iter_items(Ctx *c, const Value *v, const List **out, int line);

static int select_like(Ctx *c, Str fname, const Value *v, const Args *a, Value *out, int line) {
    int attr = fname.p[fname.n - 4] == 'a'; /* selectattr, rejectattr */
    int keep_true = fname.p[0] == 's';
    const List *items;
    if (iter_items(c, v, &items, line) != 0) return -1;
    int first = attr ? 1 : 0;
    Args ta;
    memset(&ta, 0, sizeof ta);
    if (a->n_kw) return rfail(c, line, "unsupported: keyword arguments of %.*s", (int)fname.n, fname.p);
    for (int i = first + 1; i < a->n_pos; i++) ta.pos[ta.n_pos++] = a->pos[i];
    Str test = {NULL, 0};
    if (a->n_pos > first) {
        if (want_str(c, &a->pos[first], "the test name", line) != 0) return -1;
        test = a->pos[first].u.s;
    }
    if (attr && (a->n_pos < 1 || a->pos[0].t != V_STR))
        return rfail(c, line, "%.*s needs an attribute name", (int)fname.n, fname.p);
    List *l = new_list(c, items->n);
    if (!l) return oom(c);
    l->n = 0;
    for (int i = 0; i < items->n; i++) {
        Value x = items->v[i];
        if (attr) {
            Value obj = x;
            x = (Value){.t = V_UNDEF};
            if (obj.t == V_DICT) {
                int k = dict_find(obj.u.d, a->pos[0].u.s);
                if (k >= 0) x = obj.u.d->v[k];
            }
        }
        int ok;
        if (test.p) {
            if (run_test(c, test, &x, &ta, &ok, line) != 0) return -1;
        } else {
            ok = truthy(&x);
        }
        if (ok == keep_true) l->v[l->n++] = items->v[i];
    }
    *out = list_value(l);
    out->ns = LIST_ITER;
    return 0;
}

static int apply_filter(Ctx *c, Str name, const Value *v, const Args *a, Value *out, int line) {
    static const char *const NONE_[] = {NULL};
    if (str_eq(name, "trim")) {
        static const char *const N[] = {"chars", NULL};
        if (check_args(c, a, N, "trim", line) != 0) return -1;
        Str s;
        if (to_str(c, v, &s, line) != 0) return -1;
        return do_strip(c, s, arg(a, 0, "chars"), 1, 1, out, line);
    }
    if (str_eq(name, "length") || str_eq(name, "count")) {
        if (check_args(c, a, NONE_, "length", line) != 0) return -1;
        if (v->t == V_STR) *out = int_value(cp_count(v->u.s));
        else if (v->t == V_LIST && v->ns != LIST_ITER) *out = int_value(v->u.l->n);
        else if (v->t == V_DICT && !v->ns) *out = int_value(v->u.d->n);
        else if (v->t == V_UNDEF) *out = int_value(0);
        else return rfail(c, line, "length of a %s", type_name(v));
        return 0;
    }
    if (str_eq(name, "tojson")) {
        static const char *const N[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
        if (check_args(c, a, N, "tojson", line) != 0) return -1;
        const Value *ea = arg(a, 0, "ensure_ascii"), *ind = arg(a, 1, "indent");
        const Value *sep = arg(a, 2, "separators"), *sk = arg(a, 3, "sort_keys");
        if ((ea && truthy(ea)) || (sep && sep->t != V_NONE) || (sk && truthy(sk)))
            return rfail(c, line, "unsupported: tojson with ensure_ascii, separators or sort_keys");
        long long indent = -1;
        if (ind && ind->t != V_NONE && as_int(c, ind, &indent, line, "tojson's indent") != 0) return -1;
        if (indent > 64) return rfail(c, line, "tojson: indent above 64");
        Buf b = {0};
        if (write_json(c, &b, v, indent < 0 ? -1 : (int)indent, 0, line) != 0) {
            free(b.p);
            return -1;
        }
        return buf_take(c, &b, out);
    }
    if (str_eq(name, "default") || str_eq(name, "d")) {
        static const char *const N[] = {"default_value", "boolean", NULL};
        if (check_args(c, a, N, "default", line) != 0) return -1;
        const Value *dv = arg(a, 0, "default_value"), *bo = arg(a, 1, "boolean");
        int use = v->t == V_UNDEF || (bo && truthy(bo) && !truthy(v));
        *out = use ? (dv ? *dv : str_value("")) : *v;
        return 0;
    }
    if (str_eq(name, "first") || str_eq(name, "last")) {
        if (check_args(c, a, NONE_, "first", line) != 0) return -1;
        const List *items;
        if (name.p[0] == 'l' && v->t == V_LIST && v->ns == LIST_ITER)
            return rfail(c, line, "last: a generator is not reversible");
        if (iter_items(c, v, &items, line) != 0) return -1;
        *out = (Value){.t = V_UNDEF};
        if (items->n) *out = items->v[name.p[0] == 'f' ? 0 : items->n - 1];
        return 0;
    }
    if (str_eq(name, "join")) {
        static const char *const N[] = {"d", NULL};
        if (check_args(c, a, N, "join", line) != 0) return -1;
        const Value *sepv = arg(a, 0, "d");
        Str sep = {"", 0};
        if (sepv && to_str(c, sepv, &sep, line) != 0) return -1;
        const List *items;
        if (iter_items(c, v, &items, line) != 0) return -1;
        Buf b = {0};
        for (int i = 0; i < items->n; i++)
            if ((i && buf_put(c, &b, sep.p, sep.n) != 0) || write_str(c, &b, &items->v[i], line) != 0) {
                free(b.p);
                return -1;
            }
        return buf_take(c, &b, out);
    }
    int mode = str_eq(name, "lower") ? 0 : str_eq(name, "upper") ? 1 : str_eq(name, "capitalize") ? 2 : -1;
    if (mode >= 0 || str_eq(name, "string")) {
        if (check_args(c, a, NONE_, "string", line) != 0) return -1;
        Str s;
        if (to_str(c, v, &s, line) != 0) return -1;
        if (mode < 0) return make_str(c, s.p, s.n, out);
        return do_case(c, s, mode, out);
    }
    if (str_eq(name, "replace")) {
        static const char *const N[] = {"old", "new", "count", NULL};
        if (check_args(c, a, N, "replace", line) != 0) return -1;
        Str s;
        if (to_str(c, v, &s, line) != 0) return -1;
        return do_replace(c, s, arg(a, 0, "old"), arg(a, 1, "new"), arg(a, 2, "count"), out, line);
    }
    if (str_eq(name, "items")) {
        if (check_args(c, a, NONE_, "items", line) != 0) return -1;
        if (v->t != V_DICT || v->ns) {
            /* Jinja2's items is a generator that fails only when walked;
             * here it is empty (a template never walks items of a non-dict) */
            List *l = new_list(c, 0);
            if (!l) return oom(c);
            *out = list_value(l);
            out->ns = LIST_ITER;
            return 0;
        }
        if (dict_items(c, v->u.d, 2, out) != 0) return -1;
        out->ns = LIST_ITER;
        return 0;
    }
    if (str_eq(name, "list") || str_eq(name, "reverse")) {
        if (check_args(c, a, NONE_, "list", line) != 0) return -1;
        if (v->t == V_STR && name.p[0] == 'r') {
            long long n;
            size_t *off = cp_offsets(c, v->u.s, &n);
            if (!off) return oom(c);
            Buf b = {0};
            for (long long i = n - 1; i >= 0; i--)
                if (buf_put(c, &b, v->u.s.p + off[i], off[i + 1] - off[i]) != 0) {
                    free(b.p);
                    return -1;
                }
            return buf_take(c, &b, out);
        }
        const List *items;
        if (iter_items(c, v, &items, line) != 0) return -1;
        List *l = new_list(c, items->n);
        if (!l) return oom(c);
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
        if (check_args(c, a, NONE_, "int", line) != 0) return -1;
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
        if (check_args(c, a, NONE_, "abs", line) != 0) return -1;
        if (v->t == V_FLOAT) *out = (Value){.t = V_FLOAT, .u.f = fabs(v->u.f)};
        else if ((v->t == V_INT || v->t == V_BOOL) && v->u.i != LLONG_MIN) *out = int_value(v->u.i < 0 ? -v->u.i : v->u.i);
        else return rfail(c, line, "abs of a %s", type_name(v));
        return 0;
    }
    return rfail(c, line, "unsupported construct: the filter '%.*s'", (int)(name.n > 40 ? 40 : name.n), name.p);
}

/* The items a for-loop or a filter walks: a list, a dict's keys, a
 * string's characters; Undefined is empty. */
static int iter_items(Ctx *c, const Value *v, const List **out, int line) {
    if (v->t == V_LIST) {
        *out = v->u.l;
        return 0;
    }
    if (v->t == V_UNDEF) {
        List *l = new_list(c, 0);
        if (!l) return oom(c);
        *out = l;
        return 0;
    }
    if (v->t == V_DICT && !v->ns) {
        Value k;
        if (dict_items(c, v->u.d, 0, &k) != 0) return -1;
        *out = k.u.l;
        return 0;
    }
    if (v->t == V_STR) {
        long long n;
        size_t *off = cp_offsets(c, v->u.s, &n);
        List *l = off ? new_list(c, (int)n) : NULL;
        if (!l) return oom(c);
        for (long long i = 0; i < n; i++)
            l->v[i] = (Value){.t = V_STR, .u.s = {v->u.s.p + off[i], off[i + 1] - off[i]}};
        *out = l;
        return 0;
    }
    return rfail(c, line, "a %s is not iterable", type_name(v));
}

/* ---- operators ---- */

static int arith(Ctx *c, int op, const Value *a, const Value *b, Value *out, int line) {
    if (op == OP_CONCAT) {
        Buf o = {0};
        if (write_str(c, &o, a, line) != 0 || write_str(c, &o, b, line) != 0) {
            free(o.p);
            return -1;
        }
        return buf_take(c, &o, out);
    }
    if (a->t == V_UNDEF || b->t == V_UNDEF)
        return rfail(c, line, "an undefined value in arithmetic");
    if (op == OP_ADD && ((a->t == V_STR && b->t == V_STR) || (a->t == V_LIST && b->t == V_LIST))) {
        if (a->t == V_STR) {
            Buf o = {0};
            if (buf_put(c, &o, a->u.s.p, a->u.s.n) != 0 || buf_put(c, &o, b->u.s.p, b->u.s.n) != 0) {
                free(o.p);
                return -1;
            }
            return buf_take(c, &o, out);
        }
        if (a->ns != b->ns || a->ns == LIST_ITER)
            return rfail(c, line, "unsupported operand types for +: %s and %s", type_name(a),
                         type_name(b));
        if ((long long)a->u.l->n + b->u.l->n > JJ_MAX_RANGE) return rfail(c, line, "a list grows too long");
        List *l = new_list(c, a->u.l->n + b->u.l->n);
        if (!l) return oom(c);
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
        if (l->u.l->n > 0 && k > JJ_MAX_RANGE / l->u.l->n) return rfail(c, line, "a list grows too long");
        List *r = new_list(c, (int)(k * l->u.l->n));
        if (!r) return oom(c);
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
            return rfail(c, line, "a repeated string grows too long");
        Buf o = {0};
        for (long long i = 0; i < k; i++)
            if (buf_put(c, &o, s->u.s.p, s->u.s.n) != 0) {
                free(o.p);
                return -1;
            }
        if (k <= 0 || s->u.s.n == 0) return make_str(c, "", 0, out);
        return buf_take(c, &o, out);
    }
    static const char *const OPS[] = {"+", "-", "*", "/", "//", "%", "**", "~"};
    if (!is_number(a) || !is_number(b))
        return rfail(c, line, "unsupported operand types for %s: %s and %s", OPS[op],
                     type_name(a), type_name(b));
    if (a->t != V_FLOAT && b->t != V_FLOAT && op != OP_DIV) {
        long long x = a->u.i, y = b->u.i, r = 0;
        int ovf = 0;
        switch (op) {
        case OP_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
        case OP_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
        case OP_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
        case OP_FLOORDIV:
        case OP_MOD:
            if (y == 0) return rfail(c, line, "integer division or modulo by zero");
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
        if (ovf) return rfail(c, line, "integer overflow");
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
        if (y == 0) return rfail(c, line, "division by zero");
        r = x / y;
        break;
    case OP_FLOORDIV:
    case OP_MOD: {
        if (y == 0) return rfail(c, line, "float division or modulo by zero");
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

static int compare(Ctx *c, int op, const Value *a, const Value *b, int *out, int line) {
    if (op == C_EQ || op == C_NE) {
        *out = values_equal(a, b) == (op == C_EQ);
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
            return rfail(c, line, "'in <string>' requires a string on the left, not %s", type_name(a));
        if (run_test(c, (Str){"in", 2}, a, &t, out, line) != 0) return -1;
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
        return rfail(c, line, "cannot order %s and %s", type_name(a), type_name(b));
    }
    *out = op == C_LT ? r < 0 : op == C_LE ? r <= 0 : op == C_GT ? r > 0 : r >= 0;
    return 0;
}

/* ---- calls ---- */

static int call_builtin(Ctx *c, FnId fn, const Args *a, Value *out, int line) {
    if (fn == FN_RAISE) {
        Str msg = {"", 0};
        if (a->n_pos > 0 && to_str(c, &a->pos[0], &msg, line) != 0) return -1;
        /* the message is the template author's: quote it, clipped and on one line */
        char m[300];
        size_t k = 0;
        for (size_t i = 0; i < msg.n && k + 1 < sizeof m; i++)
            m[k++] = msg.p[i] == '\n' || msg.p[i] == '\r' ? ' ' : msg.p[i];
        m[k] = 0;
        return rfail(c, line, "raise_exception: %s", m);
    }
    if (fn == FN_NAMESPACE) {
        if (a->n_pos) return rfail(c, line, "unsupported: namespace() with positional arguments");
        Dict *d = new_dict(c);
        if (!d) return oom(c);
        for (int i = 0; i < a->n_kw; i++)
            if (dict_set(c, d, a->kw_name[i], a->kw[i]) != 0) return -1;
        *out = (Value){.t = V_DICT, .ns = 1, .u.d = d};
        return 0;
    }
    /* range */
    static const char *const N[] = {"start", "stop", "step", NULL};
    if (check_args(c, a, N, "range", line) != 0 || a->n_kw) return rfail(c, line, "range() takes positional arguments");
    long long v[3] = {0, 0, 1};
    if (a->n_pos == 0) return rfail(c, line, "range() needs an argument");
    for (int i = 0; i < a->n_pos; i++)
        if (as_int(c, &a->pos[i], &v[i], line, "a range() argument") != 0) return -1;
    if (a->n_pos == 1) v[1] = v[0], v[0] = 0;
    if (v[2] == 0) return rfail(c, line, "range() step must not be zero");
    long long n = 0;
    if (v[2] > 0 && v[0] < v[1]) n = (v[1] - v[0] - 1) / v[2] + 1;
    if (v[2] < 0 && v[1] < v[0]) n = (v[0] - v[1] - 1) / (-v[2]) + 1;
    if (n > JJ_MAX_RANGE) return rfail(c, line, "range() of more than %d numbers", JJ_MAX_RANGE);
    List *l = new_list(c, (int)n);
    if (!l) return oom(c);
    for (long long i = 0; i < n; i++) l->v[i] = int_value(v[0] + i * v[2]);
    *out = list_value(l);
    return 0;
}

static int eval_call(Ctx *c, Frame *f, const Expr *e, Value *out) {
    Args a;
    if (e->a->k == E_ATTR) { /* a method: obj.name(...) */
        Value obj;
        if (eval(c, f, e->a->a, &obj) != 0) return -1;
        if (obj.t == V_STR || (obj.t == V_DICT && !obj.ns)) {
            if (eval_args(c, f, e, &a) != 0) return -1;
            if (obj.t == V_STR) return str_method(c, obj.u.s, e->a->name, &a, out, e->line);
            int i = dict_find(obj.u.d, e->a->name);
            if (i < 0 || obj.u.d->v[i].t != V_FUNC)
                return dict_method(c, &obj, e->a->name, &a, out, e->line);
        }
    }
    Value fn;
    if (eval(c, f, e->a, &fn) != 0) return -1;
    if (fn.t != V_FUNC) {
        if (fn.t == V_UNDEF) return not_defined(c, e->a);
        return rfail(c, e->line, "unsupported construct: calling a %s", type_name(&fn));
    }
    if (eval_args(c, f, e, &a) != 0) return -1;
    return call_builtin(c, fn.u.fn, &a, out, e->line);
}

static int eval(Ctx *c, Frame *f, const Expr *e, Value *out) {
    if (step(c, e->line) != 0) return -1;
    Value a, b;
    int r = 1;
    switch (e->k) {
    case E_LIT:
        *out = e->lit;
        return 0;
    case E_NAME: {
        const Value *v = frame_get(f, e->name);
        if (v) *out = *v;
        else if (str_eq(e->name, "raise_exception")) *out = (Value){.t = V_FUNC, .u.fn = FN_RAISE};
        else if (str_eq(e->name, "namespace")) *out = (Value){.t = V_FUNC, .u.fn = FN_NAMESPACE};
        else if (str_eq(e->name, "range")) *out = (Value){.t = V_FUNC, .u.fn = FN_RANGE};
        else *out = (Value){.t = V_UNDEF};
        return 0;
    }
    case E_ATTR:
        if (eval(c, f, e->a, &a) != 0) return -1;
        return get_attr(c, &a, e->name, out, e);
    case E_INDEX:
        if (eval(c, f, e->a, &a) != 0 || eval(c, f, e->b, &b) != 0) return -1;
        return get_index(c, &a, &b, out, e);
    case E_SLICE:
        if (eval(c, f, e->a, &a) != 0) return -1;
        return get_slice(c, f, e, &a, out);
    case E_CALL:
        return eval_call(c, f, e, out);
    case E_FILTER: {
        Args args;
        if (eval(c, f, e->a, &a) != 0 || eval_args(c, f, e, &args) != 0) return -1;
        return apply_filter(c, e->name, &a, &args, out, e->line);
    }
    case E_TEST: {
        Args args;
        if (eval(c, f, e->a, &a) != 0 || eval_args(c, f, e, &args) != 0) return -1;
        if (run_test(c, e->name, &a, &args, &r, e->line) != 0) return -1;
        *out = bool_value(r != e->op);
        return 0;
    }
    case E_NEG:
    case E_POS:
        if (eval(c, f, e->a, &a) != 0) return -1;
        if (!is_number(&a)) return rfail(c, e->line, "unary %c of a %s", e->k == E_NEG ? '-' : '+', type_name(&a));
        if (e->k == E_POS) *out = a.t == V_BOOL ? int_value(a.u.i) : a;
        else if (a.t == V_FLOAT) *out = (Value){.t = V_FLOAT, .u.f = -a.u.f};
        else if (a.u.i == LLONG_MIN) return rfail(c, e->line, "integer overflow");
        else *out = int_value(-a.u.i);
        return 0;
    case E_NOT:
        if (eval(c, f, e->a, &a) != 0) return -1;
        *out = bool_value(!truthy(&a));
        return 0;
    case E_BIN:
        if (eval(c, f, e->a, &a) != 0 || eval(c, f, e->b, &b) != 0) return -1;
        return arith(c, e->op, &a, &b, out, e->line);
    case E_AND:
    case E_OR:
        if (eval(c, f, e->a, &a) != 0) return -1;
        if (truthy(&a) == (e->k == E_OR)) {
            *out = a;
            return 0;
        }
        return eval(c, f, e->b, out);
    case E_CMP: {
        Value left;
        if (eval(c, f, e->args[0], &left) != 0) return -1;
        for (int i = 1; i < e->n; i++) {
            Value right;
            if (eval(c, f, e->args[i], &right) != 0) return -1;
            if (compare(c, e->ops[i - 1], &left, &right, &r, e->line) != 0) return -1;
            if (!r) break;
            left = right;
        }
        *out = bool_value(r);
        return 0;
    }
    case E_COND:
        if (eval(c, f, e->b, &a) != 0) return -1;
        if (truthy(&a)) return eval(c, f, e->a, out);
        if (e->c) return eval(c, f, e->c, out);
        *out = (Value){.t = V_UNDEF};
        return 0;
    case E_LIST: {
        List *l = new_list(c, e->n);
        if (!l) return oom(c);
        for (int i = 0; i < e->n; i++)
            if (eval(c, f, e->args[i], &l->v[i]) != 0) return -1;
        *out = list_value(l);
        out->ns = e->op;
        return 0;
    }
    case E_DICT: {
        Dict *d = new_dict(c);
        if (!d) return oom(c);
        for (int i = 0; i + 1 < e->n; i += 2) {
            if (eval(c, f, e->args[i], &a) != 0 || eval(c, f, e->args[i + 1], &b) != 0) return -1;
            if (a.t != V_STR) return rfail(c, e->line, "unsupported: a dict key that is a %s", type_name(&a));
            if (dict_set(c, d, a.u.s, b) != 0) return -1;
        }
        *out = (Value){.t = V_DICT, .u.d = d};
        return 0;
    }
    }
    return rfail(c, e->line, "internal: unknown expression");
}

/* ---- statements ---- */

static int exec_body(Ctx *c, Frame *f, const Body *b);

static int exec_for(Ctx *c, Frame *f, const Stmt *s) {
    Value it;
    if (eval(c, f, s->e, &it) != 0) return -1;
    const List *items;
    if (iter_items(c, &it, &items, s->line) != 0) return -1;
    LoopInfo *L = arena_alloc(&c->a, sizeof *L);
    if (!L) return oom(c);
    L->items = items;
    Frame inner = {.up = f};
    for (int i = 0; i < items->n; i++) {
        L->i = i;
        if (step(c, s->line) != 0) return -1;
        /* each iteration is a fresh scope, as in Jinja2; the storage of its
         * variables is reused, so a long loop does not grow the arena */
        inner.n = 0;
        const Value *x = &items->v[i];
        if (s->n_names == 1) {
            if (frame_set(c, &inner, s->names[0], *x) != 0) return -1;
        } else {
            if (x->t != V_LIST || x->u.l->n != s->n_names)
                return rfail(c, s->line, "cannot unpack a %s into %d names", type_name(x), s->n_names);
            for (int k = 0; k < s->n_names; k++)
                if (frame_set(c, &inner, s->names[k], x->u.l->v[k]) != 0) return -1;
        }
        Value lv = {.t = V_LOOP, .u.loop = L};
        if (frame_set(c, &inner, (Str){"loop", 4}, lv) != 0) return -1;
        if (exec_body(c, &inner, &s->body) != 0) return -1;
        int ctl = c->ctl;
        c->ctl = CTL_NONE;
        if (ctl == CTL_BREAK) break;
    }
    if (items->n == 0) {
        Frame empty = {.up = f};
        return exec_body(c, &empty, &s->orelse);
    }
    return 0;
}

static int exec_stmt(Ctx *c, Frame *f, const Stmt *s) {
    if (step(c, s->line) != 0) return -1;
    Value v;
    switch (s->k) {
    case S_TEXT: return buf_put(c, &c->out, s->text.p, s->text.n);
    case S_OUT:
        if (eval(c, f, s->e, &v) != 0) return -1;
        return write_str(c, &c->out, &v, s->line);
    case S_IF:
        for (int i = 0; i < s->n; i++) {
            if (s->conds[i]) {
                if (eval(c, f, s->conds[i], &v) != 0) return -1;
                if (!truthy(&v)) continue;
            }
            return exec_body(c, f, &s->bodies[i]);
        }
        return 0;
    case S_FOR: return exec_for(c, f, s);
    case S_SET:
        if (eval(c, f, s->e, &v) != 0) return -1;
        if (s->n_names == 1) return frame_set(c, f, s->names[0], v);
        {
            const Value *ns = frame_get(f, s->names[0]);
            if (!ns || ns->t != V_DICT || !ns->ns)
                return rfail(c, s->line, "cannot assign an attribute of '%.*s': not a namespace",
                             (int)(s->names[0].n > 40 ? 40 : s->names[0].n), s->names[0].p);
            return dict_set(c, ns->u.d, s->names[1], v);
        }
    case S_BREAK: c->ctl = CTL_BREAK; return 0;
    case S_CONTINUE: c->ctl = CTL_CONTINUE; return 0;
    case S_GEN: return exec_body(c, f, &s->body);
    }
    return 0;
}

static int exec_body(Ctx *c, Frame *f, const Body *b) {
    if (++c->depth > JJ_MAX_DEPTH * 2) return rfail(c, 0, "statements nested too deeply");
    for (int i = 0; i < b->n && c->ctl == CTL_NONE; i++)
        if (exec_stmt(c, f, b->s[i]) != 0) return -1;
    c->depth--;
    return 0;
}

int jinja_render_chat(const JinjaTemplate *t, const JinjaChat *chat, char **out,
                      size_t *out_len, SrError *err) {
    *out = NULL;
    *out_len = 0;
    Ctx c = {.origin = t->origin, .err = err};
    Frame root = {0};
    int rc = -1;
    List *msgs = new_list(&c, chat->n_messages);
    if (!msgs) {
        oom(&c);
        goto done;
    }
    for (int i = 0; i < chat->n_messages; i++) {
        Dict *d = new_dict(&c);
        if (!d || dict_set(&c, d, (Str){"role", 4}, str_value(chat->messages[i].role)) != 0 ||
            dict_set(&c, d, (Str){"content", 7}, str_value(chat->messages[i].content)) != 0) {
            if (!d) oom(&c);
            goto done;
        }
        msgs->v[i] = (Value){.t = V_DICT, .u.d = d};
    }
    struct {
        const char *name;
        const char *s;
    } toks[] = {{"bos_token", chat->bos_token}, {"eos_token", chat->eos_token},
                {"pad_token", chat->pad_token}, {"unk_token", chat->unk_token}};
    if (frame_set(&c, &root, (Str){"messages", 8}, list_value(msgs)) != 0 ||
        frame_set(&c, &root, (Str){"tools", 5}, (Value){.t = V_NONE}) != 0 ||
        frame_set(&c, &root, (Str){"documents", 9}, (Value){.t = V_NONE}) != 0 ||
        frame_set(&c, &root, (Str){"add_generation_prompt", 21},
                  bool_value(chat->add_generation_prompt)) != 0)
        goto done;
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++)
        if (toks[i].s && frame_set(&c, &root, (Str){toks[i].name, strlen(toks[i].name)},
                                   str_value(toks[i].s)) != 0)
            goto done;
    for (int i = 0; i < chat->n_vars; i++) {
        const JinjaVar *v = &chat->vars[i];
        Value x = v->str ? str_value(v->str) : bool_value(v->boolean);
        if (frame_set(&c, &root, (Str){v->name, strlen(v->name)}, x) != 0) goto done;
    }
    if (exec_body(&c, &root, &t->root) != 0) goto done;
    if (!c.out.p) { /* nothing was written: the empty string */
        if (!(c.out.p = malloc(1))) {
            oom(&c);
            goto done;
        }
        c.out.p[0] = 0;
    }
    *out = c.out.p;
    *out_len = c.out.n;
    c.out.p = NULL;
    rc = 0;
done:
    free(c.out.p);
    arena_free(&c.a);
    return rc;
}
