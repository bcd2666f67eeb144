/* llama_peer.c - llama.cpp's side of `make bench-peers`.
 *
 * Built by experiments/bench_peers.sh against the prebuilt libllama and
 * ggml that npm's node-llama-cpp@3.21.1 ships (headers from the llama.cpp
 * source the package ships, same release), so what is measured is exactly
 * the library the package runs. Only llama.cpp's public C API is used.
 *
 *   llama_peer info    --model F.gguf
 *   llama_peer greedy  --model F.gguf --ids 1024,5,17 [-n 64] [--threads T]
 *       greedy (argmax, lowest id on ties) continuation, stopping at EOS;
 *       prints the generated ids on one line
 *   llama_peer logits  --model F.gguf --ids 1024,5,17 [--threads T]
 *       the logits at every position, one line of vocab values each
 *   llama_peer bench   --model F.gguf --batch 1,8,32,128 [--threads T]
 *                      [--prompt-len 32] [--steps 32] [--repeats 3]
 *                      [--kv streams|unified] [--fa off|on|auto] [--poll P]
 *       the decode loop of specrej's build/bench: B sequences share a
 *       prompt of prompt-len tokens (decoded once, then llama_memory_seq_cp
 *       to every sequence), then decode `steps` tokens together, one token
 *       per sequence per llama_decode, each sampled top-k 50 (llama.cpp's
 *       sampler chain: top-k 50, then dist); step 0 is warm-up, the other
 *       steps are timed. K and V caches in F32, weights F32. One line per
 *       batch: "batch B tok_s X decode_tok_s Y" (medians over repeats;
 *       decode_tok_s leaves the sampling out).
 *       --kv streams: one KV stream per sequence (kv_unified = false, the
 *       library's default); unified: one shared buffer (kv_unified = true;
 *       the prompt's cells are then shared, not copied, but every token
 *       attends over the whole buffer under a mask). --fa: flash attention
 *       (auto: llama.cpp decides; on the CPU it rounds through F16).
 *       --poll: the ggml threadpool's polling level, 0 (sleep) to 100
 *       (spin); default ggml's (50).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

enum { MAX_REPEATS = 15, MAX_BATCHES = 16 };

typedef struct Opts {
    const char *model, *ids, *batches, *kv, *libdir, *fa;
    int n_new, threads, prompt_len, steps, repeats, verbose, poll;
} Opts;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *msg) {
    fprintf(stderr, "llama_peer: %s\n", msg);
    exit(1);
}

static int verbose_log = 0;
/* What --fa auto resolved to, from llama.cpp's log ("Flash Attention
 * enabled" / "... not supported, set to disabled"); the explicit settings
 * log nothing. */
static const char *fa_resolved = NULL;
static char cpu_variant[128] = "?"; /* which libggml-cpu-*.so ggml loaded */
static void log_cb(enum ggml_log_level level, const char *text, void *ud) {
    (void)ud;
    const char *lb = strstr(text, "loaded CPU backend from ");
    if (lb) {
        const char *base = strrchr(lb, '/');
        snprintf(cpu_variant, sizeof cpu_variant, "%s", base ? base + 1 : lb + 24);
        cpu_variant[strcspn(cpu_variant, "\n")] = 0;
    }
    if (strstr(text, "Flash Attention enabled")) fa_resolved = "on";
    else if (strstr(text, "Flash Attention not supported")) fa_resolved = "off";
    if (verbose_log || level >= GGML_LOG_LEVEL_WARN) fputs(text, stderr);
}

static int parse_list(const char *s, int *out, int cap) {
    int n = 0;
    while (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || n >= cap) die("bad id/batch list");
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') die("bad id/batch list");
    }
    return n;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The CPU backend is a set of dynamically loaded variants (haswell, zen4,
 * ...); ggml picks the best one the CPU supports. */
static void load_backends(const Opts *o) {
    if (o->libdir) ggml_backend_load_all_from_path(o->libdir);
    else ggml_backend_load_all();
    if (!ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU)) die("no CPU backend loaded");
}

static bool quiet_progress(float p, void *ud) {
    (void)p, (void)ud;
    return true;
}

static struct llama_model *load_model(const Opts *o) {
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.progress_callback = quiet_progress;
    struct llama_model *m = llama_model_load_from_file(o->model, mp);
    if (!m) die("cannot load the model");
    return m;
}

/* A context of n_seq sequences with an attached threadpool of o->threads
 * threads (as llama-bench does; without one, ggml makes a pool per call). */
typedef struct Ctx {
    struct llama_context *ctx;
    struct ggml_threadpool *tp;
    void (*tp_free)(struct ggml_threadpool *);
} Ctx;

