/* select_cli.h - the answer-selection flags of bon, spr and replay
 * (search/select.h): --select argmax|soft and --lambda L, their --help
 * lines, and params.select for --json and --trace. */
#ifndef SPECREJ_SELECT_CLI_H
#define SPECREJ_SELECT_CLI_H

#include <cJSON.h>
#include <stdio.h>

#include "base/error.h"
#include "search/select.h"

typedef struct SelectCli {
    const char *rule;   /* --select, as typed (NULL: not given) */
    const char *lambda; /* --lambda, as typed (NULL: not given) */
} SelectCli;

/* Takes argv[*i] (and its value) if it is --select or --lambda: 1 (and *i
 * advanced), 0 if not one, -1 when the value is missing. */
int select_cli_take(SelectCli *c, int argc, char **argv, int *i, SrError *err);
/* The rule and lambda, checked: an unknown rule, --lambda without --select
 * soft (it would have no effect), soft without --lambda, and a lambda that
 * is not a finite number > 0 are errors naming the flag. */
int select_cli_resolve(const SelectCli *c, SelectParams *out, SrError *err);
void select_cli_usage(FILE *f);
/* params.select: {"rule": "soft", "lambda": L}; NULL for argmax, whose
 * output stays as it was before the flag existed. */
cJSON *select_cli_json(const SelectParams *sp);

#endif
