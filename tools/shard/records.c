/*
 * Conversation records for supervised fine-tuning and preference shards:
 * parsing the accepted JSON Lines shapes into turns, rendering turns with a
 * chat template, and the loss-mask spans of the rendered tokens.
 *
 * Each template string is encoded on its own with special tokens allowed,
 * and each message content on its own with special tokens encoded as plain
 * text, so a user who writes "<|im_end|>" cannot end a turn. The pieces are
 * joined as token sequences, so BPE never merges across a turn marker.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "log.h"
#include "records.h"

typedef struct {
    chat_role_t role;
    const char *text;
    size_t length;
} turn_t;

typedef struct {
    turn_t *items;
    size_t count, capacity;
} turns_t;

static const char *const role_names[CHAT_ROLE_COUNT] = {"system", "user", "assistant"};

static char *copy_string(const char *text)
{
    return strdup(text ? text : "");
}

static int set_role(chat_template_t *t, chat_role_t role, const char *prefix,
                    const char *suffix)
{
    t->prefix[role] = copy_string(prefix);
    t->suffix[role] = copy_string(suffix);
    return t->prefix[role] && t->suffix[role] ? 0 : -1;
}

int chat_template_load(const char *name, chat_template_t *t)
{
    memset(t, 0, sizeof *t);
    if (strcmp(name, "chatml") == 0) {
        int status = 0;
        for (int r = 0; r < CHAT_ROLE_COUNT && status == 0; r++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "<|im_start|>%s\n", role_names[r]);
            status = set_role(t, (chat_role_t)r, prefix, "<|im_end|>\n");
        }
        return status;
    }
    if (strcmp(name, "plain") == 0) {
        if (set_role(t, CHAT_SYSTEM, "", "") != 0 ||
            set_role(t, CHAT_USER, "\n\nHuman: ", "") != 0 ||
            set_role(t, CHAT_ASSISTANT, "\n\nAssistant: ", "<|endoftext|>") != 0)
            return -1;
        return 0;
    }
    json_error_t error;
    json_t *root = json_load_file(name, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        log_error("%s: chat template is not chatml, plain or a readable JSON file (line %d: %s)",
                  name, error.line, error.text);
        return -1;
    }
    int status = 0;
    for (int r = 0; r < CHAT_ROLE_COUNT && status == 0; r++) {
        json_t *role = json_object_get(root, role_names[r]);
        json_t *prefix = json_object_get(role, "prefix");
        json_t *suffix = json_object_get(role, "suffix");
        if (!json_is_object(role) || !json_is_string(prefix) || !json_is_string(suffix)) {
            log_error("%s: the chat template needs \"%s\": {\"prefix\": \"...\", \"suffix\": "
                      "\"...\"}", name, role_names[r]);
            status = -1;
        } else {
            status = set_role(t, (chat_role_t)r, json_string_value(prefix),
                              json_string_value(suffix));
        }
    }
    json_decref(root);
    return status;
}

/* Checks that every <|...|> marker in `text` is a token of the vocabulary. */
static int check_markers(const char *text, const tokenizer_t *tokenizer, const char *template)
{
    for (const char *p = strstr(text, "<|"); p; p = strstr(p + 2, "<|")) {
        const char *end = strstr(p + 2, "|>");
        if (!end)
            break;
        char marker[128];
        size_t length = (size_t)(end + 2 - p);
        if (length >= sizeof marker)
            continue;
        memcpy(marker, p, length);
        marker[length] = '\0';
        if (tokenizer_token_id(tokenizer, marker) < 0) {
            log_error("chat template %s uses %s, which is not a token of the tokenizer; train "
                      "the tokenizer with it (bpe-train --chat-tokens adds the ChatML markers) "
                      "or use --chat-template plain", template, marker);
            return -1;
        }
    }
    return 0;
}

int chat_template_check(const chat_template_t *t, const tokenizer_t *tokenizer,
                        const char *name)
{
    for (int r = 0; r < CHAT_ROLE_COUNT; r++) {
        if (check_markers(t->prefix[r], tokenizer, name) != 0 ||
            check_markers(t->suffix[r], tokenizer, name) != 0)
            return -1;
    }
    return 0;
}

