/* fuzz_json.c - sr_json_parse (json.h), the one JSON entry point of every
 * reader. Accepted text: no object has two equal keys (checked pairwise
 * here, independently of the sorted check), the parser's node count is
 * within JSON_MAX_VALUES and within json_count_values' bound. Refused text:
 * one line naming the file. */
#include "fuzz_util.h"

#include <cJSON.h>

#include "base/fileio.h"
#include "base/json.h"

static size_t json_nodes(const cJSON *v) {
    size_t n = 0;
    for (; v; v = v->next) n += 1 + json_nodes(v->child);
    return n;
}

static int json_keys_unique(const cJSON *v) {
    for (; v; v = v->next) {
        if (cJSON_IsObject(v))
            for (const cJSON *a = v->child; a; a = a->next)
                for (const cJSON *b = a->next; b; b = b->next)
                    if (strcmp(a->string, b->string) == 0) return 0;
        if (!json_keys_unique(v->child)) return 0;
    }
    return 1;
}

static void fuzz_json(const uint8_t *data, size_t size) {
    cJSON *root = NULL;
    SrError err = {{0}};
    if (sr_json_parse((const char *)data, size, "f.json", NULL, &root, &err) != 0) {
        FUZZ_CHECK(root == NULL);
        FUZZ_CHECK(strncmp(err.msg, "f.json: ", 8) == 0 && !strchr(err.msg, '\n'));
        return;
    }
    FUZZ_CHECK(root != NULL);
    size_t n = json_nodes(root);
    FUZZ_CHECK(n <= JSON_MAX_VALUES && n <= json_count_values((const char *)data, size));
    FUZZ_CHECK(json_keys_unique(root));
    FUZZ_CHECK(sr_json_check_unique_keys(root, "f.json", &err) == 0);
    cJSON_Delete(root);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_json(data, size);
    return 0;
}
#endif
