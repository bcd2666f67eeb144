/* jinja.h - the Jinja subset that renders a model's own chat template
 * (tokenizer_config.json's "chat_template"), as transformers'
 * apply_chat_template does: an ImmutableSandboxedEnvironment with
 * trim_blocks and lstrip_blocks, the loopcontrols extension, and its own
 * tojson filter and raise_exception function.
 *
 * The subset is what the Llama 3, Qwen2/2.5/3 and SmolLM2 templates use
 * (docs/formats.md, section 4, lists it): text with whitespace control,
 * {{ }}, {# #}, {% if/elif/else %}, {% for %} (with loop.*, else, break,
 * continue, tuple targets), {% set %} (incl. namespace attributes),
 * {% generation %}; literals, lists, dicts, names, attributes, subscripts
 * and slices, calls, filters, tests, the arithmetic, comparison and
 * logical operators, `~`, `in`, and conditional expressions. Anything else
 * (macros, includes, blocks, unknown filters or tests, ...) fails with one
 * line naming the origin, the template line and the construct: at parse
 * time for statements, when evaluated for filters, tests and methods (so
 * a tool-call branch that never runs here cannot refuse the template).
 *
 * Hostile templates stay cheap: nesting depth, the work per render, the
 * output size and the memory of a render are all bounded, and exceeding a
 * bound is an error, never a crash. No global state; a parsed template is
 * read-only and may be rendered from several threads at once. */
#ifndef SPECREJ_JINJA_H
#define SPECREJ_JINJA_H

#include <stddef.h>

#include "base/error.h"

typedef struct JinjaTemplate JinjaTemplate;

/* Parses src[0..len). origin names the template in every message, e.g.
 * "models/x/tokenizer_config.json: chat_template". */
int jinja_parse(const char *src, size_t len, const char *origin, JinjaTemplate **out,
                SrError *err);
void jinja_free(JinjaTemplate *t);

typedef struct {
    const char *role;
    const char *content;
} JinjaMessage;

/* One extra top-level variable (transformers' template kwargs, e.g.
 * Qwen3's enable_thinking): a string when str is non-NULL, else a bool. */
typedef struct {
    const char *name;
    const char *str;
    int boolean;
} JinjaVar;

/* What apply_chat_template passes to the template: messages, tools = None,
 * documents = None, add_generation_prompt, the special tokens the
 * tokenizer has (NULL: the variable is not defined) and the extra vars. */
typedef struct {
    const JinjaMessage *messages;
    int n_messages;
    int add_generation_prompt;
    const char *bos_token, *eos_token, *pad_token, *unk_token;
    const JinjaVar *vars;
    int n_vars;
} JinjaChat;

/* Renders into a malloc'd NUL-terminated string (*out, length *out_len);
 * the caller frees it. raise_exception("msg") in the template fails with
 * "ORIGIN: raise_exception: msg". */
int jinja_render_chat(const JinjaTemplate *t, const JinjaChat *chat, char **out,
                      size_t *out_len, SrError *err);

#endif
