/* fastexp.h - e^x in single precision with the same bits on every CPU, in a
 * form the compiler vectorizes.
 *
 * Contract: sr_expf(x) is within 2 ulp of e^x for x in [-87.3, 88]; below
 * that range it returns FLT_MIN's neighbourhood (about 1.2e-38, not 0),
 * above it e^88 (not infinity); NaN in gives NaN out.
 *
 * Why not libm's expf: glibc picks an implementation per CPU (FMA or not),
 * so its last bit may differ between machines, and a call per element keeps
 * SwiGLU and the attention softmax from vectorizing (they cost more than the
 * attention dot products at batch 128). This is Cody-Waite range reduction
 * (x = n ln2 + r, ln2 split in two so n ln2 is exact) and Cephes' degree-6
 * polynomial for e^r, written with plain multiplies and adds, which the build
 * never contracts into FMAs (-ffp-contract=off): one fixed sequence of
 * IEEE operations, whatever the CPU or the vector width. */
#ifndef SPECREJ_FASTEXP_H
#define SPECREJ_FASTEXP_H

#include <stdint.h>

static inline float sr_expf(float x) {
    const float hi = 88.0f, lo = -87.3365f; /* 2^n stays a normal float */
    float c = x > hi ? hi : x;
    c = c < lo ? lo : c;
    /* n = round(c / ln2): adding and removing 1.5 * 2^23 rounds to nearest */
    float n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = c - n * 0.693359375f;  /* ln2's upper part: n * it is exact */
    r = r - n * -2.12194440e-4f;     /* ln2 - 0.693359375 */
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * (r * r) + r + 1.0f;
    float nn = n == n ? n : 0.0f; /* NaN: keep the int conversion defined */
    union { int32_t i; float f; } scale = {((int32_t)nn + 127) * (1 << 23)};
    return x == x ? y * scale.f : x;
}

#endif
