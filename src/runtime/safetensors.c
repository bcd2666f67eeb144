/* safetensors.c - .safetensors files and sharded indexes opened with every
 * header check done up front (safetensors.h), so that reading a tensor
 * later cannot meet a bad offset; F32, BF16 and F16 converted to f32. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base/fileio.h"
#include "base/json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

#define ST_MAX_TENSORS 1000000
#define ST_MAX_INDEX_BYTES (64u * 1024u * 1024u)
/* Offsets are JSON numbers (doubles): integers beyond 2^53 are not exact. */
#define ST_MAX_OFFSET 9007199254740992.0

typedef struct { const char *name; int size; } DtypeInfo;

/* Every dtype the format defines; only F32/BF16/F16 can be read as floats. */
static const DtypeInfo DTYPES[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
    {"I16", 2}, {"I8", 1}, {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},
    {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

static int dtype_size(const char *name) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(DTYPES[i].name, name) == 0) return DTYPES[i].size;
    return 0;
}

float st_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in fp32 */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf or NaN (payload kept) */
    } else {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void st_close(SafeTensors *st) {
    for (int i = 0; i < st->n_files; i++) {
        if (st->files[i].fp) fclose(st->files[i].fp);
        free(st->files[i].path);
    }
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->files);
    free(st->tensors);
    memset(st, 0, sizeof *st);
}

/* st->tensors is kept sorted by name (see sort_and_check_names). */
const StTensor *st_find(const SafeTensors *st, const char *name) {
    int lo = 0, hi = st->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(st->tensors[mid].name, name);
        if (c == 0) return &st->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

/* Sorts every tensor so far by name, which makes st_find a binary search
 * and a repeated name (across shards: one header cannot repeat a key, json.h)
 * adjacent: a linear search per tensor made a header of many empty tensors
 * take hours. An index sorts once, after its last shard. */
static int sort_and_check_names(SafeTensors *st, const char *path, SrError *err) {
    qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_tensor_name);
    for (int i = 1; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0)
            return sr_fail(err, "%s: tensor '%s' appears twice (in %s and %s)", path,
                           st->tensors[i].name, st->files[st->tensors[i - 1].file].path,
                           st->files[st->tensors[i].file].path);
    return 0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* A JSON number that is an exact non-negative integer <= max. */
static int json_uint(const cJSON *v, double max, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0) || d > max || floor(d) != d) return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_tensor(const char *path, const cJSON *item, uint64_t data_len, StTensor *t,
                        SrError *err) {
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return sr_fail(err, "%s: tensor '%s' is not a JSON object", path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return sr_fail(err, "%s: tensor '%s' lacks dtype, shape or data_offsets", path, name);
    int size = dtype_size(dtype->valuestring);
    if (size == 0)
        return sr_fail(err, "%s: tensor '%s' has unknown dtype '%.20s'", path, name,
                       dtype->valuestring);
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype->valuestring);
    t->dtype_size = size;
    t->rank = cJSON_GetArraySize(shape);
    if (t->rank > ST_MAX_RANK)
        return sr_fail(err, "%s: tensor '%s' has rank %d (max %d)", path, name, t->rank,
                       ST_MAX_RANK);
    uint64_t numel = 1;
    for (int d = 0; d < t->rank; d++) {
        uint64_t dim;
        if (json_uint(cJSON_GetArrayItem(shape, d), ST_MAX_OFFSET, &dim) != 0)
            return sr_fail(err, "%s: tensor '%s' has a bad shape entry", path, name);
        if (dim != 0 && numel > UINT64_MAX / dim)
            return sr_fail(err, "%s: tensor '%s' shape overflows", path, name);
        numel *= dim;
        t->shape[d] = (int64_t)dim;
    }
    if (numel > UINT64_MAX / (uint64_t)size)
        return sr_fail(err, "%s: tensor '%s' shape overflows", path, name);
    t->numel = numel;
    if (cJSON_GetArraySize(offs) != 2 ||
        json_uint(cJSON_GetArrayItem(offs, 0), ST_MAX_OFFSET, &t->begin) != 0 ||
        json_uint(cJSON_GetArrayItem(offs, 1), ST_MAX_OFFSET, &t->end) != 0)
        return sr_fail(err, "%s: tensor '%s' has bad data_offsets", path, name);
    if (t->end < t->begin)
        return sr_fail(err, "%s: tensor '%s' data_offsets [%llu, %llu] end before begin", path,
                       name, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_len)
        return sr_fail(err,
                       "%s: tensor '%s' data_offsets [%llu, %llu] past the end of the data "
                       "(%llu bytes)",
                       path, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)data_len);
    if (t->end - t->begin != numel * (uint64_t)size)
        return sr_fail(err, "%s: tensor '%s' has %llu bytes but its shape needs %llu", path,
                       name, (unsigned long long)(t->end - t->begin),
                       (unsigned long long)(numel * (uint64_t)size));
    return 0;
}

typedef struct { uint64_t begin, end; int idx; } Span;

static int cmp_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Checks that no two tensors of one file (st->tensors[first..], the ones
 * its header just added) overlap. */
