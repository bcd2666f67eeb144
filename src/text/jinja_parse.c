/* jinja_parse.c - the Jinja subset's statement parser and jinja_parse: the
 * chunks of jinja_lex.c into a tree of statements (text, {{ }}, if, for,
 * set, break, continue, generation), each tag's expressions parsed by
 * jinja_expr.c. A construct outside the subset fails here, at parse time,
 * with the template line and its keyword (jinja.h); filters, tests and
 * methods are checked only when evaluated, since a template may name one
 * in a branch that never runs for a plain chat. */
#define _POSIX_C_SOURCE 200809L
#include "text/jinja_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int end_of_tag(Parser *ps) {
    if (jj_peek_tok(ps).k == T_END) return 0;
    char b[48];
    return jj_perr(ps, "unexpected %s", jj_near(ps, b, sizeof b));
}

/* Positions the expression cursor on block chunk i; returns its keyword. */
static Tok open_block(Parser *ps, int i) {
    ps->p = ps->ch[i].p, ps->pe = ps->ch[i].p + ps->ch[i].n, ps->line = ps->ch[i].line;
    Tok t = jj_peek_tok(ps);
    if (t.k == T_NAME) jj_take(ps, t);
    return t;
}

static int add_stmt(Parser *ps, Body *b, Stmt *s) {
    Stmt **arr = jj_grow(ps, b->s, b->n, sizeof *arr);
    if (!arr) return -1;
    b->s = arr;
    b->s[b->n++] = s;
    return 0;
}

static Stmt *new_stmt(Parser *ps, SKind k, int line) {
    Stmt *s = jj_arena_alloc(ps->a, sizeof *s);
    if (!s) {
        jj_fail(ps->err, ps->origin, 0, "template too large");
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->k = k, s->line = line;
    return s;
}

static int parse_body(Parser *ps, Body *b, const char *const *ends, Tok *stop);

/* Jinja2's other statements: named in the refusal, so a template's author
 * sees which construct to avoid rather than "unknown statement". */
static const char *const UNSUPPORTED[] = {
    "macro", "call", "filter", "include", "import", "from", "extends", "block", "raw",
    "with", "autoescape", "trans", "do", "endmacro", NULL};

/* Parses the statement of block chunk ps->pos (already opened, keyword kw). */
static int parse_stmt(Parser *ps, Body *b, Tok kw) {
    int line = ps->line;
    char kwb[40];
    snprintf(kwb, sizeof kwb, "%.*s", (int)(kw.n > 30 ? 30 : kw.n), kw.p);
    if (jj_enter(ps) != 0) return -1;
    Stmt *s = NULL;
    if (is_kw(kw, "if")) {
        if (!(s = new_stmt(ps, S_IF, line))) return -1;
        Expr *cond = jj_parse_tag_expr(ps, 0);
        for (;;) {
            if (!cond && s->n == 0) return -1;
            Expr **conds = jj_grow(ps, s->conds, s->n, sizeof *conds);
            Body *bodies = jj_grow(ps, s->bodies, s->n, sizeof *bodies);
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
            if (!cond) return jj_perr(ps, "'%.*s' after 'else'", (int)stop.n, stop.p);
            if (is_kw(stop, "else")) {
                if (end_of_tag(ps) != 0) return -1;
                cond = NULL;
            } else if (!(cond = jj_parse_tag_expr(ps, 0))) {
                return -1;
            }
        }
    } else if (is_kw(kw, "for")) {
        if (!(s = new_stmt(ps, S_FOR, line))) return -1;
        for (;;) {
            Tok n = jj_peek_tok(ps);
            if (n.k != T_NAME || s->n_names == 2)
                return jj_perr(ps, "unsupported construct: this for-loop target");
            jj_take(ps, n);
            s->names[s->n_names++] = (Str){n.p, n.n};
            if (!jj_accept(ps, ",")) break;
        }
        if (jj_expect(ps, "in") != 0) return -1;
        /* jj_parse_or, not jj_parse_expr: the `if` of a loop filter is not a conditional */
        if (!(s->e = jj_parse_or(ps))) return -1;
        if (is_op(jj_peek_tok(ps), ",")) return jj_perr(ps, "unsupported construct: for over a tuple");
        if (is_kw(jj_peek_tok(ps), "if"))
            return jj_perr(ps, "unsupported construct: a for-loop filter (for ... if ...)");
        if (is_kw(jj_peek_tok(ps), "recursive"))
            return jj_perr(ps, "unsupported construct: recursive for-loops");
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
        Tok n = jj_peek_tok(ps);
        if (n.k != T_NAME) return jj_perr(ps, "unsupported construct: this set target");
        jj_take(ps, n);
        s->names[0] = (Str){n.p, n.n};
        s->n_names = 1;
        if (jj_accept(ps, ".")) {
            Tok at = jj_peek_tok(ps);
            if (at.k != T_NAME) return jj_perr(ps, "unsupported construct: this set target");
            jj_take(ps, at);
            s->names[1] = (Str){at.p, at.n};
            s->n_names = 2;
        }
        if (is_op(jj_peek_tok(ps), ","))
            return jj_perr(ps, "unsupported construct: set with several targets");
        if (jj_peek_tok(ps).k == T_END)
            return jj_perr(ps, "unsupported construct: a block set ({%% set x %%}...{%% endset %%})");
        if (jj_expect(ps, "=") != 0 || !(s->e = jj_parse_tag_expr(ps, 1))) return -1;
    } else if (is_kw(kw, "break") || is_kw(kw, "continue")) {
        if (ps->loops == 0) return jj_perr(ps, "'%s' outside a for-loop", kwb);
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
                return jj_perr(ps, "unsupported construct: {%% %s %%}", kwb);
        if (kw.k != T_NAME) return jj_perr(ps, "expected a statement keyword");
        return jj_perr(ps, "unknown statement '%s'", kwb);
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
            if (!s || !(s->e = jj_parse_tag_expr(ps, 1)) || add_stmt(ps, b, s) != 0) return -1;
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
                    return jj_perr(ps, "unexpected '%s'", CLOSERS[k]);
            if (parse_stmt(ps, b, kw) != 0) return -1;
        }
    }
    if (ends) {
        ps->line = ps->n_ch ? ps->ch[ps->n_ch - 1].line : 1;
        const char *const *last = ends;
        while (last[1]) last++;
        return jj_perr(ps, "the template ends inside a block (no '{%% %s %%}')", *last);
    }
    return 0;
}

void jinja_free(JinjaTemplate *t) {
    if (!t) return;
    jj_arena_free(&t->arena);
    free(t->origin);
    free(t);
}

int jinja_parse(const char *src, size_t len, const char *origin, JinjaTemplate **out,
                SrError *err) {
    *out = NULL;
    if (len > JJ_MAX_SOURCE)
        return jj_fail(err, origin, 0, "the template is larger than %u bytes", JJ_MAX_SOURCE);
    JinjaTemplate *t = calloc(1, sizeof *t);
    char *o = strdup(origin ? origin : "chat template");
    if (!t || !o) {
        free(t), free(o);
        return sr_fail(err, "%s: out of memory", origin ? origin : "chat template");
    }
    t->origin = o;
    /* Jinja2 turns \r\n and \r into \n and, without keep_trailing_newline,
     * drops one newline at the very end. */
    char *s = jj_arena_alloc(&t->arena, len + 1);
    if (!s) {
        jinja_free(t);
        return jj_fail(err, origin, 0, "out of memory");
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
    if (jj_lex(&ps) != 0 || parse_body(&ps, &t->root, NULL, &none) != 0) {
        jinja_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

