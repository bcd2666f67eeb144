/* main.c - dispatches `specrej COMMAND [flags]` to src/cli/cmd_COMMAND.c, or
 * for a search command to search_cli_main with its method (commands.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/version.h"
#include "runtime/blas_setup.h"
#include "base/fileio.h"
#include "cli/args.h"
#include "base/datadir.h"
#include "cli/commands.h"
#include "cli/search_cli.h"

typedef struct {
    const char *name;
    CommandFn fn;           /* NULL: a search command, run by search_cli_main */
    SearchCliMethod method; /* a search command's (SEARCH); unused with fn */
    const char *summary;
} Command;

#define SEARCH(m) NULL, m
#define OWN(fn) fn, SEARCH_CLI_GENERATE

static const Command COMMANDS[] = {
    {"info", OWN(cmd_info), "describe a model and the BLAS in use"},
    {"forward", OWN(cmd_forward), "print logits (LM) or scores (RM) for token ids"},
    {"tokenize", OWN(cmd_tokenize), "print the ids of a text"},
    {"detokenize", OWN(cmd_detokenize), "print the text of ids"},
    {"gold", OWN(cmd_gold), "print the gold judge's (AFINN-165) score of a text"},
    /* candidate 0 of the seed: Best-of-N's candidate 0, token for token */
    {"generate", SEARCH(SEARCH_CLI_GENERATE), "sample a continuation of a prompt"},
    /* in waves when N does not fit the KV budget */
    {"bon", SEARCH(SEARCH_CLI_BON), "Best-of-N decoding"},
    {"spr", SEARCH(SEARCH_CLI_SPR), "Speculative Rejection decoding"},
    /* every candidate's tokens and prefix scores (docs/record-format.md) */
    {"record", SEARCH(SEARCH_CLI_RECORD), "Best-of-N that records every prefix's score for replay"},
    /* the live run's output, from a record (src/search/replay.h) */
    {"replay", SEARCH(SEARCH_CLI_REPLAY), "simulate a bon or spr run from a record, without a model"},
    {"compare", OWN(cmd_compare), "two policies over many records: a regression report"},
    {"view", OWN(cmd_view), "draw a run from its --trace file (HTML page or PNG)"},
    {"explore", OWN(cmd_explore), "a lesson page from a record: an alpha slider, step by step"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: specrej COMMAND [flags]   (specrej COMMAND --help for its flags)\n"
               "       specrej --version\n\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-11s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv) {
    datadir_set_argv0(argv[0]);
    blas_ensure_fast_core(argc, argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("specrej %s\n", SPECREJ_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        if (strcmp(argv[1], COMMANDS[i].name) != 0) continue;
        SrError err = {{0}};
        const Command *c = &COMMANDS[i];
        int rc = c->fn ? c->fn(argc - 1, argv + 1, &err)
                       : search_cli_main(c->method, argc - 1, argv + 1, &err);
        if (rc != 0) {
            fflush(stdout);
            fprintf(stderr, "specrej: %s\n", err.msg[0] ? err.msg : "failed");
            return rc == ARGS_USAGE ? 2 : 1;
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "specrej: stdout: write failed: %s\n", file_errstr(errno));
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "specrej: unknown command '%s' (try specrej --help)\n", argv[1]);
    return 2;
}
