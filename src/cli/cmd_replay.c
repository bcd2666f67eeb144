/* specrej replay: a bon or spr run simulated from a record file, with the
 * live run's output (src/search/replay.h). */
#include "cli/commands.h"
#include "cli/search_cli.h"

int cmd_replay(int argc, char **argv, SrError *err) {
    return search_cli_main(SEARCH_CLI_REPLAY, argc, argv, err);
}
