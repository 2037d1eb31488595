/*
 * libFuzzer target for the WARC reader and the HTTP response decoder. Any
 * bytes, read as a WARC file (plain, gzip or zstd), must be consumed without
 * a crash, a leak or a hang. Every record block is parsed and decoded as an
 * HTTP response.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "warc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    if (!initialized) {
        log_init("fuzz_warc");
        log_set_level(LOG_LEVEL_ERROR);
        initialized = 1;
    }
    if (size == 0)
        return 0;
    FILE *file = fmemopen((void *)data, size, "rb");
    if (!file)
        return 0;
    /* A small block limit exercises the skipping of oversized blocks too. */
    warc_reader_options_t options = {.max_block_bytes = 1 << 16};
    warc_reader_t *reader = warc_reader_open_stream(file, "fuzz-input", &options);
    warc_record_t *record;
    while (reader && warc_reader_next(reader, &record) == 1) {
        if (!record->block)
            continue;
        http_response_t response;
        if (http_response_parse(record->block, record->block_length, &response) != 0)
            continue;
        unsigned char *body = NULL;
        size_t body_length = 0;
        http_decode_body(&response, 1 << 20, &body, &body_length);
        free(body);
        http_response_free(&response);
    }
    warc_reader_close(reader);
    fclose(file);
    return 0;
}
