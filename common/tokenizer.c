/*
 * Byte-level BPE: tokenizer.json loading and saving, encoding, decoding.
 *
 * Tokens are stored by id with two spellings: the tokenizer.json string (bytes
 * mapped to the GPT-2 byte-to-unicode alphabet) and the raw bytes it decodes
 * to. Merges live in a hash table from (left id, right id) to (rank, new id),
 * so that encoding never touches strings after the first byte lookup.
 *
 * JSON is read and written with jansson, regexes run through pretokenize.c
 * (PCRE2), and the stable hash is xxh3-128 from libxxhash.
 */
#include "tokenizer.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "log.h"
#include "pretokenize.h"
#include "textio.h"

/* ---- GPT-2 byte-to-unicode alphabet ---------------------------------------------------------- */

/* Printable Latin-1 bytes stand for themselves. The other 68 bytes (controls,
 * space, DEL, NBSP, soft hyphen) map to U+0100 onwards in byte order, so every
 * byte has a visible one-character spelling. */
static bool byte_is_printable(unsigned byte)
{
    return (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae;
}

/* The 68 other bytes are 0x00-0x20 (33 bytes), 0x7f-0xa0 (34) and 0xad. */
static uint32_t byte_to_codepoint(unsigned byte)
{
    if (byte_is_printable(byte))
        return byte;
    if (byte <= 0x20)
        return 256 + byte;
    if (byte <= 0xa0)
        return 256 + 33 + (byte - 0x7f);
    return 256 + 67; /* 0xad */
}

/* Returns the byte spelled by `codepoint`, or -1 when it is not in the alphabet. */
static int codepoint_to_byte(uint32_t codepoint)
{
    if (codepoint < 256)
        return byte_is_printable(codepoint) ? (int)codepoint : -1;
    uint32_t index = codepoint - 256;
    if (index < 33)
        return (int)index;
    if (index < 67)
        return (int)(0x7f + index - 33);
    return index == 67 ? 0xad : -1;
}

/* Writes the UTF-8 encoding of a code point below U+0800 (the alphabet's
 * range) and returns its length. */
static size_t put_alphabet_char(char *out, uint32_t codepoint)
{
    if (codepoint < 0x80) {
        out[0] = (char)codepoint;
        return 1;
    }
    out[0] = (char)(0xc0 | (codepoint >> 6));
    out[1] = (char)(0x80 | (codepoint & 0x3f));
    return 2;
}


/* Spells raw bytes in the byte-to-unicode alphabet; returns a malloc'ed string. */
static char *bytes_to_spelling(const uint8_t *bytes, size_t length)
{
    char *out = malloc(2 * length + 1);
    if (!out)
        return NULL;
    size_t used = 0;
    for (size_t i = 0; i < length; i++)
        used += put_alphabet_char(out + used, byte_to_codepoint(bytes[i]));
    out[used] = '\0';
    return out;
}

/* Converts a spelling back to bytes as the ByteLevel decoder does: when a
 * character is outside the alphabet, the whole token decodes to its own UTF-8
 * text instead. `out` must hold `length` bytes; returns the byte count. */
static size_t spelling_to_bytes(const char *spelling, size_t length, uint8_t *out)
{
    const uint8_t *text = (const uint8_t *)spelling;
    size_t used = 0;
    for (size_t i = 0; i < length;) {
        uint32_t codepoint;
        size_t step = pretokenize_decode_utf8(text + i, length - i, &codepoint);
        int byte = step ? codepoint_to_byte(codepoint) : -1;
        if (byte < 0) {
            memcpy(out, spelling, length);
            return length;
        }
        out[used++] = (uint8_t)byte;
        i += step;
    }
    return used;
}

/* ---- Hash tables ----------------------------------------------------------------------------- */

/* Open-addressing map from byte strings to ids; keys point into memory the
 * tokenizer owns. */
typedef struct {
    const char *key;
    uint32_t key_length;
    uint32_t value;
} string_slot_t;

typedef struct {
    string_slot_t *slots; /* key == NULL marks an empty slot */
    size_t mask;
    size_t count;
} string_map_t;

static int string_map_init(string_map_t *map, size_t expected)
{
    size_t capacity = 16;
    while (capacity < expected * 2)
        capacity *= 2;
    map->slots = calloc(capacity, sizeof(*map->slots));
    map->mask = capacity - 1;
    map->count = 0;
    return map->slots ? 0 : -1;
}

static void string_map_free(string_map_t *map)
{
    free(map->slots);
    map->slots = NULL;
}

static string_slot_t *string_map_find_slot(const string_map_t *map, const char *key,
                                           size_t length)
{
    size_t index = XXH3_64bits(key, length) & map->mask;
    for (;;) {
        string_slot_t *slot = &map->slots[index];
        if (!slot->key)
            return slot;
        if (slot->key_length == length && memcmp(slot->key, key, length) == 0)
            return slot;
        index = (index + 1) & map->mask;
    }
}

static int64_t string_map_get(const string_map_t *map, const char *key, size_t length)
{
    if (!map->slots)
        return -1;
    const string_slot_t *slot = string_map_find_slot(map, key, length);
    return slot->key ? (int64_t)slot->value : -1;
}

/* Inserts key -> value unless the key is present; returns the stored value,
 * or -1 when out of memory. The map is sized at init and never grows. */
static int64_t string_map_put(string_map_t *map, const char *key, size_t length, uint32_t value)
{
    if ((map->count + 1) * 2 > map->mask + 1)
        return -1;
    string_slot_t *slot = string_map_find_slot(map, key, length);
    if (slot->key)
        return slot->value;
    slot->key = key;
    slot->key_length = (uint32_t)length;
    slot->value = value;
    map->count++;
    return value;
}

/* Open-addressing map from a token pair to its merge. */
typedef struct {
    uint64_t pair; /* left id << 32 | right id; UINT64_MAX marks an empty slot */
    uint32_t rank;
    uint32_t merged_id;
} merge_slot_t;

static inline uint64_t pair_key(uint32_t left, uint32_t right)
{
    return ((uint64_t)left << 32) | right;
}

static inline size_t pair_hash(uint64_t pair, size_t mask)
{
    return (size_t)((pair * 0x9e3779b97f4a7c15ull) >> 29) & mask;
}

/* ---- The tokenizer --------------------------------------------------------------------------- */

typedef struct {
    char *spelling;       /* as in tokenizer.json; NULL for an unused id */
    uint32_t spelling_length;
    uint32_t bytes_offset; /* into tokenizer.bytes */
    uint32_t bytes_length;
    bool added;           /* listed in added_tokens */
    bool special;         /* added token with "special": true */
    bool lstrip, rstrip;  /* the added token takes the whitespace before / after it */
    bool single_word;     /* the added token matches only between word boundaries */
} token_t;

typedef struct {
    uint32_t left, right;
} merge_pair_t;

struct tokenizer {
    token_t *tokens;      /* by id */
    uint32_t vocab_size;  /* max id + 1 */
    uint8_t *bytes;       /* decoded bytes of every token, back to back */
    string_map_t by_spelling;
    string_map_t by_bytes; /* BPE vocabulary by decoded bytes, for ignore_merges */
    int64_t byte_ids[256]; /* id of each single byte, -1 when the vocabulary lacks it */

    merge_pair_t *merges; /* by rank */
    uint32_t merge_count;
    merge_slot_t *merge_slots;
    size_t merge_mask;

    uint32_t *added_ids;  /* added tokens, matched in the text before splitting */
    size_t added_count;

    pretokenizer_t *pretokenizer; /* NULL: each segment is one piece */
    bool add_prefix_space;
    bool ignore_merges;
    bool split_pattern_is_default; /* ByteLevel with use_regex (GPT-2 pattern) */
    bool normalize_nfc;   /* normalizer NFC (Qwen2's layout) */
    uint32_t *template_ids; /* post_processor template: prefix ids, then suffix ids */
    size_t template_prefix, template_suffix;
    int64_t eot_id;
    uint64_t serial;      /* unique per tokenizer in this process; keys the piece caches */
};

/* Allocates an empty merge table with room for `merge_capacity` merges. */
static int merge_table_build(tokenizer_t *t, size_t merge_capacity)
{
    size_t capacity = 16;
    while (capacity < merge_capacity * 2)
        capacity *= 2;
    t->merge_slots = malloc(capacity * sizeof(*t->merge_slots));
    if (!t->merge_slots)
        return -1;
    for (size_t i = 0; i < capacity; i++)
        t->merge_slots[i].pair = UINT64_MAX;
    t->merge_mask = capacity - 1;
    return 0;
}

/* Adds a merge at the next rank; an earlier merge of the same pair wins, as
 * in Hugging Face tokenizers. */
static void merge_table_add(tokenizer_t *t, uint32_t left, uint32_t right, uint32_t merged_id)
{
    uint64_t pair = pair_key(left, right);
    size_t index = pair_hash(pair, t->merge_mask);
    while (t->merge_slots[index].pair != UINT64_MAX) {
        if (t->merge_slots[index].pair == pair)
            return;
        index = (index + 1) & t->merge_mask;
    }
    t->merge_slots[index] = (merge_slot_t){pair, t->merge_count, merged_id};
    t->merges[t->merge_count++] = (merge_pair_t){left, right};
}

static inline const merge_slot_t *merge_find(const tokenizer_t *t, uint32_t left, uint32_t right)
{
    uint64_t pair = pair_key(left, right);
    size_t index = pair_hash(pair, t->merge_mask);
    for (;;) {
        const merge_slot_t *slot = &t->merge_slots[index];
        if (slot->pair == pair)
            return slot;
        if (slot->pair == UINT64_MAX)
            return NULL;
        index = (index + 1) & t->merge_mask;
    }
}

void tokenizer_free(tokenizer_t *t)
{
    if (!t)
        return;
    if (t->tokens) {
        for (uint32_t id = 0; id < t->vocab_size; id++)
            free(t->tokens[id].spelling);
    }
    free(t->tokens);
    free(t->bytes);
    string_map_free(&t->by_spelling);
    string_map_free(&t->by_bytes);
    free(t->merges);
    free(t->merge_slots);
    free(t->added_ids);
    free(t->template_ids);
    pretokenizer_free(t->pretokenizer);
    free(t);
}

/* Allocates the token table for ids below vocab_size. */
static tokenizer_t *tokenizer_alloc(uint32_t vocab_size, size_t merge_capacity)
{
    tokenizer_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    static atomic_uint_fast64_t next_serial = 1;
    t->serial = atomic_fetch_add(&next_serial, 1);
    t->vocab_size = vocab_size;
    t->tokens = calloc(vocab_size ? vocab_size : 1, sizeof(*t->tokens));
    t->merges = malloc((merge_capacity ? merge_capacity : 1) * sizeof(*t->merges));
    t->eot_id = -1;
    if (!t->tokens || !t->merges) {
        tokenizer_free(t);
        return NULL;
    }
    return t;
}

/* Stores the spelling of token `id` (copied) and marks it used. Returns 0, 1
 * when the id already has a token, -1 when out of memory. */
static int token_set(tokenizer_t *t, uint32_t id, const char *spelling, size_t length)
{
    token_t *token = &t->tokens[id];
    if (token->spelling)
        return 1;
    token->spelling = malloc(length + 1);
    if (!token->spelling)
        return -1;
    memcpy(token->spelling, spelling, length);
    token->spelling[length] = '\0';
    token->spelling_length = (uint32_t)length;
    return 0;
}

/* Computes every token's bytes and the lookup tables once all spellings are set. */
static int tokenizer_finish_tables(tokenizer_t *t)
{
    size_t total = 0;
    for (uint32_t id = 0; id < t->vocab_size; id++)
        total += t->tokens[id].spelling_length;
    t->bytes = malloc(total ? total : 1);
    if (!t->bytes)
        return -1;
    if (string_map_init(&t->by_spelling, t->vocab_size) != 0)
        return -1;
    if (t->ignore_merges && string_map_init(&t->by_bytes, t->vocab_size) != 0)
        return -1;

    size_t used = 0;
    for (uint32_t id = 0; id < t->vocab_size; id++) {
        token_t *token = &t->tokens[id];
        if (!token->spelling)
            continue;
        token->bytes_offset = (uint32_t)used;
        token->bytes_length =
            (uint32_t)spelling_to_bytes(token->spelling, token->spelling_length, t->bytes + used);
        used += token->bytes_length;
        if (string_map_put(&t->by_spelling, token->spelling, token->spelling_length, id) < 0)
            return -1;
    }
    for (uint32_t id = 0; id < t->vocab_size; id++) {
        token_t *token = &t->tokens[id];
        if (t->ignore_merges && token->spelling && !token->added) {
            const char *key = (const char *)t->bytes + token->bytes_offset;
            if (string_map_put(&t->by_bytes, key, token->bytes_length, id) < 0)
                return -1;
        }
    }

    for (unsigned b = 0; b < 256; b++) {
        char spelling[2];
        size_t length = put_alphabet_char(spelling, byte_to_codepoint(b));
        t->byte_ids[b] = string_map_get(&t->by_spelling, spelling, length);
    }
    t->eot_id = string_map_get(&t->by_spelling, TOKENIZER_EOT_TOKEN,
                               strlen(TOKENIZER_EOT_TOKEN));
    return 0;
}

/* ---- Loading tokenizer.json ------------------------------------------------------------------ */

/* Reads an optional boolean member; absent or null gives `fallback`. */
static bool json_bool_member(const json_t *object, const char *key, bool fallback)
{
    const json_t *value = json_object_get(object, key);
    return json_is_boolean(value) ? json_is_true(value) : fallback;
}

/* Appends a Split pre-tokenizer's pattern to `pattern_out` (malloc'ed). */
static int load_split(const json_t *split, const char *origin, char **pattern_out)
{
    const json_t *pattern = json_object_get(split, "pattern");
    const char *behavior = json_string_value(json_object_get(split, "behavior"));
    if (json_bool_member(split, "invert", false) || !behavior || strcmp(behavior, "Isolated")) {
        log_error("%s: pre_tokenizer Split is supported only with behavior \"Isolated\" and "
                  "invert false", origin);
        return -1;
    }
    const char *regex = json_string_value(json_object_get(pattern, "Regex"));
    const char *literal = json_string_value(json_object_get(pattern, "String"));
    if (regex) {
        *pattern_out = strdup(regex);
    } else if (literal && !strstr(literal, "\\E")) {
        size_t length = strlen(literal) + 5;
        *pattern_out = malloc(length);
        if (*pattern_out)
            snprintf(*pattern_out, length, "\\Q%s\\E", literal);
    } else {
        log_error("%s: pre_tokenizer Split has no usable pattern (expected {\"Regex\": ...} "
                  "or {\"String\": ...})", origin);
        return -1;
    }
    if (!*pattern_out) {
        log_error("%s: out of memory", origin);
        return -1;
    }
    return 0;
}

/* Reads a ByteLevel pre-tokenizer's options; `use_regex` is set when it
 * splits with the GPT-2 pattern itself. */
static void load_byte_level(tokenizer_t *t, const json_t *byte_level, bool *use_regex)
{
    t->add_prefix_space = json_bool_member(byte_level, "add_prefix_space", true);
    *use_regex = json_bool_member(byte_level, "use_regex", true);
}

static int load_pre_tokenizer(tokenizer_t *t, const json_t *root, const char *origin)
{
    const json_t *pre = json_object_get(root, "pre_tokenizer");
    const char *type = json_string_value(json_object_get(pre, "type"));
    char *pattern = NULL;
    bool use_regex = false;
    bool have_byte_level = false;

    if (type && strcmp(type, "ByteLevel") == 0) {
        load_byte_level(t, pre, &use_regex);
        have_byte_level = true;
    } else if (type && strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(pre, "pretokenizers");
        size_t index;
        const json_t *item;
        json_array_foreach(list, index, item) {
            const char *item_type = json_string_value(json_object_get(item, "type"));
            if (item_type && strcmp(item_type, "Split") == 0 && !pattern && !have_byte_level) {
                if (load_split(item, origin, &pattern) != 0)
                    return -1;
            } else if (item_type && strcmp(item_type, "ByteLevel") == 0 && !have_byte_level) {
                load_byte_level(t, item, &use_regex);
                have_byte_level = true;
            } else {
                log_error("%s: unsupported pre_tokenizer Sequence entry %zu (type %s); "
                          "supported: one Split followed by ByteLevel", origin, index,
                          item_type ? item_type : "missing");
                free(pattern);
                return -1;
            }
        }
    }
    if (!have_byte_level) {
        log_error("%s: pre_tokenizer must be ByteLevel or a Sequence of Split and ByteLevel "
                  "(found %s); only byte-level BPE tokenizers are supported",
                  origin, type ? type : "none");
        free(pattern);
        return -1;
    }
    if (pattern && use_regex) {
        log_error("%s: a Split followed by ByteLevel with use_regex true is not supported",
                  origin);
        free(pattern);
        return -1;
    }
    if (use_regex)
        t->split_pattern_is_default = true;
    if (pattern || use_regex) {
        t->pretokenizer = pretokenizer_create(pattern);
        free(pattern);
        if (!t->pretokenizer) {
            log_error("%s: the pre_tokenizer pattern does not compile", origin);
            return -1;
        }
    }
    return 0;
}

/* Checks the model options this implementation does not support. */
static int check_model_options(const json_t *model, const char *origin)
{
    const char *type = json_string_value(json_object_get(model, "type"));
    if (type && strcmp(type, "BPE") != 0) {
        log_error("%s: model type %s is not supported; expected BPE", origin, type);
        return -1;
    }
    const char *prefix = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    const char *suffix = json_string_value(json_object_get(model, "end_of_word_suffix"));
    if ((prefix && *prefix) || (suffix && *suffix)) {
        log_error("%s: continuing_subword_prefix and end_of_word_suffix are not supported by "
                  "byte-level BPE; remove them", origin);
        return -1;
    }
    if (json_bool_member(model, "byte_fallback", false)) {
        log_error("%s: byte_fallback is not supported (byte-level BPE never needs it)", origin);
        return -1;
    }
    const json_t *dropout = json_object_get(model, "dropout");
    if (json_is_number(dropout) && json_number_value(dropout) > 0)
        log_warn("%s: BPE dropout %g is ignored: encoding is deterministic", origin,
                 json_number_value(dropout));
    return 0;
}

/* Finds the largest id in the vocabulary and the added tokens. */
static int find_vocab_size(const json_t *vocab, const json_t *added, const char *origin,
                           uint32_t *vocab_size)
{
    int64_t max_id = -1;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)vocab, key, value) {
        json_int_t id = json_integer_value(value);
        if (!json_is_integer(value) || id < 0 || id >= INT32_MAX) {
            log_error("%s: model.vocab[\"%s\"] is not a valid id (an integer from 0 to %d)",
                      origin, key, INT32_MAX - 1);
            return -1;
        }
        if (id > max_id)
            max_id = id;
    }
    size_t index;
    json_array_foreach(added, index, value) {
        const json_t *id_value = json_object_get(value, "id");
        json_int_t id = json_integer_value(id_value);
        if (!json_is_integer(id_value) || id < 0 || id >= INT32_MAX ||
            !json_is_string(json_object_get(value, "content"))) {
            log_error("%s: added_tokens[%zu] needs an integer \"id\" and a string \"content\"",
                      origin, index);
            return -1;
        }
        if (id > max_id)
            max_id = id;
    }
    *vocab_size = (uint32_t)(max_id + 1);
    return 0;
}

