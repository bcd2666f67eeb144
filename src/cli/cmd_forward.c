/* cmd_forward.c - `specrej forward --model PATH --ids 5,17,3 [--all]`: runs
 * the ids as one sequence through the model in one forward call. A language
 * model prints the logits of the last position (--all: of every position),
 * a reward model the score(s) of every position (the score at t is the
 * reward of the prefix ending at t): one line per position, space-separated,
 * %.9g (exact enough to round-trip a float). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "runtime/kvcache.h"
#include "runtime/model.h"

#define USAGE \
    "usage: forward --model PATH --ids ID,ID,... [--all] [--weights DTYPE] [--kv-dtype DTYPE]"

static int run(Model *m, const int *ids, int n, int all, SrError *err) {
    const ModelConfig *c = model_config(m);
    if (n > c->max_seq_len)
        return sr_fail(err, "forward: --ids has %d tokens, more than the model's %d positions", n,
                       c->max_seq_len);
    KVCache *kv = NULL;
    if (kv_create(c, 1, NULL, &kv, err) != 0) return -1;
    int width = model_output_dim(m), rc = -1;
    int *slots = calloc((size_t)n, sizeof *slots);
    float *out = sr_malloc_array((size_t)n * width, sizeof *out, err);
    if (!slots || !out) {
        if (!slots) sr_fail(err, "forward: out of memory");
    } else if (kv_alloc_slot(kv, err) >= 0 && model_forward(m, kv, n, slots, ids, out, err) == 0) {
        int first = (all || c->kind == MODEL_KIND_RM) ? 0 : n - 1;
        for (int t = first; t < n; t++)
            for (int j = 0; j < width; j++)
                printf("%.9g%c", out[(size_t)t * width + j], j + 1 < width ? ' ' : '\n');
        rc = 0;
    }
    free(slots);
    free(out);
    kv_free(kv);
    return rc;
}

int cmd_forward(int argc, char **argv, SrError *err) {
    const char *path = NULL, *ids_arg = NULL;
    int all = 0;
    ModelLoadOptions load = {MODEL_WEIGHTS_AUTO, MODEL_DTYPE_F32};
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = args_take_value(argc, argv, &i, "--model", "-m", &path, err)) != 0 ||
            (r = args_take_value(argc, argv, &i, "--ids", NULL, &ids_arg, err)) != 0 ||
            (r = args_take_weights(argc, argv, &i, &load.weights, err)) != 0 ||
            (r = args_take_kv_dtype(argc, argv, &i, &load.kv_dtype, err)) != 0) {
            if (r < 0) return ARGS_USAGE;
            continue;
        }
        if (strcmp(argv[i], "--all") == 0) {
            all = 1;
        } else if (args_is_flag(argv[i], "--help", "-h")) {
            printf("usage: specrej forward --model PATH --ids ID,ID,... [--all]\n"
                   "  Runs the ids through the model and prints the last position's logits\n"
                   "  (language model) or scores (reward model), one line per position.\n"
                   "  -m, --model PATH      a model folder or llama2.c .bin file\n"
                   "  --ids ID,ID,...       token ids\n"
                   "  --all                 every position, not only the last\n"
                   ARGS_WEIGHTS_HELP
                   ARGS_KV_DTYPE_HELP
                   "example:\n"
                   "  specrej forward --model data/austen-rm --ids 1,42,7\n");
            return 0;
        } else {
            return args_usage(err, "forward: unknown argument '%s' (%s)", argv[i], USAGE);
        }
    }
    if (!path || !ids_arg)
        return args_usage(err, "forward: --model and --ids are required (%s)", USAGE);
    int *ids = NULL, n = 0;
    if (args_parse_int_list("--ids", ids_arg, 0, INT_MAX, &ids, &n, err) != 0) return ARGS_USAGE;
    Model *m = NULL;
    int rc = model_load_with(path, &load, &m, err);
    if (rc == 0) {
        int vocab = model_config(m)->vocab_size;
        for (int i = 0; i < n && rc == 0; i++)
            if (ids[i] >= vocab)
                rc = sr_fail(err, "--ids: token id %d is outside the vocabulary [0, %d)", ids[i],
                             vocab);
    }
    if (rc == 0) rc = run(m, ids, n, all, err);
    model_free(m);
    free(ids);
    return rc;
}
