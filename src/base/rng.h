/* rng.h - per-candidate random streams.
 *
 * Candidate i of a run with seed s draws from its own stream, seeded from
 * (s, i) alone, so its tokens never depend on which other candidates exist,
 * how they are batched, or how many threads run. One draw = one uniform
 * double in [0, 1); the decoders take exactly one draw per sampled token. */
#ifndef SPECREJ_RNG_H
#define SPECREJ_RNG_H

#include <stdint.h>

typedef struct Rng {
    uint64_t state;
} Rng;

/* The stream of candidate `index` for run seed `seed`. */
Rng rng_stream(uint64_t seed, uint64_t index);
/* The stream of the k-th child (k >= 1) forked from a candidate whose
 * stream is `parent` now: rng_stream(parent's state, k) over a domain of
 * its own, so it depends on the parent's stream and k alone (not on the
 * batch, the threads or the other candidates). The parent's stream is not
 * advanced: a candidate draws the same tokens whether or not it forks. */
Rng rng_fork(const Rng *parent, uint64_t k);
/* Next 64 random bits (splitmix64). */
uint64_t rng_next(Rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);

#endif