static int load_vocab(tokenizer_t *t, const json_t *vocab, const char *origin)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)vocab, key, value) {
        uint32_t id = (uint32_t)json_integer_value(value);
        int status = token_set(t, id, key, strlen(key));
        if (status < 0) {
            log_error("%s: out of memory", origin);
            return -1;
        }
        if (status > 0) {
            log_error("%s: model.vocab gives id %u to both \"%s\" and \"%s\"", origin, id,
                      t->tokens[id].spelling, key);
            return -1;
        }
    }
    return 0;
}

static int load_added_tokens(tokenizer_t *t, const json_t *added, const char *origin)
{
    size_t count = json_array_size(added);
    t->added_ids = malloc((count ? count : 1) * sizeof(*t->added_ids));
    if (!t->added_ids) {
        log_error("%s: out of memory", origin);
        return -1;
    }
    size_t index;
    const json_t *item;
    json_array_foreach(added, index, item) {
        uint32_t id = (uint32_t)json_integer_value(json_object_get(item, "id"));
        const char *content = json_string_value(json_object_get(item, "content"));
        size_t length = json_string_length(json_object_get(item, "content"));
        if (length == 0) {
            log_error("%s: added_tokens[%zu] has empty content", origin, index);
            return -1;
        }
        int status = token_set(t, id, content, length);
        if (status < 0) {
            log_error("%s: out of memory", origin);
            return -1;
        }
        if (status > 0 && (t->tokens[id].spelling_length != length ||
                           memcmp(t->tokens[id].spelling, content, length) != 0)) {
            log_error("%s: added_tokens[%zu] \"%s\" has id %u, which model.vocab gives to "
                      "\"%s\"", origin, index, content, id, t->tokens[id].spelling);
            return -1;
        }
        t->tokens[id].lstrip = json_bool_member(item, "lstrip", false);
        t->tokens[id].rstrip = json_bool_member(item, "rstrip", false);
        t->tokens[id].single_word = json_bool_member(item, "single_word", false);
        t->tokens[id].added = true;
        t->tokens[id].special = json_bool_member(item, "special", false);
        t->added_ids[t->added_count++] = id;
    }
    return 0;
}