void chat_template_free(chat_template_t *t)
{
    for (int r = 0; r < CHAT_ROLE_COUNT; r++) {
        free(t->prefix[r]);
        free(t->suffix[r]);
    }
    memset(t, 0, sizeof *t);
}

void encoded_record_free(encoded_record_t *record)
{
    token_buffer_free(&record->tokens);
    free(record->spans);
    memset(record, 0, sizeof *record);
}

static int push_turn(turns_t *turns, chat_role_t role, const char *text, size_t length)
{
    if (turns->count == turns->capacity) {
        size_t next = turns->capacity ? turns->capacity * 2 : 8;
        turn_t *items = realloc(turns->items, next * sizeof *items);
        if (!items)
            return -1;
        turns->items = items;
        turns->capacity = next;
    }
    turns->items[turns->count++] = (turn_t){role, text, length};
    return 0;
}

/* Trims ASCII whitespace at both ends of text[0..*length). */
static const char *trim(const char *text, size_t *length)
{
    while (*length > 0 && isspace((unsigned char)text[0])) {
        text++;
        (*length)--;
    }
    while (*length > 0 && isspace((unsigned char)text[*length - 1]))
        (*length)--;
    return text;
}

/*
 * Splits an Anthropic HH transcript ("\n\nHuman: ...\n\nAssistant: ...")
 * into turns. Returns NULL, or a reason when the text has no turns or text
 * before the first one.
 */
static const char *parse_transcript(const char *text, size_t length, turns_t *turns)
{
    static const char human[] = "\n\nHuman:", assistant[] = "\n\nAssistant:";
    const char *end = text + length;
    const char *p = text;
    const char *content = NULL;
    chat_role_t role = CHAT_USER;
    for (;;) {
        const char *human_at = memmem(p, (size_t)(end - p), human, sizeof human - 1);
        const char *assistant_at = memmem(p, (size_t)(end - p), assistant, sizeof assistant - 1);
        const char *next = human_at && (!assistant_at || human_at < assistant_at) ? human_at
                                                                                 : assistant_at;
        const char *stop = next ? next : end;
        if (content) {
            size_t n = (size_t)(stop - content);
            const char *trimmed = trim(content, &n);
            if (push_turn(turns, role, trimmed, n) != 0)
                return "out of memory";
        } else {
            size_t n = (size_t)(stop - text);
            trim(text, &n);
            if (n > 0)
                return "text before the first Human or Assistant turn";
        }
        if (!next)
            break;
        role = next == human_at ? CHAT_USER : CHAT_ASSISTANT;
        content = next + (next == human_at ? sizeof human - 1 : sizeof assistant - 1);
        p = content;
    }
    return turns->count > 0 ? NULL : "no Human or Assistant turn";
}

/* Reads {"messages": [{"role", "content"}, ...]}. */
static const char *parse_messages(json_t *messages, turns_t *turns)
{
    size_t index;
    json_t *message;
    json_array_foreach(messages, index, message) {
        const char *role = json_string_value(json_object_get(message, "role"));
        json_t *content = json_object_get(message, "content");
        if (!role || !json_is_string(content))
            return "a message without a string role and content";
        int r = 0;
        while (r < CHAT_ROLE_COUNT && strcmp(role, role_names[r]) != 0)
            r++;
        if (r == CHAT_ROLE_COUNT)
            return "a message role other than system, user or assistant";
        if (push_turn(turns, (chat_role_t)r, json_string_value(content),
                      json_string_length(content)) != 0)
            return "out of memory";
    }
    return turns->count > 0 ? NULL : "empty messages";
}

