/*
 * safetensors writer and reader: a round trip, the byte layout, fp16 and
 * bf16 conversion, and rejection of damaged files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "safetensors.h"

static char folder[] = "/tmp/lmpipe-test-safetensors.XXXXXX";

static void write_bytes(const char *path, const void *data, size_t size)
{
    FILE *out = fopen(path, "wb");
    fwrite(data, 1, size, out);
    fclose(out);
}

/* Writes a file with the given header JSON and `data_size` zero data bytes. */
static void write_raw(const char *path, const char *header, size_t data_size)
{
    size_t n = strlen(header);
    uint8_t *bytes = calloc(8 + n + data_size, 1);
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(bytes + 8, header, n);
    write_bytes(path, bytes, 8 + n + data_size);
    free(bytes);
}

static void test_round_trip(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/a.safetensors", folder);
    float matrix[6] = {1, 2, 3, 4, 5, 6};
    float *owned = malloc(3 * sizeof(float));
    owned[0] = -1.5f, owned[1] = 0.25f, owned[2] = 1e-20f;
    safetensors_writer_t *w = safetensors_writer_new();
    CHECK_INT_EQ(safetensors_writer_add_f32(w, "layer.weight", 2, (int64_t[]){2, 3}, matrix, 0),
                 0);
    CHECK_INT_EQ(safetensors_writer_add_f32(w, "layer.bias", 1, (int64_t[]){3}, owned, 1), 0);
    CHECK_INT_EQ(safetensors_writer_add_f32(w, "layer.bias", 1, (int64_t[]){3}, matrix, 0), -1);
    safetensors_writer_set_metadata(w, "format", "pt");
    CHECK_INT_EQ(safetensors_writer_save(w, path), 0);
    safetensors_writer_free(w);

    /* The header length is little-endian and the data starts 8-byte aligned. */
    FILE *in = fopen(path, "rb");
    uint8_t head[8];
    CHECK_INT_EQ(fread(head, 1, 8, in), 8);
    fclose(in);
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; i--)
        header_size = header_size << 8 | head[i];
    CHECK_INT_EQ(header_size % 8, 0);

    safetensors_t *file = safetensors_open(path);
    CHECK(file != NULL);
    if (!file)
        return;
    CHECK_INT_EQ(safetensors_count(file), 2);
    CHECK_STR_EQ(safetensors_metadata(file, "format"), "pt");
    const safetensors_tensor_t *weight = safetensors_find(file, "layer.weight");
    CHECK(weight != NULL);
    CHECK_INT_EQ(weight->ndim, 2);
    CHECK_INT_EQ(weight->shape[0], 2);
    CHECK_INT_EQ(weight->shape[1], 3);
    CHECK_INT_EQ(((uintptr_t)weight->data - 8) % 8, 0);
    float values[6];
    CHECK_INT_EQ(safetensors_to_f32(weight, values), 0);
    CHECK(memcmp(values, matrix, sizeof matrix) == 0);
    const safetensors_tensor_t *bias = safetensors_find(file, "layer.bias");
    CHECK_INT_EQ(safetensors_to_f32(bias, values), 0);
    CHECK(values[0] == -1.5f && values[1] == 0.25f && values[2] == 1e-20f);
    CHECK(safetensors_find(file, "missing") == NULL);
    safetensors_close(file);
}

static void test_half_precision(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/half.safetensors", folder);
    /* F16: 1.0 = 0x3c00, -2.0 = 0xc000, 2^-24 (smallest subnormal) = 0x0001.
     * BF16: 1.0 = 0x3f80, -0.5 = 0xbf00. */
    const char *header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                         "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[6,10]}}";
    size_t n = strlen(header);
    uint8_t bytes[256] = {0};
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(bytes + 8, header, n);
    uint8_t data[10] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x80, 0x3f, 0x00, 0xbf};
    memcpy(bytes + 8 + n, data, sizeof data);
    write_bytes(path, bytes, 8 + n + sizeof data);

    safetensors_t *file = safetensors_open(path);
    CHECK(file != NULL);
    if (!file)
        return;
    float values[3];
    CHECK_INT_EQ(safetensors_to_f32(safetensors_find(file, "h"), values), 0);
    CHECK(values[0] == 1.0f && values[1] == -2.0f);
    CHECK_NEAR(values[2], 5.9604644775390625e-08, 1e-15);
    CHECK_INT_EQ(safetensors_to_f32(safetensors_find(file, "b"), values), 0);
    CHECK(values[0] == 1.0f && values[1] == -0.5f);
    safetensors_close(file);
}

static void test_rejects_damaged_files(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/bad.safetensors", folder);
    static const struct {
        const char *header;
        size_t data_size;
    } cases[] = {
        {"not json", 0},
        {"[1, 2]", 0},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4},  /* past end */
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8},  /* size */
        {"{\"x\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8},   /* dtype */
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12}, /* overlap */
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16}, /* duplicate */
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_raw(path, cases[i].header, cases[i].data_size);
        safetensors_t *file = safetensors_open(path);
        if (file)
            fprintf(stderr, "case %zu was accepted: %s\n", i, cases[i].header);
        CHECK(file == NULL);
        safetensors_close(file);
    }

    /* A header length larger than the file. */
    uint8_t bytes[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_bytes(path, bytes, sizeof bytes);
    CHECK(safetensors_open(path) == NULL);

    /* Too short to hold the length. */
    write_bytes(path, bytes, 4);
    CHECK(safetensors_open(path) == NULL);
}

int main(void)
{
    if (!mkdtemp(folder)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_half_precision();
    test_rejects_damaged_files();
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", folder);
    if (system(command) != 0)
        fprintf(stderr, "cannot remove %s\n", folder);
    return CHECK_DONE();
}