/* Reads the ids that a TemplateProcessing's "single" template puts around the
 * text: {"SpecialToken": {"id": NAME}} entries before and after the
 * {"Sequence": {"id": "A"}} entry, with each NAME's ids in "special_tokens". */
static int load_template(tokenizer_t *t, const json_t *template, const char *origin)
{
    const json_t *single = json_object_get(template, "single");
    const json_t *specials = json_object_get(template, "special_tokens");
    size_t capacity = 0, index;
    const json_t *item;
    json_array_foreach(single, index, item) {
        const char *name = json_string_value(
            json_object_get(json_object_get(item, "SpecialToken"), "id"));
        capacity += name ? json_array_size(json_object_get(json_object_get(specials, name),
                                                           "ids")) : 0;
    }
    t->template_ids = malloc((capacity ? capacity : 1) * sizeof(*t->template_ids));
    if (!t->template_ids) {
        log_error("%s: out of memory", origin);
        return -1;
    }
    bool after_text = false;
    json_array_foreach(single, index, item) {
        if (json_object_get(item, "Sequence")) {
            after_text = true;
            continue;
        }
        const char *name = json_string_value(
            json_object_get(json_object_get(item, "SpecialToken"), "id"));
        const json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
        if (!name || !json_is_array(ids)) {
            log_error("%s: post_processor template entry %zu is neither a Sequence nor a "
                      "SpecialToken listed in special_tokens", origin, index);
            return -1;
        }
        size_t id_index;
        const json_t *id;
        json_array_foreach(ids, id_index, id) {
            json_int_t value = json_integer_value(id);
            if (!json_is_integer(id) || value < 0 || value >= t->vocab_size) {
                log_error("%s: post_processor special token \"%s\" has an id outside the "
                          "vocabulary", origin, name);
                return -1;
            }
            t->template_ids[t->template_prefix + t->template_suffix] = (uint32_t)value;
            if (after_text)
                t->template_suffix++;
            else
                t->template_prefix++;
        }
    }
    return 0;
}

/* Reads the post_processor: ByteLevel (nothing to do for encoding),
 * TemplateProcessing, or a Sequence of them. Other types are ignored with a
 * warning, because they only add ids around the text. */
