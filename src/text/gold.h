/* gold.h - the gold judge: AFINN-165 lexicon score of a text.
 *
 * Rule (the same in tools/ Python, tested to agree): lower-case the text
 * (ASCII), split it into words = maximal runs of ASCII letters and
 * apostrophes (U+2019 counts as an apostrophe), strip apostrophes at both
 * ends of a word; score = sum of the lexicon valences of the words, where a
 * word right after a negator ("not", "no", "never", or a word ending in
 * "n't") counts with the opposite sign. Multi-word lexicon entries are not
 * used. */
#ifndef SPECREJ_GOLD_H
#define SPECREJ_GOLD_H

#include <stddef.h>

#include "base/error.h"

typedef struct GoldJudge GoldJudge;

/* The default lexicon: afinn-165.json in the shipped data folder
 * (base/datadir.h: beside the binary or where make install put it, never
 * the working directory). GOLD_DEFAULT_LEXICON is how help texts name it. */
#define GOLD_DEFAULT_LEXICON "DATA/afinn-165.json"
/* Its path in out (cap bytes), or -1 with err filled (no data folder). */
int gold_default_lexicon(char *out, size_t cap, SrError *err);

/* Loads the AFINN JSON object {"word": valence, ...}. */
int gold_load(const char *lexicon_path, GoldJudge **out, SrError *err);
void gold_free(GoldJudge *g);
double gold_score(const GoldJudge *g, const char *text, size_t len);

#endif
