/* safetensors.h - validated reader of Hugging Face .safetensors files.
 *
 * Contract:
 *  - st_open() reads and checks the header of one file, or of every shard an
 *    index (model.safetensors.index.json, "weight_map") names; st_add_file()
 *    adds one more file to a set. Every check happens at open time: the
 *    8-byte header length (<= ST_MAX_HEADER and inside the file), the JSON,
 *    each tensor's dtype, shape (rank <= ST_MAX_RANK, no overflow), offsets
 *    (end >= begin, inside the data buffer, end - begin == numel * dtype
 *    size) and that no two tensors overlap. A tensor name present in two
 *    shards is an error.
 *  - st_read_f32() converts one tensor (F32, BF16 or F16, little-endian) to
 *    fp32 into caller memory, reading through a byte buffer (memcpy, never an
 *    unaligned float pointer). Other dtypes are refused when read.
 *  - Files are read with stdio (portable); they stay open until st_close().
 */
#ifndef SPECREJ_SAFETENSORS_H
#define SPECREJ_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

#define ST_MAX_HEADER (100u * 1024u * 1024u)
#define ST_MAX_RANK 8

typedef struct StTensor {
    char *name;
    char dtype[16];       /* as written in the header, e.g. "BF16" */
    int dtype_size;       /* bytes per element */
    int rank;
    int64_t shape[ST_MAX_RANK];
    uint64_t numel;
    uint64_t begin, end;  /* relative to the data buffer of its file */
    int file;             /* index into SafeTensors.files */
} StTensor;

typedef struct StFile {
    char *path;
    FILE *fp;
    uint64_t data_start;  /* 8 + header length */
    uint64_t data_len;    /* bytes after the header */
} StFile;

typedef struct SafeTensors {
    StFile *files;
    int n_files, cap_files;
    StTensor *tensors;
    int n_tensors, cap_tensors;
} SafeTensors;

/* path: a .safetensors file or a model.safetensors.index.json. On failure
 * *st is left empty (nothing to close). */
int st_open(const char *path, SafeTensors *st, SrError *err);
int st_add_file(SafeTensors *st, const char *path, SrError *err);
void st_close(SafeTensors *st);

const StTensor *st_find(const SafeTensors *st, const char *name);
/* Reads tensor t into dst (t->numel floats). */
int st_read_f32(const SafeTensors *st, const StTensor *t, float *dst, SrError *err);

/* IEEE half -> float, exact (subnormals, inf and NaN included). */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);

#endif
