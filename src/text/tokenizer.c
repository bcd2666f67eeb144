/* tokenizer.c - the one tokenizer interface: dispatch to byte-level BPE
 * (tokenizer.json) or llama2.c's tokenizer.bin, and the special ids.
 *
 * BOS/EOS/pad of a tokenizer.json come from the files next to it, first
 * match wins: tokenizer_config.json "bos_token"/"eos_token"/"pad_token"
 * (a string, an {"content": ...} object, or null = none); else config.json
 * "*_token_id" (a number, or a list whose first entry counts); else
 * well-known token texts. Stop ids: EOS, every eos id listed in config.json
 * and generation_config.json, and <|im_end|>, <|eot_id|>, <|end_of_text|>,
 * <|endoftext|> when present. llama2.c: BOS 1, EOS 2, no pad, stop {2}. */
#define _POSIX_C_SOURCE 200809L
#include "text/tokenizer.h"

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text/bpe.h"
#include "base/fileio.h"
#include "base/json.h"
#include "text/sp_tokenizer.h"

#define TOK_MAX_JSON (512u << 20)
#define TOK_MAX_CONFIG (16u << 20)
#define TOK_MAX_STOP 16

struct Tokenizer {
    Bpe *bpe;
    SpTokenizer *sp;
    int vocab_size;
    int bos, eos, pad;
    int stop[TOK_MAX_STOP];
    int n_stop;
    /* the model's own chat template (text, not parsed: a run that names a
     * fixed template must not fail on a template it never uses) and the
     * special tokens' texts that apply_chat_template passes to it */
    char *chat_template, *chat_template_origin;
    char *special_text[TOKENIZER_SPECIAL_COUNT];
};

/* ---- IntVec ---- */

/* ---- special ids ---- */

static int text_id(const Tokenizer *t, const char *s) { return tokenizer_token_id(t, s); }

/* Reads dir/name as JSON; *out stays NULL when the file does not exist. */
static int read_json_opt(const char *dir, const char *name, cJSON **out, SrError *err) {
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    char *buf;
    size_t len;
    if (file_read_all(path, TOK_MAX_CONFIG, &buf, &len, err) != 0) return -1;
    int rc = sr_json_parse(buf, len, path, "invalid JSON", out, err);
    free(buf);
    if (rc == 0 && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        rc = sr_fail(err, "%s: invalid JSON", path);
    }
    return rc;
}

/* tokenizer_config.json's "<key>": 1 and *id set when the key is present
 * (id -1 for null), 0 when absent, -1 when it names no token. */
static int config_token(const Tokenizer *t, const cJSON *tc, const char *dir, const char *key,
                        int *id, SrError *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(tc, key);
    if (!v) return 0;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (cJSON_IsNull(v)) {
        *id = -1;
        return 1;
    }
    if (!cJSON_IsString(v))
        return sr_fail(err, "%s/tokenizer_config.json: %s is not a string", dir, key);
    *id = text_id(t, v->valuestring);
    if (*id < 0)
        return sr_fail(err, "%s/tokenizer_config.json: %s '%.60s' is not a token of the "
                       "tokenizer", dir, key, v->valuestring);
    return 1;
}

/* The chat template: chat_template.jinja next to the tokenizer (where
 * transformers 4.43+ saves it, and which it prefers), else
 * tokenizer_config.json's "chat_template": a string, or a list of
 * {"name", "template"} of which "default" is the one apply_chat_template
 * uses without a name. */
static int load_chat_template(Tokenizer *t, const char *dir, const cJSON *tc, SrError *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    if (stat(path, &st) == 0) {
        if (file_read_all(path, TOK_MAX_CONFIG, &text, &len, err) != 0) return -1;
        if (strlen(text) != len) {
            free(text);
            return sr_fail(err, "%s: a NUL byte in the chat template", path);
        }
    } else {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(tc, "chat_template");
        if (!v || cJSON_IsNull(v)) return 0;
        snprintf(path, sizeof path, "%s/tokenizer_config.json: chat_template", dir);
        if (cJSON_IsArray(v)) {
            const cJSON *e, *found = NULL;
            cJSON_ArrayForEach(e, v) {
                const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
                if (cJSON_IsString(n) && strcmp(n->valuestring, "default") == 0)
                    found = cJSON_GetObjectItemCaseSensitive(e, "template");
            }
            if (!found)
                return sr_fail(err, "%s: a list without a \"default\" template", path);
            v = found;
        }
        if (!cJSON_IsString(v)) return sr_fail(err, "%s: not a string", path);
        text = strdup(v->valuestring);
        if (!text) return sr_fail(err, "%s: out of memory", path);
    }
    t->chat_template = text;
    t->chat_template_origin = strdup(path);
    if (!t->chat_template_origin) return sr_fail(err, "%s: out of memory", path);
    return 0;
}