static Ctx make_ctx(struct llama_model *m, const Opts *o, int n_seq, int n_ctx, int unified) {
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_seq_max = (uint32_t)n_seq;
    cp.n_batch = cp.n_ubatch = (uint32_t)(n_seq > 512 ? n_seq : 512);
    cp.n_threads = cp.n_threads_batch = o->threads;
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.kv_unified = unified;
    cp.no_perf = true;
    cp.flash_attn_type = strcmp(o->fa, "on") == 0    ? LLAMA_FLASH_ATTN_TYPE_ENABLED
                         : strcmp(o->fa, "off") == 0 ? LLAMA_FLASH_ATTN_TYPE_DISABLED
                                                     : LLAMA_FLASH_ATTN_TYPE_AUTO;
    Ctx c = {0};
    c.ctx = llama_init_from_model(m, cp);
    if (!c.ctx) die("cannot create a context");
    ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
    typedef struct ggml_threadpool *(*tp_new_fn)(struct ggml_threadpool_params *);
    tp_new_fn tp_new = (tp_new_fn)ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new");
    c.tp_free = (void (*)(struct ggml_threadpool *))ggml_backend_reg_get_proc_address(
        reg, "ggml_threadpool_free");
    if (tp_new) {
        struct ggml_threadpool_params tpp = ggml_threadpool_params_default(o->threads);
        if (o->poll >= 0) tpp.poll = (uint32_t)o->poll;
        c.tp = tp_new(&tpp);
        if (c.tp) llama_attach_threadpool(c.ctx, c.tp, NULL);
    }
    if (!c.tp) fprintf(stderr, "llama_peer: warning: no threadpool attached\n");
    return c;
}

static void free_ctx(Ctx *c) {
    llama_free(c->ctx);
    if (c->tp && c->tp_free) c->tp_free(c->tp);
}

static void batch_add(struct llama_batch *b, llama_token t, llama_pos pos, llama_seq_id seq,
                      int logits) {
    int i = b->n_tokens++;
    b->token[i] = t;
    b->pos[i] = pos;
    b->n_seq_id[i] = 1;
    b->seq_id[i][0] = seq;
    b->logits[i] = (int8_t)logits;
}

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static int cmd_info(const Opts *o) {
    struct llama_model *m = load_model(o);
    char desc[256];
    llama_model_desc(m, desc, sizeof desc);
    ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    printf("model: %s, %.2f M params, vocab %d\n", desc, llama_model_n_params(m) / 1e6,
           llama_vocab_n_tokens(llama_model_get_vocab(m)));
    printf("CPU backend: %s (%s), variant %s\n", ggml_backend_dev_name(dev),
           ggml_backend_dev_description(dev), cpu_variant);
    printf("system: %s\n", llama_print_system_info());
    llama_model_free(m);
    return 0;
}

static int cmd_greedy(const Opts *o, int logits_mode) {
    int ids[4096];
    int n = parse_list(o->ids, ids, 4096);
    if (n < 1) die("--ids: empty");
    struct llama_model *m = load_model(o);
    const struct llama_vocab *voc = llama_model_get_vocab(m);
    int V = llama_vocab_n_tokens(voc);
    llama_token eos = llama_vocab_eos(voc);
    int total = n + (logits_mode ? 0 : o->n_new);
    Ctx c = make_ctx(m, o, 1, total + 16, 0);
    struct llama_batch b = llama_batch_init(total > 512 ? total : 512, 0, 1);
    b.n_tokens = 0;
    for (int i = 0; i < n; i++) batch_add(&b, ids[i], i, 0, logits_mode || i == n - 1);
    if (llama_decode(c.ctx, b) != 0) die("llama_decode (prompt) failed");
    if (logits_mode) {
        for (int i = 0; i < n; i++) {
            const float *l = llama_get_logits_ith(c.ctx, i);
            for (int v = 0; v < V; v++) printf(v ? " %.9g" : "%.9g", (double)l[v]);
            printf("\n");
        }
    } else {
        int pos = n, first = 1;
        for (int s = 0; s < o->n_new; s++) {
            int t = argmax(llama_get_logits_ith(c.ctx, -1), V);
            if (t == eos) break;
            printf(first ? "%d" : " %d", t);
            first = 0;
            b.n_tokens = 0;
            batch_add(&b, t, pos++, 0, 1);
            if (llama_decode(c.ctx, b) != 0) die("llama_decode failed");
        }
        printf("\n");
    }
    llama_batch_free(b);
    free_ctx(&c);
    llama_model_free(m);
    return 0;
}

