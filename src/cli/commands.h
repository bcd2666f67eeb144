/* commands.h - the CLI subcommands. Each lives in src/cli/cmd_NAME.c (tokenize
 * and detokenize share src/cli/cmd_tokenize.c, as they share their flags),
 * except the search commands (generate, bon, spr, record, replay), which
 * main's table sends to search_cli_main (search_cli.h) with their method.
 * Each parses its own flags, and returns 0, or -1 with err filled (main prints
 * "specrej: ..." and exits 1), or ARGS_USAGE (args.h) when the command line
 * itself is wrong (main prints the same and exits 2). Output goes to stdout. */
#ifndef SPECREJ_COMMANDS_H
#define SPECREJ_COMMANDS_H

#include "base/error.h"

typedef int (*CommandFn)(int argc, char **argv, SrError *err);

int cmd_info(int argc, char **argv, SrError *err);
int cmd_forward(int argc, char **argv, SrError *err);
int cmd_tokenize(int argc, char **argv, SrError *err);
int cmd_detokenize(int argc, char **argv, SrError *err);
int cmd_gold(int argc, char **argv, SrError *err);
int cmd_compare(int argc, char **argv, SrError *err);
int cmd_view(int argc, char **argv, SrError *err);
int cmd_explore(int argc, char **argv, SrError *err);

#endif
