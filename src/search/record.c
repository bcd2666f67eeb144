/* record.c - writing, reading and validating record files (record.h;
 * docs/record-format.md). The writer appends to a growing byte buffer and
 * commits it atomically; the reader walks a cursor over the whole file,
 * checked in memory first against its checksum, so a truncated or altered
 * file is refused before any field is trusted. */
#define _POSIX_C_SOURCE 200809L
#include "search/record.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/json.h"
#include "runtime/kvcache.h"
#include "runtime/model.h"
#include "search/reward.h"

uint64_t record_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct Buf {
    unsigned char *p;
    size_t len, cap;
    int failed;
} Buf;

static void put(Buf *b, const void *data, size_t n) {
    if (b->failed || n == 0) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* Little-endian regardless of the host. */
static void put_u64(Buf *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 8);
}
static void put_u32(Buf *b, uint32_t v) {
    unsigned char x[4];
    for (int i = 0; i < 4; i++) x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 4);
}
static void put_i32(Buf *b, int v) { put_u32(b, (uint32_t)v); }
static void put_u8(Buf *b, int v) {
    unsigned char x = (unsigned char)v;
    put(b, &x, 1);
}
static void put_f64(Buf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}
static void put_str(Buf *b, const char *s, size_t n) {
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}
static void put_cstr(Buf *b, const char *s) { put_str(b, s ? s : "", s ? strlen(s) : 0); }

static void put_cfg(Buf *b, const ModelConfig *c) {
    int v[] = {(int)c->kind,  c->dim,        c->hidden_dim, c->n_layers,  c->n_heads,
               c->n_kv_heads, c->head_dim,   c->vocab_size, c->num_labels, c->max_seq_len};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) put_i32(b, v[i]);
}

int record_write(const char *path, const Record *r, SrError *err) {
    Buf b = {0};
    put(&b, RECORD_MAGIC, 8);
    int run_opts = r->run_weights || r->run_template || r->run_system || r->run_thinking ||
                   r->has_closing_ids || r->run_kv_dtype;
    uint32_t version = r->run_kv_dtype      ? 5u
                       : r->has_closing_ids ? 4u
                       : run_opts           ? 3u
                       : r->rs_args         ? 2u
                                            : 1u;
    put_u32(&b, version);
    put_u64(&b, r->seed);
    put_f64(&b, r->temperature);
    put_i32(&b, r->top_k);
    put_f64(&b, r->top_p);
    put_i32(&b, r->max_new);
    put_i32(&b, r->max_new_eff);
    put_i32(&b, r->n_cands);
    put_i32(&b, r->n_stops);
    for (int i = 0; i < r->n_stops; i++) put_i32(&b, r->stops[i]);
    put_u8(&b, r->prompt_text != NULL);
    if (r->prompt_text) put_cstr(&b, r->prompt_text);
    put_i32(&b, r->n_prompt);
    for (int i = 0; i < r->n_prompt; i++) put_i32(&b, r->prompt[i]);
    put_cstr(&b, r->gen_path);
    put_u64(&b, r->gen_hash);
    put_cfg(&b, &r->gen_cfg);
    put_cstr(&b, r->rs_name);
    put_cstr(&b, r->rs_detail);
    put_cstr(&b, r->rm_path);
    put_u64(&b, r->rm_hash);
    put_u8(&b, r->has_rm_cfg);
    if (r->has_rm_cfg) put_cfg(&b, &r->rm_cfg);
    put_u64(&b, r->rs_kv_bytes_per_token);
    put_u64(&b, r->rs_reserve_bytes);
    put_i32(&b, r->rs_prefix_len);
    put_i32(&b, r->rs_closing_len);
    put_i32(&b, r->rs_max_response);
    put_u8(&b, r->has_gold);
    put_u8(&b, r->has_text);
    put_u64(&b, r->lexicon_hash);
    put_u8(&b, r->prompt_kv_per_candidate);
    if (run_opts) { /* version 3: rs_args optional, then the run's options */
        const char *opt[] = {r->rs_args, r->run_weights, r->run_template, r->run_system,
                             r->run_thinking};
        for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
            put_u8(&b, opt[i] != NULL);
            if (opt[i]) put_cstr(&b, opt[i]);
        }
        if (version == 5) { /* version 5: --kv-dtype, then whether closing ids follow */
            put_cstr(&b, r->run_kv_dtype);
            put_u8(&b, r->has_closing_ids);
        }
        if (r->has_closing_ids) { /* version 4 (and 5): then the closing ids */
            put_i32(&b, r->n_closing_ids);
            for (int i = 0; i < r->n_closing_ids; i++) put_i32(&b, r->closing_ids[i]);
        }
    } else if (r->rs_args) {
        put_cstr(&b, r->rs_args); /* version 2 */
    }
    for (int i = 0; i < r->n_cands; i++) {
        const RecordCand *c = &r->cands[i];
        put_i32(&b, c->len);
        put_i32(&b, c->stop_id);
        for (int t = 0; t < c->len; t++) put_i32(&b, c->tokens[t]);
        for (int t = 0; t < c->len + (c->stop_id >= 0); t++) put_f64(&b, c->logp[t]);
        for (int t = 0; t < c->len; t++) put_f64(&b, c->score[t]);
        put_f64(&b, c->final);
        if (r->has_gold)
            for (int t = 0; t <= c->len; t++) put_f64(&b, c->gold[t]);
        if (r->has_text) put_str(&b, c->text, c->text_len);
    }
    put_u64(&b, record_fnv1a(RECORD_FNV_OFFSET, b.p, b.len));
    if (b.failed) {
        free(b.p);
        return sr_fail(err, "%s: out of memory writing the record", path);
    }
    AtomicFile af;
    if (atomic_open(&af, path, err) != 0) {
        free(b.p);
        return -1;
    }
    int ok = atomic_write(&af, b.p, b.len) == 0;
    free(b.p);
    if (!ok) {
        int e = af.err;
        atomic_abort(&af);
        return sr_fail(err, "%s: write failed: %s", path, file_errstr(e));
    }
    return atomic_commit(&af, err);
}

