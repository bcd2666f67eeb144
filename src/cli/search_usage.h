/* search_usage.h - the --help text of generate, bon, spr, record and replay. */
#ifndef SPECREJ_SEARCH_USAGE_H
#define SPECREJ_SEARCH_USAGE_H

#include "cli/search_method.h"

/* Prints method's usage to stdout. */
void search_cli_usage(SearchCliMethod m);

#endif
