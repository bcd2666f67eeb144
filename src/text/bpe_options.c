/* bpe_options.c - the sections of a tokenizer.json around the BPE model:
 * the model's options, the normalizer, the pre-tokenizer and the decoder.
 * A byte-level file's pre-tokenizer becomes a list of regex steps compiled
 * once with PCRE2 (bpe_encode.c runs them); a SentencePiece-style file is
 * accepted only in the two layouts Llama 2 / TinyLlama / Mistral ship.
 * Any other option this implementation would silently get wrong (dropout,
 * subword affixes, other normalizers or decoders) is refused by name. */
#include "text/bpe_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static const char *json_type_name(const cJSON *obj) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static int add_regex_step(Bpe *b, const char *path, const char *pattern, int literal,
                          int add_prefix_space, SrError *err) {
    if (b->n_steps == BPE_MAX_STEPS)
        return sr_fail(err, "%s: pre_tokenizer has more than %d steps", path, BPE_MAX_STEPS);
    pcre2_code *re = NULL;
    if (pattern) {
        int ec;
        PCRE2_SIZE eo;
        /* invalid UTF-8 is cut out before matching (split_piece), so no
         * PCRE2_MATCH_INVALID_UTF: the interpreter would check the whole
         * rest of the subject at every call */
        uint32_t opts = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
        re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return sr_fail(err, "%s: pre_tokenizer regex does not compile at offset %zu: %s",
                           path, (size_t)eo, (const char *)msg);
        }
    }
    b->steps[b->n_steps].re = re;
    b->steps[b->n_steps].add_prefix_space = add_prefix_space;
    b->n_steps++;
    return 0;
}

/* One pre-tokenizer object: ByteLevel, Split or Digits. */
static int parse_step(Bpe *b, const char *path, const cJSON *pt, int last, SrError *err) {
    const char *type = json_type_name(pt);
    if (!type) return sr_fail(err, "%s: pre_tokenizer step without a \"type\"", path);
    if (strcmp(type, "ByteLevel") == 0) {
        if (!last)
            return sr_fail(err, "%s: ByteLevel must be the last pre_tokenizer step", path);
        const cJSON *ur = cJSON_GetObjectItemCaseSensitive(pt, "use_regex");
        const cJSON *ap = cJSON_GetObjectItemCaseSensitive(pt, "add_prefix_space");
        int use_regex = ur ? cJSON_IsTrue(ur) : 1; /* the tokenizers default */
        return add_regex_step(b, path, use_regex ? GPT2_PATTERN : NULL, 0, cJSON_IsTrue(ap), err);
    }
    if (last)
        return sr_fail(err, "%s: pre_tokenizer does not end with ByteLevel (not a byte-level "
                       "BPE; %s is not supported here)", path, type);
    if (strcmp(type, "Digits") == 0) {
        int individual = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "individual_digits"));
        return add_regex_step(b, path, individual ? "\\p{N}" : "\\p{N}+", 0, 0, err);
    }
    if (strcmp(type, "Split") != 0)
        return sr_fail(err, "%s: pre_tokenizer '%s' is not supported", path, type);
    const cJSON *behavior = cJSON_GetObjectItemCaseSensitive(pt, "behavior");
    if (!cJSON_IsString(behavior) || strcasecmp(behavior->valuestring, "Isolated") != 0)
        return sr_fail(err, "%s: Split pre_tokenizer behavior must be Isolated", path);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "invert")))
        return sr_fail(err, "%s: Split pre_tokenizer with invert true is not supported", path);
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(pt, "pattern");
    const cJSON *rx = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    const cJSON *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
    if (cJSON_IsString(rx)) return add_regex_step(b, path, rx->valuestring, 0, 0, err);
    if (cJSON_IsString(str) && str->valuestring[0])
        return add_regex_step(b, path, str->valuestring, 1, 0, err);
    return sr_fail(err, "%s: Split pre_tokenizer without a Regex or String pattern", path);
}

int bpe_parse_pre_tokenizer(Bpe *b, const char *path, const cJSON *pt, SrError *err) {
    if (!cJSON_IsObject(pt))
        return sr_fail(err, "%s: pre_tokenizer is missing (not a byte-level BPE)", path);
    const char *type = json_type_name(pt);
    if (type && strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
        int n = cJSON_GetArraySize(list);
        if (!cJSON_IsArray(list) || n == 0)
            return sr_fail(err, "%s: Sequence pre_tokenizer without \"pretokenizers\"", path);
        for (int i = 0; i < n; i++)
            if (parse_step(b, path, cJSON_GetArrayItem(list, i), i == n - 1, err) != 0) return -1;
        return 0;
    }
    return parse_step(b, path, pt, 1, err);
}

/* True when the normalizer, pre_tokenizer or decoder uses a SentencePiece
 * device ("▁" metaspace, prepended "▁", byte fallback). */
static int sentencepiece_style(const cJSON *root) {
    const char *parts[] = {"normalizer", "pre_tokenizer", "decoder"};
    int found = 0;
    for (int i = 0; i < 3 && !found; i++) {
        char *s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, parts[i]));
        found = s && (strstr(s, "\"Metaspace\"") || strstr(s, "\"ByteFallback\"") ||
                      strstr(s, "\"Prepend\"") ||
                      strstr(s, "\xe2\x96\x81"));
        free(s);
    }
    return found;
}

/* ---- SentencePiece-style files (Llama 2, TinyLlama, Mistral) ---- */

static int str_is(const cJSON *o, const char *key, const char *want) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

static int pattern_is(const cJSON *o, const char *want) {
    return str_is(cJSON_GetObjectItemCaseSensitive(o, "pattern"), "String", want);
}