/* ---- reading ------------------------------------------------------------ */

typedef struct Cur {
    const unsigned char *p;
    size_t n, off;
    const char *name;
    SrError *err;
    int failed;
} Cur;

/* The first failure wins: later reads of a failed cursor return zeros. */
static int cfail(Cur *c, const char *what) {
    if (!c->failed) sr_fail(c->err, "%s: %s (at byte %zu)", c->name, what, c->off);
    c->failed = 1;
    return -1;
}

static int need(Cur *c, size_t bytes, const char *what) {
    if (c->failed) return -1;
    if (bytes > c->n - c->off) {
        char msg[160];
        snprintf(msg, sizeof msg, "truncated: %s needs %zu bytes, %zu left", what, bytes,
                 c->n - c->off);
        return cfail(c, msg);
    }
    return 0;
}

static uint64_t get_u64(Cur *c, const char *what) {
    if (need(c, 8, what) != 0) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)c->p[c->off + i] << (8 * i);
    c->off += 8;
    return v;
}
static uint32_t get_u32(Cur *c, const char *what) {
    if (need(c, 4, what) != 0) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)c->p[c->off + i] << (8 * i);
    c->off += 4;
    return v;
}
static int get_i32(Cur *c, const char *what) {
    uint32_t u = get_u32(c, what);
    return u <= 0x7fffffffu ? (int)u : (int)(u - 0x80000000u) - 0x7fffffff - 1;
}
static int get_flag(Cur *c, const char *what) {
    if (need(c, 1, what) != 0) return 0;
    int v = c->p[c->off++];
    if (v > 1) cfail(c, "a flag byte is neither 0 nor 1");
    return v;
}
static double get_f64(Cur *c, const char *what) {
    uint64_t u = get_u64(c, what);
    double d;
    memcpy(&d, &u, 8);
    return d;
}
/* An int in [lo, hi]. */
static int get_int(Cur *c, const char *what, long long lo, long long hi) {
    int v = get_i32(c, what);
    if (!c->failed && (v < lo || v > hi)) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s %d is outside [%lld, %lld]", what, v, lo, hi);
        cfail(c, msg);
        return 0;
    }
    return v;
}
/* A malloc'd NUL-terminated string; NULL after a failure. Only a response
 * text (len != NULL) may hold NUL bytes: names, paths and the prompt are C
 * strings everywhere else. */
static char *get_str(Cur *c, const char *what, size_t *len) {
    uint32_t n = get_u32(c, what);
    if (c->failed) return NULL;
    if (n > RECORD_MAX_STRING) {
        cfail(c, "a string is longer than the format allows");
        return NULL;
    }
    if (need(c, n, what) != 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) {
        cfail(c, "out of memory");
        return NULL;
    }
    memcpy(s, c->p + c->off, n);
    s[n] = 0;
    if (!len && memchr(s, 0, n)) {
        free(s);
        cfail(c, "a name or prompt holds a NUL byte");
        return NULL;
    }
    c->off += n;
    if (len) *len = n;
    return s;
}
/* count elements of elem bytes: the bytes must be there before anything is
 * allocated. */
