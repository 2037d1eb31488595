/*
 * Reading and writing the safetensors format (Hugging Face).
 *
 * Layout: an unsigned 64-bit little-endian header length N, then N bytes of
 * UTF-8 JSON mapping each tensor name to {"dtype", "shape", "data_offsets":
 * [begin, end)} (offsets relative to the first byte after the header), plus an
 * optional "__metadata__" map of strings, then the raw little-endian data.
 * The JSON is parsed with jansson. The reader maps the file and checks every
 * entry (dtype known, offsets inside the data and in agreement with the
 * shape, no overlaps) before handing out pointers, because checkpoints may
 * come from anywhere.
 */
#ifndef LMPIPE_SAFETENSORS_H
#define LMPIPE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define SAFETENSORS_MAX_DIMS 8
/* Headers above this size are rejected, as the reference implementation does. */
#define SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)

typedef enum {
    SAFETENSORS_F32,
    SAFETENSORS_F16,
    SAFETENSORS_BF16,
    SAFETENSORS_I32,
    SAFETENSORS_I64,
    SAFETENSORS_U8,
} safetensors_dtype_t;

typedef struct {
    char *name;
    safetensors_dtype_t dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    const void *data; /* inside the mapped file */
    size_t nbytes;
} safetensors_tensor_t;

typedef struct safetensors safetensors_t;

/* Maps and validates a file. Returns NULL after logging what is wrong and where. */
safetensors_t *safetensors_open(const char *path);
void safetensors_close(safetensors_t *file);

size_t safetensors_count(const safetensors_t *file);
const safetensors_tensor_t *safetensors_at(const safetensors_t *file, size_t index);
/* Returns the tensor called `name`, or NULL. */
const safetensors_tensor_t *safetensors_find(const safetensors_t *file, const char *name);
/* Returns a metadata value, or NULL. */
const char *safetensors_metadata(const safetensors_t *file, const char *key);

/* Returns the number of elements of a tensor (1 for a scalar). */
int64_t safetensors_numel(const safetensors_tensor_t *tensor);

/*
 * Converts a F32, F16 or BF16 tensor to fp32 in `out` (numel floats).
 * Returns 0, or -1 after logging an unsupported dtype.
 */
int safetensors_to_f32(const safetensors_tensor_t *tensor, float *out);

/* ---- writing ---------------------------------------------------------------- */

typedef struct safetensors_writer safetensors_writer_t;

safetensors_writer_t *safetensors_writer_new(void);

/*
 * Adds an fp32 tensor. With `owned` the writer frees `data` when it is freed;
 * otherwise `data` must stay valid until safetensors_writer_save returns.
 * Names must be unique. Returns 0, or -1 after logging.
 */
int safetensors_writer_add_f32(safetensors_writer_t *writer, const char *name, int ndim,
                               const int64_t *shape, const float *data, int owned);

void safetensors_writer_set_metadata(safetensors_writer_t *writer, const char *key,
                                     const char *value);

/*
 * Writes the file: tensors in the order they were added, the header padded
 * with spaces to a multiple of 8 bytes so the data is aligned. Writes to a
 * temporary name in the same folder, syncs and renames, so `path` never holds
 * half a file. Returns 0, or -1 after logging.
 */
int safetensors_writer_save(safetensors_writer_t *writer, const char *path);

void safetensors_writer_free(safetensors_writer_t *writer);

#endif
