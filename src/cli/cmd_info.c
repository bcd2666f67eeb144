/* cmd_info.c - `specrej info --model PATH`: what a checkpoint is (class,
 * dimensions, switches, parameter count, KV bytes per token) and which BLAS
 * kernels will run it. PATH: a model directory, its config.json, a
 * .safetensors file or index, or a llama2.c .bin. */
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli/args.h"
#include "runtime/blas_setup.h"
#include "cli/commands.h"
#include "runtime/kvcache.h"
#include "runtime/model.h"

#define USAGE "usage: info --model PATH [--weights DTYPE] [--kv-dtype DTYPE]"

static const char *yes_no(int v) { return v ? "yes" : "no"; }

static void print_rope(const ModelConfig *c) {
    printf("rope_theta: %.9g\n", c->rope_theta);
    if (c->rope_factor > 0)
        printf("rope_type: llama3 (factor %g, low_freq_factor %g, high_freq_factor %g, "
               "original_max_position_embeddings %d)\n",
               c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor,
               c->rope_original_max_pos);
    else
        printf("rope_type: default\n");
    static const char *const dt[] = {"float32", "bfloat16", "float16"};
    printf("rope_freq_dtype: %s\n", dt[c->rope_freq_dtype]);
}

static void print_ids(const ModelConfig *c) {
    printf("bos_id: %d\neos_ids:", c->bos_id);
    if (c->n_eos_ids == 0) printf(" none");
    for (int i = 0; i < c->n_eos_ids; i++) printf(" %d", c->eos_ids[i]);
    printf("\npad_id: %d\n", c->pad_id);
}

int cmd_info(int argc, char **argv, SrError *err) {
    const char *path = NULL;
    ModelLoadOptions load = {MODEL_WEIGHTS_AUTO, MODEL_DTYPE_F32};
    for (int i = 1; i < argc; i++) {
        int r = args_take_value(argc, argv, &i, "--model", "-m", &path, err);
        if (r == 0) r = args_take_weights(argc, argv, &i, &load.weights, err);
        if (r == 0) r = args_take_kv_dtype(argc, argv, &i, &load.kv_dtype, err);
        if (r < 0) return ARGS_USAGE;
        if (r > 0) continue;
        if (args_is_flag(argv[i], "--help", "-h")) {
            printf("usage: specrej info --model PATH\n"
                   "  Prints the model's architecture, shapes, special ids, parameter count,\n"
                   "  KV bytes and FLOPs per token, and the BLAS core and threads in use.\n"
                   "  -m, --model PATH      a model folder (config.json + safetensors) or a\n"
                   "                        llama2.c .bin file\n"
                   ARGS_WEIGHTS_HELP
                   ARGS_KV_DTYPE_HELP
                   "example:\n"
                   "  specrej info --model data/austen-lm\n");
            return 0;
        }
        return args_usage(err, "info: unknown argument '%s' (%s)", argv[i], USAGE);
    }
    if (!path) return args_usage(err, "info: --model is required (%s)", USAGE);
    Model *m = NULL;
    if (model_load_with(path, &load, &m, err) != 0) return -1;
    const ModelConfig *c = model_config(m);
    printf("model: %s\n", path);
    printf("architecture: %s (%s)\n", c->architecture, c->arch);
    printf("kind: %s\n", c->kind == MODEL_KIND_RM ? "reward model" : "language model");
    printf("dim: %d\nhidden_dim: %d\nlayers: %d\nheads: %d\nkv_heads: %d\nhead_dim: %d\n", c->dim,
           c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim);
    printf("vocab: %d\nmax_positions: %d\n", c->vocab_size, c->max_seq_len);
    if (c->kind == MODEL_KIND_RM) printf("num_labels: %d\n", c->num_labels);
    printf("rms_norm_eps: %g\n", c->rms_eps);
    print_rope(c);
    printf("qkv_bias: %s\nqk_norm: %s\ntied_embeddings: %s\n", yes_no(c->has_qkv_bias),
           yes_no(c->has_qk_norm), yes_no(c->tie_embeddings));
    print_ids(c);
    printf("parameters: %llu\n", (unsigned long long)model_param_count(m));
    static const char *const wd[] = {"f32", "bf16", "f16"};
    printf("weights: %s, %zu bytes\n", wd[model_weight_dtype(m)], model_weight_bytes(m));
    if (c->kv_dtype != MODEL_DTYPE_F32) printf("kv_dtype: %s\n", wd[c->kv_dtype]);
    printf("kv_bytes_per_token: %zu\n", kv_bytes_per_token(c));
    printf("flops_per_token_at_pos0: %.0f\n", model_flops_per_token(c, 0));
    printf("blas: OpenBLAS, core %s%s\n", blas_core_name(),
           blas_core_was_overridden() ? " (set by specrej: detected core was generic)" : "");
    printf("blas_config: %s\n", blas_config_string());
#ifdef _OPENMP
    printf("openmp_threads: %d\n", omp_get_max_threads());
#else
    printf("openmp_threads: 1 (built without OpenMP)\n");
#endif
    model_free(m);
    return 0;
}