/* The normalizer Llama 2 ships: Prepend(U+2581), Replace(" " -> U+2581). */
static int sp_legacy_normalizer(const cJSON *n) {
    if (!str_is(n, "type", "Sequence")) return 0;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
    if (cJSON_GetArraySize(list) != 2) return 0;
    int prepend = 0, replace = 0;
    for (const cJSON *e = list->child; e; e = e->next) {
        prepend += str_is(e, "type", "Prepend") && str_is(e, "prepend", METASPACE);
        replace += str_is(e, "type", "Replace") && pattern_is(e, " ") &&
                   str_is(e, "content", METASPACE);
    }
    return prepend == 1 && replace == 1;
}

/* The decoder they ship: Replace(U+2581 -> " "), ByteFallback, Fuse, Strip
 * one leading space. */
static int sp_decoder(const cJSON *d) {
    if (!str_is(d, "type", "Sequence")) return 0;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(d, "decoders");
    const char *want[] = {"Replace", "ByteFallback", "Fuse", "Strip"};
    if (cJSON_GetArraySize(list) != 4) return 0;
    int k = 0;
    for (const cJSON *e = list->child; e; e = e->next, k++)
        if (!str_is(e, "type", want[k])) return 0;
    const cJSON *rp = cJSON_GetArrayItem(list, 0), *st = cJSON_GetArrayItem(list, 3);
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(st, "start");
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(st, "stop");
    return pattern_is(rp, METASPACE) && str_is(rp, "content", " ") && str_is(st, "content", " ") &&
           cJSON_IsNumber(start) && start->valuedouble == 1 && cJSON_IsNumber(stop) &&
           stop->valuedouble == 0;
}

/* Metaspace pre-tokenizer: replacement U+2581, prepend_scheme, split. */
static int sp_metaspace(Bpe *b, const cJSON *pt) {
    if (!str_is(pt, "type", "Metaspace") || !str_is(pt, "replacement", METASPACE)) return 0;
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(pt, "split");
    b->sp_meta = 1;
    b->sp_split = !split || cJSON_IsTrue(split);
    if (!cJSON_GetObjectItemCaseSensitive(pt, "prepend_scheme")) { /* older: add_prefix_space */
        const cJSON *aps = cJSON_GetObjectItemCaseSensitive(pt, "add_prefix_space");
        b->sp_prepend = !aps || cJSON_IsTrue(aps) ? SP_EVERY : SP_NEVER;
    } else if (str_is(pt, "prepend_scheme", "first")) b->sp_prepend = SP_FIRST;
    else if (str_is(pt, "prepend_scheme", "always")) b->sp_prepend = SP_EVERY;
    else if (str_is(pt, "prepend_scheme", "never")) b->sp_prepend = SP_NEVER;
    else return 0;
    return 1;
}

/* Accepts the two layouts in use (the legacy normalizer and no
 * pre-tokenizer, or no normalizer and Metaspace), each with the decoder
 * above; anything else SentencePiece-like is refused by name. */
int bpe_parse_sp(Bpe *b, const char *path, const cJSON *root, const cJSON *model,
                    SrError *err) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    int no_norm = !norm || cJSON_IsNull(norm), no_pt = !pt || cJSON_IsNull(pt);
    b->sp = 1;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")))
        return sr_fail(err, "%s: SentencePiece-style BPE without byte_fallback is not supported",
                       path);
    if (!no_norm && no_pt && sp_legacy_normalizer(norm)) b->sp_prepend = SP_EVERY;
    else if (!(no_norm && !no_pt && sp_metaspace(b, pt)))
        return sr_fail(err, "%s: SentencePiece-style BPE: only the normalizer Prepend + Replace "
                            "with no pre_tokenizer, or a Metaspace pre_tokenizer with no "
                            "normalizer, is supported", path);
    if (!sp_decoder(dec))
        return sr_fail(err, "%s: SentencePiece-style BPE: only the decoder Replace + "
                            "ByteFallback + Fuse + Strip is supported", path);
    b->fuse_unk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "fuse_unk"));
    return 0;
}

/* Refuses what this implementation would silently get wrong; returns 1 for
 * a SentencePiece-style file (bpe_parse_sp). */
int bpe_check_options(const char *path, const cJSON *root, const cJSON *model,
                               SrError *err) {
    const char *type = json_type_name(model);
    if (!type) return sr_fail(err, "%s: model.type is missing", path);
    if (strcmp(type, "BPE") != 0)
        return sr_fail(err, "%s: model type '%s' is not supported (only byte-level BPE)", path,
                       type);
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0)
        return sr_fail(err, "%s: BPE dropout is not supported", path);
    const char *affix[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(model, affix[i]);
        if (cJSON_IsString(a) && a->valuestring[0])
            return sr_fail(err, "%s: BPE %s is not supported", path, affix[i]);
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")) ||
        sentencepiece_style(root))
        return 1; /* SentencePiece style: bpe_parse_sp checks the rest */
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm && !cJSON_IsNull(norm)) {
        const char *nt = json_type_name(norm);
        if (!nt || strcmp(nt, "NFC") != 0)
            return sr_fail(err, "%s: normalizer '%s' is not supported", path, nt ? nt : "?");
    }
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (dec && !cJSON_IsNull(dec)) {
        const char *dt = json_type_name(dec);
        if (!dt || strcmp(dt, "ByteLevel") != 0)
            return sr_fail(err, "%s: decoder '%s' is not supported (byte-level BPE expects "
                           "ByteLevel)", path, dt ? dt : "?");
    }
    return 0;
}
