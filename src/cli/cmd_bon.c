/* specrej bon: Best-of-N, in waves when N does not fit the KV budget. */
#include "cli/commands.h"
#include "cli/search_cli.h"

int cmd_bon(int argc, char **argv, SrError *err) {
    return search_cli_main(SEARCH_CLI_BON, argc, argv, err);
}
