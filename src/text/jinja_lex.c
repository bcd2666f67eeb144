/* jinja_lex.c - the Jinja subset's lexer: the source cut into chunks
 * (text, {{ }} and {% %}) under Jinja2's whitespace rules, and the tokens
 * inside a tag, read on demand by the parser (jinja_expr.c, jinja_parse.c).
 *
 * The chunking copies Jinja2's lexer decision for decision, not its
 * documentation: with trim_blocks and lstrip_blocks a block or comment
 * tag eats the spaces and tabs before it when they are all that precede it
 * on its line, and the newline after it; '-' strips all whitespace on its
 * side, '+' keeps it. Any of these subtly different moves a chat template's
 * newlines, which tests/fixtures/chat_templates checks byte for byte. */
#include "text/jinja_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- chunks ---- */

static int count_lines(const char *a, const char *b) {
    int n = 0;
    for (; a < b; a++) n += *a == '\n';
    return n;
}

static int push_chunk(Parser *ps, ChKind k, const char *p, size_t n, int line) {
    if (k == CH_TEXT && n == 0) return 0;
    if (ps->n_ch == ps->cap_ch) {
        int cap = ps->cap_ch ? 2 * ps->cap_ch : 64;
        Chunk *c = jj_arena_alloc(ps->a, (size_t)cap * sizeof *c);
        if (!c) return jj_fail(ps->err, ps->origin, 0, "template too large");
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
int jj_lex(Parser *ps) {
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
                return jj_fail(ps->err, ps->origin, tag_line, "a comment is not closed");
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
                return jj_fail(ps->err, ps->origin, tag_line, "a %s tag is not closed",
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

/* ---- tokens inside a tag ---- */

static void skip_ws(Parser *ps) {
    while (ps->p < ps->pe && is_space(*ps->p)) {
        if (*ps->p == '\n') ps->line++;
        ps->p++;
    }
}

Tok jj_peek_tok(Parser *ps) {
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
void jj_take(Parser *ps, Tok t) {
    ps->line += count_lines(t.p, t.p + t.n);
    ps->p = t.p + t.n;
}

int jj_accept(Parser *ps, const char *op) {
    Tok t = jj_peek_tok(ps);
    if (t.k == T_END || !(is_op(t, op) || is_kw(t, op))) return 0;
    jj_take(ps, t);
    return 1;
}

int jj_perr(Parser *ps, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return jj_fail(ps->err, ps->origin, ps->line, "%s", msg);
}

/* A short quote of what the parser stopped at, for messages. */
const char *jj_near(Parser *ps, char *buf, size_t cap) {
    Tok t = jj_peek_tok(ps);
    if (t.k == T_END) return "the end of the tag";
    size_t n = t.n ? t.n : 1;
    if (n > 30) n = 30;
    snprintf(buf, cap, "'%.*s'", (int)n, t.p);
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 32) *c = '?';
    return buf;
}

int jj_expect(Parser *ps, const char *op) {
    if (jj_accept(ps, op)) return 0;
    char b[48];
    return jj_perr(ps, "expected '%s', found %s", op, jj_near(ps, b, sizeof b));
}

/* Unescapes a string literal as Python's unicode-escape does for the
 * escapes a template uses; an unknown escape keeps its backslash. */
int jj_unescape(Parser *ps, const char *p, size_t n, Str *out) {
    char *o = jj_arena_alloc(ps->a, n * 2 + 1);
    if (!o) return jj_fail(ps->err, ps->origin, 0, "template too large");
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
            if (v < 0) return jj_perr(ps, "a string has a truncated \\%c escape", c);
            cp = cp * 16 + (unsigned long)v;
        }
        i += (size_t)digits;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return jj_perr(ps, "a string has an invalid \\%c escape", c);
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

