/* json.c - the one JSON reader (json.h): capped nesting and size, duplicate
 * keys refused. */
#include "base/json.h"

#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"

static int cmp_key(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int dup_fail(const char *path, const char *key, SrError *err) {
    return sr_fail(err, "%s: key \"%.60s\" appears twice in one JSON object (refused: JSON "
                        "readers disagree on which one counts)", path, key);
}

/* The keys of one object: pairwise when few, sorted when many (a vocab has
 * 10^5 of them). */
static int object_unique(const cJSON *obj, const char *path, SrError *err) {
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next) n++;
    if (n < 2) return 0;
    if (n <= 16) {
        for (const cJSON *a = obj->child; a; a = a->next)
            for (const cJSON *b = a->next; b; b = b->next)
                if (strcmp(a->string, b->string) == 0) return dup_fail(path, a->string, err);
        return 0;
    }
    const char **keys = sr_malloc_array(n, sizeof *keys, err);
    if (!keys) return -1;
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next) keys[i++] = c->string;
    qsort(keys, n, sizeof *keys, cmp_key);
    int rc = 0;
    for (i = 1; i < n && rc == 0; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0) rc = dup_fail(path, keys[i], err);
    free(keys);
    return rc;
}

/* Recursion depth is bounded by cJSON's nesting limit (CJSON_NESTING_LIMIT). */
int sr_json_check_unique_keys(const cJSON *v, const char *path, SrError *err) {
    for (; v; v = v->next) {
        if (cJSON_IsObject(v) && object_unique(v, path, err) != 0) return -1;
        if ((cJSON_IsObject(v) || cJSON_IsArray(v)) &&
            sr_json_check_unique_keys(v->child, path, err) != 0)
            return -1;
    }
    return 0;
}

int sr_json_parse(const char *text, size_t len, const char *path, const char *syntax_msg,
                  cJSON **out, SrError *err) {
    *out = NULL;
    if (json_count_values(text, len) > JSON_MAX_VALUES)
        return sr_fail(err, "%s: JSON has more than %u values (a limit against hostile files)",
                       path, JSON_MAX_VALUES);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        if (syntax_msg) return sr_fail(err, "%s: %s", path, syntax_msg);
        size_t off = (end && end >= text && end <= text + len) ? (size_t)(end - text) : 0;
        return sr_fail(err, "%s: invalid JSON near byte %zu", path, off);
    }
    /* one value and nothing after it but blanks: "{...} garbage" is not
     * JSON, and cJSON alone would stop reading at the garbage */
    size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
    while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' ||
                        text[at] == '\r'))
        at++;
    if (at < len) {
        cJSON_Delete(root);
        return sr_fail(err, "%s: bytes after the JSON value (from byte %zu)", path, at);
    }
    if (sr_json_check_unique_keys(root, path, err) != 0) {
        cJSON_Delete(root);
        return -1;
    }
    *out = root;
    return 0;
}