static void *get_array(Cur *c, size_t count, size_t elem, const char *what) {
    if (need(c, count * elem, what) != 0) return NULL;
    void *a = malloc(count ? count * elem : 1);
    if (!a) cfail(c, "out of memory");
    return a;
}
static int *get_ids(Cur *c, int count, int vocab, const char *what) {
    int *a = get_array(c, (size_t)count, 4, what);
    for (int i = 0; a && i < count; i++) a[i] = get_int(c, what, 0, vocab - 1);
    if (c->failed) {
        free(a);
        return NULL;
    }
    return a;
}
static double *get_doubles(Cur *c, int count, const char *what, int finite) {
    double *a = get_array(c, (size_t)count, 8, what);
    for (int i = 0; a && i < count; i++) {
        a[i] = get_f64(c, what);
        if (!c->failed && (finite ? !isfinite(a[i]) : isnan(a[i]))) {
            char msg[160];
            snprintf(msg, sizeof msg, "%s is %s", what, isnan(a[i]) ? "NaN" : "infinite");
            cfail(c, msg);
        }
    }
    if (c->failed) {
        free(a);
        return NULL;
    }
    return a;
}

static void get_cfg(Cur *c, ModelConfig *m, int kind) {
    memset(m, 0, sizeof *m);
    int k = get_int(c, "model kind", 0, 1);
    if (!c->failed && k != kind) cfail(c, "model kind does not match its role");
    m->kind = (ModelKind)k;
    enum { BIG = 1 << 24 };
    m->dim = get_int(c, "dim", 1, BIG);
    m->hidden_dim = get_int(c, "hidden_dim", 1, BIG);
    m->n_layers = get_int(c, "n_layers", 1, 1024);
    m->n_heads = get_int(c, "n_heads", 1, 4096);
    m->n_kv_heads = get_int(c, "n_kv_heads", 1, 4096);
    m->head_dim = get_int(c, "head_dim", 1, 4096);
    m->vocab_size = get_int(c, "vocab_size", 1, BIG);
    m->num_labels = get_int(c, "num_labels", 0, BIG);
    m->max_seq_len = get_int(c, "max_seq_len", 1, BIG);
    m->bos_id = m->eos_id = m->pad_id = -1;
    snprintf(m->architecture, sizeof m->architecture, "recorded");
    if (!c->failed && kind == MODEL_KIND_RM && m->num_labels < 1)
        cfail(c, "the reward model has no score head (num_labels 0)");
    /* A replay allocates KV blocks of these shapes (whole blocks of
     * positions): shapes the file cannot vouch for must stay within what a
     * real model has (405B-class models hold about 1 MiB per token in
     * fp32), or a hostile header asks for terabytes */
    uint64_t kvb = (uint64_t)2 * (uint64_t)m->n_layers * (uint64_t)m->n_kv_heads *
                   (uint64_t)m->head_dim * sizeof(float);
    if (!c->failed && kvb > RECORD_MAX_KV_PER_TOKEN) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s KV cache of %llu bytes per token is beyond any model "
                                  "(at most %llu)", kind == MODEL_KIND_RM ? "reward model" :
                                  "generator", (unsigned long long)kvb,
                 (unsigned long long)RECORD_MAX_KV_PER_TOKEN);
        cfail(c, msg);
    }
}

/* The arguments of version 2: one JSON object of numbers and arrays of
 * numbers, as --json prints them. */
static int check_args(Cur *c, const char *text) {
    cJSON *j = NULL;
    SrError e;
    if (sr_json_parse(text, strlen(text), c->name, NULL, &j, &e) != 0)
        return cfail(c, "the reward source arguments are not JSON");
    int ok = cJSON_IsObject(j);
    for (const cJSON *v = ok ? j->child : NULL; v && ok; v = v->next) {
        ok = cJSON_IsNumber(v) || cJSON_IsArray(v);
        for (const cJSON *x = cJSON_IsArray(v) ? v->child : NULL; x && ok; x = x->next)
            ok = cJSON_IsNumber(x);
    }
    cJSON_Delete(j);
    return ok ? 0 : cfail(c, "the reward source arguments are not an object of numbers");
}

