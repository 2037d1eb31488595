/* Masking of tokens that would break UTF-8; see utf8_mask.h. */
#include "utf8_mask.h"

#include <math.h>
#include <stdlib.h>

/* What the end of the text needs next. */
enum {
    AT_BOUNDARY,    /* a whole character or nothing */
    NEED_1,         /* one continuation byte 80..BF */
    NEED_2,         /* two continuation bytes */
    NEED_3,         /* three continuation bytes */
    AFTER_E0,       /* A0..BF (no overlong 3-byte form), then one more */
    AFTER_ED,       /* 80..9F (no surrogates), then one more */
    AFTER_F0,       /* 90..BF (no overlong 4-byte form), then two more */
    AFTER_F4,       /* 80..8F (nothing above U+10FFFF), then two more */
    INVALID = 0xff, /* the bytes are not UTF-8 */
};

/* Returns the state after `byte` (RFC 3629 section 4). */
static uint8_t step(uint8_t state, uint8_t byte)
{
    bool continuation = byte >= 0x80 && byte <= 0xbf;
    switch (state) {
    case AT_BOUNDARY:
        if (byte < 0x80)
            return AT_BOUNDARY;
        if (byte >= 0xc2 && byte <= 0xdf)
            return NEED_1;
        if (byte == 0xe0)
            return AFTER_E0;
        if (byte == 0xed)
            return AFTER_ED;
        if (byte >= 0xe1 && byte <= 0xef)
            return NEED_2;
        if (byte == 0xf0)
            return AFTER_F0;
        if (byte >= 0xf1 && byte <= 0xf3)
            return NEED_3;
        if (byte == 0xf4)
            return AFTER_F4;
        return INVALID; /* 80..C1 and F5..FF never start a character */
    case NEED_1:
        return continuation ? AT_BOUNDARY : INVALID;
    case NEED_2:
        return continuation ? NEED_1 : INVALID;
    case NEED_3:
        return continuation ? NEED_2 : INVALID;
    case AFTER_E0:
        return byte >= 0xa0 && byte <= 0xbf ? NEED_1 : INVALID;
    case AFTER_ED:
        return byte >= 0x80 && byte <= 0x9f ? NEED_1 : INVALID;
    case AFTER_F0:
        return byte >= 0x90 && byte <= 0xbf ? NEED_2 : INVALID;
    case AFTER_F4:
        return byte >= 0x80 && byte <= 0x8f ? NEED_2 : INVALID;
    default:
        return INVALID;
    }
}

int utf8_mask_init(utf8_mask_t *mask, const tokenizer_t *tokenizer)
{
    mask->tokenizer = tokenizer;
    mask->vocab_size = tokenizer_vocab_size(tokenizer);
    mask->state = AT_BOUNDARY;
    mask->fallbacks = 0;
    mask->next = malloc((size_t)mask->vocab_size * UTF8_MASK_STATES);
    if (!mask->next)
        return -1;
    for (uint32_t id = 0; id < mask->vocab_size; id++) {
        size_t length = 0;
        const uint8_t *bytes = tokenizer_token_bytes(tokenizer, id, &length);
        for (uint8_t start = 0; start < UTF8_MASK_STATES; start++) {
            uint8_t state = bytes ? start : INVALID;
            for (size_t i = 0; i < length && state != INVALID; i++)
                state = step(state, bytes[i]);
            mask->next[(size_t)id * UTF8_MASK_STATES + start] = state;
        }
    }
    return 0;
}

bool utf8_mask_allows(const utf8_mask_t *mask, uint32_t token)
{
    return token < mask->vocab_size &&
           mask->next[(size_t)token * UTF8_MASK_STATES + mask->state] != INVALID;
}

uint32_t utf8_mask_apply(utf8_mask_t *mask, float *logits)
{
    const uint8_t *column = mask->next + mask->state;
    uint32_t allowed = 0;
    for (uint32_t id = 0; id < mask->vocab_size; id++)
        allowed += column[(size_t)id * UTF8_MASK_STATES] != INVALID;
    if (allowed == 0) {
        mask->fallbacks++;
        return 0;
    }
    for (uint32_t id = 0; id < mask->vocab_size; id++)
        if (column[(size_t)id * UTF8_MASK_STATES] == INVALID)
            logits[id] = -INFINITY;
    return allowed;
}

void utf8_mask_advance(utf8_mask_t *mask, uint32_t token)
{
    if (token >= mask->vocab_size)
        return;
    uint8_t state = mask->next[(size_t)token * UTF8_MASK_STATES + mask->state];
    if (state == INVALID) {
        /* Resynchronize: a byte that breaks the character starts over. */
        size_t length = 0;
        const uint8_t *bytes = tokenizer_token_bytes(mask->tokenizer, token, &length);
        state = mask->state;
        for (size_t i = 0; i < length; i++) {
            uint8_t after = step(state, bytes[i]);
            if (after == INVALID)
                after = step(AT_BOUNDARY, bytes[i]);
            state = after == INVALID ? AT_BOUNDARY : after;
        }
    }
    mask->state = state;
}

bool utf8_mask_incomplete(const utf8_mask_t *mask)
{
    return mask->state != AT_BOUNDARY;
}

void utf8_mask_free(utf8_mask_t *mask)
{
    free(mask->next);
    mask->next = NULL;
}
