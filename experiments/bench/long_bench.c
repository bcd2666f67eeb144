/* long_bench.c - long responses through the CLI (bench.c's "long"
 * section): `specrej bon` with 128 candidates at once (--kv-budget-
 * candidates 128), one thread, on the shipped models, at --max-new 32, 256
 * and 200, and `specrej generate` (one candidate: batch 1) at 200, each run
 * a child process timed in its own CPU seconds (user + sys, from wait4:
 * time slices lost to other processes do not count; wall seconds are
 * printed beside them) and tokens counted from its --json
 * (tokens_generated). The ratios are issue 28's targets: tokens/s at 256
 * new tokens against 32 (>= 0.85), and Best-of-128 at 200 against
 * llama2.c's run.c at one thread (>= 4.5). run.c is not run here (it is
 * not in the tree and the build machines have no network): the bench
 * measures Best-of-128 against specrej's own batch 1 in the same run, and
 * converts with the factor earlier sessions measured run.c at (1.25-1.30x
 * slower than specrej's batch 1 on this model), printed as derived.
 * Best-of-128 at 200 also runs on both cores (-t 2), against batch 1's
 * wall rate: the whole machine against run.c's one thread, one reading of
 * the target (at one thread the reward model's scoring alone is about a
 * third of the run, which run.c does not do).
 * The Best-of-128 rows run again with --kv-dtype f16 and bf16 (a half-
 * precision KV cache: half the bytes attention reads), interleaved with
 * the f32 ones in the same repetitions, each with its 256/32 ratio.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attn_bench.h"

enum { MAX_REPS = 15 };
/* run.c -Ofast at 1 thread was measured 1.25-1.30x slower than specrej's
 * batch 1 at 1 thread on data/austen-lm by earlier sessions (not here). */
static const double RUNC_SLOWER_LO = 1.25, RUNC_SLOWER_HI = 1.30;

typedef struct {
    double cpu, wall, tokens;
} CliRun;

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* tokens_generated from a --json file; -1 when absent. */
static double json_tokens(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    double v = -1;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"tokens_generated\":");
        if (p) {
            v = atof(p + strlen("\"tokens_generated\":"));
            break;
        }
    }
    fclose(f);
    return v;
}

/* One run of the CLI (Best-of-128, or batch 1: generate); exits the bench
 * when it fails. */
/* environ with OMP_WAIT_POLICY=ACTIVE in front (libgomp reads the first
 * setting), for the spinning run; NULL when out of memory. */
static char **env_with_active_wait(void) {
    extern char **environ;
    size_t n = 0;
    while (environ[n]) n++;
    char **env = malloc((n + 2) * sizeof *env);
    if (!env) return NULL;
    env[0] = "OMP_WAIT_POLICY=ACTIVE";
    memcpy(env + 1, environ, (n + 1) * sizeof *env);
    return env;
}

