/* simd.h - how the runtime's hot loops are compiled and when they go
 * parallel: shared by the forward pass (model.c) and the attention kernels
 * (attention.c), which must not see each other's types for it.
 */
#ifndef SPECREJ_SIMD_H
#define SPECREJ_SIMD_H

/* Work below which a loop runs on one thread: waking the team (futex
 * wake-ups under the passive wait policy, see blas_setup.h) costs more. */
#define PAR_MIN_FLOPS 200000.0

/* The hot loops are compiled for AVX-512 and AVX2 as well where the
 * toolchain can, and picked at load time (GCC function clones); each file's
 * comments say why every clone gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define SIMD_INLINE inline __attribute__((always_inline)) /* into each clone */
#else
#define SIMD_CLONES
#define SIMD_INLINE inline
#endif

#endif
