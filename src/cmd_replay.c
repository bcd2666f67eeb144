/* specrej replay: a bon or spr run simulated from a record file, with the
 * live run's output (src/replay.h). */
#include "commands.h"
#include "search_cli.h"

int cmd_replay(int argc, char **argv, SrError *err) {
    return search_cli_main(SEARCH_CLI_REPLAY, argc, argv, err);
}
