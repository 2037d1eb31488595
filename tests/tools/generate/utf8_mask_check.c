/*
 * The UTF-8 mask of generate on hand-built tokenizers: which tokens it masks
 * after each kind of incomplete character, what apply writes into the logits,
 * and the unmasked fallback when a vocabulary has no valid token.
 */
#include <math.h>
#include <string.h>

#include "../../check.h"
#include "tokenizer.h"
#include "utf8_mask.h"

/* Id of the token whose bytes are `bytes`, or -1. */
static int64_t id_of(const tokenizer_t *t, const char *bytes, size_t length)
{
    for (uint32_t id = 0; id < tokenizer_vocab_size(t); id++) {
        size_t n = 0;
        const uint8_t *b = tokenizer_token_bytes(t, id, &n);
        if (b && n == length && memcmp(b, bytes, n) == 0)
            return id;
    }
    return -1;
}

static uint32_t byte_id(const tokenizer_t *t, unsigned byte)
{
    char c = (char)byte;
    return (uint32_t)id_of(t, &c, 1);
}

/* Starts a fresh mask and feeds it the single-byte tokens of `bytes`. */
static void restart(utf8_mask_t *mask, const tokenizer_t *t, const char *bytes)
{
    utf8_mask_free(mask);
    CHECK(utf8_mask_init(mask, t) == 0);
    for (size_t i = 0; bytes[i]; i++)
        utf8_mask_advance(mask, byte_id(t, (unsigned char)bytes[i]));
}

static void check_byte_tokens(void)
{
    /* 猫 is E7 8C AB; "\xe7a" is a lone lead byte followed by ASCII. */
    const uint8_t e7[] = {0xe7}, a[] = {'a'}, e7_8c[] = {0xe7, 0x8c}, ab[] = {0xab};
    tokenizer_merge_t merges[] = {
        {e7, a, 1, 1},
        {e7, (const uint8_t *)"\x8c", 1, 1},
        {e7_8c, ab, 2, 1},
    };
    const char *specials[] = {"<|endoftext|>"};
    tokenizer_t *t = tokenizer_from_merges(merges, 3, specials, 1);
    CHECK(t != NULL);
    uint32_t lead_ascii = (uint32_t)id_of(t, "\xe7" "a", 2);
    uint32_t cat = (uint32_t)id_of(t, "\xe7\x8c\xab", 3);
    uint32_t lead_cont = (uint32_t)id_of(t, "\xe7\x8c", 2);
    uint32_t eot = (uint32_t)tokenizer_eot_id(t);
    uint32_t letter = byte_id(t, 'a'), lead = byte_id(t, 0xe7), cont = byte_id(t, 0x8c);

    utf8_mask_t mask = {0};
    restart(&mask, t, "");
    CHECK(utf8_mask_allows(&mask, letter));
    CHECK(utf8_mask_allows(&mask, lead));
    CHECK(utf8_mask_allows(&mask, cat));
    CHECK(utf8_mask_allows(&mask, lead_cont));
    CHECK(utf8_mask_allows(&mask, eot));
    CHECK(!utf8_mask_allows(&mask, lead_ascii)); /* invalid inside the token itself */
    CHECK(!utf8_mask_allows(&mask, cont));       /* nothing to continue */
    CHECK(!utf8_mask_allows(&mask, byte_id(t, 0xc0))); /* always overlong */
    CHECK(!utf8_mask_allows(&mask, byte_id(t, 0xc1)));
    CHECK(!utf8_mask_allows(&mask, byte_id(t, 0xf5))); /* above U+10FFFF */
    CHECK(!utf8_mask_allows(&mask, byte_id(t, 0xff)));
    CHECK(!utf8_mask_incomplete(&mask));

    /* After a lone lead byte: ASCII, a new lead byte and <|endoftext|> are masked. */
    restart(&mask, t, "\xe7");
    CHECK(utf8_mask_incomplete(&mask));
    CHECK(!utf8_mask_allows(&mask, letter));
    CHECK(!utf8_mask_allows(&mask, lead));
    CHECK(!utf8_mask_allows(&mask, cat));
    CHECK(!utf8_mask_allows(&mask, eot));
    CHECK(!utf8_mask_allows(&mask, lead_ascii));
    CHECK(utf8_mask_allows(&mask, cont));
    CHECK(utf8_mask_allows(&mask, byte_id(t, 0xbf)));

    /* apply sets exactly the masked logits to -inf and counts the others. */
    uint32_t vocab = tokenizer_vocab_size(t);
    float logits[512];
    CHECK(vocab <= 512);
    for (uint32_t i = 0; i < vocab; i++)
        logits[i] = (float)i;
    uint32_t kept = utf8_mask_apply(&mask, logits);
    CHECK_INT_EQ(kept, 64); /* the continuation bytes 80..BF */
    CHECK(isinf(logits[letter]));
    CHECK(logits[letter] < 0);
    CHECK(isinf(logits[lead_ascii]));
    CHECK(logits[cont] == (float)cont);
    uint32_t counted = 0;
    for (uint32_t i = 0; i < vocab; i++)
        counted += !isinf(logits[i]);
    CHECK_INT_EQ(counted, kept);
    CHECK_INT_EQ(mask.fallbacks, 0);

    /* E7 8C AB completes the character. */
    restart(&mask, t, "\xe7\x8c");
    CHECK(utf8_mask_incomplete(&mask));
    CHECK(!utf8_mask_allows(&mask, letter));
    utf8_mask_advance(&mask, byte_id(t, 0xab));
    CHECK(!utf8_mask_incomplete(&mask));
    CHECK(utf8_mask_allows(&mask, letter));

    /* Restricted second bytes: overlong forms, surrogates, above U+10FFFF. */
    struct {
        const char *lead;
        unsigned bad, good;
    } cases[] = {
        {"\xe0", 0x9f, 0xa0}, /* E0 80..9F would be overlong */
        {"\xed", 0xa0, 0x9f}, /* ED A0..BF are surrogates */
        {"\xf0", 0x8f, 0x90}, /* F0 80..8F would be overlong */
        {"\xf4", 0x90, 0x8f}, /* F4 90..BF are above U+10FFFF */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        restart(&mask, t, cases[i].lead);
        CHECK(!utf8_mask_allows(&mask, byte_id(t, cases[i].bad)));
        CHECK(utf8_mask_allows(&mask, byte_id(t, cases[i].good)));
        utf8_mask_advance(&mask, byte_id(t, cases[i].good));
        CHECK(utf8_mask_incomplete(&mask)); /* one or two bytes still to come */
        CHECK(!utf8_mask_allows(&mask, letter));
    }
    restart(&mask, t, "\xf1\x80\x80");
    CHECK(!utf8_mask_allows(&mask, letter));
    utf8_mask_advance(&mask, cont);
    CHECK(!utf8_mask_incomplete(&mask));
    utf8_mask_free(&mask);
    tokenizer_free(t);
}

