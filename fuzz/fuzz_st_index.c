/* fuzz_st_index.c - model.safetensors.index.json (st_open on an index next
 * to the four real BF16 shards of tests/fixtures/llama_bf16_sharded, copied
 * once into the scratch directory). An accepted index must place every
 * tensor it names in a shard that holds it. */
#include "fuzz_util.h"

#include <cJSON.h>

#include "runtime/safetensors.h"

#define ST_INDEX_FIXTURE "tests/fixtures/llama_bf16_sharded"

static void copy_shards(void) {
    static int done;
    if (done) return;
    done = 1;
    for (int i = 1; i <= 4; i++) {
        char src[256], name[64], dst[256];
        snprintf(name, sizeof name, "model-%05d-of-00004.safetensors", i);
        snprintf(src, sizeof src, "%s/%s", ST_INDEX_FIXTURE, name);
        FILE *f = fopen(src, "rb");
        if (!f) {
            fprintf(stderr, "fuzz_st_index: run from the repository root (%s)\n", src);
            abort();
        }
        static char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        if (fuzz_write(name, buf, n, dst) != 0) abort();
    }
}

static void fuzz_st_index(const uint8_t *data, size_t size) {
    copy_shards();
    char path[256];
    if (fuzz_write("model.safetensors.index.json", data, size, path) != 0) abort();
    SafeTensors st;
    SrError err = {{0}};
    if (st_open(path, &st, &err) != 0) {
        FUZZ_CHECK(err.msg[0] != 0);
        FUZZ_CHECK(st.n_files == 0 && st.n_tensors == 0);
        return;
    }
    FUZZ_CHECK(st.n_files >= 1 && st.n_files <= 4);
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    FUZZ_CHECK(cJSON_IsObject(map));
    for (const cJSON *it = map->child; it; it = it->next) {
        const StTensor *t = st_find(&st, it->string);
        FUZZ_CHECK(t != NULL);
        const char *p = st.files[t->file].path, *slash = strrchr(p, '/');
        FUZZ_CHECK(cJSON_IsString(it) && strcmp(slash ? slash + 1 : p, it->valuestring) == 0);
    }
    cJSON_Delete(root);
    st_close(&st);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_st_index(data, size);
    return 0;
}
#endif
