/* record.h - the record file of `specrej record`: one Best-of-N run with
 * everything a Speculative Rejection run over the same candidates would
 * have seen (docs/record-format.md is the byte-level specification).
 *
 * Contract:
 *  - record_write() writes a Record atomically (fileio.h), closed by an
 *    FNV-1a 64 checksum of every byte before it, in the lowest format
 *    version that holds it: 1, 2 when the reward source has arguments
 *    (rs_args), 3 when the run was given --weights, --template, --system or
 *    --thinking (run_*), 4 when it was given --closing-ids (closing_ids), 5
 *    when it was given --kv-dtype (run_kv_dtype). A record of a run without
 *    them is thus the same bytes as before version 3 existed, and older
 *    builds still read it.
 *  - record_load() reads a file and validates all of it before returning:
 *    magic, version, checksum, every count against the bytes that remain
 *    (so a hostile count costs no memory), every id against the vocabulary,
 *    lengths against the recorded response cap, every score finite. Any
 *    failure returns -1 with one line naming the file and the problem, and
 *    leaves nothing allocated. record_parse() does the same on bytes in
 *    memory (the fuzz target), with `name` used in messages.
 *  - A loaded Record owns all its memory; record_free() releases it (and
 *    accepts a zeroed Record).
 *
 * What a candidate holds: its response ids (stop id excluded), the stop id
 * that ended it (-1: it reached max_new_eff), the log-probability of every
 * sampled token as the driver received it (the stop id's included), the
 * reward source's score of every prefix length 1..len computed exactly as
 * a decision point computes it (closing ids included), its final score,
 * and, when the run had a tokenizer and a gold judge, the decoded response
 * and the gold score of every prefix length 0..len. */
#ifndef SPECREJ_RECORD_H
#define SPECREJ_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "runtime/model_config.h"

#define RECORD_MAGIC "SPRECORD"
#define RECORD_VERSION 5u /* the newest this build writes and reads (and 1 to 4) */
/* Caps that keep a hostile header cheap (far above any real run). */
#define RECORD_MAX_CANDS (1 << 20)
#define RECORD_MAX_LEN (1 << 20)
#define RECORD_MAX_STRING (1 << 24)
#define RECORD_MAX_BYTES ((size_t)1 << 34)
/* KV bytes per token of a recorded model's shapes (16 MiB: 16 times a
 * 405B-parameter model's in fp32) */
#define RECORD_MAX_KV_PER_TOKEN ((uint64_t)1 << 24)

typedef struct RecordCand {
    int len;          /* response tokens, stop id excluded */
    int stop_id;      /* -1: ended at max_new_eff */
    int *tokens;      /* len */
    double *logp;     /* len + (stop_id >= 0): log p of each sampled token */
    double *score;    /* len: score[t - 1] = score of the prefix of length t */
    double final;     /* the finished response's score */
    double *gold;     /* has_gold: len + 1 (prefix lengths 0..len), else NULL */
    char *text;       /* has_text: the decoded response (NUL-terminated), else NULL */
    size_t text_len;
} RecordCand;

typedef struct Record {
    /* the run */
    uint64_t seed;
    double temperature, top_p;
    int top_k;
    int max_new;      /* as requested */
    int max_new_eff;  /* after the context limits: what every candidate ran to */
    int n_cands;
    int *stops, n_stops;
    char *prompt_text; /* NULL for an id-only run */
    int *prompt, n_prompt;
    /* the generator: identity, and the shapes behind its KV bytes and FLOPs */
    char *gen_path;
    uint64_t gen_hash;
    ModelConfig gen_cfg;
    /* the reward source: identity and the accounting inputs the driver uses */
    char *rs_name, *rs_detail, *rm_path; /* rm_path "" without a checkpoint */
    uint64_t rm_hash;
    int has_rm_cfg;   /* a model source: rm_cfg holds its shapes */
    ModelConfig rm_cfg;
    uint64_t rs_kv_bytes_per_token, rs_reserve_bytes;
    int rs_prefix_len, rs_closing_len, rs_max_response;
    char *rs_args;    /* its arguments as one JSON object (params.reward.params), or NULL:
                         a source without parameters (then the file is version 1) */
    /* version 3: the run's --weights (f32, bf16, f16), --template, --system
     * and --thinking (on, off) as given, each NULL when not given (the
     * checkpoint's own storage, auto, no system message, the template's
     * own): params shows them, and the scores hold for them only */
    char *run_weights, *run_template, *run_system, *run_thinking;
    /* version 4: --closing-ids as given (has_closing_ids; "none" is 0 ids),
     * n_closing_ids == rs_closing_len, each inside the reward model's
     * vocabulary; without it (0, NULL) the default closing, or a record
     * older than version 4, which kept only their count */
    int has_closing_ids, *closing_ids, n_closing_ids;
    /* version 5: --kv-dtype as given (f32, bf16, f16), NULL when not given
     * (f32): the tokens and scores hold for it only; the loader sets
     * gen_cfg.kv_dtype and rm_cfg.kv_dtype from it */
    char *run_kv_dtype;
    /* text and gold */
    int has_gold, has_text;
    uint64_t lexicon_hash;
    /* the prompt-KV mode (--prompt-kv): attention over a borrowed prompt
     * rounds differently from attention over a copy, so the tokens and
     * scores hold for the recorded mode only */
    int prompt_kv_per_candidate;
    RecordCand *cands;
} Record;

int record_write(const char *path, const Record *r, SrError *err);
int record_load(const char *path, Record *out, SrError *err);
int record_parse(const char *name, const uint8_t *data, size_t size, Record *out, SrError *err);
void record_free(Record *r);

/* FNV-1a 64 of n bytes, continuing from h (start: RECORD_FNV_OFFSET). */
#define RECORD_FNV_OFFSET 0xcbf29ce484222325ull
uint64_t record_fnv1a(uint64_t h, const void *data, size_t n);
/* A model's identity: FNV-1a 64 over every regular file of the model's
 * folder (the path itself when it names a file inside one is not enough:
 * config.json and the weights together make the model), in name order,
 * each as name, NUL, 8-byte little-endian size, and the FNV-1a 64 of its
 * content (8 bytes, little-endian). A path that is a
 * file (a llama2.c .bin, a config.json) hashes that file's folder. */
int record_hash_model(const char *path, uint64_t *out, SrError *err);
/* FNV-1a 64 of one file's content. */
int record_hash_file(const char *path, uint64_t *out, SrError *err);

#endif