static int cmd_bench(const Opts *o) {
    int batches[MAX_BATCHES];
    int nb = parse_list(o->batches, batches, MAX_BATCHES);
    int unified = strcmp(o->kv, "unified") == 0;
    if (!unified && strcmp(o->kv, "streams") != 0) die("--kv: streams or unified");
    if (o->repeats < 1 || o->repeats > MAX_REPEATS) die("--repeats: 1..15");
    if (o->steps < 2) die("--steps: at least 2 (step 0 is warm-up)");
    struct llama_model *m = load_model(o);
    int V = llama_vocab_n_tokens(llama_model_get_vocab(m));
    int P = o->prompt_len, S = o->steps;
    for (int bi = 0; bi < nb; bi++) {
        int B = batches[bi];
        /* streams: each sequence gets n_ctx / B cells (llama.cpp pads a
         * stream to 256); unified: all sequences in one buffer */
        int per = unified ? P + S + 1 : (P + S + 1 + 255) / 256 * 256;
        fa_resolved = NULL;
        Ctx c = make_ctx(m, o, B, B * per, unified);
        struct llama_batch b = llama_batch_init(B > P ? B : P, 0, 1);
        struct llama_sampler **smp = malloc((size_t)B * sizeof *smp);
        llama_token *tok = malloc((size_t)B * sizeof *tok);
        if (!smp || !tok) die("out of memory");
        double t_all[MAX_REPEATS], t_dec[MAX_REPEATS];
        for (int r = 0; r < o->repeats; r++) {
            llama_memory_t mem = llama_get_memory(c.ctx);
            llama_memory_clear(mem, true);
            b.n_tokens = 0;
            for (int i = 0; i < P; i++) batch_add(&b, (i * 37 + 11) % V, i, 0, i == P - 1);
            if (llama_decode(c.ctx, b) != 0) die("llama_decode (prompt) failed");
            for (int s = 1; s < B; s++) llama_memory_seq_cp(mem, 0, s, -1, -1);
            for (int i = 0; i < B; i++) {
                tok[i] = (i * 13 + 5) % V;
                smp[i] = llama_sampler_chain_init(llama_sampler_chain_default_params());
                llama_sampler_chain_add(smp[i], llama_sampler_init_top_k(50));
                llama_sampler_chain_add(smp[i],
                                        llama_sampler_init_dist((uint32_t)(7 + r * 1000 + i)));
            }
            double t0 = now(), dec = 0;
            for (int s = 0; s < S; s++) {
                if (s == 1) t0 = now(), dec = 0; /* step 0 is warm-up */
                b.n_tokens = 0;
                for (int i = 0; i < B; i++) batch_add(&b, tok[i], P + s, i, 1);
                double d0 = now();
                if (llama_decode(c.ctx, b) != 0) die("llama_decode (step) failed");
                dec += now() - d0;
                for (int i = 0; i < B; i++) tok[i] = llama_sampler_sample(smp[i], c.ctx, i);
            }
            t_all[r] = now() - t0;
            t_dec[r] = dec;
            for (int i = 0; i < B; i++) llama_sampler_free(smp[i]);
            if (o->verbose)
                fprintf(stderr, "llama_peer: batch %d repeat %d: %.4f s (%.4f s in llama_decode)\n",
                        B, r, t_all[r], t_dec[r]);
        }
        double ta = median(t_all, o->repeats), td = median(t_dec, o->repeats);
        const char *fa = strcmp(o->fa, "auto") ? o->fa : fa_resolved ? fa_resolved : "?";
        printf("batch %d tok_s %.1f decode_tok_s %.1f threads %d kv %s flash_attn %s%s n_ctx %u\n",
               B, (double)B * (S - 1) / ta, (double)B * (S - 1) / td, o->threads, o->kv,
               strcmp(o->fa, "auto") ? "" : "auto->", fa, llama_n_ctx(c.ctx));
        fflush(stdout);
        free(smp), free(tok);
        llama_batch_free(b);
        free_ctx(&c);
    }
    llama_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: llama_peer info|greedy|logits|bench --model F.gguf [flags] "
                        "(see the comment at the top of llama_peer.c)\n");
        return 2;
    }
    Opts o = {.batches = "1,8,32,128", .kv = "streams", .fa = "auto", .n_new = 64, .threads = 1,
              .prompt_len = 32, .steps = 32, .repeats = 3, .poll = -1};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (OPT("--model")) o.model = v;
        else if (OPT("--ids")) o.ids = v;
        else if (OPT("--batch")) o.batches = v;
        else if (OPT("--kv")) o.kv = v;
        else if (OPT("--libdir")) o.libdir = v;
        else if (OPT("--fa")) o.fa = v;
        else if (OPT("-n")) o.n_new = atoi(v);
        else if (OPT("--threads")) o.threads = atoi(v);
        else if (OPT("--prompt-len")) o.prompt_len = atoi(v);
        else if (OPT("--steps")) o.steps = atoi(v);
        else if (OPT("--repeats")) o.repeats = atoi(v);
        else if (OPT("--poll")) o.poll = atoi(v);
        else if (strcmp(a, "-v") == 0) o.verbose = 1;
        else {
            fprintf(stderr, "llama_peer: unknown or incomplete flag %s\n", a);
            return 2;
        }
#undef OPT
    }
    if (!o.model) die("--model is required");
    if (o.threads < 1) die("--threads: at least 1");
    verbose_log = o.verbose;
    llama_log_set(log_cb, NULL);
    load_backends(&o);
    llama_backend_init();
    const char *cmd = argv[1];
    int rc;
    if (strcmp(cmd, "info") == 0) rc = cmd_info(&o);
    else if (strcmp(cmd, "greedy") == 0) rc = o.ids ? cmd_greedy(&o, 0) : (die("--ids"), 1);
    else if (strcmp(cmd, "logits") == 0) rc = o.ids ? cmd_greedy(&o, 1) : (die("--ids"), 1);
    else if (strcmp(cmd, "bench") == 0) rc = cmd_bench(&o);
    else die("unknown command");
    llama_backend_free();
    return rc;
}
