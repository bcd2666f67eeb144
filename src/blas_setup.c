#define _POSIX_C_SOURCE 200809L
#include "blas_setup.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Marker set in the re-executed child so we never loop. */
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

void blas_ensure_fast_core(int argc, char **argv) {
    (void)argc;
    if (getenv("OPENBLAS_CORETYPE") || getenv(REEXEC_MARK)) return;
    const char *target = better_core();
    if (!target || !is_generic_core(openblas_get_corename())) return;
    setenv("OPENBLAS_CORETYPE", target, 1);
    setenv(REEXEC_MARK, "1", 1);
#if defined(__linux__)
    execv("/proc/self/exe", argv);
#endif
    execvp(argv[0], argv);
    /* exec failed: carry on with the slow kernels rather than refuse to run. */
    unsetenv("OPENBLAS_CORETYPE");
}

const char *blas_core_name(void) { return openblas_get_corename(); }
const char *blas_config_string(void) { return openblas_get_config(); }
int blas_core_was_overridden(void) { return getenv(REEXEC_MARK) != NULL; }
