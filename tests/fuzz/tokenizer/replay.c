/*
 * Runs a fuzz target without libFuzzer, as a unit test: files given on the
 * command line (a corpus), then inputs made from the fixtures by a fixed
 * pseudo-random generator: random bytes, UTF-8 fragments and special-token
 * markers spliced together, and tokenizer.json files cut short or with bytes
 * replaced. A failed check in the target aborts the process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t state = 0x2545f4914f6cdd1dull;

static uint32_t next_random(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 16);
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *data = malloc(length > 0 ? (size_t)length : 1);
    *size = data ? fread(data, 1, (size_t)length, file) : 0;
    fclose(file);
    return data;
}

/* Builds a text from random pieces: bytes, ASCII words, Chinese, emoji,
 * combining marks, whitespace and special-token markers. */
static size_t make_text(uint8_t *out, size_t capacity)
{
    static const char *const pieces[] = {
        "the", " model", "'s", "'LL", "123456", " ", "  ", "\n", "\r\n", "\t", "我们", "训练",
        "😀", "e\xcc\x81", "\xe1\xa0\x8e", "<|endoftext|>", "<|begin_of_text|>", "<|im_start|>",
        "<|endof", "\xc2\xa0", "\xe3\x80\x80", "JSONParser", "!!", "...", "_", "\xef\xbb\xbf"};
    size_t used = 0, count = next_random() % 40;
    for (size_t i = 0; i < count; i++) {
        uint32_t kind = next_random() % 4;
        if (kind == 0) {
            size_t run = 1 + next_random() % 8;
            for (size_t j = 0; j < run && used < capacity; j++)
                out[used++] = (uint8_t)next_random();
        } else {
            const char *piece = pieces[next_random() % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t length = strlen(piece);
            size_t repeat = kind == 1 ? 1 + next_random() % 100 : 1;
            for (size_t r = 0; r < repeat && used + length <= capacity; r++) {
                memcpy(out + used, piece, length);
                used += length;
            }
        }
    }
    return used;
}

int main(int argc, char **argv)
{
    uint8_t *buffer = malloc(1 << 20);
    if (!buffer)
        return 1;
    size_t runs = 0;
    for (int i = 1; i < argc; i++) {
        size_t size = 0;
        uint8_t *data = read_file(argv[i], &size);
        if (!data) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput(data, size);
        runs++;
        /* Variants: cut short, and with a few bytes replaced. */
        for (int round = 0; round < 60 && size > 0; round++) {
            size_t length = next_random() % size + 1;
            memcpy(buffer, data, length < (1u << 20) ? length : (1u << 20));
            if (length > (1u << 20))
                length = 1u << 20;
            size_t changes = round < 20 ? 0 : 1 + next_random() % 4;
            for (size_t c = 0; c < changes; c++)
                buffer[next_random() % length] = (uint8_t)"\"{}[]:,0 a\\"[next_random() % 11];
            if (round >= 20)
                length = size < (1u << 20) ? size : (1u << 20);
            LLVMFuzzerTestOneInput(buffer, length);
            runs++;
        }
        free(data);
    }
    for (int round = 0; round < 3000; round++) {
        buffer[0] = (uint8_t)next_random();
        size_t size = 1 + make_text(buffer + 1, 8191);
        LLVMFuzzerTestOneInput(buffer, size);
        runs++;
    }
    printf("%zu inputs, no failure\n", runs);
    free(buffer);
    return 0;
}