/* The run's options of version 3, as the CLI spells them. */
static int check_run_opts(Cur *c, const Record *r) {
    if (r->run_weights && model_weights_parse(r->run_weights) < 0)
        return cfail(c, "the weights are not f32, bf16 or f16");
    if (r->run_kv_dtype && model_kv_dtype_parse(r->run_kv_dtype) < 0)
        return cfail(c, "the KV dtype is not f32, bf16 or f16");
    if (r->run_thinking && strcmp(r->run_thinking, "on") != 0 &&
        strcmp(r->run_thinking, "off") != 0)
        return cfail(c, "thinking is not on or off");
    if (r->run_template && (!r->run_template[0] || strlen(r->run_template) > 64))
        return cfail(c, "the template name is empty or longer than 64 bytes");
    return 0;
}

/* The closing ids of version 4: --closing-ids as given, as many as the
 * reward closing length counts, inside the reward model's vocabulary. */
static int get_closing_ids(Cur *c, Record *r) {
    int n = get_int(c, "closing id count", 0, RECORD_MAX_LEN);
    if (c->failed) return -1;
    if (!r->has_rm_cfg) return cfail(c, "closing ids without a reward model");
    if (n != r->rs_closing_len) {
        char msg[160];
        snprintf(msg, sizeof msg, "%d closing ids, the reward closing length says %d", n,
                 r->rs_closing_len);
        return cfail(c, msg);
    }
    r->closing_ids = get_ids(c, n, r->rm_cfg.vocab_size, "closing id");
    if (!r->closing_ids) return -1;
    r->n_closing_ids = n, r->has_closing_ids = 1;
    return 0;
}

