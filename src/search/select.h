/* select.h - how the answer is chosen among the finished candidates.
 *
 * argmax (the default, and the only rule before issue 26): the highest
 * score, ties to the lower index. soft (Soft Best-of-N, Verdun et al. 2025,
 * "Soft Best-of-n Sampling for Model Alignment"): one draw among the
 * finished candidates with probability softmax(score / lambda); as lambda
 * shrinks it becomes argmax (ties then drawn evenly), as it grows a uniform
 * pick, which hedges against a reward model that is only a proxy.
 *
 * The draw comes from a stream of the run's seed that no candidate uses
 * (index 2^64 - 1; candidates are numbered from 0 and stay below 2^20), so
 * it changes no token and is the same for every batch, thread count and
 * machine: the weights use sr_expf (fastexp.h), never libm. */
#ifndef SPECREJ_SELECT_H
#define SPECREJ_SELECT_H

#include <stdint.h>

#include "base/error.h"

typedef enum SelectRule { SELECT_ARGMAX = 0, SELECT_SOFT = 1 } SelectRule;

typedef struct SelectParams {
    SelectRule rule;
    double lambda; /* soft: the softmax temperature, in the score's units (> 0, finite) */
} SelectParams;

/* A zeroed SelectParams is argmax. Fails on a soft rule whose lambda is
 * not a finite number > 0, naming --lambda. */
int select_check(const SelectParams *sp, SrError *err);

/* The chosen index among n, only where eligible[i] (a finished, scored,
 * finite candidate); -1 when none is. */
int select_pick(const SelectParams *sp, const double *scores, const unsigned char *eligible,
                int n, uint64_t seed);

/* "argmax", "soft" */
const char *select_rule_name(SelectRule r);

#endif
