/* search_cli.h - the command-line front end shared by `generate`, `bon` and
 * `spr`: flag parsing, loading, prompt/stop ids, output. Text lives only
 * here; the search itself works on token ids. */
#ifndef SPECREJ_SEARCH_CLI_H
#define SPECREJ_SEARCH_CLI_H

#include "error.h"

typedef enum { SEARCH_CLI_GENERATE, SEARCH_CLI_BON, SEARCH_CLI_SPR } SearchCliMethod;

int search_cli_main(SearchCliMethod method, int argc, char **argv, SrError *err);

#endif
