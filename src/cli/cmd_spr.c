/* specrej spr: Speculative Rejection under a KV budget. */
#include "cli/commands.h"
#include "cli/search_cli.h"

int cmd_spr(int argc, char **argv, SrError *err) {
    return search_cli_main(SEARCH_CLI_SPR, argc, argv, err);
}
