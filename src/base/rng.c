/* rng.c - per-candidate random streams (rng.h): candidate i's draws depend
 * on the seed and i alone. */
#include "base/rng.h"

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

Rng rng_stream(uint64_t seed, uint64_t index) {
    /* Hash the seed, fold in the index, hash again: neighbouring seeds and
     * indices land on unrelated points of the splitmix64 sequence. */
    uint64_t s = seed;
    uint64_t t = splitmix64(&s) ^ (index * 0xD1B54A32D192ED03ULL);
    Rng r = {splitmix64(&t)};
    return r;
}

Rng rng_fork(const Rng *parent, uint64_t k) {
    /* the constant keeps a child's stream off rng_stream(seed, i) for a
     * seed that happens to equal a parent's state */
    return rng_stream(parent->state ^ 0x6A09E667F3BCC909ULL, k);
}

uint64_t rng_next(Rng *r) { return splitmix64(&r->state); }

double rng_uniform(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
