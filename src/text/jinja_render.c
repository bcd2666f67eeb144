/* jinja_render.c - the statements of a parsed template run in order, into
 * the output buffer, and jinja_render_chat, which sets up the top-level
 * variables and owns the render's arena. break and continue travel up as
 * Ctx.ctl until their loop takes them; nesting is bounded, so a hostile
 * template fails instead of overflowing the stack. */
#include "text/jinja_internal.h"

#include <stdlib.h>
#include <string.h>

static int exec_body(Ctx *c, Frame *f, const Body *b);

/* {% for %}: each iteration a fresh scope over f, with `loop` in it. */

static int exec_for(Ctx *c, Frame *f, const Stmt *s) {
    Value it;
    if (jj_eval(c, f, s->e, &it) != 0) return -1;
    const List *items;
    if (jj_iter_items(c, &it, &items, s->line) != 0) return -1;
    LoopInfo *L = jj_arena_alloc(&c->a, sizeof *L);
    if (!L) return jj_oom(c);
    L->items = items;
    Frame inner = {.up = f};
    for (int i = 0; i < items->n; i++) {
        L->i = i;
        if (jj_step(c, s->line) != 0) return -1;
        /* each iteration is a fresh scope, as in Jinja2; the storage of its
         * variables is reused, so a long loop does not grow the arena */
        inner.n = 0;
        const Value *x = &items->v[i];
        if (s->n_names == 1) {
            if (jj_frame_set(c, &inner, s->names[0], *x) != 0) return -1;
        } else {
            if (x->t != V_LIST || x->u.l->n != s->n_names)
                return jj_rfail(c, s->line, "cannot unpack a %s into %d names", jj_type_name(x), s->n_names);
            for (int k = 0; k < s->n_names; k++)
                if (jj_frame_set(c, &inner, s->names[k], x->u.l->v[k]) != 0) return -1;
        }
        Value lv = {.t = V_LOOP, .u.loop = L};
        if (jj_frame_set(c, &inner, (Str){"loop", 4}, lv) != 0) return -1;
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
    if (jj_step(c, s->line) != 0) return -1;
    Value v;
    switch (s->k) {
    case S_TEXT: return jj_buf_put(c, &c->out, s->text.p, s->text.n);
    case S_OUT:
        if (jj_eval(c, f, s->e, &v) != 0) return -1;
        return jj_write_str(c, &c->out, &v, s->line);
    case S_IF:
        for (int i = 0; i < s->n; i++) {
            if (s->conds[i]) {
                if (jj_eval(c, f, s->conds[i], &v) != 0) return -1;
                if (!jj_truthy(&v)) continue;
            }
            return exec_body(c, f, &s->bodies[i]);
        }
        return 0;
    case S_FOR: return exec_for(c, f, s);
    case S_SET:
        if (jj_eval(c, f, s->e, &v) != 0) return -1;
        if (s->n_names == 1) return jj_frame_set(c, f, s->names[0], v);
        {
            const Value *ns = jj_frame_get(f, s->names[0]);
            if (!ns || ns->t != V_DICT || !ns->ns)
                return jj_rfail(c, s->line, "cannot assign an attribute of '%.*s': not a namespace",
                             (int)(s->names[0].n > 40 ? 40 : s->names[0].n), s->names[0].p);
            return jj_dict_set(c, ns->u.d, s->names[1], v);
        }
    case S_BREAK: c->ctl = CTL_BREAK; return 0;
    case S_CONTINUE: c->ctl = CTL_CONTINUE; return 0;
    case S_GEN: return exec_body(c, f, &s->body);
    }
    return 0;
}

static int exec_body(Ctx *c, Frame *f, const Body *b) {
    if (++c->depth > JJ_MAX_DEPTH * 2) return jj_rfail(c, 0, "statements nested too deeply");
    for (int i = 0; i < b->n && c->ctl == CTL_NONE; i++)
        if (exec_stmt(c, f, b->s[i]) != 0) return -1;
    c->depth--;
    return 0;
}

/* The variables are what transformers' apply_chat_template passes (jinja.h). */
int jinja_render_chat(const JinjaTemplate *t, const JinjaChat *chat, char **out,
                      size_t *out_len, SrError *err) {
    *out = NULL;
    *out_len = 0;
    Ctx c = {.origin = t->origin, .err = err};
    Frame root = {0};
    int rc = -1;
    List *msgs = jj_new_list(&c, chat->n_messages);
    if (!msgs) {
        jj_oom(&c);
        goto done;
    }
    for (int i = 0; i < chat->n_messages; i++) {
        Dict *d = jj_new_dict(&c);
        if (!d || jj_dict_set(&c, d, (Str){"role", 4}, str_value(chat->messages[i].role)) != 0 ||
            jj_dict_set(&c, d, (Str){"content", 7}, str_value(chat->messages[i].content)) != 0) {
            if (!d) jj_oom(&c);
            goto done;
        }
        msgs->v[i] = (Value){.t = V_DICT, .u.d = d};
    }
    struct {
        const char *name;
        const char *s;
    } toks[] = {{"bos_token", chat->bos_token}, {"eos_token", chat->eos_token},
                {"pad_token", chat->pad_token}, {"unk_token", chat->unk_token}};
    if (jj_frame_set(&c, &root, (Str){"messages", 8}, list_value(msgs)) != 0 ||
        jj_frame_set(&c, &root, (Str){"tools", 5}, (Value){.t = V_NONE}) != 0 ||
        jj_frame_set(&c, &root, (Str){"documents", 9}, (Value){.t = V_NONE}) != 0 ||
        jj_frame_set(&c, &root, (Str){"add_generation_prompt", 21},
                  bool_value(chat->add_generation_prompt)) != 0)
        goto done;
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++)
        if (toks[i].s && jj_frame_set(&c, &root, (Str){toks[i].name, strlen(toks[i].name)},
                                   str_value(toks[i].s)) != 0)
            goto done;
    for (int i = 0; i < chat->n_vars; i++) {
        const JinjaVar *v = &chat->vars[i];
        Value x = v->str ? str_value(v->str) : bool_value(v->boolean);
        if (jj_frame_set(&c, &root, (Str){v->name, strlen(v->name)}, x) != 0) goto done;
    }
    if (exec_body(&c, &root, &t->root) != 0) goto done;
    if (!c.out.p) { /* nothing was written: the empty string */
        if (!(c.out.p = malloc(1))) {
            jj_oom(&c);
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
    jj_arena_free(&c.a);
    return rc;
}