static int check_overlaps(const char *path, const SafeTensors *st, int first, SrError *err) {
    const StTensor *t = st->tensors;
    Span *s = sr_malloc_array((size_t)(st->n_tensors - first + 1), sizeof *s, err);
    if (!s) return -1;
    int n = 0;
    for (int i = first; i < st->n_tensors; i++) s[n++] = (Span){t[i].begin, t[i].end, i};
    qsort(s, (size_t)n, sizeof *s, cmp_span);
    int rc = 0;
    uint64_t reach = 0; /* furthest end so far */
    int reach_idx = -1;
    for (int i = 0; i < n && rc == 0; i++) {
        if (s[i].end == s[i].begin) continue; /* empty tensors occupy nothing */
        if (reach_idx >= 0 && s[i].begin < reach)
            rc = sr_fail(err, "%s: tensors '%s' and '%s' overlap in the data buffer", path,
                         t[reach_idx].name, t[s[i].idx].name);
        if (s[i].end > reach) {
            reach = s[i].end;
            reach_idx = s[i].idx;
        }
    }
    free(s);
    return rc;
}

static int read_exact(FILE *fp, uint64_t off, void *buf, size_t n) {
    if (fseeko(fp, (off_t)off, SEEK_SET) != 0) return -1;
    return fread(buf, 1, n, fp) == n ? 0 : -1;
}

/* Grows *p to hold at least need elements (geometrically: many shards
 * must not copy the arrays once per shard). */
static int grow(void **p, int *cap, int need, size_t size) {
    if (need <= *cap) return 0;
    size_t n = (size_t)(*cap > 0 ? *cap : 16);
    while (n < (size_t)need) n *= 2;
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = (int)n;
    return 0;
}

static int parse_header(SafeTensors *st, int file, const char *json, size_t len, SrError *err) {
    const char *path = st->files[file].path;
    int first = st->n_tensors;
    cJSON *root;
    if (sr_json_parse(json, len, path, "header is not valid JSON", &root, err) != 0) return -1;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sr_fail(err, "%s: header is not a JSON object", path);
    }
    int count = cJSON_GetArraySize(root);
    if (count > ST_MAX_TENSORS || st->n_tensors > ST_MAX_TENSORS - count) {
        cJSON_Delete(root);
        return sr_fail(err, "%s: too many tensors", path);
    }
    if (grow((void **)&st->tensors, &st->cap_tensors, st->n_tensors + count + 1,
             sizeof *st->tensors) != 0) {
        cJSON_Delete(root);
        return sr_fail(err, "%s: out of memory", path);
    }
    int rc = 0;
    for (const cJSON *it = root->child; it && rc == 0; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) continue;
        StTensor *t = &st->tensors[st->n_tensors];
        memset(t, 0, sizeof *t);
        t->file = file;
        rc = parse_tensor(path, it, st->files[file].data_len, t, err);
        if (rc == 0) {
            t->name = dup_str(it->string);
            if (!t->name) rc = sr_fail(err, "%s: out of memory", path);
            else st->n_tensors++;
        }
    }
    cJSON_Delete(root);
    if (rc == 0) rc = check_overlaps(path, st, first, err);
    return rc;
}

