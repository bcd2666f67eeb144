/* cmd_gold.c - `specrej gold --text STRING [--lexicon PATH]`: prints the
 * gold judge's score of the text (an integer). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "text/gold.h"

int cmd_gold(int argc, char **argv, SrError *err) {
    const char *text = NULL, *lexicon = NULL;
    char def[4096];
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = args_take_value(argc, argv, &i, "--text", NULL, &text, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, "--lexicon", NULL, &lexicon, err)) != 0) {
            if (r < 0) return ARGS_USAGE;
            continue;
        }
        if (args_is_flag(argv[i], "--help", "-h")) {
            printf("usage: specrej gold --text STRING [--lexicon PATH]\n"
                   "  Prints the gold judge's score of the text: the sum of its words' AFINN-165\n"
                   "  valences (an integer).\n"
                   "  --text STRING         the text to judge\n"
                   "  --lexicon PATH        the lexicon (default " GOLD_DEFAULT_LEXICON ")\n"
                   "example:\n"
                   "  specrej gold --text 'She was happy and kind'\n");
            return 0;
        }
        return args_usage(err, "gold: unknown argument '%s' (usage: gold --text STRING "
                             "[--lexicon PATH])", argv[i]);
    }
    if (!text) return args_usage(err, "gold: --text is required");
    GoldJudge *g = NULL;
    if (!lexicon && gold_default_lexicon(def, sizeof def, err) != 0) return -1;
    if (gold_load(lexicon ? lexicon : def, &g, err) != 0) return -1;
    printf("%.0f\n", gold_score(g, text, strlen(text)));
    gold_free(g);
    return 0;
}
