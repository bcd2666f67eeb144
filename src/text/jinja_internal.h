/* jinja_internal.h - what the files of the Jinja subset share (jinja.h is
 * the public side; jinja.c maps the files). Nothing outside src/text/jinja*.c
 * includes it.
 *
 * Two halves. The parser's: the arena that holds a parsed template, the
 * tree (Expr, Stmt, Body) and the Parser with its token cursor. The
 * renderer's: the values a template computes (Value and what it points
 * to), the render context Ctx with its output buffer and step count, and
 * the scopes (Frame). Every function shared between files is prefixed jj_
 * so that none can clash with another file of the library. */
#ifndef SPECREJ_JINJA_INTERNAL_H
#define SPECREJ_JINJA_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "base/error.h"
#include "text/jinja.h"

/* The bounds that keep a hostile template cheap (jinja.h). */
#define JJ_MAX_SOURCE (1u << 20)      /* a real chat template is < 20 KiB */
#define JJ_MAX_DEPTH 96               /* nesting of statements and expressions */
#define JJ_MAX_ARENA ((size_t)64 << 20)
#define JJ_MAX_OUTPUT ((size_t)16 << 20)
#define JJ_MAX_STEPS 4000000L         /* evaluated nodes per render */
#define JJ_MAX_RANGE 100000

#if defined(__GNUC__)
#define JJ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define JJ_PRINTF(f, a)
#endif

/* ---- memory: one arena per parse and per render (jinja.c) ---- */

typedef struct ABlock {
    struct ABlock *next;
    size_t cap, used;
    max_align_t data[];
} ABlock;

typedef struct {
    ABlock *head;
    size_t total;
} Arena;

/* NULL when the arena would pass JJ_MAX_ARENA or malloc fails. */
void *jj_arena_alloc(Arena *a, size_t n);
void jj_arena_free(Arena *a);

/* "ORIGIN: line N: message" (line 0: no line) into err; returns -1. */
int jj_fail(SrError *err, const char *origin, int line, const char *fmt, ...) JJ_PRINTF(4, 5);

/* ---- values ---- */

/* A string is a slice of the source, of the arena or of the caller's
 * messages; nothing is ever NUL-terminated on purpose. */
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

/* Insertion-ordered, as Python's dict; a chat message has two keys, so a
 * linear search is the fast one. */
typedef struct Dict {
    int n, cap;
    Str *k;
    Value *v;
} Dict;

typedef struct LoopInfo {
    const List *items;
    int i;
} LoopInfo;

static inline Value list_value(List *l) { return (Value){.t = V_LIST, .u.l = l}; }
static inline Value bool_value(int b) { return (Value){.t = V_BOOL, .u.i = b != 0}; }
static inline Value int_value(long long i) { return (Value){.t = V_INT, .u.i = i}; }
static inline Value str_value(const char *s) {
    return (Value){.t = V_STR, .u.s = {s, strlen(s)}};
}
static inline int str_eq(Str a, const char *b) {
    return a.n == strlen(b) && memcmp(a.p, b, a.n) == 0;
}
static inline int str_same(Str a, Str b) {
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}
static inline int is_number(const Value *v) {
    return v->t == V_BOOL || v->t == V_INT || v->t == V_FLOAT;
}
static inline double num_of(const Value *v) { return v->t == V_FLOAT ? v->u.f : (double)v->u.i; }

/* Python's character classes, ASCII only (what the lexer and str methods need). */
static inline int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static inline int is_name0(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static inline int is_digit(char c) { return c >= '0' && c <= '9'; }
static inline int is_name1(char c) { return is_name0(c) || is_digit(c); }

/* ---- the tree a parse makes ---- */

typedef enum {
    E_LIT, E_NAME, E_ATTR, E_INDEX, E_SLICE, E_CALL, E_FILTER, E_TEST,
    E_NEG, E_POS, E_NOT, E_BIN, E_AND, E_OR, E_CMP, E_COND, E_LIST, E_DICT
} EKind;

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT } BinOp;
typedef enum { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE, C_IN, C_NOTIN } CmpOp;

typedef struct Expr {
    EKind k;
    int line;
    int op;      /* BinOp; E_TEST: negated; E_LIST: a tuple */
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

/* ---- parsing: chunks and tokens (jinja_lex.c) ---- */

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

typedef enum { T_END, T_NAME, T_STR, T_INT, T_FLOAT, T_OP } TokKind;

typedef struct {
    TokKind k;
    const char *p;
    size_t n;
} Tok;

static inline int tok_is(Tok t, TokKind k, const char *s) {
    return t.k == k && t.n == strlen(s) && memcmp(t.p, s, t.n) == 0;
}
static inline int is_op(Tok t, const char *s) { return tok_is(t, T_OP, s); }
static inline int is_kw(Tok t, const char *s) { return tok_is(t, T_NAME, s); }

/* Cuts ps->src..ps->end into ps->ch. */
int jj_lex(Parser *ps);
/* The next token inside the current tag, not consumed (T_END at its end). */
Tok jj_peek_tok(Parser *ps);
void jj_take(Parser *ps, Tok t);
/* Consumes the operator or keyword op if it comes next; 1 when it did. */
int jj_accept(Parser *ps, const char *op);
int jj_expect(Parser *ps, const char *op);
/* A message at the cursor's line; returns -1. */
int jj_perr(Parser *ps, const char *fmt, ...) JJ_PRINTF(2, 3);
/* A short quote of the next token, for messages (buf holds it). */
const char *jj_near(Parser *ps, char *buf, size_t cap);
/* A string literal's inside p[0..n) with its escapes decoded, into the arena. */
int jj_unescape(Parser *ps, const char *p, size_t n, Str *out);

/* ---- parsing: expressions (jinja_expr.c) ---- */

/* One more level of nesting; fails past JJ_MAX_DEPTH (the caller undoes
 * it with ps->depth-- when it returns normally). */
int jj_enter(Parser *ps);
/* Room for element n of an arena array holding n elements (see the definition). */
void *jj_grow(Parser *ps, void *arr, int n, size_t size);
Expr *jj_parse_expr(Parser *ps);
/* An expression without the conditional `a if b else c`. */
Expr *jj_parse_or(Parser *ps);
/* An expression that fills the rest of the tag (condexpr: as jj_parse_expr,
 * else as jj_parse_or); a bare tuple becomes a list. */
Expr *jj_parse_tag_expr(Parser *ps, int condexpr);

/* ---- rendering: context, scopes, call arguments ---- */

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
    int ctl; /* CTL_*: a break or continue on its way up to its loop */
} Ctx;