static int load_post_processor(tokenizer_t *t, const json_t *post, const char *origin)
{
    const char *type = json_string_value(json_object_get(post, "type"));
    if (!type)
        return 0;
    if (strcmp(type, "TemplateProcessing") == 0)
        return t->template_ids ? 0 : load_template(t, post, origin);
    if (strcmp(type, "Sequence") == 0) {
        size_t index;
        const json_t *item;
        json_array_foreach(json_object_get(post, "processors"), index, item) {
            if (load_post_processor(t, item, origin) != 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "ByteLevel") != 0)
        log_warn("%s: post_processor %s is ignored: tokenizer_encode_with_template adds "
                 "nothing", origin, type);
    return 0;
}

/* Looks up a merge part by spelling; logs and returns -1 when it is absent. */
static int64_t merge_part_id(const tokenizer_t *t, const char *spelling, size_t length,
                             const char *origin, size_t index)
{
    int64_t id = string_map_get(&t->by_spelling, spelling, length);
    if (id < 0)
        log_error("%s: model.merges[%zu] uses \"%.*s\", which is not in model.vocab", origin,
                  index, (int)length, spelling);
    return id;
}

static int load_merges(tokenizer_t *t, const json_t *merges, const char *origin)
{
    if (merge_table_build(t, json_array_size(merges)) != 0) {
        log_error("%s: out of memory", origin);
        return -1;
    }
    char *joined = NULL;
    size_t joined_capacity = 0;
    size_t index;
    const json_t *item;
    json_array_foreach(merges, index, item) {
        const char *left, *right;
        size_t left_length, right_length;
        const char *line = json_string_value(item);
        if (line) {
            /* Legacy form "a b": byte-level tokens never contain U+0020. */
            const char *space = strchr(line, ' ');
            if (!space || strchr(space + 1, ' ')) {
                log_error("%s: model.merges[%zu] \"%s\" is not two tokens separated by one "
                          "space", origin, index, line);
                goto fail;
            }
            left = line, left_length = (size_t)(space - line);
            right = space + 1, right_length = strlen(right);
        } else if (json_array_size(item) == 2 && json_is_string(json_array_get(item, 0)) &&
                   json_is_string(json_array_get(item, 1))) {
            left = json_string_value(json_array_get(item, 0));
            left_length = json_string_length(json_array_get(item, 0));
            right = json_string_value(json_array_get(item, 1));
            right_length = json_string_length(json_array_get(item, 1));
        } else {
            log_error("%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", origin,
                      index);
            goto fail;
        }

        if (left_length + right_length > joined_capacity) {
            joined_capacity = 2 * (left_length + right_length);
            char *grown = realloc(joined, joined_capacity);
            if (!grown) {
                log_error("%s: out of memory", origin);
                goto fail;
            }
            joined = grown;
        }
        memcpy(joined, left, left_length);
        memcpy(joined + left_length, right, right_length);
        int64_t left_id = merge_part_id(t, left, left_length, origin, index);
        int64_t right_id = merge_part_id(t, right, right_length, origin, index);
        int64_t merged_id = merge_part_id(t, joined, left_length + right_length, origin, index);
        if (left_id < 0 || right_id < 0 || merged_id < 0)
            goto fail;
        merge_table_add(t, (uint32_t)left_id, (uint32_t)right_id, (uint32_t)merged_id);
    }
    free(joined);
    return 0;

fail:
    free(joined);
    return -1;
}

static void warn_missing_bytes(const tokenizer_t *t, const char *origin)
{
    unsigned missing = 0;
    for (unsigned b = 0; b < 256; b++)
        missing += t->byte_ids[b] < 0;
    if (missing)
        log_warn("%s: the vocabulary lacks %u of the 256 single-byte tokens; text with those "
                 "bytes loses them when encoded, as in Hugging Face tokenizers", origin, missing);
}

tokenizer_t *tokenizer_load_json(const char *json_text, size_t length, const char *origin)
{
    json_error_t error;
    json_t *root = json_loadb(json_text, length, 0, &error);
    tokenizer_t *t = NULL;
    if (!root) {
        log_error("%s:%d:%d: invalid JSON: %s", origin, error.line, error.column, error.text);
        return NULL;
    }

    const json_t *model = json_object_get(root, "model");
    const json_t *vocab = json_object_get(model, "vocab");
    const json_t *merges = json_object_get(model, "merges");
    json_t *added = json_object_get(root, "added_tokens");
    if (!json_is_object(vocab) || !json_is_array(merges)) {
        log_error("%s: not a BPE tokenizer.json: model.vocab (object) and model.merges (array) "
                  "are required", origin);
        goto fail;
    }
    if (added && !json_is_array(added) && !json_is_null(added)) {
        log_error("%s: added_tokens must be an array", origin);
        goto fail;
    }
    const json_t *normalizer = json_object_get(root, "normalizer");
    const char *normalizer_type = json_string_value(json_object_get(normalizer, "type"));
    bool nfc = normalizer_type && strcmp(normalizer_type, "NFC") == 0;
    if (normalizer && !json_is_null(normalizer) && !nfc) {
        log_error("%s: normalizer %s is not supported; byte-level BPE takes \"normalizer\": "
                  "null or {\"type\": \"NFC\"}", origin, normalizer_type ?: "(no type)");
        goto fail;
    }
    if (check_model_options(model, origin) != 0)
        goto fail;

    uint32_t vocab_size;
    if (find_vocab_size(vocab, added, origin, &vocab_size) != 0)
        goto fail;
    t = tokenizer_alloc(vocab_size, json_array_size(merges));
    if (!t) {
        log_error("%s: out of memory for %u tokens", origin, vocab_size);
        goto fail;
    }
    t->ignore_merges = json_bool_member(model, "ignore_merges", false);
    t->normalize_nfc = nfc;
    if (load_pre_tokenizer(t, root, origin) != 0)
        goto fail;
    if (load_vocab(t, vocab, origin) != 0 || load_added_tokens(t, added, origin) != 0)
        goto fail;
    if (load_post_processor(t, json_object_get(root, "post_processor"), origin) != 0)
        goto fail;
    if (tokenizer_finish_tables(t) != 0) {
        log_error("%s: out of memory", origin);
        goto fail;
    }
    if (load_merges(t, merges, origin) != 0)
        goto fail;
    warn_missing_bytes(t, origin);
    json_decref(root);
    return t;

fail:
    json_decref(root);
    tokenizer_free(t);
    return NULL;
}

tokenizer_t *tokenizer_load(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        log_error("%s: cannot open tokenizer: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t length = 0, capacity = 0;
    for (;;) {
        if (length + 65536 > capacity) {
            capacity = 2 * capacity + 65536;
            char *grown = realloc(text, capacity);
            if (!grown) {
                log_error("%s: out of memory reading the tokenizer", path);
                free(text);
                fclose(file);
                return NULL;
            }
            text = grown;
        }
        size_t got = fread(text + length, 1, capacity - length, file);
        length += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(file);
    fclose(file);
    if (failed) {
        log_error("%s: reading the tokenizer failed", path);
        free(text);
        return NULL;
    }
    tokenizer_t *t = tokenizer_load_json(text, length, path);
    free(text);
    return t;
}

/* ---- Building from trained merges ----------------------------------------------------------- */

/* Adds a token spelled `spelling` (taking ownership) at the next id, unless a
 * token with that spelling exists. Returns the id, or -1 when out of memory. */
static int64_t builder_add(tokenizer_t *t, string_map_t *seen, char *spelling)
{
    size_t length = strlen(spelling);
    int64_t existing = string_map_get(seen, spelling, length);
    if (existing >= 0) {
        free(spelling);
        return existing;
    }
    uint32_t id = t->vocab_size++;
    t->tokens[id].spelling = spelling;
    t->tokens[id].spelling_length = (uint32_t)length;
    return string_map_put(seen, spelling, length, id);
}

/* Adds the 256 byte tokens and one token per distinct merge result, then the
 * merges themselves. */
static int builder_add_merges(tokenizer_t *t, string_map_t *seen,
                              const tokenizer_merge_t *merges, size_t merge_count,
                              uint32_t *left_ids, uint32_t *right_ids, uint32_t *merged_ids)
{
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned b = 0; b < 256; b++) {
            if (byte_is_printable(b) != (pass == 0))
                continue;
            uint8_t byte = (uint8_t)b;
            char *spelling = bytes_to_spelling(&byte, 1);
            if (!spelling || builder_add(t, seen, spelling) < 0)
                return -1;
        }
    }
    for (size_t i = 0; i < merge_count; i++) {
        const tokenizer_merge_t *merge = &merges[i];
        char *left = bytes_to_spelling(merge->left, merge->left_length);
        char *right = bytes_to_spelling(merge->right, merge->right_length);
        char *joined = NULL;
        if (left && right && (joined = malloc(strlen(left) + strlen(right) + 1)))
            snprintf(joined, strlen(left) + strlen(right) + 1, "%s%s", left, right);
        int64_t left_id = left ? string_map_get(seen, left, strlen(left)) : -1;
        int64_t right_id = right ? string_map_get(seen, right, strlen(right)) : -1;
        free(left);
        free(right);
        if (!joined)
            return -1;
        if (left_id < 0 || right_id < 0) {
            free(joined);
            log_error("tokenizer: merge %zu joins a part that is not an earlier token", i);
            return -2;
        }
        int64_t merged_id = builder_add(t, seen, joined);
        if (merged_id < 0)
            return -1;
        left_ids[i] = (uint32_t)left_id;
        right_ids[i] = (uint32_t)right_id;
        merged_ids[i] = (uint32_t)merged_id;
    }
    return 0;
}

tokenizer_t *tokenizer_from_merges(const tokenizer_merge_t *merges, size_t merge_count,
                                   const char *const *special_tokens, size_t special_count)
{
    return tokenizer_from_merges_pattern(merges, merge_count, special_tokens, special_count,
                                         NULL);
}

tokenizer_t *tokenizer_from_merges_pattern(const tokenizer_merge_t *merges, size_t merge_count,
                                           const char *const *special_tokens,
                                           size_t special_count, const char *pattern)
{
    size_t max_tokens = 256 + merge_count + special_count;
    tokenizer_t *t = tokenizer_alloc((uint32_t)max_tokens, merge_count);
    string_map_t seen = {0};
    uint32_t *pair_ids = malloc(3 * (merge_count ? merge_count : 1) * sizeof(*pair_ids));
    int status = -1;
    if (!t || !pair_ids || string_map_init(&seen, max_tokens) != 0)
        goto done;
    t->vocab_size = 0;
    if (pattern && strcmp(pattern, PRETOKENIZE_GPT2_PATTERN) == 0)
        pattern = NULL;
    t->split_pattern_is_default = pattern == NULL;
    t->pretokenizer = pretokenizer_create(pattern);
    if (!t->pretokenizer) {
        status = -2;
        goto done;
    }
    uint32_t *left_ids = pair_ids, *right_ids = pair_ids + merge_count;
    uint32_t *merged_ids = pair_ids + 2 * merge_count;
    status = builder_add_merges(t, &seen, merges, merge_count, left_ids, right_ids, merged_ids);
    if (status != 0)
        goto done;

    status = -1;
    t->added_ids = malloc((special_count ? special_count : 1) * sizeof(*t->added_ids));
    if (!t->added_ids)
        goto done;
    for (size_t i = 0; i < special_count; i++) {
        uint32_t id = t->vocab_size++;
        if (token_set(t, id, special_tokens[i], strlen(special_tokens[i])) != 0)
            goto done;
        t->tokens[id].added = true;
        t->tokens[id].special = true;
        t->added_ids[t->added_count++] = id;
    }
    if (tokenizer_finish_tables(t) != 0 || merge_table_build(t, merge_count) != 0)
        goto done;
    for (size_t i = 0; i < merge_count; i++)
        merge_table_add(t, left_ids[i], right_ids[i], merged_ids[i]);
    status = 0;

done:
    if (status == -1)
        log_error("tokenizer: out of memory building a tokenizer from %zu merges", merge_count);
    string_map_free(&seen);
    free(pair_ids);
    if (status != 0) {
        tokenizer_free(t);
        return NULL;
    }
    return t;
}

/* ---- Saving tokenizer.json ------------------------------------------------------------------- */

static json_t *added_tokens_to_json(const tokenizer_t *t)
{
    json_t *list = json_array();
    for (size_t i = 0; i < t->added_count; i++) {
        const token_t *token = &t->tokens[t->added_ids[i]];
        json_t *entry = json_object();
        json_object_set_new(entry, "id", json_integer(t->added_ids[i]));
        json_object_set_new(entry, "content",
                            json_stringn(token->spelling, token->spelling_length));
        json_object_set_new(entry, "single_word", json_false());
        json_object_set_new(entry, "lstrip", json_false());
        json_object_set_new(entry, "rstrip", json_false());
        json_object_set_new(entry, "normalized", json_false());
        json_object_set_new(entry, "special", json_boolean(token->special));
        json_array_append_new(list, entry);
    }
    return list;
}

static json_t *byte_level_to_json(bool add_prefix_space, bool use_regex)
{
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space",
                     add_prefix_space, "trim_offsets", true, "use_regex", use_regex);
}