static int parse_body(Cur *c, Record *r) {
    if (need(c, 8, "magic") != 0 || memcmp(c->p, RECORD_MAGIC, 8) != 0)
        return cfail(c, "not a specrej record file (bad magic)");
    c->off = 8;
    uint32_t version = get_u32(c, "version");
    if (!c->failed && (version < 1 || version > RECORD_VERSION)) {
        char msg[120];
        snprintf(msg, sizeof msg, "format version %u, this build reads version %u", version,
                 RECORD_VERSION);
        return cfail(c, msg);
    }
    r->seed = get_u64(c, "seed");
    r->temperature = get_f64(c, "temperature");
    if (!c->failed && !(r->temperature >= 0 && r->temperature <= 1e6))
        return cfail(c, "temperature outside [0, 1e6]");
    r->top_k = get_int(c, "top_k", 0, 0x7fffffff);
    r->top_p = get_f64(c, "top_p");
    if (!c->failed && !(r->top_p > 0 && r->top_p <= 1)) return cfail(c, "top_p outside (0, 1]");
    r->max_new = get_int(c, "max_new", 1, RECORD_MAX_LEN);
    r->max_new_eff = get_int(c, "max_new_eff", 1, RECORD_MAX_LEN);
    if (!c->failed && r->max_new_eff > r->max_new)
        return cfail(c, "max_new_eff exceeds max_new");
    r->n_cands = get_int(c, "candidate count", 1, RECORD_MAX_CANDS);
    r->n_stops = get_int(c, "stop id count", 0, 4096);
    if (c->failed) return -1;
    /* stop ids and the prompt come before the vocabulary: read raw, checked below */
    r->stops = get_ids(c, r->n_stops, 0x7fffffff, "stop id");
    if (get_flag(c, "prompt text flag")) r->prompt_text = get_str(c, "prompt text", NULL);
    r->n_prompt = get_int(c, "prompt length", 1, RECORD_MAX_LEN);
    if (c->failed) return -1;
    r->prompt = get_ids(c, r->n_prompt, 0x7fffffff, "prompt id");
    r->gen_path = get_str(c, "generator path", NULL);
    r->gen_hash = get_u64(c, "generator hash");
    get_cfg(c, &r->gen_cfg, MODEL_KIND_LM);
    if (c->failed) return -1;
    int vocab = r->gen_cfg.vocab_size;
    for (int i = 0; i < r->n_stops; i++)
        if (r->stops[i] >= vocab) return cfail(c, "a stop id is outside the vocabulary");
    for (int i = 0; i < r->n_prompt; i++)
        if (r->prompt[i] >= vocab) return cfail(c, "a prompt id is outside the vocabulary");
    if (r->n_prompt >= r->gen_cfg.max_seq_len)
        return cfail(c, "the prompt does not fit the generator's context");
    if (r->max_new_eff > r->gen_cfg.max_seq_len - r->n_prompt + 1)
        return cfail(c, "max_new_eff exceeds the generator's context");
    r->rs_name = get_str(c, "reward source name", NULL);
    r->rs_detail = get_str(c, "reward source detail", NULL);
    r->rm_path = get_str(c, "reward model path", NULL);
    r->rm_hash = get_u64(c, "reward model hash");
    r->has_rm_cfg = get_flag(c, "reward model flag");
    if (r->has_rm_cfg) get_cfg(c, &r->rm_cfg, MODEL_KIND_RM);
    r->rs_kv_bytes_per_token = get_u64(c, "reward KV bytes per token");
    r->rs_reserve_bytes = get_u64(c, "reward reserve bytes");
    r->rs_prefix_len = get_int(c, "reward prefix length", 0, RECORD_MAX_LEN);
    r->rs_closing_len = get_int(c, "reward closing length", 0, RECORD_MAX_LEN);
    r->rs_max_response = get_int(c, "reward max response", 1, 0x7fffffff);
    r->has_gold = get_flag(c, "gold flag");
    r->has_text = get_flag(c, "text flag");
    r->lexicon_hash = get_u64(c, "lexicon hash");
    r->prompt_kv_per_candidate = get_flag(c, "prompt KV mode");
    if (version == 2) r->rs_args = get_str(c, "reward source arguments", NULL);
    if (version >= 3) {
        char **opt[] = {&r->rs_args, &r->run_weights, &r->run_template, &r->run_system,
                        &r->run_thinking};
        static const char *const WHAT[] = {"reward source arguments", "weights", "template",
                                           "system message", "thinking"};
        for (size_t i = 0; i < sizeof opt / sizeof opt[0] && !c->failed; i++)
            if (get_flag(c, WHAT[i])) *opt[i] = get_str(c, WHAT[i], NULL);
    }
    if (version >= 5) r->run_kv_dtype = get_str(c, "KV dtype", NULL);
    if ((version == 4 || (version >= 5 && get_flag(c, "closing ids flag"))) &&
        get_closing_ids(c, r) != 0)
        return -1;
    if (c->failed) return -1;
    /* one spelling per record: a writer uses version 3 only for a run option */
    if (version == 3 && !r->run_weights && !r->run_template && !r->run_system && !r->run_thinking)
        return cfail(c, "a version 3 record without a run option (that is version 1 or 2)");
    if (check_run_opts(c, r) != 0) return -1;
    if (r->rs_args && check_args(c, r->rs_args) != 0) return -1;
    /* both caches held keys and values as --kv-dtype says (bytes per token) */
    if (r->run_kv_dtype)
        r->gen_cfg.kv_dtype = r->rm_cfg.kv_dtype = model_kv_dtype_parse(r->run_kv_dtype);
    /* a source is checked by what it declares it needs, not by its name; a
     * name this build does not know (a record from a build with more
     * sources) is checked by what the record holds */
    const RewardEntry *e = reward_find(r->rs_name, NULL);
    if (e && (reward_needs(e) & REWARD_NEEDS_MODEL) && !r->has_rm_cfg) {
        char msg[160];
        snprintf(msg, sizeof msg, "a %s reward source without its shapes", r->rs_name);
        return cfail(c, msg);
    }
    if (r->has_rm_cfg && (!e || (reward_needs(e) & REWARD_NEEDS_MODEL))) {
        const ModelConfig *m = &r->rm_cfg;
        uint64_t kvb = (uint64_t)2 * m->n_layers * m->n_kv_heads * m->head_dim *
                       kv_dtype_size(m->kv_dtype);
        if (r->rs_kv_bytes_per_token != kvb)
            return cfail(c, "reward KV bytes per token disagree with its shapes");
        if (r->rs_prefix_len < 1 ||
            r->rs_prefix_len + r->rs_closing_len + 1 > m->max_seq_len)
            return cfail(c, "reward prefix and closing do not fit its context");
        /* the reserve is at most a prefix and a context of blocks; a larger
         * one would wrap the budget arithmetic (fixed + reserve) */
        if (r->rs_reserve_bytes > kvb * ((uint64_t)m->max_seq_len * 2 + 64))
            return cfail(c, "reward reserve bytes exceed two contexts of its KV cache");
    } else if (r->has_rm_cfg || r->rs_kv_bytes_per_token || r->rs_prefix_len ||
               r->rs_closing_len || r->rs_reserve_bytes) {
        return cfail(c, "a reward source without a cache declares cache sizes");
    }
    if (r->max_new_eff > r->rs_max_response)
        return cfail(c, "max_new_eff exceeds what the reward source can score");
    /* every candidate takes at least 4 + 4 + 8 bytes: refuse before allocating */
    if (need(c, (size_t)r->n_cands * 16, "candidates") != 0) return -1;
    r->cands = calloc((size_t)r->n_cands, sizeof *r->cands);
    if (!r->cands) return cfail(c, "out of memory");
    for (int i = 0; i < r->n_cands; i++) {
        RecordCand *k = &r->cands[i];
        k->len = get_int(c, "response length", 0, r->max_new_eff);
        k->stop_id = get_int(c, "stop id", -1, vocab - 1);
        if (c->failed) return -1;
        if (k->stop_id < 0 && k->len != r->max_new_eff)
            return cfail(c, "a candidate without a stop id ends before max_new_eff");
        if (k->stop_id >= 0) {
            int known = 0;
            for (int s = 0; s < r->n_stops; s++) known |= r->stops[s] == k->stop_id;
            if (!known) return cfail(c, "a candidate ends with an id that is not a stop id");
        }
        k->tokens = get_ids(c, k->len, vocab, "response id");
        for (int t = 0; k->tokens && t < k->len; t++)
            for (int s = 0; s < r->n_stops; s++)
                if (k->tokens[t] == r->stops[s])
                    return cfail(c, "a response contains a stop id before its end");
        k->logp = get_doubles(c, k->len + (k->stop_id >= 0), "log-probability", 0);
        for (int t = 0; k->logp && t < k->len + (k->stop_id >= 0); t++)
            if (!(k->logp[t] <= 0)) return cfail(c, "a log-probability is positive");
        k->score = get_doubles(c, k->len, "prefix score", 1);
        k->final = get_f64(c, "final score");
        if (!c->failed && !isfinite(k->final)) return cfail(c, "a final score is not finite");
        if (r->has_gold) k->gold = get_doubles(c, k->len + 1, "gold score", 1);
        if (r->has_text) k->text = get_str(c, "response text", &k->text_len);
        if (c->failed) return -1;
    }
    if (c->off != c->n) return cfail(c, "trailing bytes after the last candidate");
    return 0;
}

