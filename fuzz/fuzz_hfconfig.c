/* fuzz_hfconfig.c - config.json parsing (hfconfig_parse, from memory). A
 * config that is accepted must pass config_check_dims, name a known kind,
 * and give finite per-token FLOPs at every position. Also checks that
 * json_count_values (fileio.h) bounds the nodes cJSON really allocates. */
#include "fuzz_util.h"

#include <cJSON.h>
#include <math.h>

#include "base/fileio.h"
#include "runtime/hfconfig.h"
#include "runtime/model.h"

static size_t count_nodes(const cJSON *v) {
    size_t n = 0;
    for (; v; v = v->next) n += 1 + count_nodes(v->child);
    return n;
}

static void fuzz_hfconfig(const uint8_t *data, size_t size) {
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (root) FUZZ_CHECK(count_nodes(root) <= json_count_values((const char *)data, size));
    cJSON_Delete(root);
    ModelConfig cfg;
    SrError err = {{0}};
    if (hfconfig_parse((const char *)data, size, "config.json", &cfg, &err) != 0) {
        FUZZ_CHECK(strncmp(err.msg, "config.json: ", 13) == 0);
        return;
    }
    SrError e2 = {{0}};
    FUZZ_CHECK(config_check_dims(&cfg, "config.json", &e2) == 0);
    FUZZ_CHECK(cfg.kind == MODEL_KIND_LM || cfg.kind == MODEL_KIND_RM);
    FUZZ_CHECK(cfg.n_heads % cfg.n_kv_heads == 0 && cfg.head_dim % 2 == 0);
    FUZZ_CHECK(cfg.n_eos_ids >= 0 && cfg.n_eos_ids <= 8);
    double f0 = model_flops_per_token(&cfg, 0);
    double f1 = model_flops_per_token(&cfg, cfg.max_seq_len - 1);
    FUZZ_CHECK(isfinite(f0) && isfinite(f1) && f0 > 0 && f1 >= f0);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_hfconfig(data, size);
    return 0;
}
#endif
