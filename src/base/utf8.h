/* utf8.h - making byte strings safe to put in JSON text.
 *
 * Byte-level BPE can stop a response in the middle of a character, and a
 * prompt given on the command line can hold any bytes; JSON text must be
 * valid UTF-8, or readers such as Python's json refuse the whole file.
 *
 * Contract: utf8_sanitize() returns a malloc'd, NUL-terminated copy of
 * s[0..len) in which every byte that does not begin a well-formed UTF-8
 * sequence (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF) and every NUL is replaced by U+FFFD, and sets *replaced to the
 * number of replacements; NULL (err filled) only when out of memory.
 * utf8_char_len() is the same well-formedness test, one character.
 */
#ifndef SPECREJ_UTF8_H
#define SPECREJ_UTF8_H

#include <stddef.h>

#include "base/error.h"

char *utf8_sanitize(const char *s, size_t len, size_t *replaced, SrError *err);
/* Length of the well-formed UTF-8 sequence that starts at s (n > 0 bytes
 * left; NUL counts as one), or 0 when none does. */
size_t utf8_char_len(const char *s, size_t n);

#endif
