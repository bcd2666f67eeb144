/* template.c - prompt templates (see template.h).
 *
 * Chat templates are rendered to one string and encoded once, as Hugging
 * Face's apply_chat_template + encode do, so the special tokens in them map
 * to their ids and the text around them pre-tokenizes exactly as there. */
#include "text/template.h"

#include <stdlib.h>
#include <string.h>

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

const char *template_name(TemplateKind k) {
    return k == TEMPLATE_CHATML ? "chatml" : k == TEMPLATE_LLAMA3 ? "llama3" : "plain";
}

TemplateKind template_detect(const Tokenizer *t) {
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
    static const char *const NAMES[] = {"auto", "plain", "chatml", "llama3"};
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (strcmp(name, NAMES[i]) == 0) return 0;
    return sr_fail(err, "%s: unknown template '%s' (plain, chatml, llama3, auto)", flag, name);
}

int template_parse(const char *name, const Tokenizer *t, TemplateKind *out, SrError *err) {
    TemplateKind k;
    if (template_check_name(name, "--template", err) != 0) return -1;
    if (strcmp(name, "auto") == 0)
        k = template_detect(t);
    else if (strcmp(name, "plain") == 0)
        k = TEMPLATE_PLAIN;
    else if (strcmp(name, "chatml") == 0)
        k = TEMPLATE_CHATML;
    else if (strcmp(name, "llama3") == 0)
        k = TEMPLATE_LLAMA3;
    else
        return sr_fail(err, "--template: unknown template '%s' (plain, chatml, llama3, auto)",
                       name);
    if (check_needs(t, k, err) != 0) return -1;
    *out = k;
    return 0;
}

static int encode_str(const Tokenizer *t, const char *s, IntVec *out, SrError *err) {
    return tokenizer_encode(t, s, strlen(s), out, err);
}

/* Encodes open + prompt + mid as one text. */
static int encode_wrapped(const Tokenizer *t, const char *open, const char *prompt,
                          const char *mid, IntVec *out, SrError *err) {
    size_t a = strlen(open), b = strlen(prompt), c = strlen(mid);
    char *s = sr_malloc_array(a + b + c + 1, 1, err);
    if (!s) return -1;
    memcpy(s, open, a);
    memcpy(s + a, prompt, b);
    memcpy(s + a + b, mid, c + 1);
    int rc = tokenizer_encode(t, s, a + b + c, out, err);
    free(s);
    return rc;
}

int template_prompt_ids(const Tokenizer *t, TemplateKind k, const char *prompt, IntVec *out,
                        SrError *err) {
    if (check_needs(t, k, err) != 0) return -1;
    switch (k) {
    case TEMPLATE_CHATML: return encode_wrapped(t, CHATML_OPEN, prompt, CHATML_MID, out, err);
    case TEMPLATE_LLAMA3: return encode_wrapped(t, LLAMA3_OPEN, prompt, LLAMA3_MID, out, err);
    default:
        if (tokenizer_bos_id(t) >= 0 && intvec_push(out, tokenizer_bos_id(t), err) != 0)
            return -1;
        return encode_str(t, prompt, out, err);
    }
}

int template_closing_ids(const Tokenizer *t, TemplateKind k, IntVec *out, SrError *err) {
    if (check_needs(t, k, err) != 0) return -1;
    switch (k) {
    case TEMPLATE_CHATML: return encode_str(t, CHATML_CLOSE, out, err);
    case TEMPLATE_LLAMA3: return encode_str(t, LLAMA3_CLOSE, out, err);
    default:
        return tokenizer_eos_id(t) >= 0 ? intvec_push(out, tokenizer_eos_id(t), err) : 0;
    }
}
