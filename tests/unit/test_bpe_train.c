/*
 * BPE training tests: the incremental trainer against a plain reference that
 * recounts every pair after each merge, thread-count independence, the
 * min-frequency and max-token-bytes limits, special tokens, and pieces from
 * the pre-tokenizer covering any input exactly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe_train.h"
#include "check.h"
#include "log.h"
#include "pretokenize.h"
#include "tokenizer.h"

#ifndef TOKENIZER_FIXTURES
#error "TOKENIZER_FIXTURES must name tests/fixtures/tokenizer"
#endif

static char *read_file(const char *path, size_t limit, size_t *length)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    char *text = malloc(limit + 1);
    *length = fread(text, 1, limit, file);
    text[*length] = '\0';
    fclose(file);
    return text;
}

/* ---- Reference trainer: recounts all pairs for every merge --------------------------------- */

typedef struct {
    uint8_t *bytes;
    size_t length;
} token_bytes_t;

typedef struct {
    int *symbols; /* indexes into the reference token list */
    size_t length;
    uint64_t count;
} reference_word_t;

typedef struct {
    reference_word_t *words;
    size_t word_count;
    token_bytes_t *tokens;
    size_t token_count;
} reference_t;

static int compare_token_bytes(const token_bytes_t *a, const token_bytes_t *b)
{
    size_t n = a->length < b->length ? a->length : b->length;
    int order = memcmp(a->bytes, b->bytes, n);
    return order ? order : (a->length > b->length) - (a->length < b->length);
}

static int reference_word(void *context, const char *piece, size_t length)
{
    reference_t *reference = context;
    for (size_t w = 0; w < reference->word_count; w++) {
        reference_word_t *word = &reference->words[w];
        bool same = word->length == length;
        for (size_t k = 0; same && k < length; k++)
            same = word->symbols[k] == (uint8_t)piece[k];
        if (same) {
            word->count++;
            return 0;
        }
    }
    reference_word_t *word = &reference->words[reference->word_count++];
    word->symbols = malloc(length * sizeof(int));
    for (size_t k = 0; k < length; k++)
        word->symbols[k] = (uint8_t)piece[k];
    word->length = length;
    word->count = 1;
    return 0;
}

/* Runs plain BPE: symbols start as byte values; each step merges the pair
 * with the highest count, ties to the smaller (left bytes, right bytes). */
static size_t reference_train(reference_t *reference, size_t merges, uint64_t min_frequency,
                              token_bytes_t *out)
{
    reference->tokens = calloc(256 + merges, sizeof(token_bytes_t));
    for (int b = 0; b < 256; b++) {
        reference->tokens[b].bytes = malloc(1);
        reference->tokens[b].bytes[0] = (uint8_t)b;
        reference->tokens[b].length = 1;
    }
    reference->token_count = 256;
    size_t done = 0;
    for (; done < merges; done++) {
        uint64_t best_count = 0;
        int best_left = -1, best_right = -1;
        for (size_t w = 0; w < reference->word_count; w++) {
            reference_word_t *word = &reference->words[w];
            for (size_t k = 0; k + 1 < word->length; k++) {
                int left = word->symbols[k], right = word->symbols[k + 1];
                uint64_t count = 0;
                for (size_t v = 0; v < reference->word_count; v++) {
                    reference_word_t *other = &reference->words[v];
                    for (size_t j = 0; j + 1 < other->length; j++) {
                        if (other->symbols[j] == left && other->symbols[j + 1] == right)
                            count += other->count;
                    }
                }
                bool better = count > best_count;
                if (count == best_count && count > 0) {
                    int order = compare_token_bytes(&reference->tokens[left],
                                                    &reference->tokens[best_left]);
                    if (order == 0)
                        order = compare_token_bytes(&reference->tokens[right],
                                                    &reference->tokens[best_right]);
                    better = order < 0;
                }
                if (better) {
                    best_count = count;
                    best_left = left;
                    best_right = right;
                }
            }
        }
        if (best_count < min_frequency || best_count == 0)
            break;
        token_bytes_t *left = &reference->tokens[best_left];
        token_bytes_t *right = &reference->tokens[best_right];
        token_bytes_t merged = {malloc(left->length + right->length),
                                left->length + right->length};
        memcpy(merged.bytes, left->bytes, left->length);
        memcpy(merged.bytes + left->length, right->bytes, right->length);
        int merged_index = -1;
        for (size_t i = 0; i < reference->token_count; i++) {
            if (compare_token_bytes(&reference->tokens[i], &merged) == 0)
                merged_index = (int)i;
        }
        if (merged_index < 0) {
            merged_index = (int)reference->token_count;
            reference->tokens[reference->token_count++] = merged;
        } else {
            free(merged.bytes);
        }
        out[done] = reference->tokens[merged_index];
        for (size_t w = 0; w < reference->word_count; w++) {
            reference_word_t *word = &reference->words[w];
            size_t used = 0;
            for (size_t k = 0; k < word->length;) {
                if (k + 1 < word->length && word->symbols[k] == best_left &&
                    word->symbols[k + 1] == best_right) {
                    word->symbols[used++] = merged_index;
                    k += 2;
                } else {
                    word->symbols[used++] = word->symbols[k++];
                }
            }
            word->length = used;
        }
    }
    return done;
}