/* A vocabulary without continuation bytes: after a lead byte nothing is valid. */
static void check_fallback(void)
{
    /* In the byte-to-unicode spelling, "ç" is the byte E7. */
    const char json[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"\\u00e7\": 1},"
                        " \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"},"
                        " \"decoder\": {\"type\": \"ByteLevel\"}, \"added_tokens\": []}";
    tokenizer_t *t = tokenizer_load_json(json, strlen(json), "hand-built");
    if (!t) {
        CHECK(t != NULL);
        return;
    }
    utf8_mask_t mask = {0};
    CHECK(utf8_mask_init(&mask, t) == 0);
    uint32_t letter = (uint32_t)id_of(t, "a", 1), lead = (uint32_t)id_of(t, "\xe7", 1);
    utf8_mask_advance(&mask, lead);
    float logits[2] = {1.0f, 2.0f};
    CHECK_INT_EQ(utf8_mask_apply(&mask, logits), 0);
    /* Unchanged, because this step samples without the mask. */
    CHECK(logits[0] == 1.0f);
    CHECK(logits[1] == 2.0f);
    CHECK_INT_EQ(mask.fallbacks, 1);
    utf8_mask_advance(&mask, letter); /* the broken character is given up */
    CHECK(!utf8_mask_incomplete(&mask));
    CHECK(utf8_mask_allows(&mask, letter));
    utf8_mask_free(&mask);
    tokenizer_free(t);
}

int main(void)
{
    check_byte_tokens();
    check_fallback();
    return CHECK_DONE();
}