static json_t *pre_tokenizer_to_json(const tokenizer_t *t)
{
    if (t->split_pattern_is_default || !t->pretokenizer)
        return byte_level_to_json(t->add_prefix_space, t->split_pattern_is_default);
    json_t *split = json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "Regex",
                              pretokenizer_pattern(t->pretokenizer), "behavior", "Isolated",
                              "invert", false);
    return json_pack("{s:s, s:[o, o]}", "type", "Sequence", "pretokenizers", split,
                     byte_level_to_json(t->add_prefix_space, false));
}

static json_t *model_to_json(const tokenizer_t *t)
{
    json_t *vocab = json_object();
    for (uint32_t id = 0; id < t->vocab_size; id++) {
        const token_t *token = &t->tokens[id];
        if (token->spelling && !token->added)
            json_object_set_new(vocab, token->spelling, json_integer(id));
    }
    /* Merges are written as "a b" strings, which every tokenizers release
     * reads; byte-level spellings never contain U+0020. */
    json_t *merges = json_array();
    for (uint32_t rank = 0; rank < t->merge_count; rank++) {
        const token_t *left = &t->tokens[t->merges[rank].left];
        const token_t *right = &t->tokens[t->merges[rank].right];
        size_t length = left->spelling_length + 1 + right->spelling_length;
        char *line = malloc(length + 1);
        if (!line) {
            json_decref(vocab);
            json_decref(merges);
            return NULL;
        }
        snprintf(line, length + 1, "%s %s", left->spelling, right->spelling);
        json_array_append_new(merges, json_stringn(line, length));
        free(line);
    }
    return json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE",
                     "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
                     "fuse_unk", false, "byte_fallback", false, "ignore_merges",
                     t->ignore_merges, "vocab", vocab, "merges", merges);
}

char *tokenizer_to_json(const tokenizer_t *t)
{
    json_t *model = model_to_json(t);
    if (!model)
        return NULL;
    json_t *root = json_pack("{s:s, s:n, s:n, s:o, s:n, s:o, s:o, s:o, s:o}", "version", "1.0",
                             "truncation", "padding", "added_tokens", added_tokens_to_json(t),
                             "normalizer", "pre_tokenizer", pre_tokenizer_to_json(t),
                             "post_processor", byte_level_to_json(true, true), "decoder",
                             byte_level_to_json(true, true), "model", model);
    if (!root)
        return NULL;
    char *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    return text;
}

/* Appends the base64 form (RFC 4648, with padding) of `length` bytes to `out`
 * and returns the character count written. */
static size_t put_base64(char *out, const uint8_t *bytes, size_t length)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t used = 0;
    for (size_t i = 0; i < length; i += 3) {
        uint32_t group = (uint32_t)bytes[i] << 16;
        if (i + 1 < length)
            group |= (uint32_t)bytes[i + 1] << 8;
        if (i + 2 < length)
            group |= bytes[i + 2];
        out[used++] = alphabet[(group >> 18) & 63];
        out[used++] = alphabet[(group >> 12) & 63];
        out[used++] = i + 1 < length ? alphabet[(group >> 6) & 63] : '=';
        out[used++] = i + 2 < length ? alphabet[group & 63] : '=';
    }
    return used;
}

char *tokenizer_to_tiktoken(const tokenizer_t *t)
{
    size_t capacity = 1;
    for (uint32_t id = 0; id < t->vocab_size; id++)
        capacity += 4 * (t->tokens[id].bytes_length / 3 + 1) + 12;
    char *out = malloc(capacity);
    if (!out)
        return NULL;
    size_t used = 0;
    for (uint32_t id = 0; id < t->vocab_size; id++) {
        const token_t *token = &t->tokens[id];
        if (!token->spelling || token->added)
            continue;
        used += put_base64(out + used, t->bytes + token->bytes_offset, token->bytes_length);
        used += (size_t)snprintf(out + used, capacity - used, " %u\n", id);
    }
    out[used] = '\0';
    return out;
}

int tokenizer_save(const tokenizer_t *t, const char *path)
{
    char *text = tokenizer_to_json(t);
    if (!text) {
        log_error("%s: out of memory serializing the tokenizer", path);
        return -1;
    }
    text_writer_t *writer = text_writer_open(path, TEXT_PLAIN, 0);
    if (!writer) {
        free(text);
        return -1;
    }
    int status = text_writer_write(writer, text, strlen(text));
    if (status == 0)
        status = text_writer_write(writer, "\n", 1);
    free(text);
    if (status != 0) {
        text_writer_abort(writer);
        return -1;
    }
    return text_writer_commit(writer);
}

/* ---- Lookups --------------------------------------------------------------------------------- */

uint32_t tokenizer_vocab_size(const tokenizer_t *t)
{
    return t->vocab_size;
}

int64_t tokenizer_token_id(const tokenizer_t *t, const char *token)
{
    return string_map_get(&t->by_spelling, token, strlen(token));
}

int64_t tokenizer_eot_id(const tokenizer_t *t)
{
    return t->eot_id;
}

bool tokenizer_is_special(const tokenizer_t *t, uint32_t id)
{
    return id < t->vocab_size && t->tokens[id].special;
}

const uint8_t *tokenizer_token_bytes(const tokenizer_t *t, uint32_t id, size_t *length)
{
    if (id >= t->vocab_size || !t->tokens[id].spelling)
        return NULL;
    *length = t->tokens[id].bytes_length;
    return t->bytes + t->tokens[id].bytes_offset;
}

void tokenizer_hash(const tokenizer_t *t, char out_hex[33])
{
    XXH3_state_t *state = XXH3_createState();
    XXH128_hash_t hash = {0, 0};
    if (state && XXH3_128bits_reset(state) == XXH_OK) {
        static const char tag[] = "lmpipe-tokenizer-v1";
        XXH3_128bits_update(state, tag, sizeof(tag));
        for (uint32_t id = 0; id < t->vocab_size; id++) {
            const token_t *token = &t->tokens[id];
            uint8_t flags = (uint8_t)((token->spelling ? 1 : 0) | (token->added ? 2 : 0) |
                                      (token->special ? 4 : 0));
            uint32_t length = token->spelling_length;
            XXH3_128bits_update(state, &flags, 1);
            XXH3_128bits_update(state, &length, sizeof(length));
            if (token->spelling)
                XXH3_128bits_update(state, token->spelling, length);
        }
        for (uint32_t rank = 0; rank < t->merge_count; rank++)
            XXH3_128bits_update(state, &t->merges[rank], sizeof(t->merges[rank]));
        hash = XXH3_128bits_digest(state);
    }
    XXH3_freeState(state);
    snprintf(out_hex, 33, "%016llx%016llx", (unsigned long long)hash.high64,
             (unsigned long long)hash.low64);
}

/* ---- Token buffers --------------------------------------------------------------------------- */

