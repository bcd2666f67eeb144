/* test_util.h - shared by the cmocka test programs (header-only). */
#ifndef SPECREJ_TEST_UTIL_H
#define SPECREJ_TEST_UTIL_H

/* Include this first in every test: it selects POSIX for popen(). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "runtime/blas_setup.h"

/* Every test program starts as bin/specrej does, so the suite runs the BLAS
 * core and OpenMP wait policy that users get (blas_setup.h): call first in
 * main(). */
static inline void test_blas_setup(int argc, char **argv) { blas_ensure_fast_core(argc, argv); }

/* Path of the specrej binary for tests that run the CLI. */
static inline const char *test_specrej_bin(void) {
    const char *b = getenv("SPECREJ_BIN");
    return b ? b : "bin/specrej";
}

/* Reads a whole file; returns malloc'd bytes (NUL-terminated) or NULL. */
static inline char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) { buf[n] = 0; if (len) *len = (size_t)n; }
    return buf;
}

/* Writes bytes to path; returns 0 on success. */
static inline int test_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

/* A scratch folder for one test program: test_scratch_make() creates
 * /tmp/specrej_TAG_XXXXXX in dir (256 bytes), test_scratch_path() names a file
 * in it (the last four results stay valid), test_scratch_remove() deletes it
 * and everything in it. */
static inline int test_scratch_make(char *dir, size_t cap, const char *tag) {
    snprintf(dir, cap, "/tmp/specrej_%s_XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}
static inline const char *test_scratch_path(const char *dir, const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}
static inline int test_scratch_remove(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs a shell command, captures stdout+stderr into *out (malloc'd), returns
 * the exit status. */
static inline int test_run(const char *cmd, char **out) {
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += r;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    int st = pclose(p);
    if (out) *out = buf; else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* base (a JSON object) with the members of the object text "{members}"
 * set in it: replaced where base has the key, added otherwise. JSON readers
 * refuse duplicate keys, so a test overrides a field this way. members may
 * start or end with ", ". Writes the result (unformatted) into out. */
static inline void test_json_set(const char *base, const char *members, char *out, size_t cap) {
    char wrapped[4096];
    const char *m = members;
    while (*m == ',' || *m == ' ') m++;
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == ',' || m[n - 1] == ' ')) n--;
    snprintf(wrapped, sizeof wrapped, "{%.*s}", (int)n, m);
    cJSON *b = cJSON_Parse(base), *x = cJSON_Parse(wrapped);
    if (!b || !x) fail_msg("test_json_set: bad JSON '%s' or '%s'", base, wrapped);
    while (x->child) {
        cJSON *item = cJSON_DetachItemViaPointer(x, x->child);
        char key[256]; /* cJSON frees item->string while replacing */
        snprintf(key, sizeof key, "%s", item->string);
        if (cJSON_GetObjectItemCaseSensitive(b, key))
            cJSON_ReplaceItemInObjectCaseSensitive(b, key, item);
        else
            cJSON_AddItemToObject(b, key, item);
    }
    char *s = cJSON_PrintUnformatted(b);
    snprintf(out, cap, "%s", s);
    free(s);
    cJSON_Delete(b);
    cJSON_Delete(x);
}

/* Undoes the escaping of tools/ text fixtures (\n, \t, \\, \xHH) in place and
 * returns the length; a bad escape fails the test. */
static inline int test_hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static inline size_t test_unescape(char *s) {
    size_t n = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] != '\\') {
            s[n++] = s[i];
            continue;
        }
        char c = s[++i];
        if (c == 'n') s[n++] = '\n';
        else if (c == 't') s[n++] = '\t';
        else if (c == '\\') s[n++] = '\\';
        else if (c == 'x') {
            int hi = test_hexval(s[i + 1]), lo = hi >= 0 ? test_hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) fail_msg("bad escape \\x%.2s", s + i + 1);
            s[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else fail_msg("bad escape \\%c", c);
    }
    return n;
}

/* ---- one tiny Llama for the tests that write checkpoints: dim 8, 1 layer,
 * 2 heads, 1 kv head, vocab 10, one .safetensors file of F32 tensors ---- */

typedef struct {
    const char *name;
    long rows, cols; /* cols 0: 1-D */
} TSpec;

#define TEST_TINY_MAX 32

/* A tensor list: the tiny model's (test_tiny), then any extras
 * (test_tiny_add); value(name, k) fills element k of a tensor (NULL:
 * test_tiny_value, small deterministic weights). */
typedef struct {
    TSpec t[TEST_TINY_MAX];
    int n;
    float (*value)(const char *name, size_t k);
    int skip_lm_head; /* leave lm_head.weight out (a tied or headless model) */
} StSpec;

static const TSpec TEST_TINY_TENSORS[] = {
    {"model.embed_tokens.weight", 10, 8},
    {"model.layers.0.input_layernorm.weight", 8, 0},
    {"model.layers.0.self_attn.q_proj.weight", 8, 8},
    {"model.layers.0.self_attn.k_proj.weight", 4, 8},
    {"model.layers.0.self_attn.v_proj.weight", 4, 8},
    {"model.layers.0.self_attn.o_proj.weight", 8, 8},
    {"model.layers.0.post_attention_layernorm.weight", 8, 0},
    {"model.layers.0.mlp.gate_proj.weight", 16, 8},
    {"model.layers.0.mlp.up_proj.weight", 16, 8},
    {"model.layers.0.mlp.down_proj.weight", 8, 16},
    {"model.norm.weight", 8, 0},
    {"lm_head.weight", 10, 8},
};
#define N_TINY ((int)(sizeof TEST_TINY_TENSORS / sizeof TEST_TINY_TENSORS[0]))

/* Its config.json: the members alone (a test that writes raw text, even a
 * duplicate key, appends its own) and the object (to extend with
 * test_json_set). */
#define TEST_TINY_CONFIG_MEMBERS                                                      \
    "\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8,"                 \
    " \"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2," \
    " \"num_key_value_heads\": 1, \"vocab_size\": 10, \"max_position_embeddings\": 16"
#define TEST_TINY_CONFIG "{" TEST_TINY_CONFIG_MEMBERS "}"

static inline StSpec test_tiny(void) {
    StSpec s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < N_TINY; i++) s.t[s.n++] = TEST_TINY_TENSORS[i];
    return s;
}

