/* template.h - prompt templates, chosen by name or detected.
 *
 *  plain  : [BOS if the tokenizer has one] + prompt, response follows
 *           directly; for a reward model the response is closed with EOS
 *           (if any), so a partial response is scored as if finished.
 *  chatml : <|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n
 *           {response}<|im_end|>\n
 *  llama3 : <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n
 *           {prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>
 *           \n\n{response}<|eot_id|>
 */
#ifndef SPECREJ_TEMPLATE_H
#define SPECREJ_TEMPLATE_H

#include "base/error.h"
#include "text/tokenizer.h"

typedef enum { TEMPLATE_PLAIN = 0, TEMPLATE_CHATML = 1, TEMPLATE_LLAMA3 = 2 } TemplateKind;

/* "plain", "chatml", "llama3", or "auto" (detect from special tokens). */
int template_parse(const char *name, const Tokenizer *t, TemplateKind *out, SrError *err);
/* The name check alone, with no tokenizer: for the command line, so that a
 * misspelt template is a usage error found before any file is read. flag
 * names the flag in the message ("--template", "--reward-template"). */
int template_check_name(const char *name, const char *flag, SrError *err);
/* Detects from the tokenizer's special tokens: <|im_start|> -> chatml,
 * <|start_header_id|> -> llama3, else plain. */
TemplateKind template_detect(const Tokenizer *t);
const char *template_name(TemplateKind k);

/* Ids the generator is fed before the response. */
int template_prompt_ids(const Tokenizer *t, TemplateKind k, const char *prompt,
                        IntVec *out, SrError *err);
/* Ids that follow a response so it reads as a complete turn (reward model). */
int template_closing_ids(const Tokenizer *t, TemplateKind k, IntVec *out, SrError *err);

#endif
