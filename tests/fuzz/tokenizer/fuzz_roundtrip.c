/*
 * Fuzz target: any bytes encode and decode back to exactly the same bytes,
 * whether special tokens are allowed or not, through tokenizer_decode and
 * through the streaming decoder; the template encoding only adds ids around
 * the text.
 *
 * The first input byte picks the options and the tokenizer (the fixture in
 * GPT-2, Llama 3 or Qwen2 layout; Qwen2's NFC normalizer is checked for ids
 * only, since NFC may change the text); the rest is the text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tokenizer_t *tokenizers[3];

static void load_tokenizers(void)
{
    static const char *const names[] = {"tokenizer.json", "llama3-style.json",
                                        "qwen2-style.json"};
    log_init("fuzz_roundtrip");
    log_set_level(LOG_LEVEL_ERROR);
    for (int i = 0; i < 3; i++) {
        char path[1024];
        strcpy(path, TOKENIZER_FIXTURES "/");
        strcat(path, names[i]);
        tokenizers[i] = tokenizer_load(path);
        if (!tokenizers[i])
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tokenizers[0])
        load_tokenizers();
    if (size == 0)
        return 0;
    bool allow_special = data[0] & 1;
    int which = (data[0] >> 1) % 3;
    const tokenizer_t *t = tokenizers[which];
    const char *text = (const char *)data + 1;
    size_t length = size - 1;

    token_buffer_t ids = {0}, templated = {0};
    if (tokenizer_encode(t, text, length, allow_special, &ids) != 0)
        abort();
    if (tokenizer_encode_with_template(t, text, length, allow_special, &templated) != 0 ||
        templated.count < ids.count)
        abort();
    if (which == 2) {
        token_buffer_free(&ids);
        token_buffer_free(&templated);
        return 0;
    }
    char *decoded = NULL;
    size_t decoded_length = 0;
    if (tokenizer_decode(t, ids.ids, ids.count, &decoded, &decoded_length) != 0 ||
        decoded_length != length || memcmp(decoded, text, length) != 0)
        abort();
    free(decoded);

    tokenizer_stream_t stream;
    tokenizer_stream_init(&stream, t);
    size_t streamed = 0;
    for (size_t i = 0; i < ids.count; i++) {
        size_t got = 0;
        const char *piece = tokenizer_stream_push(&stream, ids.ids[i], &got);
        if (!piece || streamed + got > length || memcmp(piece, text + streamed, got) != 0)
            abort();
        streamed += got;
    }
    size_t rest = 0;
    const char *tail = tokenizer_stream_flush(&stream, &rest);
    if (streamed + rest != length || (rest && memcmp(tail, text + streamed, rest) != 0))
        abort();
    tokenizer_stream_free(&stream);
    token_buffer_free(&ids);
    token_buffer_free(&templated);
    return 0;
}
