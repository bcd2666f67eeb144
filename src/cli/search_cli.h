/* search_cli.h - the command-line front end shared by `generate`, `bon`,
 * `spr`, `record` and `replay`: flag parsing, loading, prompt/stop ids, output. Text lives only
 * here; the search itself works on token ids. */
#ifndef SPECREJ_SEARCH_CLI_H
#define SPECREJ_SEARCH_CLI_H

#include "base/error.h"

/* RECORD: Best-of-N that writes a record file (replay.h); REPLAY: a bon or
 * spr run simulated from one, whose output is the live run's. */
typedef enum {
    SEARCH_CLI_GENERATE,
    SEARCH_CLI_BON,
    SEARCH_CLI_SPR,
    SEARCH_CLI_RECORD,
    SEARCH_CLI_REPLAY
} SearchCliMethod;

int search_cli_main(SearchCliMethod method, int argc, char **argv, SrError *err);

#endif
