/* specrej record: Best-of-N that writes every candidate's tokens and every
 * prefix's score to a record file (src/search/replay.h, docs/record-format.md). */
#include "cli/commands.h"
#include "cli/search_cli.h"

int cmd_record(int argc, char **argv, SrError *err) {
    return search_cli_main(SEARCH_CLI_RECORD, argc, argv, err);
}