static CliRun run_cli(const LongOpts *o, int max_new, int batch1, const char *kv_dtype,
                      int threads, int spin, const char *prompt, const char *json) {
    char n[16], t[16];
    snprintf(n, sizeof n, "%d", max_new);
    snprintf(t, sizeof t, "%d", threads);
    char *bon[] = {(char *)o->bin, "bon", "-m", (char *)o->lm, "--reward", (char *)o->rm,
                   "-p", (char *)prompt, "-N", "128", "--kv-budget-candidates", "128", "-n", n,
                   "-t", t, "--no-progress", "--json", (char *)json,
                   kv_dtype ? "--kv-dtype" : NULL, (char *)kv_dtype, NULL};
    char *gen[] = {(char *)o->bin, "generate", "-m", (char *)o->lm, "-p", (char *)prompt,
                   "-n", n, "-t", "1", "--no-progress", "--json", (char *)json, NULL};
    char **argv = batch1 ? gen : bon;
    extern char **environ;
    char **env = spin ? env_with_active_wait() : environ;
    if (!env) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = wall_now();
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, env), status = 0;
    posix_spawn_file_actions_destroy(&fa);
    if (env != environ) free(env);
    struct rusage ru;
    if (rc != 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: %s %s -n %d failed\n", o->bin, argv[1], max_new);
        exit(1);
    }
    CliRun r;
    r.wall = wall_now() - t0;
    r.cpu = (double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec +
            (double)ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec;
    r.tokens = json_tokens(json);
    if (r.tokens <= 0) {
        fprintf(stderr, "bench: %s: no tokens_generated\n", json);
        exit(1);
    }
    return r;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double med(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void long_bench(const LongOpts *o, LongResult *res) {
    /* Best-of-128 at 32, 256 and 200 new tokens; then batch 1 at 200 and at
     * 1, whose difference is the rate of 199 decode steps alone (a run of
     * 0.1 s would otherwise count the loading and the prompt); then
     * Best-of-128 at 32, 256 and 200 with each half KV dtype; last,
     * Best-of-128 at 200 on both cores (-t 2), timed by the wall clock, as
     * it runs by default (idle OpenMP threads sleep) and with them spinning
     * (OMP_WAIT_POLICY=ACTIVE: faster on an idle machine, much slower on a
     * busy one; src/runtime/blas_setup.c) */
    static const int MAX_NEW[] = {32, 256, 200, 200, 1, 32, 256, 200, 32, 256, 200, 200, 200};
    static const char *const KV[] = {NULL, NULL, NULL, NULL, NULL, "f16", "f16", "f16",
                                     "bf16", "bf16", "bf16", NULL, NULL};
    enum { K = sizeof MAX_NEW / sizeof MAX_NEW[0], B1 = 3, B0 = 4, F16 = 5, BF16 = 8, T2 = 11,
           SPIN = 12 };
    int reps = o->repeats < MAX_REPS ? o->repeats : MAX_REPS;
    char prompt[1024] = "It is a truth";
    FILE *pf = fopen(o->prompts, "r");
    if (pf && fgets(prompt, sizeof prompt, pf)) prompt[strcspn(prompt, "\r\n")] = 0;
    if (pf) fclose(pf);
    char json[] = "/tmp/specrej-bench-long-XXXXXX";
    int fd = mkstemp(json);
    if (fd < 0) {
        perror("bench: mkstemp");
        exit(1);
    }
    close(fd);
    printf("\n## Long responses through the CLI: specrej bon -N 128 --kv-budget-candidates 128 "
           "(128 candidates at once) -t 1 on %s + %s, and specrej generate -t 1 (batch 1, no "
           "reward model), the first dev prompt; tokens/s in the child's CPU seconds (wall "
           "beside it), median of %d interleaved runs\n", o->lm, o->rm, reps);
    double cpu_rate[K][MAX_REPS], wall_rate[K][MAX_REPS], toks[K] = {0};
    for (int r = 0; r < reps; r++) {
        CliRun c[K];
        for (int k = 0; k < K; k++) {
            c[k] = run_cli(o, MAX_NEW[k], k == B1 || k == B0, KV[k], k >= T2 ? 2 : 1, k == SPIN,
                           prompt, json);
            cpu_rate[k][r] = c[k].tokens / c[k].cpu, wall_rate[k][r] = c[k].tokens / c[k].wall;
            toks[k] = c[k].tokens;
        }
        double dt = c[B1].tokens - c[B0].tokens;
        cpu_rate[B1][r] = dt / (c[B1].cpu - c[B0].cpu > 1e-6 ? c[B1].cpu - c[B0].cpu : 1e-6);
        wall_rate[B1][r] = dt / (c[B1].wall - c[B0].wall > 1e-6 ? c[B1].wall - c[B0].wall : 1e-6);
    }
    unlink(json);
    double rate[K];
    printf("%-18s %8s %9s %12s %12s\n", "run", "max-new", "tokens", "tokens/CPU-s",
           "tokens/wall-s");
    for (int k = 0; k < K; k++) {
        char what[32];
        snprintf(what, sizeof what, "%s%s", k == B1 || k == B0 ? "batch 1" : "bon 128",
                 KV[k]       ? (k < BF16 ? " f16" : " bf16")
                 : k == T2   ? " -t 2"
                 : k == SPIN ? " -t 2 spin"
                             : "");
        rate[k] = med(cpu_rate[k], reps);
        printf("%-18s %8d %9.0f %12.0f %12.0f%s\n", what, MAX_NEW[k], toks[k], rate[k],
               med(wall_rate[k], reps),
               k == B1 ? "  (200 minus 1: decode steps alone)"
               : k == F16 || k == BF16 ? "  (--kv-dtype: a half-precision KV cache)"
               : k == T2 ? "  (both cores: read its wall rate)"
               : k == SPIN ? "  (both cores, OMP_WAIT_POLICY=ACTIVE)" : "");
    }
    res->long_ratio = rate[1] / rate[0];
    res->bon200 = rate[2], res->batch1 = rate[B1], res->vs_batch1 = rate[2] / rate[B1];
    printf("256 new tokens / 32: %.2f (target >= 0.85: %s)\n", res->long_ratio,
           res->long_ratio >= 0.85 ? "met" : "MISSED");
    res->long_ratio_f16 = rate[F16 + 1] / rate[F16];
    res->long_ratio_bf16 = rate[BF16 + 1] / rate[BF16];
    printf("256 new tokens / 32 with --kv-dtype f16: %.2f (%.2fx f32's tokens/s at 256)\n",
           res->long_ratio_f16, rate[F16 + 1] / rate[1]);
    printf("256 new tokens / 32 with --kv-dtype bf16: %.2f (%.2fx f32's tokens/s at 256)\n",
           res->long_ratio_bf16, rate[BF16 + 1] / rate[1]);
    printf("Best-of-128 at 200 new tokens (whole run: loading and reward model included) / "
           "specrej batch 1 at one thread (decode steps alone): %.2fx (measured, this run); against llama2.c's run.c -Ofast at one thread: %.2f-%.2fx (derived, not "
           "measured: run.c is not on this machine; earlier sessions measured it %.2f-%.2fx "
           "slower than specrej batch 1) (target >= 4.5x: %s)\n", res->vs_batch1,
           res->vs_batch1 * RUNC_SLOWER_LO, res->vs_batch1 * RUNC_SLOWER_HI, RUNC_SLOWER_LO,
           RUNC_SLOWER_HI, res->vs_batch1 * RUNC_SLOWER_LO >= 4.5 ? "met" : "MISSED");
    res->runc_lo = res->vs_batch1 * RUNC_SLOWER_LO, res->runc_hi = res->vs_batch1 * RUNC_SLOWER_HI;
    /* the same comparison with specrej on the whole machine: wall rates on
     * both sides, Best-of-128 at -t 2 against batch 1's decode at -t 1 */
    double wall_b1 = med(wall_rate[B1], reps);
    res->bon200_t2 = med(wall_rate[T2], reps), res->vs_batch1_t2 = res->bon200_t2 / wall_b1;
    res->runc_t2_lo = res->vs_batch1_t2 * RUNC_SLOWER_LO;
    res->runc_t2_hi = res->vs_batch1_t2 * RUNC_SLOWER_HI;
    res->vs_batch1_spin = med(wall_rate[SPIN], reps) / wall_b1;
    res->runc_spin_lo = res->vs_batch1_spin * RUNC_SLOWER_LO;
    res->runc_spin_hi = res->vs_batch1_spin * RUNC_SLOWER_HI;
    printf("Best-of-128 at 200 new tokens on both cores (-t 2, wall) / specrej batch 1 at one "
           "thread (wall): %.2fx (measured, this run); against run.c at one thread: %.2f-%.2fx "
           "(derived as above); with idle threads spinning (OMP_WAIT_POLICY=ACTIVE): %.2fx, "
           "%.2f-%.2fx run.c\n", res->vs_batch1_t2, res->runc_t2_lo, res->runc_t2_hi,
           res->vs_batch1_spin, res->runc_spin_lo, res->runc_spin_hi);
}
