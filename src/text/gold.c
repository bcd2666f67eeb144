/* gold.c - the AFINN gold judge (rule in gold.h; tools/train/gold.py is the twin). */
#include "text/gold.h"

#include "base/datadir.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"

#define GOLD_MAX_FILE (16u << 20)
#define GOLD_MAX_WORD 64 /* longer words cannot be in the lexicon */

typedef struct {
    char *word;
    int valence;
} GoldEntry;

struct GoldJudge {
    GoldEntry *entries; /* sorted by word, for bsearch */
    size_t n;
    char *words;        /* storage for every entry's word */
};

static int entry_cmp(const void *a, const void *b) {
    return strcmp(((const GoldEntry *)a)->word, ((const GoldEntry *)b)->word);
}

static int valid_valence(const cJSON *v) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) &&
           fabs(v->valuedouble) <= 100.0;
}

static int fill_entries(GoldJudge *g, const cJSON *root, const char *path, SrError *err) {
    size_t count = 0, bytes = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!valid_valence(c))
            return sr_fail(err, "%s: entry '%s' is not an integer valence in [-100, 100]", path, c->string);
        count++;
        bytes += strlen(c->string) + 1;
    }
    g->entries = sr_malloc_array(count ? count : 1, sizeof *g->entries, err);
    g->words = sr_malloc_array(bytes ? bytes : 1, 1, err);
    if (!g->entries || !g->words) return -1;
    char *dst = g->words;
    for (const cJSON *c = root->child; c; c = c->next) {
        size_t len = strlen(c->string) + 1;
        memcpy(dst, c->string, len);
        g->entries[g->n].word = dst;
        g->entries[g->n].valence = (int)c->valuedouble;
        g->n++;
        dst += len;
    }
    qsort(g->entries, g->n, sizeof *g->entries, entry_cmp);
    return 0;
}

int gold_load(const char *lexicon_path, GoldJudge **out, SrError *err) {
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    if (file_read_all(lexicon_path, GOLD_MAX_FILE, &text, &len, err) != 0) return -1;
    cJSON *root;
    int parsed = sr_json_parse(text, len, lexicon_path, "not a JSON object of word valences",
                               &root, err);
    free(text);
    if (parsed != 0) return -1;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sr_fail(err, "%s: not a JSON object of word valences", lexicon_path);
    }
    GoldJudge *g = sr_calloc(1, sizeof *g, err);
    if (!g || fill_entries(g, root, lexicon_path, err) != 0) {
        cJSON_Delete(root);
        gold_free(g);
        return -1;
    }
    cJSON_Delete(root);
    *out = g;
    return 0;
}

void gold_free(GoldJudge *g) {
    if (!g) return;
    free(g->entries);
    free(g->words);
    free(g);
}

static int is_letter(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Byte length of the apostrophe at s[i] (' or UTF-8 U+2019), 0 if none. */
static size_t apostrophe_len(const unsigned char *s, size_t i, size_t end) {
    if (s[i] == '\'') return 1;
    if (i + 2 < end && s[i] == 0xE2 && s[i + 1] == 0x80 && s[i + 2] == 0x99) return 3;
    return 0;
}

/* Length of the apostrophe ending just before s[end], 0 if none. */
static size_t apostrophe_before(const unsigned char *s, size_t begin, size_t end) {
    if (end > begin && s[end - 1] == '\'') return 1;
    if (end >= begin + 3 && s[end - 3] == 0xE2 && s[end - 2] == 0x80 && s[end - 1] == 0x99)
        return 3;
    return 0;
}

/* Bytes of the letter or apostrophe at s[i], 0 when it ends a word. */
static size_t word_unit(const unsigned char *s, size_t i, size_t len) {
    return is_letter(s[i]) ? 1 : apostrophe_len(s, i, len);
}

static int lower_eq(unsigned char c, char want) {
    return (c | 0x20) == (unsigned char)want && is_letter(c);
}

/* Ends with n't (any apostrophe form, any case). */
static int ends_with_nt(const unsigned char *s, size_t b, size_t e) {
    if (e - b < 3 || !lower_eq(s[e - 1], 't')) return 0;
    size_t ap = apostrophe_before(s, b, e - 1);
    return ap && e - 1 - ap > b && lower_eq(s[e - 2 - ap], 'n');
}

/* Writes the lower-cased word with ASCII apostrophes into buf; returns its
 * length, or 0 when it does not fit (then it cannot be in the lexicon). */
static size_t normalize(const unsigned char *s, size_t b, size_t e, char *buf) {
    size_t n = 0;
    for (size_t i = b; i < e; n++) {
        if (n + 1 >= GOLD_MAX_WORD) {
            buf[0] = 0;
            return 0;
        }
        size_t ap = apostrophe_len(s, i, e);
        if (ap) {
            buf[n] = '\'';
            i += ap;
        } else {
            buf[n] = (char)(s[i] | 0x20);
            i++;
        }
    }
    buf[n] = 0;
    return n;
}

static int lookup(const GoldJudge *g, const char *word) {
    GoldEntry key = {(char *)word, 0};
    const GoldEntry *hit = bsearch(&key, g->entries, g->n, sizeof key, entry_cmp);
    return hit ? hit->valence : 0;
}

double gold_score(const GoldJudge *g, const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    long long total = 0;
    int negate = 0;
    size_t i = 0;
    while (i < len) {
        size_t b = i, unit;
        while (i < len && (unit = word_unit(s, i, len)) > 0) i += unit;
        if (i == b) {
            i++;
            continue;
        }
        size_t e = i, ap;
        while (b < e && (ap = apostrophe_len(s, b, e))) b += ap;
        while (e > b && (ap = apostrophe_before(s, b, e))) e -= ap;
        if (b == e) continue; /* apostrophes only: no word */
        char word[GOLD_MAX_WORD];
        int v = normalize(s, b, e, word) ? lookup(g, word) : 0;
        total += negate ? -v : v;
        negate = ends_with_nt(s, b, e) || strcmp(word, "not") == 0 ||
                 strcmp(word, "no") == 0 || strcmp(word, "never") == 0;
    }
    return (double)total;
}

int gold_default_lexicon(char *out, size_t cap, SrError *err) {
    SrError e = {{0}};
    if (datadir_path("afinn-165.json", out, cap, &e) != 0)
        return sr_fail(err, "gold judge: %s (or give --lexicon PATH)", e.msg);
    return 0;
}