int token_buffer_reserve(token_buffer_t *buffer, size_t capacity)
{
    if (capacity <= buffer->capacity)
        return 0;
    size_t grown = buffer->capacity ? buffer->capacity : 64;
    while (grown < capacity)
        grown *= 2;
    uint32_t *ids = realloc(buffer->ids, grown * sizeof(*ids));
    if (!ids)
        return -1;
    buffer->ids = ids;
    buffer->capacity = grown;
    return 0;
}

int token_buffer_push(token_buffer_t *buffer, uint32_t id)
{
    if (buffer->count == buffer->capacity && token_buffer_reserve(buffer, buffer->count + 1))
        return -1;
    buffer->ids[buffer->count++] = id;
    return 0;
}

void token_buffer_clear(token_buffer_t *buffer)
{
    buffer->count = 0;
}

void token_buffer_free(token_buffer_t *buffer)
{
    free(buffer->ids);
    buffer->ids = NULL;
    buffer->count = buffer->capacity = 0;
}

/* ---- Encoding -------------------------------------------------------------------------------- */

/* Pieces up to this many symbols rescan all pairs per merge, which is cheap at
 * this size. Longer ones use a heap, so the cost stays O(n log n). */
enum { BPE_SCAN_MAX_SYMBOLS = 48 };

/* Merges symbols in place by repeatedly taking the lowest-rank adjacent pair,
 * leftmost first on equal rank. Returns the new symbol count. The rank and
 * result of each adjacent pair are kept in small arrays, so a merge looks up
 * only the two pairs next to it instead of rescanning the piece. */
static size_t bpe_merge_scan(const tokenizer_t *t, uint32_t *symbols, size_t count)
{
    uint32_t ranks[BPE_SCAN_MAX_SYMBOLS], results[BPE_SCAN_MAX_SYMBOLS];
    for (size_t i = 0; i + 1 < count; i++) {
        const merge_slot_t *merge = merge_find(t, symbols[i], symbols[i + 1]);
        ranks[i] = merge ? merge->rank : UINT32_MAX;
        results[i] = merge ? merge->merged_id : 0;
    }
    while (count > 1) {
        uint32_t best_rank = UINT32_MAX;
        size_t best = 0;
        for (size_t i = 0; i + 1 < count; i++) {
            if (ranks[i] < best_rank) {
                best_rank = ranks[i];
                best = i;
            }
        }
        if (best_rank == UINT32_MAX)
            break;
        symbols[best] = results[best];
        size_t tail = count - best - 2;
        memmove(symbols + best + 1, symbols + best + 2, tail * sizeof(*symbols));
        memmove(ranks + best + 1, ranks + best + 2, tail * sizeof(*ranks));
        memmove(results + best + 1, results + best + 2, tail * sizeof(*results));
        count--;
        for (size_t i = best > 0 ? best - 1 : 0; i <= best && i + 1 < count; i++) {
            const merge_slot_t *merge = merge_find(t, symbols[i], symbols[i + 1]);
            ranks[i] = merge ? merge->rank : UINT32_MAX;
            results[i] = merge ? merge->merged_id : 0;
        }
    }
    return count;
}

/* A candidate merge of the symbol at `position` with the next live symbol. */
typedef struct {
    uint32_t rank;
    uint32_t position;
} heap_entry_t;

static inline bool heap_less(heap_entry_t a, heap_entry_t b)
{
    return a.rank < b.rank || (a.rank == b.rank && a.position < b.position);
}

static void heap_push(heap_entry_t *heap, size_t *size, heap_entry_t entry)
{
    size_t i = (*size)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(entry, heap[parent]))
            break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = entry;
}

static heap_entry_t heap_pop(heap_entry_t *heap, size_t *size)
{
    heap_entry_t top = heap[0];
    heap_entry_t last = heap[--(*size)];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *size)
            break;
        if (child + 1 < *size && heap_less(heap[child + 1], heap[child]))
            child++;
        if (!heap_less(heap[child], last))
            break;
        heap[i] = heap[child];
        i = child;
    }
    if (*size > 0)
        heap[i] = last;
    return top;
}

/*
 * The same merge order as bpe_merge_scan for long pieces: symbols form a
 * linked list, candidate pairs sit in a min-heap keyed by (rank, position),
 * and entries made stale by earlier merges are skipped when popped. Each
 * merge adds at most two entries, so the heap never contains 3n entries.
 */
static int bpe_merge_heap(const tokenizer_t *t, uint32_t *symbols, size_t count, size_t *out)
{
    int32_t *next = malloc(count * sizeof(*next));
    int32_t *prev = malloc(count * sizeof(*prev));
    heap_entry_t *heap = malloc(3 * count * sizeof(*heap));
    if (!next || !prev || !heap) {
        free(next), free(prev), free(heap);
        return -1;
    }
    size_t heap_size = 0;
    for (size_t i = 0; i < count; i++) {
        next[i] = i + 1 < count ? (int32_t)(i + 1) : -1;
        prev[i] = (int32_t)i - 1;
        if (i + 1 < count) {
            const merge_slot_t *merge = merge_find(t, symbols[i], symbols[i + 1]);
            if (merge)
                heap_push(heap, &heap_size, (heap_entry_t){merge->rank, (uint32_t)i});
        }
    }

    while (heap_size > 0) {
        heap_entry_t entry = heap_pop(heap, &heap_size);
        uint32_t position = entry.position;
        int32_t right = next[position];
        /* Dead symbols have prev set to -2. */
        if (prev[position] == -2 || right < 0)
            continue;
        const merge_slot_t *merge = merge_find(t, symbols[position], symbols[right]);
        if (!merge || merge->rank != entry.rank)
            continue;

        symbols[position] = merge->merged_id;
        next[position] = next[right];
        if (next[right] >= 0)
            prev[next[right]] = (int32_t)position;
        prev[right] = -2;

        int32_t left = prev[position];
        if (left >= 0) {
            const merge_slot_t *m = merge_find(t, symbols[left], symbols[position]);
            if (m)
                heap_push(heap, &heap_size, (heap_entry_t){m->rank, (uint32_t)left});
        }
        if (next[position] >= 0) {
            const merge_slot_t *m = merge_find(t, symbols[position], symbols[next[position]]);
            if (m)
                heap_push(heap, &heap_size, (heap_entry_t){m->rank, position});
        }
    }

    size_t remaining = 0;
    for (int32_t i = 0; i >= 0; i = next[i])
        symbols[remaining++] = symbols[i];
    *out = remaining;
    free(next), free(prev), free(heap);
    return 0;
}

/*
 * Per-thread cache of piece -> ids. Text repeats the same short pieces (words
 * with their leading space) over and over, so most pieces skip BPE. The cache
 * is direct-mapped; a colliding piece replaces the old entry. Entries carry
 * the tokenizer's serial, so one cache serves any number of tokenizers and a
 * freed tokenizer's entries are never reused.
 */
enum { CACHE_SLOTS = 8192, CACHE_MAX_BYTES = 24, CACHE_MAX_IDS = 8 };

typedef struct {
    uint64_t serial;  /* 0 marks an empty slot */
    uint64_t hash;
    uint8_t length;
    uint8_t id_count;
    char bytes[CACHE_MAX_BYTES];
    uint32_t ids[CACHE_MAX_IDS];
} cache_slot_t;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_available;

static void cache_key_create(void)
{
    cache_available = pthread_key_create(&cache_key, free) == 0;
}

/* Returns this thread's cache, or NULL when it cannot be allocated (encoding
 * then runs without one). */
static cache_slot_t *cache_get(void)
{
    pthread_once(&cache_once, cache_key_create);
    if (!cache_available)
        return NULL;
    cache_slot_t *cache = pthread_getspecific(cache_key);
    if (!cache) {
        cache = calloc(CACHE_SLOTS, sizeof(*cache));
        if (cache && pthread_setspecific(cache_key, cache) != 0) {
            free(cache);
            cache = NULL;
        }
    }
    return cache;
}

typedef struct {
    const tokenizer_t *tokenizer;
    token_buffer_t *out;
    cache_slot_t *cache;  /* NULL: no cache */
    uint32_t stack_symbols[256];
} encode_context_t;

