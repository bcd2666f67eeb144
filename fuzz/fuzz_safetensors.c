/* fuzz_safetensors.c - one .safetensors file (st_open on a temp file).
 *
 * Byte 0 picks the layout: even = the rest is the whole file (the 8-byte
 * header length included); odd = bytes 1-2 give a data size (LE u16), the
 * rest is the header JSON, and the file is built as length + JSON + data,
 * so mutations reach the JSON checks instead of dying at the length.
 * An accepted file must satisfy every documented check, and each F32/BF16/
 * F16 tensor must read back. */
#include "fuzz_util.h"

#include "runtime/safetensors.h"

static void check_accepted(const SafeTensors *st) {
    const StFile *f = &st->files[0];
    for (int i = 0; i < st->n_tensors; i++) {
        const StTensor *t = &st->tensors[i];
        FUZZ_CHECK(t->begin <= t->end && t->end <= f->data_len);
        FUZZ_CHECK(t->end - t->begin == t->numel * (uint64_t)t->dtype_size);
        FUZZ_CHECK(t->rank >= 0 && t->rank <= ST_MAX_RANK);
        FUZZ_CHECK(st_find(st, t->name) == t);
        for (int j = 0; j < i; j++) { /* no overlap between non-empty tensors */
            const StTensor *u = &st->tensors[j];
            if (t->end > t->begin && u->end > u->begin)
                FUZZ_CHECK(t->end <= u->begin || u->end <= t->begin);
        }
        int readable = !strcmp(t->dtype, "F32") || !strcmp(t->dtype, "BF16") ||
                       !strcmp(t->dtype, "F16");
        if (t->numel > (1u << 16)) continue;
        float *dst = malloc(t->numel * sizeof *dst + 1);
        if (!dst) abort();
        SrError err = {{0}};
        FUZZ_CHECK((st_read_f32(st, t, dst, &err) == 0) == readable);
        free(dst);
    }
}

static void fuzz_safetensors(const uint8_t *data, size_t size) {
    if (size < 1) return;
    uint8_t *file = NULL;
    size_t n = 0;
    if (data[0] % 2 == 0) {
        file = malloc(size);
        if (!file) abort();
        memcpy(file, data + 1, size - 1);
        n = size - 1;
    } else {
        if (size < 3) return;
        size_t pad = (size_t)data[1] | (size_t)data[2] << 8;
        size_t json = size - 3;
        n = 8 + json + pad;
        file = malloc(n);
        if (!file) abort();
        for (int i = 0; i < 8; i++) file[i] = (uint8_t)((uint64_t)json >> (8 * i));
        memcpy(file + 8, data + 3, json);
        for (size_t i = 0; i < pad; i++) file[8 + json + i] = (uint8_t)(i * 37 + (i >> 8));
    }
    char path[256];
    if (fuzz_write("t.safetensors", file, n, path) != 0) abort();
    free(file);
    SafeTensors st;
    SrError err = {{0}};
    if (st_open(path, &st, &err) == 0) {
        check_accepted(&st);
        st_close(&st);
    } else {
        FUZZ_CHECK(strncmp(err.msg, path, strlen(path)) == 0);
        FUZZ_CHECK(st.n_files == 0 && st.n_tensors == 0 && !st.files && !st.tensors);
    }
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_safetensors(data, size);
    return 0;
}
#endif