static inline void test_tiny_add(StSpec *s, const char *name, long rows, long cols) {
    assert_true(s->n < TEST_TINY_MAX);
    s->t[s->n++] = (TSpec){name, rows, cols};
}

static inline float test_tiny_value(size_t k) {
    return (float)((int)(k * 7919 % 97) - 48) / 97.0f;
}

/* Writes s as one .safetensors file at path. */
static inline void test_tiny_write(const char *path, const StSpec *s) {
    char header[8192];
    size_t off = 0, hl = 0, start[TEST_TINY_MAX];
    hl += (size_t)snprintf(header + hl, sizeof header - hl, "{");
    for (int i = 0; i < s->n; i++) {
        if (s->skip_lm_head && strcmp(s->t[i].name, "lm_head.weight") == 0) continue;
        long n = s->t[i].rows * (s->t[i].cols ? s->t[i].cols : 1);
        char shape[64];
        if (s->t[i].cols) snprintf(shape, sizeof shape, "[%ld, %ld]", s->t[i].rows, s->t[i].cols);
        else snprintf(shape, sizeof shape, "[%ld]", s->t[i].rows);
        hl += (size_t)snprintf(header + hl, sizeof header - hl,
                               "%s\"%s\": {\"dtype\": \"F32\", \"shape\": %s, "
                               "\"data_offsets\": [%zu, %zu]}",
                               hl > 1 ? ", " : "", s->t[i].name, shape, off, off + 4 * (size_t)n);
        start[i] = off;
        off += 4 * (size_t)n;
    }
    hl += (size_t)snprintf(header + hl, sizeof header - hl, "}");
    assert_true(hl < sizeof header);
    size_t total = 8 + hl + off;
    unsigned char *buf = calloc(1, total);
    assert_non_null(buf);
    for (int b = 0; b < 8; b++) buf[b] = (unsigned char)((uint64_t)hl >> (8 * b));
    memcpy(buf + 8, header, hl);
    for (int i = 0; i < s->n; i++) {
        if (s->skip_lm_head && strcmp(s->t[i].name, "lm_head.weight") == 0) continue;
        size_t n = (size_t)(s->t[i].rows * (s->t[i].cols ? s->t[i].cols : 1));
        for (size_t k = 0; k < n; k++) {
            float v = s->value ? s->value(s->t[i].name, k) : test_tiny_value(k);
            memcpy(buf + 8 + hl + start[i] + 4 * k, &v, 4);
        }
    }
    assert_int_equal(test_write_file(path, buf, total), 0);
    free(buf);
}

#endif
