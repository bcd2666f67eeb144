/* blas_setup.h - make OpenBLAS run its fast kernels without the user's help.
 *
 * Debian's OpenBLAS 0.3.21 is built with DYNAMIC_ARCH and picks its kernels
 * when the library is loaded. On some recent processors it does not recognise
 * the CPU and falls back to the generic "Prescott" kernels, about 5x slower
 * than the AVX-512 ones. The only supported way to override that choice is the
 * OPENBLAS_CORETYPE environment variable, read at load time, so
 * blas_ensure_fast_core() re-executes the program once with the variable set
 * when (a) the user did not set it, (b) the detected core is a generic one and
 * (c) the CPU supports AVX-512 (-> SkylakeX) or AVX2 (-> Haswell).
 * The same re-exec sets OMP_WAIT_POLICY=PASSIVE when more than one OpenMP
 * thread will run and the user set neither OMP_WAIT_POLICY nor
 * GOMP_SPINCOUNT: spinning idle threads made runs many times slower on a
 * loaded machine (see blas_setup.c).
 */
#ifndef SPECREJ_BLAS_SETUP_H
#define SPECREJ_BLAS_SETUP_H

/* Call first thing in main(). Returns only if no re-exec was needed or the
 * re-exec failed (then the program simply runs with the detected core). */
void blas_ensure_fast_core(int argc, char **argv);

/* The OpenBLAS kernel set in use, e.g. "SkylakeX", and its build string. */
const char *blas_core_name(void);
const char *blas_config_string(void);
/* Whether blas_ensure_fast_core() overrode the detected core. */
int blas_core_was_overridden(void);

#endif
