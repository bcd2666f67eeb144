/* TEMPORARY placeholder: replaced by the real implementation. */
#include "commands.h"

int cmd_spr(int argc, char **argv, SrError *err) {
    (void)argc;
    (void)argv;
    return sr_fail(err, "spr: not implemented yet");
}
