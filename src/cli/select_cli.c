/* select_cli.c - --select and --lambda (select_cli.h). */
#include "cli/select_cli.h"

#include <float.h>
#include <string.h>

#include "cli/args.h"

int select_cli_take(SelectCli *c, int argc, char **argv, int *i, SrError *err) {
    int r = args_take_value(argc, argv, i, "--select", NULL, &c->rule, err);
    if (r != 0) return r;
    return args_take_value(argc, argv, i, "--lambda", NULL, &c->lambda, err);
}

int select_cli_resolve(const SelectCli *c, SelectParams *out, SrError *err) {
    *out = (SelectParams){SELECT_ARGMAX, 0};
    if (c->rule && strcmp(c->rule, "soft") == 0) out->rule = SELECT_SOFT;
    else if (c->rule && strcmp(c->rule, "argmax") != 0)
        return sr_fail(err, "--select: '%s' is not argmax or soft", c->rule);
    if (out->rule == SELECT_ARGMAX) {
        if (c->lambda) return sr_fail(err, "--lambda: has no effect without --select soft");
        return 0;
    }
    /* no default: lambda is in the reward's units, which differ by source */
    if (!c->lambda)
        return sr_fail(err, "--select soft: needs --lambda L (the softmax temperature, in the "
                            "score's units)");
    if (args_parse_double("--lambda", c->lambda, -DBL_MAX, DBL_MAX, 1, &out->lambda, err) != 0)
        return -1;
    return select_check(out, err);
}

void select_cli_usage(FILE *f) {
    fprintf(f, "  --select RULE         the answer among the finished: argmax (default, the\n"
               "                        best score) or soft (drawn with probability\n"
               "                        softmax(score / lambda), from the seed's own stream)\n"
               "  --lambda L            --select soft: the temperature, in the score's units\n");
}

cJSON *select_cli_json(const SelectParams *sp) {
    if (sp->rule == SELECT_ARGMAX) return NULL;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "rule", select_rule_name(sp->rule));
    cJSON_AddNumberToObject(j, "lambda", sp->lambda);
    return j;
}