/* Reads a supervised record into turns. Returns NULL, or why the record is invalid. */
static const char *parse_sft(json_t *root, turns_t *turns, char **owned)
{
    json_t *messages = json_object_get(root, "messages");
    if (json_is_array(messages))
        return parse_messages(messages, turns);
    json_t *chosen = json_object_get(root, "chosen");
    if (json_is_string(chosen))
        return parse_transcript(json_string_value(chosen), json_string_length(chosen), turns);
    json_t *prompt = json_object_get(root, "prompt");
    json_t *completion = json_object_get(root, "completion");
    if (json_is_string(prompt) && json_is_string(completion)) {
        if (push_turn(turns, CHAT_USER, json_string_value(prompt),
                      json_string_length(prompt)) != 0 ||
            push_turn(turns, CHAT_ASSISTANT, json_string_value(completion),
                      json_string_length(completion)) != 0)
            return "out of memory";
        return NULL;
    }
    /* Instruction data: {"instruction", "input"?, "output"} or the first of "instances". */
    json_t *instruction = json_object_get(root, "instruction");
    json_t *instance = json_array_get(json_object_get(root, "instances"), 0);
    json_t *source = instance ? instance : root;
    json_t *input = json_object_get(source, "input");
    json_t *output = json_object_get(source, "output");
    if (json_is_string(instruction) && json_is_string(output)) {
        const char *in = json_is_string(input) ? json_string_value(input) : "";
        size_t size = json_string_length(instruction) + strlen(in) + 3;
        *owned = malloc(size);
        if (!*owned)
            return "out of memory";
        int length = snprintf(*owned, size, "%s%s%s", json_string_value(instruction),
                              in[0] ? "\n\n" : "", in);
        if (push_turn(turns, CHAT_USER, *owned, (size_t)length) != 0 ||
            push_turn(turns, CHAT_ASSISTANT, json_string_value(output),
                      json_string_length(output)) != 0)
            return "out of memory";
        return NULL;
    }
    return "no messages, chosen, prompt/completion or instruction/output";
}

static int encode_piece(const tokenizer_t *tokenizer, const char *text, size_t length,
                        bool special, token_buffer_t *out)
{
    if (length == 0)
        return 0;
    return tokenizer_encode(tokenizer, text, length, special, out);
}

static int push_span(encoded_record_t *out, uint32_t start, uint32_t end)
{
    if (start == end)
        return 0;
    if (out->span_count > 0 && out->spans[2 * out->span_count - 1] == start) {
        out->spans[2 * out->span_count - 1] = end;
        return 0;
    }
    if (out->span_count == out->span_capacity) {
        size_t next = out->span_capacity ? out->span_capacity * 2 : 8;
        uint32_t *spans = realloc(out->spans, 2 * next * sizeof *spans);
        if (!spans)
            return -1;
        out->spans = spans;
        out->span_capacity = next;
    }
    out->spans[2 * out->span_count] = start;
    out->spans[2 * out->span_count + 1] = end;
    out->span_count++;
    return 0;
}

/* Renders turns; assistant contents and suffixes become loss-mask spans. */
static int render_turns(const tokenizer_t *tokenizer, const chat_template_t *t,
                        const turn_t *turns, size_t count, encoded_record_t *out)
{
    for (size_t i = 0; i < count; i++) {
        chat_role_t role = turns[i].role;
        if (encode_piece(tokenizer, t->prefix[role], strlen(t->prefix[role]), true,
                         &out->tokens) != 0)
            return -1;
        uint32_t start = (uint32_t)out->tokens.count;
        if (encode_piece(tokenizer, turns[i].text, turns[i].length, false, &out->tokens) != 0 ||
            encode_piece(tokenizer, t->suffix[role], strlen(t->suffix[role]), true,
                         &out->tokens) != 0)
            return -1;
        if (role == CHAT_ASSISTANT && push_span(out, start, (uint32_t)out->tokens.count) != 0)
            return -1;
    }
    return 0;
}

/* An assistant completion: its content and the assistant suffix. */
static int render_completion(const tokenizer_t *tokenizer, const chat_template_t *t,
                             const turn_t *turn, token_buffer_t *out)
{
    const char *suffix = t->suffix[CHAT_ASSISTANT];
    if (encode_piece(tokenizer, turn->text, turn->length, false, out) != 0 ||
        encode_piece(tokenizer, suffix, strlen(suffix), true, out) != 0)
        return -1;
    return 0;
}

static bool same_turns(const turn_t *a, const turn_t *b, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (a[i].role != b[i].role || a[i].length != b[i].length ||
            memcmp(a[i].text, b[i].text, a[i].length) != 0)
            return false;
    }
    return true;
}

