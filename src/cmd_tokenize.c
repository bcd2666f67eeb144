/* cmd_tokenize.c - `specrej tokenize --tokenizer PATH --text STRING
 * [--model MODEL.bin | --vocab-size N]`: prints the ids of the text on one
 * line, space-separated (no BOS/EOS added). PATH is a tokenizer.json, a
 * model directory holding one, or a llama2.c tokenizer.bin, whose
 * vocabulary size comes from --vocab-size or the header of --model. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "tokenizer.h"

#define USAGE "usage: tokenize --tokenizer PATH --text STRING [--model MODEL.bin | --vocab-size N]"

int cmd_tokenize(int argc, char **argv, SrError *err) {
    const char *path = NULL, *text = NULL, *model = NULL, *vs = NULL;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = args_take_value(argc, argv, &i, "--tokenizer", NULL, &path, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, "--text", NULL, &text, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, "--model", NULL, &model, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, "--vocab-size", NULL, &vs, err)) != 0) {
            if (r < 0) return -1;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0) {
            printf("%s\n", USAGE);
            return 0;
        }
        return sr_fail(err, "tokenize: unknown argument '%s' (%s)", argv[i], USAGE);
    }
    if (!path || !text) return sr_fail(err, "tokenize: --tokenizer and --text are required");
    long long vocab = 0;
    if (vs && args_parse_int("--vocab-size", vs, 1, INT_MAX, &vocab, err) != 0) return -1;
    Tokenizer *t = NULL;
    if (tokenizer_load_for_model(path, model, (int)vocab, &t, err) != 0) return -1;
    IntVec ids = {0};
    int rc = tokenizer_encode(t, text, strlen(text), &ids, err);
    for (int i = 0; rc == 0 && i < ids.len; i++) printf(i ? " %d" : "%d", ids.data[i]);
    if (rc == 0) printf("\n");
    intvec_free(&ids);
    tokenizer_free(t);
    return rc;
}
