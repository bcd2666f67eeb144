/* jinja.c - a Jinja subset for chat templates (see jinja.h): the map of its
 * files, and the memory and error plumbing they all use.
 *
 * Three stages. The lexer (jinja_lex.c) cuts the source into text, {{ }}
 * and {% %} chunks and applies the whitespace rules exactly as Jinja2's
 * lexer does with trim_blocks and lstrip_blocks (the same regex-level
 * decisions, including its "line_starting" flag), and tokenizes inside a
 * tag. The parser turns the chunks into a tree of statements
 * (jinja_parse.c, which also holds jinja_parse) and expressions
 * (jinja_expr.c) with Jinja2's precedence. The evaluator walks the tree
 * with Python's semantics for the values a chat template meets (str, int,
 * float, bool, None, list, dict, Undefined; jinja_value.c): expressions and
 * operators in jinja_eval.c, calls and the str and dict methods in
 * jinja_call.c, tests and filters in jinja_filter.c, statements and
 * jinja_render_chat in jinja_render.c, with Jinja2's scoping: each for-loop
 * iteration is a fresh frame, so a set inside a loop is gone at the next
 * iteration, which is why templates use namespace(). jinja_internal.h
 * holds what they share.
 *
 * All memory of a parse or a render is one arena, freed at once; its size,
 * the nesting depth and the steps of a render are capped so that a hostile
 * template fails with a message instead of exhausting the machine. */
#include "text/jinja_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Bump allocation in blocks of at least 64 KiB: a template's tree and a
 * render's values are many small pieces that all die together. */
void *jj_arena_alloc(Arena *a, size_t n) {
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

void jj_arena_free(Arena *a) {
    for (ABlock *b = a->head, *n; b; b = n) n = b->next, free(b);
    a->head = NULL, a->total = 0;
}

int jj_fail(SrError *err, const char *origin, int line, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) return sr_fail(err, "%s: line %d: %s", origin, line, msg);
    return sr_fail(err, "%s: %s", origin, msg);
}
