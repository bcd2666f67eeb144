/* cmd_detokenize.c - `specrej detokenize --tokenizer PATH --ids 1,2,3
 * [--model MODEL.bin | --vocab-size N]`: prints the text of the ids exactly
 * (bytes as decoded, even invalid UTF-8), then one "\n". PATH as for
 * tokenize. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "tokenizer.h"

#define USAGE "usage: detokenize --tokenizer PATH --ids 1,2,3 [--model MODEL.bin | --vocab-size N]"

int cmd_detokenize(int argc, char **argv, SrError *err) {
    const char *path = NULL, *list = NULL, *model = NULL, *vs = NULL;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = args_take_value(argc, argv, &i, "--tokenizer", NULL, &path, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, "--ids", NULL, &list, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, "--model", NULL, &model, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, "--vocab-size", NULL, &vs, err)) != 0) {
            if (r < 0) return -1;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0) {
            printf("%s\n", USAGE);
            return 0;
        }
        return sr_fail(err, "detokenize: unknown argument '%s' (%s)", argv[i], USAGE);
    }
    if (!path || !list) return sr_fail(err, "detokenize: --tokenizer and --ids are required");
    long long vocab = 0;
    if (vs && args_parse_int("--vocab-size", vs, 1, INT_MAX, &vocab, err) != 0) return -1;
    int *ids = NULL, n = 0;
    if (list[0] && args_parse_int_list("--ids", list, 0, INT_MAX, &ids, &n, err) != 0) return -1;
    Tokenizer *t = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = tokenizer_load_for_model(path, model, (int)vocab, &t, err);
    if (rc == 0) rc = tokenizer_decode(t, ids, n, &text, &len, err);
    if (rc == 0 && (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF))
        rc = sr_fail(err, "detokenize: cannot write to stdout");
    free(text);
    free(ids);
    tokenizer_free(t);
    return rc;
}
