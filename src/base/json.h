/* json.h - the one way specrej parses JSON (config.json, tokenizer.json,
 * tokenizer_config.json, generation_config.json, safetensors headers and
 * shard indexes, the gold lexicon), so that every file gets the same two
 * policies:
 *  - a value-count cap (JSON_MAX_VALUES, fileio.h), checked without parsing,
 *    so that hostile text cannot make cJSON allocate gigabytes of nodes;
 *  - duplicate keys in any object are refused: cJSON keeps the first of two
 *    equal keys and Python's json (what transformers uses) the last, so a
 *    file with a repeated "rope_theta" means two different models. */
#ifndef SPECREJ_JSON_H
#define SPECREJ_JSON_H

#include <cJSON.h>
#include <stddef.h>

#include "base/error.h"

/* Parses text[0..len) into *out (free with cJSON_Delete). On failure *out is
 * NULL and err holds "<path>: <problem>"; for a syntax error the problem is
 * syntax_msg, or "invalid JSON near byte N" when syntax_msg is NULL. */
int sr_json_parse(const char *text, size_t len, const char *path, const char *syntax_msg,
                  cJSON **out, SrError *err);

/* The duplicate-key check alone: 0, or -1 with err naming the first
 * repeated key (in byte order) of the first object that has one. */
int sr_json_check_unique_keys(const cJSON *root, const char *path, SrError *err);

#endif
