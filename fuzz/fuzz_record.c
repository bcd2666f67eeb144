/* fuzz_record.c - the record file reader (src/search/record.h). Byte 0 even: the
 * rest is a whole file, as record_load sees it; odd: the rest is a body that
 * gets a valid checksum appended, so the fuzzer gets past the checksum to the
 * field checks. Whatever is accepted must be consistent (lengths within the
 * cap, ids in the vocabulary) and survive record_write + record_load as the
 * same bytes: the format has one spelling per record. */
#include "fuzz_util.h"

#include "search/record.h"

static void fuzz_record(const uint8_t *data, size_t size) {
    if (size < 1) return;
    size_t n = size - 1;
    uint8_t *buf = malloc(n + 8 + 1);
    if (!buf) abort();
    memcpy(buf, data + 1, n);
    if (data[0] % 2 == 1) {
        uint64_t h = record_fnv1a(RECORD_FNV_OFFSET, buf, n);
        for (int i = 0; i < 8; i++) buf[n + i] = (uint8_t)(h >> (8 * i));
        n += 8;
    }
    Record r;
    SrError err = {{0}};
    if (record_parse("fuzz.rec", buf, n, &r, &err) != 0) {
        FUZZ_CHECK(err.msg[0] != 0);
        free(buf);
        return;
    }
    FUZZ_CHECK(r.n_cands >= 1 && r.max_new_eff <= r.max_new);
    /* issue 23: shapes a replay would allocate KV for stay bounded
     * (tests/fuzz_regressions/fuzz_record: gen_kv_2tb, rm_kv_2tb, reserve_wraps) */
    FUZZ_CHECK((uint64_t)2 * r.gen_cfg.n_layers * r.gen_cfg.n_kv_heads * r.gen_cfg.head_dim * 4 <=
               RECORD_MAX_KV_PER_TOKEN);
    FUZZ_CHECK(r.rs_kv_bytes_per_token <= RECORD_MAX_KV_PER_TOKEN);
    FUZZ_CHECK(r.rs_reserve_bytes < ((uint64_t)1 << 62));
    /* version 4: as many closing ids as the closing length, in the reward
     * model's vocabulary (tests/fuzz_regressions/fuzz_record: closing_*) */
    FUZZ_CHECK(!r.has_closing_ids || (r.has_rm_cfg && r.n_closing_ids == r.rs_closing_len));
    for (int i = 0; r.has_closing_ids && i < r.n_closing_ids; i++)
        FUZZ_CHECK(r.closing_ids[i] >= 0 && r.closing_ids[i] < r.rm_cfg.vocab_size);
    for (int i = 0; i < r.n_cands; i++) {
        const RecordCand *k = &r.cands[i];
        FUZZ_CHECK(k->len >= 0 && k->len <= r.max_new_eff);
        FUZZ_CHECK(k->stop_id >= 0 || k->len == r.max_new_eff);
        for (int t = 0; t < k->len; t++)
            FUZZ_CHECK(k->tokens[t] >= 0 && k->tokens[t] < r.gen_cfg.vocab_size);
    }
    char path[256];
    if (fuzz_write("rt.rec", "", 0, path) != 0) abort();
    FUZZ_CHECK(record_write(path, &r, &err) == 0);
    record_free(&r);
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    FUZZ_CHECK(f != NULL);
    uint8_t *back = malloc(n + 1);
    if (!back) abort();
    len = fread(back, 1, n + 1, f);
    fclose(f);
    FUZZ_CHECK(len == n && memcmp(back, buf, n) == 0);
    free(back);
    free(buf);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_record(data, size);
    return 0;
}
#endif
