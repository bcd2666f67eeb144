/* specrej generate: one sampled continuation (candidate 0 of the seed, so it
 * equals Best-of-N's candidate 0 token for token). */
#include "cli/commands.h"
#include "cli/search_cli.h"

int cmd_generate(int argc, char **argv, SrError *err) {
    return search_cli_main(SEARCH_CLI_GENERATE, argc, argv, err);
}
