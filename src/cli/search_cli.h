/* search_cli.h - the command-line front end shared by `generate`, `bon`,
 * `spr`, `record` and `replay`. Text lives only in the CLI; the search
 * itself works on token ids. Its rooms: the flags (search_opts.h, help in
 * search_usage.h), what a run holds (search_session.h), a finished run's
 * output (search_report.h), one prompt's run (search_prompt.h), record and
 * replay (search_record.h), batch mode (search_batch.h). */
#ifndef SPECREJ_SEARCH_CLI_H
#define SPECREJ_SEARCH_CLI_H

#include "base/error.h"
#include "cli/search_method.h"
#include "search/record.h"
#include "search/search.h"

int search_cli_main(SearchCliMethod method, int argc, char **argv, SrError *err);

/* What a replay kept in memory hands back: each decision point as it is
 * made, then the result (with its answer, res->best >= 0) and the record. */
typedef struct ReplayHooks {
    DecisionFn on_decision; /* NULL: none */
    int (*on_result)(void *user, const SearchResult *res, const Record *rec, SrError *err);
    void *user;
} ReplayHooks;

/* A replay (argv as `specrej replay`'s, argv[0] the command's name) whose
 * result stays in memory: nothing is written (no --json or --trace; no
 * progress line), --explain still tells it on stderr. Fails as the replay
 * command would (a flag's usage error included), or when no candidate
 * finished. compare runs its sides through this. */
int search_cli_replay(int argc, char **argv, const ReplayHooks *hooks, SrError *err);

#endif