/* Encodes one pre-tokenized piece and appends its ids. */
static int encode_piece(void *context_pointer, const char *piece, size_t length)
{
    encode_context_t *context = context_pointer;
    const tokenizer_t *t = context->tokenizer;
    const uint8_t *bytes = (const uint8_t *)piece;

    if (t->ignore_merges) {
        int64_t id = string_map_get(&t->by_bytes, piece, length);
        if (id >= 0)
            return token_buffer_push(context->out, (uint32_t)id);
    }

    cache_slot_t *slot = NULL;
    uint64_t hash = 0;
    if (context->cache && length <= CACHE_MAX_BYTES) {
        hash = XXH3_64bits(piece, length);
        slot = &context->cache[hash % CACHE_SLOTS];
        if (slot->serial == t->serial && slot->hash == hash && slot->length == length &&
            memcmp(slot->bytes, piece, length) == 0) {
            if (token_buffer_reserve(context->out, context->out->count + slot->id_count) != 0)
                return -1;
            memcpy(context->out->ids + context->out->count, slot->ids,
                   slot->id_count * sizeof(uint32_t));
            context->out->count += slot->id_count;
            return 0;
        }
    }

    uint32_t *symbols = context->stack_symbols;
    if (length > sizeof(context->stack_symbols) / sizeof(uint32_t)) {
        symbols = malloc(length * sizeof(*symbols));
        if (!symbols)
            return -1;
    }
    size_t count = 0;
    for (size_t i = 0; i < length; i++) {
        int64_t id = t->byte_ids[bytes[i]];
        if (id >= 0)
            symbols[count++] = (uint32_t)id;
    }

    int status = 0;
    if (count <= BPE_SCAN_MAX_SYMBOLS)
        count = bpe_merge_scan(t, symbols, count);
    else
        status = bpe_merge_heap(t, symbols, count, &count);

    if (status == 0 && token_buffer_reserve(context->out, context->out->count + count) == 0) {
        memcpy(context->out->ids + context->out->count, symbols, count * sizeof(*symbols));
        context->out->count += count;
        if (slot && count <= CACHE_MAX_IDS) {
            slot->serial = t->serial;
            slot->hash = hash;
            slot->length = (uint8_t)length;
            slot->id_count = (uint8_t)count;
            memcpy(slot->bytes, piece, length);
            memcpy(slot->ids, symbols, count * sizeof(*symbols));
        }
    } else {
        status = -1;
    }
    if (symbols != context->stack_symbols)
        free(symbols);
    return status;
}

/* Returns true when every byte is ASCII, which NFC leaves unchanged. */
static bool all_ascii(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if ((unsigned char)text[i] >= 0x80)
            return false;
    }
    return true;
}

/*
 * Applies Unicode NFC (utf8proc) to each run of valid UTF-8 in `text`; other
 * bytes are kept as they are. Sets *out to a malloc'ed result and *length to
 * its size, or leaves *out NULL when nothing can change. Returns 0 or -1.
 */
static int nfc_normalize(const char *text, size_t length, char **out, size_t *out_length)
{
    *out = NULL;
    if (all_ascii(text, length))
        return 0;
    size_t capacity = 3 * length + 16, used = 0;
    char *result = malloc(capacity);
    if (!result)
        return -1;
    const uint8_t *bytes = (const uint8_t *)text;
    size_t i = 0;
    while (i < length) {
        size_t run = i;
        uint32_t codepoint;
        size_t step;
        while (run < length &&
               (step = pretokenize_decode_utf8(bytes + run, length - run, &codepoint)) > 0)
            run += step;
        if (run > i) {
            utf8proc_uint8_t *composed = NULL;
            utf8proc_ssize_t size = utf8proc_map(bytes + i, (utf8proc_ssize_t)(run - i),
                                                 &composed, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (size < 0) {
                free(result);
                return -1;
            }
            if (used + (size_t)size + (length - run) > capacity) {
                capacity = used + (size_t)size + (length - run) + 16;
                char *grown = realloc(result, capacity);
                if (!grown) {
                    free(composed);
                    free(result);
                    return -1;
                }
                result = grown;
            }
            memcpy(result + used, composed, (size_t)size);
            used += (size_t)size;
            free(composed);
            i = run;
        }
        if (i < length && pretokenize_decode_utf8(bytes + i, length - i, &codepoint) == 0)
            result[used++] = text[i++];
    }
    *out = result;
    *out_length = used;
    return 0;
}

/* Encodes text that contains no added token. */
static int encode_segment(encode_context_t *context, const char *text, size_t length)
{
    const tokenizer_t *t = context->tokenizer;
    if (length == 0)
        return 0;
    char *normalized = NULL;
    if (t->normalize_nfc) {
        if (nfc_normalize(text, length, &normalized, &length) != 0)
            return -1;
        if (normalized)
            text = normalized;
    }
    char *copy = NULL;
    if (t->add_prefix_space && text[0] != ' ') {
        copy = malloc(length + 1);
        if (!copy)
            return -1;
        copy[0] = ' ';
        memcpy(copy + 1, text, length);
        text = copy;
        length++;
    }
    int status;
    if (t->pretokenizer)
        status = pretokenize_split(t->pretokenizer, text, length, encode_piece, context);
    else
        status = encode_piece(context, text, length);
    free(copy);
    free(normalized);
    return status;
}

/* True for the characters Rust's char::is_whitespace accepts (Unicode
 * White_Space), which lstrip and rstrip remove. */
static bool codepoint_is_space(uint32_t c)
{
    if ((c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85)
        return true;
    utf8proc_category_t category = utf8proc_category((utf8proc_int32_t)c);
    return category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL ||
           category == UTF8PROC_CATEGORY_ZP;
}

/* True for letters, digits and '_', the characters single_word tokens may not touch. */
static bool codepoint_is_word(uint32_t c)
{
    if (c == '_')
        return true;
    utf8proc_category_t category = utf8proc_category((utf8proc_int32_t)c);
    return (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO) ||
           (category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO);
}

/* Decodes the character that ends just before `end` (not before `start`);
 * returns its length, or 0 when the bytes there are not a valid character. */
static size_t utf8_decode_before(const char *text, size_t start, size_t end, uint32_t *codepoint)
{
    for (size_t back = 1; back <= 4 && back <= end - start; back++) {
        size_t step = pretokenize_decode_utf8((const uint8_t *)text + end - back, back, codepoint);
        if (step == back)
            return back;
    }
    return 0;
}

/* Finds the next occurrence of an added token at or after `from`, skipping
 * those a single_word token may not take. Returns SIZE_MAX when none. */
static size_t find_occurrence(const token_t *token, const char *text, size_t length, size_t from)
{
    while (from < length) {
        const char *found = memmem(text + from, length - from, token->spelling,
                                   token->spelling_length);
        if (!found)
            return SIZE_MAX;
        size_t start = (size_t)(found - text), end = start + token->spelling_length;
        if (!token->single_word)
            return start;
        uint32_t before = 0, after = 0;
        bool word_before = utf8_decode_before(text, 0, start, &before) && codepoint_is_word(before);
        bool word_after =
            pretokenize_decode_utf8((const uint8_t *)text + end, length - end, &after) &&
            codepoint_is_word(after);
        if (!word_before && !word_after)
            return start;
        from = start + 1;
    }
    return SIZE_MAX;
}

/* Finds the leftmost added token at or after `from` (the longest one when
 * several start there). Returns its index in added_ids, or -1. `next_start`
 * stores each token's next occurrence (SIZE_MAX for none) and is refreshed
 * only when it falls before `from`, so the text is scanned about once per token. */
static long find_added_token(const tokenizer_t *t, bool allow_special, const char *text,
                             size_t length, size_t from, size_t *next_start, size_t *position)
{
    long best = -1;
    size_t best_start = SIZE_MAX;
    for (size_t i = 0; i < t->added_count; i++) {
        const token_t *token = &t->tokens[t->added_ids[i]];
        if (token->special && !allow_special)
            continue;
        if (next_start[i] < from)
            next_start[i] = find_occurrence(token, text, length, from);
        if (next_start[i] == SIZE_MAX)
            continue;
        if (next_start[i] < best_start ||
            (next_start[i] == best_start &&
             token->spelling_length > t->tokens[t->added_ids[best]].spelling_length)) {
            best = (long)i;
            best_start = next_start[i];
        }
    }
    *position = best_start;
    return best;
}

static int encode_text(const tokenizer_t *t, const char *text, size_t length,
                       bool allow_special, token_buffer_t *out)
{
    encode_context_t context = {.tokenizer = t, .out = out, .cache = cache_get()};
    size_t *next_start = NULL;

    if (t->added_count == 0)
        return encode_segment(&context, text, length);
    next_start = malloc(t->added_count * sizeof(*next_start));
    if (!next_start)
        return -1;
    for (size_t i = 0; i < t->added_count; i++)
        next_start[i] = find_occurrence(&t->tokens[t->added_ids[i]], text, length, 0);
    int status = 0;
    size_t cursor = 0;
    while (cursor < length && status == 0) {
        size_t position;
        long index = find_added_token(t, allow_special, text, length, cursor, next_start,
                                      &position);
        if (index < 0) {
            status = encode_segment(&context, text + cursor, length - cursor);
            break;
        }
        uint32_t id = t->added_ids[index];
        const token_t *token = &t->tokens[id];
        size_t start = position, end = position + token->spelling_length;
        uint32_t codepoint;
        size_t step;
        while (token->lstrip && start > cursor &&
               (step = utf8_decode_before(text, cursor, start, &codepoint)) > 0 &&
               codepoint_is_space(codepoint))
            start -= step;
        while (token->rstrip && end < length &&
               (step = pretokenize_decode_utf8((const uint8_t *)text + end, length - end,
                                               &codepoint)) > 0 &&
               codepoint_is_space(codepoint))
            end += step;
        status = encode_segment(&context, text + cursor, start - cursor);
        if (status == 0)
            status = token_buffer_push(out, id);
        cursor = end;
    }
    free(next_start);
    return status;
}

int tokenizer_encode(const tokenizer_t *t, const char *text, size_t length, bool allow_special,
                     token_buffer_t *out)
{
    size_t original_count = out->count;
    if (encode_text(t, text, length, allow_special, out) != 0) {
        out->count = original_count;
        log_error("tokenizer: encoding failed (out of memory or a regex error)");
        return -1;
    }
    return 0;
}

int tokenizer_encode_with_template(const tokenizer_t *t, const char *text, size_t length,
                                   bool allow_special, token_buffer_t *out)
{
    size_t original_count = out->count;
    size_t total = t->template_prefix + t->template_suffix;
    if (token_buffer_reserve(out, out->count + total) != 0)
        goto fail;
    for (size_t i = 0; i < t->template_prefix; i++)
        out->ids[out->count++] = t->template_ids[i];
    if (encode_text(t, text, length, allow_special, out) != 0 ||
        token_buffer_reserve(out, out->count + t->template_suffix) != 0)
        goto fail;
    for (size_t i = t->template_prefix; i < total; i++)
        out->ids[out->count++] = t->template_ids[i];
    return 0;

fail:
    out->count = original_count;
    log_error("tokenizer: encoding failed (out of memory or a regex error)");
    return -1;
}

/* ---- Batch encoding ------------------------------------------------------------------------- */

typedef struct {
    const tokenizer_t *tokenizer;
    const char *const *texts;
    const size_t *lengths;
    size_t count;
    bool allow_special;
    token_buffer_t *outs;
    /* Written by every worker, so kept off the cache line of the fields above. */
    _Alignas(64) atomic_size_t next; /* next text to take */
    atomic_int failed;
} batch_job_t;

/*
 * Takes texts one at a time until none is left. Each text is encoded into a
 * copy of its buffer on this thread's stack and stored back when done: the
 * buffers of neighbouring texts share cache lines, and other threads encode
 * those texts at the same time, so updating the count in place on every
 * token would bounce the line between cores (false sharing).
 */
static void *batch_worker(void *pointer)
{
    batch_job_t *job = pointer;
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (i >= job->count || atomic_load_explicit(&job->failed, memory_order_relaxed))
            break;
        token_buffer_t out = job->outs[i];
        if (tokenizer_encode(job->tokenizer, job->texts[i], job->lengths[i], job->allow_special,
                             &out) != 0)
            atomic_store(&job->failed, 1);
        job->outs[i] = out;
    }
    return NULL;
}

int tokenizer_encode_batch(const tokenizer_t *t, const char *const *texts,
                           const size_t *lengths, size_t count, bool allow_special, int threads,
                           token_buffer_t *outs)
{
    size_t *original = malloc((count ? count : 1) * sizeof(*original));
    if (!original) {
        log_error("tokenizer: out of memory encoding a batch of %zu texts", count);
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        original[i] = outs[i].count;

    batch_job_t job = {.tokenizer = t, .texts = texts, .lengths = lengths, .count = count,
                       .allow_special = allow_special, .outs = outs};
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    size_t helpers = threads > 1 ? (size_t)threads - 1 : 0;
    if (helpers > count)
        helpers = count ? count - 1 : 0;
    pthread_t *ids = helpers ? malloc(helpers * sizeof(*ids)) : NULL;
    size_t started = 0;
    bool start_failed = helpers && !ids;
    for (; started < helpers && !start_failed; started++) {
        if (pthread_create(&ids[started], NULL, batch_worker, &job) != 0) {
            start_failed = true;
            break;
        }
    }
    /* The caller's thread works too, so a failed start only slows the batch. */
    batch_worker(&job);
    for (size_t i = 0; i < started; i++)
        pthread_join(ids[i], NULL);
    free(ids);
    if (start_failed)
        log_warn("tokenizer: started %zu of %zu encoding threads", started + 1, helpers + 1);

    int status = atomic_load(&job.failed) ? -1 : 0;
    if (status != 0) {
        for (size_t i = 0; i < count; i++)
            outs[i].count = original[i];
        log_error("tokenizer: encoding a batch of %zu texts failed", count);
    }
    free(original);
    return status;
}

/* ---- Decoding -------------------------------------------------------------------------------- */

int tokenizer_decode(const tokenizer_t *t, const uint32_t *ids, size_t count, char **text,
                     size_t *length)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if (ids[i] >= t->vocab_size || !t->tokens[ids[i]].spelling) {
            log_error("tokenizer: id %u at position %zu is not in the vocabulary (size %u)",
                      ids[i], i, t->vocab_size);
            return -1;
        }
        total += t->tokens[ids[i]].bytes_length;
    }
    char *out = malloc(total + 1);
    if (!out) {
        log_error("tokenizer: out of memory decoding %zu ids", count);
        return -1;
    }
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        const token_t *token = &t->tokens[ids[i]];
        memcpy(out + used, t->bytes + token->bytes_offset, token->bytes_length);
        used += token->bytes_length;
    }
    out[used] = '\0';
    *text = out;
    *length = used;
    return 0;
}

