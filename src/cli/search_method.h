/* search_method.h - which search command a run is: the one enum that the
 * search front end's rooms (search_cli.h and the files it includes) share. */
#ifndef SPECREJ_SEARCH_METHOD_H
#define SPECREJ_SEARCH_METHOD_H

/* RECORD: Best-of-N that writes a record file (replay.h); REPLAY: a bon or
 * spr run simulated from one, whose output is the live run's. */
typedef enum {
    SEARCH_CLI_GENERATE,
    SEARCH_CLI_BON,
    SEARCH_CLI_SPR,
    SEARCH_CLI_RECORD,
    SEARCH_CLI_REPLAY
} SearchCliMethod;

#endif