int record_parse(const char *name, const uint8_t *data, size_t size, Record *r, SrError *err) {
    memset(r, 0, sizeof *r);
    Cur c = {data, size, 0, name, err, 0};
    if (size < 8 + 4 + 8) return cfail(&c, "truncated: too short for a record file");
    if (memcmp(data, RECORD_MAGIC, 8) != 0)
        return cfail(&c, "not a specrej record file (bad magic)");
    uint64_t want = 0;
    for (int i = 0; i < 8; i++) want |= (uint64_t)data[size - 8 + i] << (8 * i);
    if (record_fnv1a(RECORD_FNV_OFFSET, data, size - 8) != want) {
        c.off = size - 8;
        return cfail(&c, "checksum mismatch: the file is truncated or damaged");
    }
    c.n = size - 8;
    if (parse_body(&c, r) != 0) {
        record_free(r);
        return -1;
    }
    return 0;
}

int record_load(const char *path, Record *out, SrError *err) {
    memset(out, 0, sizeof *out);
    char *data = NULL;
    size_t len = 0;
    if (file_read_all(path, RECORD_MAX_BYTES, &data, &len, err) != 0) return -1;
    int rc = record_parse(path, (const uint8_t *)data, len, out, err);
    free(data);
    return rc;
}

void record_free(Record *r) {
    if (!r) return;
    if (r->cands)
        for (int i = 0; i < r->n_cands; i++) {
            RecordCand *k = &r->cands[i];
            free(k->tokens), free(k->logp), free(k->score), free(k->gold), free(k->text);
        }
    free(r->cands), free(r->stops), free(r->prompt_text), free(r->prompt);
    free(r->gen_path), free(r->rs_name), free(r->rs_detail), free(r->rm_path);
    free(r->rs_args);
    free(r->run_weights), free(r->run_template), free(r->run_system), free(r->run_thinking);
    free(r->run_kv_dtype);
    free(r->closing_ids);
    memset(r, 0, sizeof *r);
}
