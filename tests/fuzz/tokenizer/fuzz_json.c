/*
 * Fuzz target: the tokenizer.json parser. Any input either loads or is
 * rejected with a logged error; a tokenizer that loads encodes and decodes a
 * fixed text without failing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        log_init("fuzz_json");
        log_set_level(LOG_LEVEL_ERROR);
        started = true;
    }
    tokenizer_t *t = tokenizer_load_json((const char *)data, size, "fuzz");
    if (!t)
        return 0;
    static const char text[] = "Hello <|endoftext|> 世界 123 \xff\xfe done";
    token_buffer_t ids = {0};
    if (tokenizer_encode(t, text, sizeof(text) - 1, true, &ids) != 0)
        abort();
    char *decoded = NULL;
    size_t decoded_length = 0;
    if (tokenizer_decode(t, ids.ids, ids.count, &decoded, &decoded_length) != 0)
        abort();
    free(decoded);
    char *json_text = tokenizer_to_json(t);
    free(json_text);
    token_buffer_free(&ids);
    tokenizer_free(t);
    return 0;
}
