/* TEMPORARY placeholder: replaced by the real implementation. */
#include "commands.h"

int cmd_info(int argc, char **argv, SrError *err) {
    (void)argc;
    (void)argv;
    return sr_fail(err, "info: not implemented yet");
}