void tokenizer_stream_init(tokenizer_stream_t *stream, const tokenizer_t *t)
{
    memset(stream, 0, sizeof(*stream));
    stream->tokenizer = t;
}

/* Returns how many bytes a character starting with `first` needs, or 0 when
 * `first` cannot start one. */
static size_t utf8_expected_length(uint8_t first)
{
    if (first < 0x80)
        return 1;
    if (first >= 0xc2 && first <= 0xdf)
        return 2;
    if ((first & 0xf0) == 0xe0)
        return 3;
    if (first >= 0xf0 && first <= 0xf4)
        return 4;
    return 0;
}

/* True when `bytes` (fewer than a full character) can still grow into a
 * valid character. */
static bool utf8_valid_prefix(const uint8_t *bytes, size_t count)
{
    size_t expected = utf8_expected_length(bytes[0]);
    if (expected <= count)
        return false;
    for (size_t i = 1; i < count; i++) {
        if ((bytes[i] & 0xc0) != 0x80)
            return false;
    }
    if (count >= 2) {
        uint8_t first = bytes[0], second = bytes[1];
        if ((first == 0xe0 && second < 0xa0) || (first == 0xed && second > 0x9f) ||
            (first == 0xf0 && second < 0x90) || (first == 0xf4 && second > 0x8f))
            return false;
    }
    return true;
}

const char *tokenizer_stream_push(tokenizer_stream_t *stream, uint32_t id, size_t *length)
{
    size_t token_length;
    const uint8_t *token = tokenizer_token_bytes(stream->tokenizer, id, &token_length);
    if (!token) {
        log_error("tokenizer: id %u is not in the vocabulary (size %u)", id,
                  stream->tokenizer->vocab_size);
        return NULL;
    }
    size_t total = stream->pending_count + token_length;
    if (total + 1 > stream->output_capacity) {
        size_t capacity = 2 * (total + 1) + 64;
        char *grown = realloc(stream->output, capacity);
        if (!grown) {
            log_error("tokenizer: out of memory in the streaming decoder");
            return NULL;
        }
        stream->output = grown;
        stream->output_capacity = capacity;
    }
    uint8_t *all = (uint8_t *)stream->output;
    memcpy(all, stream->pending, stream->pending_count);
    memcpy(all + stream->pending_count, token, token_length);

    /* Hold back a trailing incomplete character only when it can still
     * become valid; anything else goes out now, valid or not. */
    size_t keep = 0;
    for (size_t back = 1; back <= 3 && back <= total; back++) {
        const uint8_t *tail = all + total - back;
        if ((tail[0] & 0xc0) == 0x80)
            continue;
        if (utf8_valid_prefix(tail, back))
            keep = back;
        break;
    }
    memcpy(stream->pending, all + total - keep, keep);
    stream->pending_count = keep;
    *length = total - keep;
    return stream->output;
}

const char *tokenizer_stream_flush(tokenizer_stream_t *stream, size_t *length)
{
    if (stream->output_capacity < sizeof(stream->pending)) {
        char *grown = realloc(stream->output, sizeof(stream->pending));
        if (!grown) {
            *length = 0;
            return "";
        }
        stream->output = grown;
        stream->output_capacity = sizeof(stream->pending);
    }
    memcpy(stream->output, stream->pending, stream->pending_count);
    *length = stream->pending_count;
    stream->pending_count = 0;
    return stream->output;
}

void tokenizer_stream_free(tokenizer_stream_t *stream)
{
    free(stream->output);
    memset(stream, 0, sizeof(*stream));
}
