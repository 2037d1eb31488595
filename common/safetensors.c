/* safetensors reader (mmap + jansson) and writer; see safetensors.h. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

struct safetensors {
    char *path;
    void *map;
    size_t size;
    size_t count;
    safetensors_tensor_t *tensors;
    json_t *metadata; /* object of strings, or NULL */
};

static const struct {
    const char *name;
    safetensors_dtype_t dtype;
    size_t size;
} dtypes[] = {
    {"F32", SAFETENSORS_F32, 4}, {"F16", SAFETENSORS_F16, 2}, {"BF16", SAFETENSORS_BF16, 2},
    {"I32", SAFETENSORS_I32, 4}, {"I64", SAFETENSORS_I64, 8}, {"U8", SAFETENSORS_U8, 1},
};

static int parse_dtype(const char *name, safetensors_dtype_t *dtype, size_t *size)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        if (strcmp(name, dtypes[i].name) == 0) {
            *dtype = dtypes[i].dtype;
            *size = dtypes[i].size;
            return 0;
        }
    }
    return -1;
}

int64_t safetensors_numel(const safetensors_tensor_t *tensor)
{
    int64_t n = 1;
    for (int i = 0; i < tensor->ndim; i++)
        n *= tensor->shape[i];
    return n;
}

/* Parses one header entry into `tensor`. Returns 0 or -1 after logging. */
static int parse_entry(const char *path, const char *name, json_t *entry, const uint8_t *data,
                       size_t data_size, safetensors_tensor_t *tensor)
{
    json_t *dtype = json_object_get(entry, "dtype");
    json_t *shape = json_object_get(entry, "shape");
    json_t *offsets = json_object_get(entry, "data_offsets");
    size_t element_size;
    if (!json_is_string(dtype) || !json_is_array(shape) || !json_is_array(offsets) ||
        json_array_size(offsets) != 2) {
        log_error("%s: tensor '%s' lacks a dtype, shape or data_offsets pair", path, name);
        return -1;
    }
    if (parse_dtype(json_string_value(dtype), &tensor->dtype, &element_size) != 0) {
        log_error("%s: tensor '%s' has unsupported dtype %s", path, name,
                  json_string_value(dtype));
        return -1;
    }
    if (json_array_size(shape) > SAFETENSORS_MAX_DIMS) {
        log_error("%s: tensor '%s' has more than %d dimensions", path, name,
                  SAFETENSORS_MAX_DIMS);
        return -1;
    }
    tensor->ndim = (int)json_array_size(shape);
    uint64_t numel = 1;
    for (int i = 0; i < tensor->ndim; i++) {
        json_t *dim = json_array_get(shape, (size_t)i);
        if (!json_is_integer(dim) || json_integer_value(dim) < 0 ||
            json_integer_value(dim) > (json_int_t)1 << 40) {
            log_error("%s: tensor '%s' has an invalid shape", path, name);
            return -1;
        }
        tensor->shape[i] = json_integer_value(dim);
        numel *= (uint64_t)tensor->shape[i];
        if (numel > (uint64_t)1 << 48) {
            log_error("%s: tensor '%s' is implausibly large", path, name);
            return -1;
        }
    }
    json_t *begin = json_array_get(offsets, 0), *end = json_array_get(offsets, 1);
    if (!json_is_integer(begin) || !json_is_integer(end) || json_integer_value(begin) < 0 ||
        json_integer_value(end) < json_integer_value(begin) ||
        (uint64_t)json_integer_value(end) > data_size) {
        log_error("%s: tensor '%s' has data_offsets outside the %zu data bytes", path, name,
                  data_size);
        return -1;
    }
    tensor->nbytes = (size_t)(json_integer_value(end) - json_integer_value(begin));
    if (tensor->nbytes != numel * element_size) {
        log_error("%s: tensor '%s' has %zu data bytes but its shape needs %llu", path, name,
                  tensor->nbytes, (unsigned long long)(numel * element_size));
        return -1;
    }
    tensor->data = data + json_integer_value(begin);
    tensor->name = strdup(name);
    return tensor->name ? 0 : -1;
}