static void reference_free(reference_t *reference)
{
    for (size_t w = 0; w < reference->word_count; w++)
        free(reference->words[w].symbols);
    for (size_t i = 0; i < reference->token_count; i++)
        free(reference->tokens[i].bytes);
    free(reference->words);
    free(reference->tokens);
}

/* The trained merge results, in order, equal the reference's. */
static void test_matches_reference(const char *text, size_t length)
{
    enum { MERGES = 120 };
    reference_t reference = {calloc(length + 1, sizeof(reference_word_t)), 0, NULL, 0};
    pretokenizer_t *pretokenizer = pretokenizer_create(NULL);
    pretokenize_split(pretokenizer, text, length, reference_word, &reference);
    pretokenizer_free(pretokenizer);
    token_bytes_t expected[MERGES];
    size_t expected_count = reference_train(&reference, MERGES, 2, expected);
    CHECK_INT_EQ(expected_count, MERGES);

    bpe_word_counts_t *counts = bpe_word_counts_create(NULL, 0);
    CHECK_INT_EQ(bpe_word_counts_add_text(counts, text, length), 0);
    bpe_train_options_t options = {.vocab_size = 256 + MERGES, .min_frequency = 2};
    tokenizer_t *t = bpe_train(counts, &options);
    CHECK(t != NULL);
    if (t) {
        CHECK_INT_EQ(tokenizer_vocab_size(t), 256 + MERGES);
        size_t differences = 0;
        /* Merge results that repeat an earlier token add no id, so walk both lists. */
        uint32_t id = 256;
        for (size_t i = 0; i < expected_count && id < tokenizer_vocab_size(t); i++) {
            bool repeated = false;
            for (size_t j = 0; j < i; j++)
                repeated |= compare_token_bytes(&expected[j], &expected[i]) == 0;
            if (repeated)
                continue;
            size_t token_length = 0;
            const uint8_t *bytes = tokenizer_token_bytes(t, id++, &token_length);
            if (!bytes || token_length != expected[i].length ||
                memcmp(bytes, expected[i].bytes, token_length) != 0) {
                differences++;
                fprintf(stderr, "merge %zu: expected \"%.*s\", got \"%.*s\"\n", i,
                        (int)expected[i].length, expected[i].bytes, (int)token_length,
                        bytes ? (const char *)bytes : "");
            }
        }
        CHECK_INT_EQ(differences, 0);
    }
    tokenizer_free(t);
    bpe_word_counts_free(counts);
    reference_free(&reference);
}

/* Counting on several threads, in any chunking, gives the same tokenizer. */
static void test_threads_deterministic(const char *text, size_t length)
{
    const char *specials[] = {TOKENIZER_EOT_TOKEN};
    bpe_train_options_t options = {.vocab_size = 600, .min_frequency = 2,
                                   .special_tokens = specials, .special_count = 1};
    char hashes[3][33];
    int thread_counts[3] = {1, 2, 3};
    for (int run = 0; run < 3; run++) {
        bpe_counter_t *counter = bpe_counter_start(thread_counts[run], specials, 1);
        CHECK(counter != NULL);
        /* Feed lines as separate texts, as documents would arrive. */
        size_t start = 0;
        for (size_t i = 0; i <= length; i++) {
            if (i == length || text[i] == '\n') {
                size_t end = i == length ? length : i + 1;
                CHECK_INT_EQ(bpe_counter_add(counter, text + start, end - start), 0);
                start = i + 1;
            }
        }
        bpe_word_counts_t *counts = bpe_counter_finish(counter);
        CHECK(counts != NULL);
        tokenizer_t *t = counts ? bpe_train(counts, &options) : NULL;
        CHECK(t != NULL);
        if (t) {
            tokenizer_hash(t, hashes[run]);
            CHECK_INT_EQ(tokenizer_vocab_size(t), 600);
            CHECK_INT_EQ(tokenizer_eot_id(t), 599);
        } else {
            strcpy(hashes[run], "failed");
        }
        tokenizer_free(t);
        bpe_word_counts_free(counts);
    }
    CHECK_STR_EQ(hashes[1], hashes[0]);
    CHECK_STR_EQ(hashes[2], hashes[0]);
}

