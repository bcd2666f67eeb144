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

int search_cli_main(SearchCliMethod method, int argc, char **argv, SrError *err);

#endif