static int compare_by_offset(const void *a, const void *b)
{
    const safetensors_tensor_t *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

/* Rejects overlapping data ranges (checked on a sorted copy). */
static int check_overlaps(const char *path, const safetensors_t *file)
{
    safetensors_tensor_t *sorted = malloc(file->count * sizeof *sorted + 1);
    if (!sorted)
        return -1;
    memcpy(sorted, file->tensors, file->count * sizeof *sorted);
    qsort(sorted, file->count, sizeof *sorted, compare_by_offset);
    int status = 0;
    for (size_t i = 1; i < file->count; i++) {
        const uint8_t *prev_end = (const uint8_t *)sorted[i - 1].data + sorted[i - 1].nbytes;
        if ((const uint8_t *)sorted[i].data < prev_end) {
            log_error("%s: tensors '%s' and '%s' overlap", path, sorted[i - 1].name,
                      sorted[i].name);
            status = -1;
            break;
        }
    }
    free(sorted);
    return status;
}

static int parse_header(safetensors_t *file, const char *header, size_t header_size,
                        const uint8_t *data, size_t data_size)
{
    json_error_t error;
    json_t *root = json_loadb(header, header_size, JSON_REJECT_DUPLICATES, &error);
    if (!root || !json_is_object(root)) {
        log_error("%s: invalid safetensors header JSON at byte %d: %s", file->path,
                  error.position + 8, root ? "not an object" : error.text);
        json_decref(root);
        return -1;
    }
    file->tensors = calloc(json_object_size(root) + 1, sizeof *file->tensors);
    if (!file->tensors) {
        json_decref(root);
        return -1;
    }
    const char *name;
    json_t *entry;
    int status = 0;
    json_object_foreach(root, name, entry)
    {
        if (strcmp(name, "__metadata__") == 0) {
            if (!json_is_object(entry)) {
                log_error("%s: __metadata__ must be an object of strings", file->path);
                status = -1;
                break;
            }
            file->metadata = json_incref(entry);
            continue;
        }
        if (!json_is_object(entry) ||
            parse_entry(file->path, name, entry, data, data_size,
                        &file->tensors[file->count]) != 0) {
            if (!json_is_object(entry))
                log_error("%s: header entry '%s' is not an object", file->path, name);
            status = -1;
            break;
        }
        file->count++;
    }
    json_decref(root);
    if (status == 0)
        status = check_overlaps(file->path, file);
    return status;
}

safetensors_t *safetensors_open(const char *path)
{
    safetensors_t *file = calloc(1, sizeof *file);
    int fd = -1;
    if (!file)
        return NULL;
    file->path = strdup(path);
    file->map = MAP_FAILED;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        log_error("%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    file->size = (size_t)st.st_size;
    if (file->size < 8) {
        log_error("%s: too short for a safetensors file (%zu bytes)", path, file->size);
        goto fail;
    }
    file->map = mmap(NULL, file->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file->map == MAP_FAILED) {
        log_error("%s: cannot map: %s", path, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;

    const uint8_t *bytes = file->map;
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; i--)
        header_size = header_size << 8 | bytes[i];
    if (header_size > SAFETENSORS_MAX_HEADER || header_size > file->size - 8) {
        log_error("%s: header length %llu does not fit the %zu-byte file; not a safetensors "
                  "file or truncated",
                  path, (unsigned long long)header_size, file->size);
        goto fail;
    }
    if (parse_header(file, (const char *)bytes + 8, (size_t)header_size, bytes + 8 + header_size,
                     file->size - 8 - (size_t)header_size) != 0)
        goto fail;
    return file;

fail:
    if (fd >= 0)
        close(fd);
    safetensors_close(file);
    return NULL;
}

void safetensors_close(safetensors_t *file)
{
    if (!file)
        return;
    if (file->map && file->map != MAP_FAILED)
        munmap(file->map, file->size);
    for (size_t i = 0; i < file->count; i++)
        free(file->tensors[i].name);
    free(file->tensors);
    json_decref(file->metadata);
    free(file->path);
    free(file);
}

size_t safetensors_count(const safetensors_t *file)
{
    return file->count;
}

const safetensors_tensor_t *safetensors_at(const safetensors_t *file, size_t index)
{
    return index < file->count ? &file->tensors[index] : NULL;
}

const safetensors_tensor_t *safetensors_find(const safetensors_t *file, const char *name)
{
    for (size_t i = 0; i < file->count; i++)
        if (strcmp(file->tensors[i].name, name) == 0)
            return &file->tensors[i];
    return NULL;
}

const char *safetensors_metadata(const safetensors_t *file, const char *key)
{
    return file->metadata ? json_string_value(json_object_get(file->metadata, key)) : NULL;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else { /* subnormal: normalize */
            exponent = 127 - 15 + 1;
            while (!(mantissa & 0x400)) {
                mantissa <<= 1;
                exponent--;
            }
            bits = sign | exponent << 23 | (mantissa & 0x3ff) << 13;
        }
    } else if (exponent == 31) {
        bits = sign | 0x7f800000u | mantissa << 13;
    } else {
        bits = sign | (exponent + 127 - 15) << 23 | mantissa << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

int safetensors_to_f32(const safetensors_tensor_t *tensor, float *out)
{
    int64_t n = safetensors_numel(tensor);
    const uint8_t *src = tensor->data;
    switch (tensor->dtype) {
    case SAFETENSORS_F32:
        memcpy(out, src, (size_t)n * sizeof(float));
        return 0;
    case SAFETENSORS_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            out[i] = half_to_float(h);
        }
        return 0;
    case SAFETENSORS_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&out[i], &bits, sizeof(float));
        }
        return 0;
    default:
        log_error("tensor '%s' is not a floating-point tensor (F32, F16 or BF16)", tensor->name);
        return -1;
    }
}

/* ---- writer ----------------------------------------------------------------- */

typedef struct {
    char *name;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    const float *data;
    bool owned;
} pending_tensor_t;

struct safetensors_writer {
    pending_tensor_t *tensors;
    size_t count;
    size_t capacity;
    json_t *metadata;
};

safetensors_writer_t *safetensors_writer_new(void)
{
    safetensors_writer_t *writer = calloc(1, sizeof *writer);
    if (writer)
        writer->metadata = json_object();
    return writer;
}

int safetensors_writer_add_f32(safetensors_writer_t *writer, const char *name, int ndim,
                               const int64_t *shape, const float *data, int owned)
{
    if (ndim < 0 || ndim > SAFETENSORS_MAX_DIMS || strcmp(name, "__metadata__") == 0) {
        log_error("safetensors: cannot add tensor '%s' with %d dimensions", name, ndim);
        return -1;
    }
    for (size_t i = 0; i < writer->count; i++) {
        if (strcmp(writer->tensors[i].name, name) == 0) {
            log_error("safetensors: tensor name '%s' is used twice", name);
            return -1;
        }
    }
    if (writer->count == writer->capacity) {
        size_t capacity = writer->capacity ? 2 * writer->capacity : 64;
        pending_tensor_t *grown = realloc(writer->tensors, capacity * sizeof *grown);
        if (!grown)
            return -1;
        writer->tensors = grown;
        writer->capacity = capacity;
    }
    pending_tensor_t *t = &writer->tensors[writer->count++];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int64_t));
    t->data = data;
    t->owned = owned != 0;
    return 0;
}

