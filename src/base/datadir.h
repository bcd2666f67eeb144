/* datadir.h - where specrej's shipped data (the gold lexicon, the Austen
 * models) lives, found from the binary, never from the working directory:
 * a run started in any folder judges and loads the same files (#22).
 *
 * The data directory is, first found:
 *   1. $SPECREJ_DATA, when set (a non-empty folder name);
 *   2. in the source tree, the `data` folder above the running binary's
 *      folder (bin/specrej -> data/; build/tests/x -> data/), found through
 *      /proc/self/exe (argv[0] elsewhere);
 *   3. an installed tree, BIN/../share/specrej (so a DESTDIR staging or a
 *      moved prefix still works);
 *   4. the folder `make install` compiled in (SPECREJ_DATADIR, e.g.
 *      /usr/local/share/specrej).
 * None found is an error naming where it looked. */
#ifndef SPECREJ_DATADIR_H
#define SPECREJ_DATADIR_H

#include <stddef.h>

#include "base/error.h"

/* Remembers argv[0], used where /proc/self/exe is not available. */
void datadir_set_argv0(const char *argv0);

/* DATA/rel in out (cap bytes), or -1 with err filled. */
int datadir_path(const char *rel, char *out, size_t cap, SrError *err);

/* A shipped model named by its folder's name alone (austen-lm, austen-rm,
 * austen-vrm), so that `--model austen-lm` works from any folder: when name
 * holds no '/', is not a path that exists here, and DATA/name exists, its
 * path is put in out and 1 returned; otherwise 0 (name is used as given). */
int datadir_shipped(const char *name, char *out, size_t cap);

#endif