/*
 * Reads a preference record: {"chosen", "rejected"} HH transcripts that share
 * every turn but the last assistant one, or {"prompt", "chosen", "rejected"}
 * strings. Fills the prompt turns and the two final assistant turns.
 */
static const char *parse_preference(json_t *root, turns_t *prompt, turn_t *chosen,
                                    turn_t *rejected, turns_t *scratch)
{
    json_t *chosen_text = json_object_get(root, "chosen");
    json_t *rejected_text = json_object_get(root, "rejected");
    json_t *prompt_text = json_object_get(root, "prompt");
    if (!json_is_string(chosen_text) || !json_is_string(rejected_text))
        return "no string chosen and rejected";
    if (json_is_string(prompt_text)) {
        if (push_turn(prompt, CHAT_USER, json_string_value(prompt_text),
                      json_string_length(prompt_text)) != 0)
            return "out of memory";
        *chosen = (turn_t){CHAT_ASSISTANT, json_string_value(chosen_text),
                           json_string_length(chosen_text)};
        *rejected = (turn_t){CHAT_ASSISTANT, json_string_value(rejected_text),
                             json_string_length(rejected_text)};
        return NULL;
    }
    const char *reason = parse_transcript(json_string_value(chosen_text),
                                          json_string_length(chosen_text), prompt);
    if (!reason)
        reason = parse_transcript(json_string_value(rejected_text),
                                  json_string_length(rejected_text), scratch);
    if (reason)
        return reason;
    if (prompt->items[prompt->count - 1].role != CHAT_ASSISTANT ||
        scratch->items[scratch->count - 1].role != CHAT_ASSISTANT)
        return "chosen or rejected does not end with an Assistant turn";
    if (prompt->count != scratch->count ||
        !same_turns(prompt->items, scratch->items, prompt->count - 1))
        return "chosen and rejected differ before their last Assistant turn";
    *chosen = prompt->items[--prompt->count];
    *rejected = scratch->items[scratch->count - 1];
    return NULL;
}

int record_encode(const tokenizer_t *tokenizer, const chat_template_t *t, record_mode_t mode,
                  const char *line, size_t length, encoded_record_t *out)
{
    token_buffer_clear(&out->tokens);
    out->span_count = 0;
    out->reason = NULL;
    memset(out->parts, 0, sizeof out->parts);
    json_error_t error;
    json_t *root = json_loadb(line, length, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object(root)) {
        json_decref(root);
        out->reason = "not a JSON object";
        return 1;
    }
    const char *id = json_string_value(json_object_get(root, "id"));
    if (id)
        snprintf(out->id, sizeof out->id, "%s", id);
    else
        snprintf(out->id, sizeof out->id, "%016llx",
                 (unsigned long long)XXH3_64bits(line, length));
    turns_t turns = {0}, scratch = {0};
    char *owned = NULL;
    int status = 0;
    if (mode == RECORD_SFT) {
        out->reason = parse_sft(root, &turns, &owned);
        if (!out->reason && render_turns(tokenizer, t, turns.items, turns.count, out) != 0)
            status = -1;
        if (status == 0 && !out->reason && out->span_count == 0)
            out->reason = "no assistant turn";
        out->parts[0] = out->tokens.count;
    } else {
        turn_t chosen, rejected;
        out->reason = parse_preference(root, &turns, &chosen, &rejected, &scratch);
        if (!out->reason) {
            const char *prefix = t->prefix[CHAT_ASSISTANT];
            if (render_turns(tokenizer, t, turns.items, turns.count, out) != 0 ||
                encode_piece(tokenizer, prefix, strlen(prefix), true, &out->tokens) != 0)
                status = -1;
            out->parts[0] = out->tokens.count;
            if (status == 0 && render_completion(tokenizer, t, &chosen, &out->tokens) != 0)
                status = -1;
            out->parts[1] = out->tokens.count - out->parts[0];
            if (status == 0 && render_completion(tokenizer, t, &rejected, &out->tokens) != 0)
                status = -1;
            out->parts[2] = out->tokens.count - out->parts[0] - out->parts[1];
            out->span_count = 0;
        }
    }
    free(owned);
    free(turns.items);
    free(scratch.items);
    json_decref(root);
    if (status != 0)
        return -1;
    return out->reason ? 1 : 0;
}
