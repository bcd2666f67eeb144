/* template.c - prompt templates (see template.h).
 *
 * Chat templates are rendered to one string and encoded once, as Hugging
 * Face's apply_chat_template + encode do, so the special tokens in them map
 * to their ids and the text around them pre-tokenizes exactly as there. */
#include "text/template.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "text/jinja.h"

static const char CHATML_OPEN[] = "<|im_start|>user\n";
static const char CHATML_MID[] = "<|im_end|>\n<|im_start|>assistant\n";
static const char CHATML_CLOSE[] = "<|im_end|>\n";
static const char LLAMA3_OPEN[] = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n";
static const char LLAMA3_MID[] = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
static const char LLAMA3_CLOSE[] = "<|eot_id|>";

/* The special tokens each template needs from the tokenizer. */
static const char *const CHATML_NEEDS[] = {"<|im_start|>", "<|im_end|>", NULL};
static const char *const LLAMA3_NEEDS[] = {"<|begin_of_text|>", "<|start_header_id|>",
                                           "<|end_header_id|>", "<|eot_id|>", NULL};

/* The assistant's text in a reward model's rendering: a control character
 * no template trims or rewrites, so the text before and after it are the
 * prefix and the closing of any response. */
static const char MARKER[] = "\x01specrej-response\x01";

const char *template_name(TemplateKind k) {
    return k == TEMPLATE_CHATML ? "chatml" : k == TEMPLATE_LLAMA3 ? "llama3"
         : k == TEMPLATE_MODEL ? "model" : "plain";
}

TemplateKind template_detect(const Tokenizer *t) {
    if (tokenizer_chat_template(t, NULL)) return TEMPLATE_MODEL;
    if (tokenizer_token_id(t, "<|im_start|>") >= 0) return TEMPLATE_CHATML;
    if (tokenizer_token_id(t, "<|start_header_id|>") >= 0) return TEMPLATE_LLAMA3;
    return TEMPLATE_PLAIN;
}

static int check_needs(const Tokenizer *t, TemplateKind k, SrError *err) {
    const char *const *needs = k == TEMPLATE_CHATML ? CHATML_NEEDS
                             : k == TEMPLATE_LLAMA3 ? LLAMA3_NEEDS : NULL;
    for (; needs && *needs; needs++)
        if (tokenizer_token_id(t, *needs) < 0)
            return sr_fail(err, "--template %s: the tokenizer has no %s token", template_name(k),
                           *needs);
    return 0;
}

int template_check_name(const char *name, const char *flag, SrError *err) {
    static const char *const NAMES[] = {"auto", "model", "plain", "chatml", "llama3"};
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (strcmp(name, NAMES[i]) == 0) return 0;
    return sr_fail(err, "%s: unknown template '%s' (model, plain, chatml, llama3, auto)", flag,
                   name);
}

int template_parse(const char *name, const Tokenizer *t, TemplateKind *out, SrError *err) {
    TemplateKind k;
    if (template_check_name(name, "--template", err) != 0) return -1;
    if (strcmp(name, "auto") == 0)
        k = template_detect(t);
    else if (strcmp(name, "model") == 0) {
        if (!tokenizer_chat_template(t, NULL))
            return sr_fail(err, "--template model: the tokenizer has no chat template (no "
                                "chat_template in tokenizer_config.json, no chat_template.jinja)");
        k = TEMPLATE_MODEL;
    } else if (strcmp(name, "plain") == 0)
        k = TEMPLATE_PLAIN;
    else if (strcmp(name, "chatml") == 0)
        k = TEMPLATE_CHATML;
    else /* llama3: template_check_name let no other name through */
        k = TEMPLATE_LLAMA3;
    if (check_needs(t, k, err) != 0) return -1;
    *out = k;
    return 0;
}

static int encode_str(const Tokenizer *t, const char *s, IntVec *out, SrError *err) {
    return tokenizer_encode(t, s, strlen(s), out, err);
}

/* Encodes the concatenation of the NULL-terminated strings as one text. */
static int encode_joined(const Tokenizer *t, IntVec *out, SrError *err, ...) {
    va_list ap;
    size_t n = 0;
    va_start(ap, err);
    for (const char *p; (p = va_arg(ap, const char *)) != NULL;) n += strlen(p);
    va_end(ap);
    char *s = sr_malloc_array(n + 1, 1, err);
    if (!s) return -1;
    char *w = s;
    va_start(ap, err);
    for (const char *p; (p = va_arg(ap, const char *)) != NULL;) {
        size_t k = strlen(p);
        memcpy(w, p, k);
        w += k;
    }
    va_end(ap);
    *w = 0;
    int rc = tokenizer_encode(t, s, n, out, err);
    free(s);
    return rc;
}

/* The checkpoint's template rendered for [system] + user (+ the assistant's
 * marker when marked): *text is malloc'd. */