static void test_limits_and_specials(void)
{
    const char *specials[] = {"<|endoftext|>", "<|pad|>"};
    bpe_word_counts_t *counts = bpe_word_counts_create(specials, 2);
    const char *text = "abcabcabc<|endoftext|>abcabc<|pad|> xyz xyz";
    CHECK_INT_EQ(bpe_word_counts_add_text(counts, text, strlen(text)), 0);
    /* Pieces: "abcabcabc", "abcabc", " xyz" twice; the special tokens are cut out. */
    CHECK_INT_EQ(bpe_word_counts_distinct(counts), 3);
    CHECK_INT_EQ(bpe_word_counts_total(counts), 4);

    bpe_train_options_t options = {.vocab_size = 1000, .min_frequency = 2,
                                   .max_token_bytes = 2, .special_tokens = specials,
                                   .special_count = 2};
    tokenizer_t *t = bpe_train(counts, &options);
    CHECK(t != NULL);
    if (t) {
        uint32_t size = tokenizer_vocab_size(t);
        CHECK(size < 1000);
        CHECK_INT_EQ(tokenizer_token_id(t, "<|pad|>"), size - 1);
        CHECK_INT_EQ(tokenizer_eot_id(t), size - 2);
        size_t longest = 0;
        for (uint32_t id = 0; id + 2 < size; id++) {
            size_t length = 0;
            tokenizer_token_bytes(t, id, &length);
            longest = length > longest ? length : longest;
        }
        CHECK_INT_EQ(longest, 2);

        token_buffer_t buffer = {0};
        CHECK_INT_EQ(tokenizer_encode(t, text, strlen(text), true, &buffer), 0);
        size_t specials_seen = 0;
        for (size_t i = 0; i < buffer.count; i++)
            specials_seen += tokenizer_is_special(t, buffer.ids[i]);
        CHECK_INT_EQ(specials_seen, 2);
        token_buffer_free(&buffer);
    }
    tokenizer_free(t);

    options.vocab_size = 200;
    CHECK(bpe_train(counts, &options) == NULL);
    bpe_word_counts_free(counts);
}

typedef struct {
    char joined[4096];
    size_t used;
    size_t pieces;
} collected_t;

static int collect_piece(void *context, const char *piece, size_t length)
{
    collected_t *collected = context;
    memcpy(collected->joined + collected->used, piece, length);
    collected->used += length;
    collected->pieces++;
    return 0;
}

static int count_pieces(void *context, const char *piece, size_t length)
{
    (void)piece;
    (void)length;
    ++*(size_t *)context;
    return 0;
}

static void test_pretokenize_cases(void)
{
    pretokenizer_t *pretokenizer = pretokenizer_create(NULL);
    struct {
        const char *text;
        size_t pieces;
    } cases[] = {
        {"Hello world", 2},
        {"it's", 2},
        {"a  b", 3},          /* "a", " ", " b" */
        {"x\xff\xfey", 3},    /* invalid bytes form their own piece */
        {"中文，测试", 3},
        {"   ", 1},
        {"\xe4\xb8", 1},      /* a truncated character */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        collected_t collected = {0};
        size_t length = strlen(cases[i].text);
        CHECK_INT_EQ(pretokenize_split(pretokenizer, cases[i].text, length, collect_piece,
                                       &collected), 0);
        CHECK_INT_EQ(collected.pieces, cases[i].pieces);
        CHECK_INT_EQ(collected.used, length);
        CHECK(memcmp(collected.joined, cases[i].text, length) == 0);
    }
    /* Long runs match as one piece without exhausting the JIT stack. */
    const char *runs[] = {"!?", "a", " ", "1", "\xe4\xb8\xad"};
    for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
        size_t unit = strlen(runs[r]), length = 3000000;
        char *text = malloc(length + 2);
        for (size_t i = 0; i < length; i += unit)
            memcpy(text + i, runs[r], unit);
        text[length] = 'x';
        size_t pieces = 0;
        CHECK_INT_EQ(pretokenize_split(pretokenizer, text, length + 1, count_pieces, &pieces), 0);
        CHECK(pieces >= 1 && pieces <= 2);
        free(text);
    }
    CHECK(pretokenizer_create("(unclosed") == NULL);
    pretokenizer_free(pretokenizer);
}

int main(void)
{
    log_init("test_bpe_train");
    log_set_level(LOG_LEVEL_ERROR);
    size_t length = 0;
    char *text = read_file(TOKENIZER_FIXTURES "/train.txt", 1 << 20, &length);
    CHECK(text != NULL);
    if (text) {
        test_matches_reference(text, length < 6000 ? length : 6000);
        test_threads_deterministic(text, length);
    }
    test_limits_and_specials();
    test_pretokenize_cases();
    free(text);
    return CHECK_DONE();
}