void safetensors_writer_set_metadata(safetensors_writer_t *writer, const char *key,
                                     const char *value)
{
    json_object_set_new(writer->metadata, key, json_string(value));
}

static size_t pending_bytes(const pending_tensor_t *t)
{
    size_t n = sizeof(float);
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

/* Builds the header JSON, padded with spaces to a multiple of 8 bytes. */
static char *build_header(const safetensors_writer_t *writer, size_t *length)
{
    json_t *root = json_object();
    if (json_object_size(writer->metadata) > 0)
        json_object_set(root, "__metadata__", writer->metadata);
    size_t offset = 0;
    for (size_t i = 0; i < writer->count; i++) {
        const pending_tensor_t *t = &writer->tensors[i];
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        size_t nbytes = pending_bytes(t);
        json_t *entry = json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape,
                                  "data_offsets", (json_int_t)offset,
                                  (json_int_t)(offset + nbytes));
        json_object_set_new(root, t->name, entry);
        offset += nbytes;
    }
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return NULL;
    size_t n = strlen(text), padded = (n + 7) / 8 * 8;
    char *header = realloc(text, padded + 1);
    if (!header) {
        free(text);
        return NULL;
    }
    memset(header + n, ' ', padded - n);
    header[padded] = '\0';
    *length = padded;
    return header;
}

int safetensors_writer_save(safetensors_writer_t *writer, const char *path)
{
    size_t header_size;
    char *header = build_header(writer, &header_size);
    char *temp = malloc(strlen(path) + 32);
    FILE *out = NULL;
    if (!header || !temp) {
        log_error("%s: cannot build the safetensors header", path);
        goto fail;
    }
    sprintf(temp, "%s.tmp-%ld", path, (long)getpid());
    out = fopen(temp, "wb");
    if (!out) {
        log_error("%s: cannot create: %s", temp, strerror(errno));
        goto fail;
    }
    uint8_t length[8];
    for (int i = 0; i < 8; i++)
        length[i] = (uint8_t)((uint64_t)header_size >> (8 * i));
    bool ok = fwrite(length, 1, 8, out) == 8 &&
              fwrite(header, 1, header_size, out) == header_size;
    for (size_t i = 0; ok && i < writer->count; i++) {
        size_t nbytes = pending_bytes(&writer->tensors[i]);
        ok = fwrite(writer->tensors[i].data, 1, nbytes, out) == nbytes;
    }
    ok = ok && fflush(out) == 0 && fsync(fileno(out)) == 0;
    if (fclose(out) != 0)
        ok = false;
    out = NULL;
    if (!ok || rename(temp, path) != 0) {
        log_error("%s: cannot write: %s", path, strerror(errno));
        unlink(temp);
        goto fail;
    }
    free(header);
    free(temp);
    return 0;

fail:
    if (out) {
        fclose(out);
        unlink(temp);
    }
    free(header);
    free(temp);
    return -1;
}

void safetensors_writer_free(safetensors_writer_t *writer)
{
    if (!writer)
        return;
    for (size_t i = 0; i < writer->count; i++) {
        free(writer->tensors[i].name);
        if (writer->tensors[i].owned)
            free((void *)writer->tensors[i].data);
    }
    free(writer->tensors);
    json_decref(writer->metadata);
    free(writer);
}