static int render_model(const Tokenizer *t, const char *prompt, const TemplateOpts *o,
                        int marked, char **text, size_t *len, SrError *err) {
    const char *origin = NULL, *src = tokenizer_chat_template(t, &origin);
    if (!src) return sr_fail(err, "--template model: the tokenizer has no chat template");
    JinjaMessage m[3];
    int n = 0;
    if (o && o->system) m[n++] = (JinjaMessage){"system", o->system};
    m[n++] = (JinjaMessage){"user", prompt};
    if (marked) m[n++] = (JinjaMessage){"assistant", MARKER};
    JinjaVar thinking = {"enable_thinking", NULL, o && o->thinking > 0};
    JinjaChat chat = {
        .messages = m, .n_messages = n, .add_generation_prompt = !marked,
        .bos_token = tokenizer_special_text(t, TOKENIZER_BOS_TEXT),
        .eos_token = tokenizer_special_text(t, TOKENIZER_EOS_TEXT),
        .pad_token = tokenizer_special_text(t, TOKENIZER_PAD_TEXT),
        .unk_token = tokenizer_special_text(t, TOKENIZER_UNK_TEXT),
        .vars = &thinking, .n_vars = o && o->thinking >= 0};
    JinjaTemplate *jt;
    if (jinja_parse(src, strlen(src), origin, &jt, err) != 0) return -1;
    int rc = jinja_render_chat(jt, &chat, text, len, err);
    jinja_free(jt);
    return rc;
}

static int check_system(TemplateKind k, const TemplateOpts *o, SrError *err) {
    if (!o) return 0;
    if (o->system && k == TEMPLATE_PLAIN)
        return sr_fail(err, "--system: the plain template has no system turn (use a chat "
                            "template: model, chatml or llama3)");
    if (o->thinking >= 0 && k != TEMPLATE_MODEL)
        return sr_fail(err, "--thinking: only a model's own chat template reads it (the %s "
                            "template has no thinking block)", template_name(k));
    return 0;
}

int template_prompt_ids_opts(const Tokenizer *t, TemplateKind k, const char *prompt,
                             const TemplateOpts *o, IntVec *out, SrError *err) {
    if (check_needs(t, k, err) != 0 || check_system(k, o, err) != 0) return -1;
    const char *sys = o ? o->system : NULL;
    switch (k) {
    case TEMPLATE_CHATML:
        if (sys)
            return encode_joined(t, out, err, "<|im_start|>system\n", sys, "<|im_end|>\n",
                                 CHATML_OPEN, prompt, CHATML_MID, (char *)NULL);
        return encode_joined(t, out, err, CHATML_OPEN, prompt, CHATML_MID, (char *)NULL);
    case TEMPLATE_LLAMA3:
        if (sys)
            return encode_joined(t, out, err,
                                 "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n",
                                 sys, "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
                                 prompt, LLAMA3_MID, (char *)NULL);
        return encode_joined(t, out, err, LLAMA3_OPEN, prompt, LLAMA3_MID, (char *)NULL);
    case TEMPLATE_MODEL: {
        char *text;
        size_t len;
        if (render_model(t, prompt, o, 0, &text, &len, err) != 0) return -1;
        int rc = tokenizer_encode(t, text, len, out, err);
        free(text);
        return rc;
    }
    default:
        if (tokenizer_bos_id(t) >= 0 && intvec_push(out, tokenizer_bos_id(t), err) != 0)
            return -1;
        return encode_str(t, prompt, out, err);
    }
}

int template_prompt_ids(const Tokenizer *t, TemplateKind k, const char *prompt, IntVec *out,
                        SrError *err) {
    return template_prompt_ids_opts(t, k, prompt, NULL, out, err);
}

int template_closing_ids(const Tokenizer *t, TemplateKind k, IntVec *out, SrError *err) {
    if (check_needs(t, k, err) != 0) return -1;
    switch (k) {
    case TEMPLATE_CHATML: return encode_str(t, CHATML_CLOSE, out, err);
    case TEMPLATE_LLAMA3: return encode_str(t, LLAMA3_CLOSE, out, err);
    case TEMPLATE_MODEL:
        return sr_fail(err, "internal: a model template's closing ids come with its prefix");
    default:
        return tokenizer_eos_id(t) >= 0 ? intvec_push(out, tokenizer_eos_id(t), err) : 0;
    }
}

int template_scoring_ids(const Tokenizer *t, TemplateKind k, const char *prompt,
                         const TemplateOpts *o, IntVec *prefix, IntVec *closing,
                         SrError *err) {
    if (k != TEMPLATE_MODEL) {
        /* --system and --thinking are the run's, given for the generator's
         * template: a fixed reward template takes the system message where
         * it has a turn for one and reads the conversation without it where
         * it has none (plain) */
        TemplateOpts fixed = {k == TEMPLATE_PLAIN || !o ? NULL : o->system, -1};
        return template_prompt_ids_opts(t, k, prompt, &fixed, prefix, err) != 0 ? -1
             : template_closing_ids(t, k, closing, err);
    }
    char *text;
    size_t len;
    if (render_model(t, prompt, o, 1, &text, &len, err) != 0) return -1;
    const char *origin = NULL;
    tokenizer_chat_template(t, &origin);
    size_t m = strlen(MARKER);
    char *at = strstr(text, MARKER);
    int rc;
    if (!at || strstr(at + m, MARKER))
        rc = sr_fail(err, "%s: the template does not show the assistant's text exactly once, "
                          "so a response cannot be placed in it (--reward-template chatml, "
                          "llama3 or plain instead)", origin);
    else
        rc = tokenizer_encode(t, text, (size_t)(at - text), prefix, err) != 0 ? -1
           : tokenizer_encode(t, at + m, len - (size_t)(at - text) - m, closing, err);
    free(text);
    return rc;
}