/* Adds one file's tensors, unsorted (see sort_and_check_names). */
static int add_file(SafeTensors *st, const char *path, SrError *err) {
    long long fsize = file_size(path, err);
    if (fsize < 0) return -1;
    if (grow((void **)&st->files, &st->cap_files, st->n_files + 1, sizeof *st->files) != 0)
        return sr_fail(err, "%s: out of memory", path);
    StFile *f = &st->files[st->n_files];
    memset(f, 0, sizeof *f);
    f->path = dup_str(path);
    if (!f->path) return sr_fail(err, "%s: out of memory", path);
    st->n_files++;
    f->fp = fopen(path, "rb");
    if (!f->fp) return sr_fail(err, "%s: %s", path, strerror(errno));
    unsigned char len8[8];
    if (fsize < 8 || read_exact(f->fp, 0, len8, 8) != 0)
        return sr_fail(err, "%s: truncated (no 8-byte header length)", path);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | len8[i];
    if (hlen > ST_MAX_HEADER)
        return sr_fail(err, "%s: header length %llu exceeds the %u-byte limit", path,
                       (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > (uint64_t)fsize - 8)
        return sr_fail(err, "%s: header length %llu runs past the end of the file (%lld bytes)",
                       path, (unsigned long long)hlen, fsize);
    f->data_start = 8 + hlen;
    f->data_len = (uint64_t)fsize - f->data_start;
    char *json = malloc(hlen + 1);
    if (!json) return sr_fail(err, "%s: out of memory", path);
    if (read_exact(f->fp, 8, json, hlen) != 0) {
        free(json);
        return sr_fail(err, "%s: cannot read the header", path);
    }
    json[hlen] = 0;
    int rc = parse_header(st, st->n_files - 1, json, hlen, err);
    free(json);
    return rc;
}

int st_add_file(SafeTensors *st, const char *path, SrError *err) {
    if (add_file(st, path, err) != 0) return -1;
    return sort_and_check_names(st, path, err);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Checks that every tensor the index places in a shard is really there:
 * the shard's name, exactly (every shard path is the index's directory,
 * dirlen bytes, then the name). */
static int check_weight_map(const SafeTensors *st, const char *index_path, const cJSON *map,
                            size_t dirlen, SrError *err) {
    for (const cJSON *it = map->child; it; it = it->next) {
        const StTensor *t = st_find(st, it->string);
        if (!t)
            return sr_fail(err, "%s: tensor '%s' is not in its shard %s", index_path, it->string,
                           it->valuestring);
        if (strcmp(st->files[t->file].path + dirlen, it->valuestring) != 0)
            return sr_fail(err, "%s: tensor '%s' found outside its shard %s (in %s)", index_path,
                           it->string, it->valuestring, st->files[t->file].path + dirlen);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* O(S log S + T log T) for S shards and T tensors: the shard names are
 * sorted once to open each shard once, and the tensors sorted once at the
 * end (12,000 shards took 16 s when every shard re-sorted everything). */
static int open_index(const char *path, SafeTensors *st, SrError *err) {
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, ST_MAX_INDEX_BYTES, &text, &len, err) != 0) return -1;
    cJSON *root;
    int parsed = sr_json_parse(text, len, path, "not valid JSON", &root, err);
    free(text);
    if (parsed != 0) return -1;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    int rc = 0;
    if (!cJSON_IsObject(map)) rc = sr_fail(err, "%s: no \"weight_map\" object", path);
    /* shard files live next to the index */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path + 1) : 0, n = 0;
    for (const cJSON *it = map ? map->child : NULL; it && rc == 0; it = it->next, n++)
        if (!cJSON_IsString(it) || strchr(it->valuestring, '/') ||
            strcmp(it->valuestring, "..") == 0 || !it->valuestring[0])
            rc = sr_fail(err, "%s: bad shard name for tensor '%s'", path, it->string);
    const char **names = rc == 0 ? sr_malloc_array(n ? n : 1, sizeof *names, err) : NULL;
    if (rc == 0 && !names) rc = -1;
    if (rc == 0) {
        size_t k = 0;
        for (const cJSON *it = map->child; it; it = it->next) names[k++] = it->valuestring;
        qsort(names, n, sizeof *names, cmp_str);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0) continue;
        size_t sz = dirlen + strlen(names[i]) + 1;
        char *shard = malloc(sz);
        if (!shard) {
            rc = sr_fail(err, "%s: out of memory", path);
            break;
        }
        snprintf(shard, sz, "%.*s%s", (int)dirlen, path, names[i]);
        rc = add_file(st, shard, err);
        free(shard);
    }
    free(names);
    if (rc == 0 && st->n_files == 0) rc = sr_fail(err, "%s: weight_map is empty", path);
    if (rc == 0) rc = sort_and_check_names(st, path, err);
    if (rc == 0) rc = check_weight_map(st, path, map, dirlen, err);
    cJSON_Delete(root);
    return rc;
}

int st_open(const char *path, SafeTensors *st, SrError *err) {
    memset(st, 0, sizeof *st);
    int rc = ends_with(path, ".json") ? open_index(path, st, err) : st_add_file(st, path, err);
    if (rc != 0) st_close(st);
    return rc;
}

int st_read_f32(const SafeTensors *st, const StTensor *t, float *dst, SrError *err) {
    const StFile *f = &st->files[t->file];
    int is_f32 = strcmp(t->dtype, "F32") == 0, is_bf16 = strcmp(t->dtype, "BF16") == 0,
        is_f16 = strcmp(t->dtype, "F16") == 0;
    if (!is_f32 && !is_bf16 && !is_f16)
        return sr_fail(err, "%s: tensor '%s' has dtype %s (supported: F32, BF16, F16)", f->path,
                       t->name, t->dtype);
    if (fseeko(f->fp, (off_t)(f->data_start + t->begin), SEEK_SET) != 0)
        return sr_fail(err, "%s: cannot seek to tensor '%s'", f->path, t->name);
    if (is_f32) {
        /* fread writes bytes into dst: no unaligned float access */
        if (fread(dst, 4, (size_t)t->numel, f->fp) != (size_t)t->numel)
            return sr_fail(err, "%s: short read in tensor '%s'", f->path, t->name);
        return 0;
    }
    unsigned char buf[2 * 4096];
    uint64_t done = 0;
    while (done < t->numel) {
        size_t k = t->numel - done < 4096 ? (size_t)(t->numel - done) : 4096;
        if (fread(buf, 2, k, f->fp) != k)
            return sr_fail(err, "%s: short read in tensor '%s'", f->path, t->name);
        for (size_t i = 0; i < k; i++) {
            uint16_t h = (uint16_t)(buf[2 * i] | (buf[2 * i + 1] << 8));
            dst[done + i] = is_bf16 ? st_bf16_to_f32(h) : st_f16_to_f32(h);
        }
        done += k;
    }
    return 0;
}