/* The texts of the special tokens, as apply_chat_template passes them:
 * tokenizer_config.json's strings; else, for bos/eos/pad, the text of the
 * id resolved above; NULL when there is none. */
static int load_special_texts(Tokenizer *t, const cJSON *tc, SrError *err) {
    static const char *const KEYS[TOKENIZER_SPECIAL_COUNT] = {"bos_token", "eos_token",
                                                              "pad_token", "unk_token"};
    const int ids[TOKENIZER_SPECIAL_COUNT] = {t->bos, t->eos, t->pad, -1};
    for (int k = 0; k < TOKENIZER_SPECIAL_COUNT; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(tc, KEYS[k]);
        if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
        const char *text = cJSON_IsString(v) ? v->valuestring : NULL;
        if (v && !text) continue; /* null: the tokenizer has none */
        if (text) {
            if (!(t->special_text[k] = strdup(text))) return sr_fail(err, "out of memory");
        } else if (ids[k] >= 0) {
            size_t n;
            if (tokenizer_decode(t, &ids[k], 1, &t->special_text[k], &n, err) != 0) return -1;
        }
    }
    return 0;
}

/* config.json-style "<key>" id(s): appends each valid id to ids. */
static int config_ids(const Tokenizer *t, const cJSON *cfg, const char *file, const char *key,
                      int *ids, int *n, int max, SrError *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) return 0;
    const cJSON *one = cJSON_IsArray(v) ? v->child : v;
    for (; one; one = cJSON_IsArray(v) ? one->next : NULL) {
        double d = cJSON_IsNumber(one) ? one->valuedouble : -1;
        if (!(d >= 0 && d < t->vocab_size) || d != floor(d))
            return sr_fail(err, "%s: %s is not an id of the tokenizer (vocabulary %d)", file,
                           key, t->vocab_size);
        if (*n < max) ids[(*n)++] = (int)d;
    }
    return 0;
}

static int first_known(const Tokenizer *t, const char *const *names) {
    for (; *names; names++) {
        int id = text_id(t, *names);
        if (id >= 0) return id;
    }
    return -1;
}

static void add_stop(Tokenizer *t, int id) {
    if (id < 0 || t->n_stop == TOK_MAX_STOP) return;
    for (int i = 0; i < t->n_stop; i++)
        if (t->stop[i] == id) return;
    t->stop[t->n_stop++] = id;
}

/* One of bos/eos/pad: tokenizer_config.json, else config.json, else names.
 * cfg_ids receives every id config.json lists for it (eos: stop ids). */
static int resolve_special(const Tokenizer *t, const char *dir, const cJSON *tc,
                           const cJSON *cfg, const char *which, const char *const *names,
                           int *out, int *cfg_ids, int *n_cfg, SrError *err) {
    char key[32], cfg_path[4200];
    snprintf(key, sizeof key, "%s_token_id", which);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    *n_cfg = 0;
    if (config_ids(t, cfg, cfg_path, key, cfg_ids, n_cfg, TOK_MAX_STOP, err) != 0) return -1;
    snprintf(key, sizeof key, "%s_token", which);
    int r = config_token(t, tc, dir, key, out, err);
    if (r < 0) return -1;
    if (r == 0) *out = *n_cfg > 0 ? cfg_ids[0] : first_known(t, names);
    return 0;
}