enum { CTL_NONE, CTL_BREAK, CTL_CONTINUE };

typedef struct Var {
    Str name;
    Value v;
} Var;

/* A scope: the top level, or one for-loop iteration (Jinja2's scoping). */
typedef struct Frame {
    struct Frame *up;
    Var *vars;
    int n, cap;
} Frame;

/* Evaluated call arguments; no built-in takes more than four of a kind. */
typedef struct {
    Value pos[4];
    int n_pos;
    Str kw_name[4];
    Value kw[4];
    int n_kw;
} Args;

/* ---- rendering: values (jinja_value.c) ---- */

/* A message at a template line, as jj_fail; returns -1. */
int jj_rfail(Ctx *c, int line, const char *fmt, ...) JJ_PRINTF(3, 4);
/* The arena bound was hit; returns -1. */
int jj_oom(Ctx *c);
int jj_buf_put(Ctx *c, Buf *b, const char *p, size_t n);
int jj_buf_puts(Ctx *c, Buf *b, const char *s);
/* The buffer's text as an arena string; the buffer is emptied. */
int jj_buf_take(Ctx *c, Buf *b, Value *out);
int jj_make_str(Ctx *c, const char *p, size_t n, Value *out);
List *jj_new_list(Ctx *c, int n);
Dict *jj_new_dict(Ctx *c);
int jj_dict_find(const Dict *d, Str k);
int jj_dict_set(Ctx *c, Dict *d, Str k, Value v);
int jj_frame_set(Ctx *c, Frame *f, Str name, Value v);
const Value *jj_frame_get(const Frame *f, Str name);
const char *jj_type_name(const Value *v);
int jj_truthy(const Value *v);
int jj_values_equal(const Value *a, const Value *b);
/* Offsets of each UTF-8 code point of s plus the end (*count code points). */
size_t *jj_cp_offsets(Ctx *c, Str s, long long *count);
long long jj_cp_count(Str s);
/* Python's str() of v, appended to b. */
int jj_write_str(Ctx *c, Buf *b, const Value *v, int line);
int jj_to_str(Ctx *c, const Value *v, Str *out, int line);
/* json.dumps(v, ensure_ascii=False, indent=indent), indent -1: None. */
int jj_write_json(Ctx *c, Buf *b, const Value *v, int indent, int level, int line);
int jj_as_int(Ctx *c, const Value *v, long long *out, int line, const char *what);
int jj_want_str(Ctx *c, const Value *v, const char *what, int line);

/* ---- rendering: expressions (jinja_eval.c) ---- */

/* Counts one step of the render against JJ_MAX_STEPS. */
int jj_step(Ctx *c, int line);
int jj_eval(Ctx *c, Frame *f, const Expr *e, Value *out);
/* The error for using e's undefined value. */
int jj_not_defined(Ctx *c, const Expr *e);

/* ---- rendering: calls and methods (jinja_call.c) ---- */

int jj_eval_args(Ctx *c, Frame *f, const Expr *e, Args *a);
/* Argument i by position or by name; NULL when not given. */
const Value *jj_arg(const Args *a, int i, const char *name);
/* Fails on arguments beyond the names (NULL-terminated) fn knows. */
int jj_check_args(Ctx *c, const Args *a, const char *const *names, const char *fn, int line);
int jj_eval_call(Ctx *c, Frame *f, const Expr *e, Value *out);
/* The str methods the filters share: strip, replace, lower/upper/capitalize. */
int jj_strip(Ctx *c, Str s, const Value *chars, int left, int right, Value *out, int line);
int jj_replace(Ctx *c, Str s, const Value *from, const Value *to, const Value *countv,
               Value *out, int line);
int jj_case(Ctx *c, Str s, int mode, Value *out);
/* A dict's keys (what 0), values (1) or (key, value) tuples (2) as a list. */
int jj_dict_items(Ctx *c, const Dict *d, int what, Value *out);

/* ---- rendering: tests and filters (jinja_filter.c) ---- */

int jj_run_test(Ctx *c, Str name, const Value *v, const Args *a, int *out, int line);
int jj_apply_filter(Ctx *c, Str name, const Value *v, const Args *a, Value *out, int line);
/* The items a for-loop or a filter walks: a list, a dict's keys, a
 * string's characters; Undefined is empty. */
int jj_iter_items(Ctx *c, const Value *v, const List **out, int line);

#endif
