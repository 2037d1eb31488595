/*
 * Conversation records of the shard program's sft and preference modes:
 * JSON Lines records parsed into turns, rendered with a chat template and
 * encoded, with loss-mask spans over the assistant tokens (records.c).
 */
#ifndef LMPIPE_SHARD_RECORDS_H
#define LMPIPE_SHARD_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

typedef enum { CHAT_SYSTEM = 0, CHAT_USER = 1, CHAT_ASSISTANT = 2, CHAT_ROLE_COUNT = 3 } chat_role_t;

/* Text put before and after each message of a role. */
typedef struct {
    char *prefix[CHAT_ROLE_COUNT];
    char *suffix[CHAT_ROLE_COUNT];
} chat_template_t;

typedef enum { RECORD_SFT, RECORD_PREFERENCE } record_mode_t;

/* One encoded record. */
typedef struct {
    token_buffer_t tokens;      /* sft: the conversation; preference: prompt|chosen|rejected */
    uint32_t *spans;            /* sft: (start, end) loss-mask spans into tokens */
    size_t span_count, span_capacity;
    size_t parts[3];            /* preference: token counts of prompt, chosen, rejected */
    char id[128];               /* the record's "id", or the xxh3-64 of its line in hex */
    const char *reason;         /* why the record is invalid, or NULL */
} encoded_record_t;

/*
 * Loads a chat template: "chatml" (<|im_start|>ROLE\n ... <|im_end|>\n),
 * "plain" (\n\nHuman: / \n\nAssistant: turns, <|endoftext|> after each
 * assistant message) or a JSON file {"system"|"user"|"assistant":
 * {"prefix": S, "suffix": S}}. Returns 0, or -1 after logging.
 */
int chat_template_load(const char *name, chat_template_t *t);

/* Checks that every <|...|> marker of the template is in the vocabulary.
 * Returns 0, or -1 after logging which marker is missing. */
int chat_template_check(const chat_template_t *t, const tokenizer_t *tokenizer,
                        const char *name);

void chat_template_free(chat_template_t *t);

/*
 * Parses and encodes one JSON line. Returns 0, 1 when the record is invalid
 * (out->reason says why), or -1 when the tokenizer failed. Thread-safe.
 */
int record_encode(const tokenizer_t *tokenizer, const chat_template_t *t, record_mode_t mode,
                  const char *line, size_t length, encoded_record_t *out);

void encoded_record_free(encoded_record_t *record);

#endif
