/* TEMPORARY placeholder: replaced by the real implementation. */
#include "commands.h"

int cmd_tokenize(int argc, char **argv, SrError *err) {
    (void)argc;
    (void)argv;
    return sr_fail(err, "tokenize: not implemented yet");
}
