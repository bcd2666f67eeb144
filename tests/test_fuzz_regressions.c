/* Replays every input saved under tests/fuzz_regressions/<target>/ (crashers
 * the fuzzers found, and hand-written cases for each fix) through the same
 * entry points as the libFuzzer targets in fuzz/, which are included here
 * with their invariants turned into cmocka failures. */
#include "test_util.h"

#include <dirent.h>

#define FUZZ_FAIL(what, file, line) fail_msg("%s:%d: invariant failed: %s", file, line, what)

#include "../fuzz/fuzz_args.c"
#include "../fuzz/fuzz_encode_bpe.c"
#include "../fuzz/fuzz_encode_sp.c"
#include "../fuzz/fuzz_gold.c"
#include "../fuzz/fuzz_hfconfig.c"
#include "../fuzz/fuzz_jinja.c"
#include "../fuzz/fuzz_json.c"
#include "../fuzz/fuzz_llama2c.c"
#include "../fuzz/fuzz_prompts.c"
#include "../fuzz/fuzz_record.c"
#include "../fuzz/fuzz_safetensors.c"
#include "../fuzz/fuzz_st_index.c"
#include "../fuzz/fuzz_tokenizer_bin.c"
#include "../fuzz/fuzz_tokenizer_config.c"
#include "../fuzz/fuzz_tokenizer_json.c"
#include "../fuzz/fuzz_trace.c"

typedef void (*FuzzFn)(const uint8_t *data, size_t size);

/* Runs fn on each file of tests/fuzz_regressions/<name>; returns the count. */
static int replay_dir(const char *name, FuzzFn fn) {
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "tests/fuzz_regressions/%s", name);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *data = test_read_file(path, &len);
        assert_non_null(data);
        print_message("replay %s\n", path);
        fn((const uint8_t *)data, len);
        free(data);
        count++;
    }
    closedir(d);
    return count;
}

#define REPLAY(name)                                       \
    static void test_##name(void **state) {                \
        (void)state;                                       \
        int n = replay_dir(#name, name);                   \
        print_message("%s: %d inputs replayed\n", #name, n); \
    }

REPLAY(fuzz_args)
REPLAY(fuzz_hfconfig)
REPLAY(fuzz_json)
REPLAY(fuzz_jinja)
REPLAY(fuzz_safetensors)
REPLAY(fuzz_st_index)
REPLAY(fuzz_llama2c)
REPLAY(fuzz_tokenizer_json)
REPLAY(fuzz_tokenizer_bin)
REPLAY(fuzz_tokenizer_config)
REPLAY(fuzz_encode_bpe)
REPLAY(fuzz_encode_sp)
REPLAY(fuzz_gold)
REPLAY(fuzz_record)
REPLAY(fuzz_prompts)
REPLAY(fuzz_trace)

static int teardown(void **state) {
    (void)state;
    fuzz_cleanup();
    return 0;
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_args),
        cmocka_unit_test(test_fuzz_hfconfig),
        cmocka_unit_test(test_fuzz_json),
        cmocka_unit_test(test_fuzz_jinja),
        cmocka_unit_test(test_fuzz_safetensors),
        cmocka_unit_test(test_fuzz_st_index),
        cmocka_unit_test(test_fuzz_llama2c),
        cmocka_unit_test(test_fuzz_tokenizer_json),
        cmocka_unit_test(test_fuzz_tokenizer_bin),
        cmocka_unit_test(test_fuzz_tokenizer_config),
        cmocka_unit_test(test_fuzz_encode_bpe),
        cmocka_unit_test(test_fuzz_encode_sp),
        cmocka_unit_test(test_fuzz_prompts),
        cmocka_unit_test(test_fuzz_trace),
        cmocka_unit_test(test_fuzz_gold),
        cmocka_unit_test(test_fuzz_record),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
