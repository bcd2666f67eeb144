/* template.h - prompt templates, chosen by name or detected.
 *
 *  model  : the checkpoint's own chat template (tokenizer.h:
 *           tokenizer_chat_template), rendered by the Jinja subset
 *           (jinja.h) as transformers' apply_chat_template renders it:
 *           [system] + user, add_generation_prompt=True before the
 *           response; for a reward model, the conversation with the
 *           response as the last assistant turn, cut around it.
 *
 * The three fixed templates stay as named fallbacks:
 *
 *  plain  : [BOS if the tokenizer has one] + prompt, response follows
 *           directly; for a reward model the response is closed with EOS
 *           (if any), so a partial response is scored as if finished.
 *  chatml : <|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n
 *           {response}<|im_end|>\n
 *  llama3 : <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n
 *           {prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>
 *           \n\n{response}<|eot_id|>
 * With a system message, chatml puts <|im_start|>system\n{system}<|im_end|>\n
 * and llama3 <|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>
 * before the user's turn (the layout of the families' own templates);
 * plain has no place for one and refuses it.
 */
#ifndef SPECREJ_TEMPLATE_H
#define SPECREJ_TEMPLATE_H

#include "base/error.h"
#include "text/tokenizer.h"

typedef enum {
    TEMPLATE_PLAIN = 0, TEMPLATE_CHATML = 1, TEMPLATE_LLAMA3 = 2, TEMPLATE_MODEL = 3
} TemplateKind;

/* "model", "plain", "chatml", "llama3", or "auto": the checkpoint's own
 * template when its tokenizer has one, else detected from special tokens
 * (so a model without a chat template, like the shipped Austen models,
 * gets exactly what it got before chat templates were read). */
int template_parse(const char *name, const Tokenizer *t, TemplateKind *out, SrError *err);
/* The name check alone, with no tokenizer: for the command line, so that a
 * misspelt template is a usage error found before any file is read. flag
 * names the flag in the message ("--template", "--reward-template"). */
int template_check_name(const char *name, const char *flag, SrError *err);
/* The checkpoint's own template when there is one, else from the special
 * tokens: <|im_start|> -> chatml, <|start_header_id|> -> llama3, else plain. */
TemplateKind template_detect(const Tokenizer *t);
const char *template_name(TemplateKind k);

/* What a conversation holds besides the user's prompt. */
typedef struct TemplateOpts {
    const char *system; /* a system message, or NULL */
    int thinking;       /* model templates: enable_thinking (Qwen3) 0 or 1; -1 leaves it
                         * undefined, the template's own default */
} TemplateOpts;

/* Ids the generator is fed before the response (opts may be NULL). */
int template_prompt_ids_opts(const Tokenizer *t, TemplateKind k, const char *prompt,
                             const TemplateOpts *opts, IntVec *out, SrError *err);
/* A reward model's ids before a response and after it, so that the
 * response reads as the conversation's finished last turn (opts may be
 * NULL). For a model template the conversation is rendered with a marker
 * as the assistant's text and cut at it, which fails with a message when
 * the template does not show that text exactly once. The options are the
 * run's (chosen for the generator): a fixed template ignores thinking, and
 * plain, which has no system turn, the system message. */
int template_scoring_ids(const Tokenizer *t, TemplateKind k, const char *prompt,
                         const TemplateOpts *opts, IntVec *prefix, IntVec *closing,
                         SrError *err);

/* The same without a system message (as before chat templates were read). */
int template_prompt_ids(const Tokenizer *t, TemplateKind k, const char *prompt,
                        IntVec *out, SrError *err);
/* Ids that follow a response so it reads as a complete turn (reward model),
 * for the fixed templates; a model template's come from
 * template_scoring_ids. */
int template_closing_ids(const Tokenizer *t, TemplateKind k, IntVec *out, SrError *err);

#endif
