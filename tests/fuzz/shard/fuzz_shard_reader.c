/*
 * Fuzz target for the token shard reader: the input bytes are a shard file.
 * Opening, verifying and reading tokens, loss masks and pairs must either
 * succeed or fail with an error; never crash, hang or read out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("shard", 0);
    if (fd < 0)
        abort();
    if (size > 0 && write(fd, data, size) != (ssize_t)size)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    shard_reader_t *reader = shard_reader_open(path);
    if (reader) {
        const shard_info_t *info = shard_reader_info(reader);
        /* The index was validated against the file size, so these bounds hold. */
        if (info->index_offset + info->index_size != size)
            abort();
        int32_t tokens[64];
        uint8_t mask[64];
        size_t count = info->token_count < 64 ? (size_t)info->token_count : 64;
        if (shard_reader_read_tokens(reader, 0, count, tokens) == 0) {
            for (size_t i = 0; i < count; i++) {
                if (info->token_bytes == 2 && (tokens[i] < 0 || tokens[i] > 65535))
                    abort();
            }
        }
        shard_reader_loss_mask(reader, info->token_count - count, count, mask);
        for (uint64_t d = 0; d < info->document_count && d < 16; d++) {
            if (shard_reader_document_length(reader, d) == 0)
                abort();
        }
        for (uint64_t p = 0; p < info->pair_count && p < 16; p++) {
            shard_pair_t pair = shard_reader_pair(reader, p);
            if (pair.chosen >= info->document_count)
                abort();
        }
        shard_reader_verify(reader);
        shard_reader_close(reader);
    }
    close(fd);
    return 0;
}
