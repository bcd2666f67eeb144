/* utf8.c - byte strings made safe for JSON text: invalid UTF-8 becomes
 * U+FFFD, counted (utf8.h). */
#include "base/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed sequence at s (n bytes left), or 0. */
static size_t sequence_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c >= 0x01 && c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;            /* no overlong forms */
    else if (c == 0xED) len = 3, hi = 0x9F;            /* no surrogates */
    else if (c >= 0xE1 && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;            /* nothing above U+10FFFF */
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

size_t utf8_char_len(const char *s, size_t n) {
    return s[0] == 0 ? 1 : sequence_len((const unsigned char *)s, n);
}

char *utf8_sanitize(const char *s, size_t len, size_t *replaced, SrError *err) {
    /* every byte becomes at most the 3 bytes of U+FFFD */
    char *out = sr_malloc_array(len > (SIZE_MAX - 1) / 3 ? SIZE_MAX : 3 * len + 1, 1, err);
    if (!out) return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    *replaced = 0;
    for (size_t i = 0; i < len;) {
        size_t n = sequence_len(u + i, len - i);
        if (n) {
            memcpy(out + o, u + i, n);
            o += n, i += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3, i++;
            (*replaced)++;
        }
    }
    out[o] = 0;
    return out;
}