static int load_specials(Tokenizer *t, const char *dir, SrError *err) {
    static const char *const BOS[] = {"<|begin_of_text|>", "<s>", NULL};
    static const char *const EOS[] = {"<|endoftext|>", "<|end_of_text|>", "</s>", "<|im_end|>",
                                      "<|eot_id|>", NULL};
    static const char *const PAD[] = {"<|pad|>", "<pad>", NULL};
    static const char *const STOP[] = {"<|im_end|>", "<|eot_id|>", "<|end_of_text|>",
                                       "<|endoftext|>", NULL};
    cJSON *tc = NULL, *cfg = NULL, *gen = NULL;
    int ids[TOK_MAX_STOP], n = 0, rc = -1;
    if (read_json_opt(dir, "tokenizer_config.json", &tc, err) == 0 &&
        read_json_opt(dir, "config.json", &cfg, err) == 0 &&
        read_json_opt(dir, "generation_config.json", &gen, err) == 0 &&
        resolve_special(t, dir, tc, cfg, "bos", BOS, &t->bos, ids, &n, err) == 0 &&
        resolve_special(t, dir, tc, cfg, "pad", PAD, &t->pad, ids, &n, err) == 0 &&
        resolve_special(t, dir, tc, cfg, "eos", EOS, &t->eos, ids, &n, err) == 0) {
        add_stop(t, t->eos);
        for (int i = 0; i < n; i++) add_stop(t, ids[i]);
        char gen_path[4200];
        snprintf(gen_path, sizeof gen_path, "%s/generation_config.json", dir);
        n = 0;
        rc = config_ids(t, gen, gen_path, "eos_token_id", ids, &n, TOK_MAX_STOP, err);
        for (int i = 0; i < n; i++) add_stop(t, ids[i]);
        for (int i = 0; STOP[i]; i++) add_stop(t, text_id(t, STOP[i]));
        if (rc == 0) rc = load_chat_template(t, dir, tc, err);
        if (rc == 0) rc = load_special_texts(t, tc, err);
    }
    cJSON_Delete(tc);
    cJSON_Delete(cfg);
    cJSON_Delete(gen);
    return rc;
}

/* ---- loading ---- */

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A tokenizer.json by name, or by content: JSON text starts with '{' (after
 * whitespace), while a tokenizer.bin starts with a small little-endian
 * uint32 (so it has a NUL among its first 4 bytes). */
static int looks_like_json(const char *path) {
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".json") == 0) return 1;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char head[64];
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    for (size_t i = 0; i < got && i < 4; i++)
        if (head[i] == 0) return 0;
    for (size_t i = 0; i < got; i++) {
        if (head[i] == '{') return 1;
        if (head[i] != ' ' && head[i] != '\n' && head[i] != '\r' && head[i] != '\t') return 0;
    }
    return 0;
}

static int load_json(Tokenizer *t, const char *path, SrError *err) {
    char *buf;
    size_t len;
    if (file_read_all(path, TOK_MAX_JSON, &buf, &len, err) != 0) return -1;
    int rc = bpe_load(path, buf, len, &t->bpe, err);
    free(buf);
    if (rc != 0) return -1;
    t->vocab_size = bpe_vocab_size(t->bpe);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    return load_specials(t, dir, err);
}

/* A llama2.c tokenizer.bin (sentencepiece pieces and scores). */
static int tokenizer_load_sp(Tokenizer *t, const char *path, int vocab_size, SrError *err) {
    if (sp_load(path, vocab_size, &t->sp, err) != 0) return -1;
    t->vocab_size = vocab_size;
    t->bos = 1;
    t->eos = 2;
    add_stop(t, 2);
    return 0;
}

