/* blas_setup.c - OpenBLAS's core chosen for the CPU (blas_setup.h): when
 * its load-time detection falls back to a generic core on a CPU with
 * AVX2/AVX-512, the program re-executes itself once with
 * OPENBLAS_CORETYPE set, the one override OpenBLAS honours. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/blas_setup.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Marker set in the re-executed child so we never loop; "core" when the
 * child got OPENBLAS_CORETYPE from us. */
#define REEXEC_MARK "SPECREJ_BLAS_CORE_SET"

/* OpenBLAS's names for the kernel sets that use no AVX at all. */
static int is_generic_core(const char *name) {
    static const char *generic[] = {"Prescott", "Core2", "Katmai", "Coppermine",
                                    "Northwood", "Penryn", "Dunnington", "Nehalem",
                                    "Atom", "Barcelona", "Opteron", "Generic"};
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcmp(name, generic[i]) == 0) return 1;
    return 0;
}

static const char *better_core(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
    if (__builtin_cpu_supports("avx2")) return "Haswell";
#endif
    return NULL;
}

/* Whether OpenMP threads should sleep rather than spin when idle: yes when
 * there is more than one thread and the user chose no wait policy. The model
 * runs dozens of short parallel regions per token; with libgomp's default
 * (spin ~300000 times before sleeping) a thread that spins while its partner
 * waits for a core held by another process slowed whole runs 4-25x on a
 * loaded 2-core machine, while sleeping costs a few microseconds per region
 * (experiments/results/bench.txt). */
static int want_passive_wait(void) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return 0;
#ifdef _OPENMP
    return omp_get_max_threads() > 1;
#else
    return 0;
#endif
}

void blas_ensure_fast_core(int argc, char **argv) {
    (void)argc;
    if (getenv(REEXEC_MARK)) return;
    const char *target = getenv("OPENBLAS_CORETYPE") ? NULL : better_core();
    if (target && !is_generic_core(openblas_get_corename())) target = NULL;
    int passive = want_passive_wait();
    if (!target && !passive) return;
    /* Both variables are read once, when the libraries load: hence the exec. */
    if (target) setenv("OPENBLAS_CORETYPE", target, 1);
    if (passive) setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    setenv(REEXEC_MARK, target ? "core" : "wait", 1);
#if defined(__linux__)
    execv("/proc/self/exe", argv);
#endif
    execvp(argv[0], argv);
    /* exec failed: carry on with what was detected rather than refuse to run. */
    if (target) unsetenv("OPENBLAS_CORETYPE");
    if (passive) unsetenv("OMP_WAIT_POLICY");
    unsetenv(REEXEC_MARK);
}

const char *blas_core_name(void) { return openblas_get_corename(); }
const char *blas_config_string(void) { return openblas_get_config(); }
int blas_core_was_overridden(void) {
    const char *m = getenv(REEXEC_MARK);
    return m && strcmp(m, "core") == 0;
}
