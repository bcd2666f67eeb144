/* cmd_tokenize.c - the tokenizer pair of commands, which share their flags:
 *
 *   specrej tokenize   --tokenizer PATH --text STRING [--model MODEL.bin | --vocab-size N]
 *   specrej detokenize --tokenizer PATH --ids 1,2,3   [--model MODEL.bin | --vocab-size N]
 *
 * tokenize prints the ids of the text on one line, space-separated (no
 * BOS/EOS added); detokenize prints the text of the ids exactly (bytes as
 * decoded, even invalid UTF-8), then one "\n". PATH is a tokenizer.json, a
 * model directory holding one, or a llama2.c tokenizer.bin, whose vocabulary
 * size comes from --vocab-size or the header of --model. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "text/tokenizer.h"

typedef struct {
    const char *path, *model, *value;
    long long vocab;
} TokFlags;

static void print_help(const char *name, const char *value_flag) {
    int enc = strcmp(value_flag, "--text") == 0;
    printf("usage: specrej %s --tokenizer PATH %s [--model MODEL.bin | --vocab-size N]\n"
           "  %s\n"
           "  --tokenizer PATH      a tokenizer.json, a model folder holding one, or a\n"
           "                        llama2.c tokenizer.bin\n"
           "  %s\n"
           "  --model MODEL.bin     llama2.c: the model whose header gives the vocabulary size\n"
           "  --vocab-size N        llama2.c: the vocabulary size\n"
           "example:\n"
           "  specrej %s --tokenizer data/austen-lm %s\n",
           name, enc ? "--text STRING" : "--ids 1,2,3",
           enc ? "Prints the ids of the text on one line (no BOS/EOS added)."
               : "Prints the text of the ids exactly as decoded, then a newline.",
           enc ? "--text STRING         the text to encode"
               : "--ids 1,2,3           the ids to decode",
           name, enc ? "--text 'It is a truth'" : "--ids 40,41,42");
}

/* Parses the shared flags plus the command's own value flag (--text or
 * --ids). Returns 1 when --help was printed. */
static int parse_flags(int argc, char **argv, const char *name, const char *value_flag,
                       const char *usage, TokFlags *f, SrError *err) {
    const char *vs = NULL;
    memset(f, 0, sizeof *f);
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = args_take_value(argc, argv, &i, "--tokenizer", NULL, &f->path, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, value_flag, NULL, &f->value, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, "--model", NULL, &f->model, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, "--vocab-size", NULL, &vs, err)) != 0) {
            if (r < 0) return ARGS_USAGE;
            continue;
        }
        if (args_is_flag(argv[i], "--help", "-h")) {
            print_help(name, value_flag);
            return 1;
        }
        return args_usage(err, "%s: unknown argument '%s' (%s)", name, argv[i], usage);
    }
    if (!f->path || !f->value)
        return args_usage(err, "%s: --tokenizer and %s are required", name, value_flag);
    if (vs && args_parse_int("--vocab-size", vs, 1, INT_MAX, &f->vocab, err) != 0)
        return ARGS_USAGE;
    return 0;
}

static int load(const TokFlags *f, Tokenizer **t, SrError *err) {
    return tokenizer_load_for_model(f->path, f->model, (int)f->vocab, t, err);
}

int cmd_tokenize(int argc, char **argv, SrError *err) {
    TokFlags f;
    Tokenizer *t = NULL;
    int rc = parse_flags(argc, argv, "tokenize", "--text",
                         "usage: tokenize --tokenizer PATH --text STRING "
                         "[--model MODEL.bin | --vocab-size N]",
                         &f, err);
    if (rc != 0) return rc < 0 ? rc : 0;
    if (load(&f, &t, err) != 0) return -1;
    IntVec ids = {0};
    rc = tokenizer_encode(t, f.value, strlen(f.value), &ids, err);
    for (int i = 0; rc == 0 && i < ids.len; i++) printf(i ? " %d" : "%d", ids.data[i]);
    if (rc == 0) printf("\n");
    intvec_free(&ids);
    tokenizer_free(t);
    return rc;
}

int cmd_detokenize(int argc, char **argv, SrError *err) {
    TokFlags f;
    Tokenizer *t = NULL;
    int rc = parse_flags(argc, argv, "detokenize", "--ids",
                         "usage: detokenize --tokenizer PATH --ids 1,2,3 "
                         "[--model MODEL.bin | --vocab-size N]",
                         &f, err);
    if (rc != 0) return rc < 0 ? rc : 0;
    int *ids = NULL, n = 0;
    char *text = NULL;
    size_t len = 0;
    /* the ids are checked before the (possibly large) tokenizer is loaded */
    if (f.value[0] && args_parse_int_list("--ids", f.value, 0, INT_MAX, &ids, &n, err) != 0)
        return ARGS_USAGE;
    if (rc == 0) rc = load(&f, &t, err);
    if (rc == 0) rc = tokenizer_decode(t, ids, n, &text, &len, err);
    if (rc == 0 && (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF))
        rc = sr_fail(err, "detokenize: cannot write to stdout");
    free(text);
    free(ids);
    tokenizer_free(t);
    return rc;
}