int tokenizer_load(const char *path, int vocab_size, Tokenizer **out, SrError *err) {
    Tokenizer *t = sr_calloc(1, sizeof *t, err);
    if (!t) return -1;
    t->bos = t->eos = t->pad = -1;
    char joined[4096];
    int rc;
    struct stat st;
    if (is_dir(path)) {
        snprintf(joined, sizeof joined, "%s/tokenizer.json", path);
        if (stat(joined, &st) == 0) {
            rc = load_json(t, joined, err);
        } else { /* a llama2.c folder: its tokenizer.bin */
            snprintf(joined, sizeof joined, "%s/tokenizer.bin", path);
            rc = stat(joined, &st) == 0 ? tokenizer_load_sp(t, joined, vocab_size, err)
                 : sr_fail(err, "%s: no tokenizer.json or tokenizer.bin in this directory", path);
        }
    } else if (looks_like_json(path)) {
        rc = load_json(t, path, err);
    } else {
        rc = tokenizer_load_sp(t, path, vocab_size, err);
    }
    if (rc != 0) {
        tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int tokenizer_load_for_model(const char *path, const char *model_path, int vocab_size,
                             Tokenizer **out, SrError *err) {
    if (vocab_size <= 0 && model_path && !is_dir(path) && !looks_like_json(path) &&
        sp_model_vocab_size(model_path, &vocab_size, err) != 0)
        return -1;
    return tokenizer_load(path, vocab_size, out, err);
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    bpe_free(t->bpe);
    sp_free(t->sp);
    free(t->chat_template);
    free(t->chat_template_origin);
    for (int k = 0; k < TOKENIZER_SPECIAL_COUNT; k++) free(t->special_text[k]);
    free(t);
}

/* ---- encode / decode ---- */

int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, IntVec *out,
                     SrError *err) {
    return t->bpe ? bpe_encode(t->bpe, text, len, out, err) : sp_encode(t->sp, text, len, out, err);
}

static int token_bytes(const Tokenizer *t, int prev, int id, char *byte_buf, const char **b,
                       size_t *n) {
    return t->bpe ? bpe_token_bytes(t->bpe, id, b, n) : sp_piece(t->sp, prev, id, byte_buf, b, n);
}

int tokenizer_decode(const Tokenizer *t, const int *ids, int n, char **out, size_t *out_len,
                     SrError *err) {
    size_t total = 0;
    char byte_buf[1];
    const char *b;
    size_t len;
    for (int i = 0; i < n; i++) {
        if (token_bytes(t, i ? ids[i - 1] : -1, ids[i], byte_buf, &b, &len) != 0)
            return sr_fail(err, "decode: id %d is not a token of the tokenizer (vocabulary %d)",
                           ids[i], t->vocab_size);
        total += len;
    }
    char *s = sr_malloc_array(total + 1, 1, err);
    if (!s) return -1;
    char *p = s;
    for (int i = 0; i < n; i++) {
        token_bytes(t, i ? ids[i - 1] : -1, ids[i], byte_buf, &b, &len);
        memcpy(p, b, len);
        p += len;
    }
    *p = 0;
    if (t->bpe && bpe_strips_leading_space(t->bpe) && total > 0 && s[0] == ' ')
        memmove(s, s + 1, total--); /* the SentencePiece-style decoder's Strip */
    *out = s;
    *out_len = total;
    return 0;
}

/* ---- queries ---- */

int tokenizer_vocab_size(const Tokenizer *t) { return t->vocab_size; }

/* llama2.c's SentencePiece: one id per character it knows, else one per
 * byte (byte fallback), merged down, after the space it prepends. */
void tokenizer_encode_bound(const Tokenizer *t, TokenBound *b) {
    if (!t->bpe) {
        *b = (TokenBound){1, 1, 1, 1};
        return;
    }
    int w[3];
    bpe_encode_bound(t->bpe, w, &b->fixed);
    b->plain = w[0], b->space = w[1], b->other = w[2];
}

int tokenizer_can_decode(const Tokenizer *t, int id) {
    char byte_buf[1];
    const char *b;
    size_t len;
    return id >= 0 && id < t->vocab_size && token_bytes(t, -1, id, byte_buf, &b, &len) == 0;
}
int tokenizer_bos_id(const Tokenizer *t) { return t->bos; }
int tokenizer_eos_id(const Tokenizer *t) { return t->eos; }
int tokenizer_pad_id(const Tokenizer *t) { return t->pad; }

int tokenizer_token_id(const Tokenizer *t, const char *token_text) {
    size_t n = strlen(token_text);
    return t->bpe ? bpe_token_id(t->bpe, token_text, n) : sp_token_id(t->sp, token_text, n);
}

int tokenizer_is_stop(const Tokenizer *t, int id) {
    for (int i = 0; i < t->n_stop; i++)
        if (t->stop[i] == id) return 1;
    return 0;
}

const char *tokenizer_kind(const Tokenizer *t) { return t->bpe ? "bpe" : "llama2c"; }

const char *tokenizer_chat_template(const Tokenizer *t, const char **origin) {
    if (origin) *origin = t->chat_template_origin;
    return t->chat_template;
}

const char *tokenizer_special_text(const Tokenizer *t, TokenizerSpecial which) {
    return which >= 0 && which < TOKENIZER_SPECIAL_COUNT ? t->special_text[which] : NULL;
}
