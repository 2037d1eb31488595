/*
 * Exact deduplication: two documents are duplicates when the xxh3-128 hashes
 * of their dedup keys (text_dedup_key: NFC, case folded, white space
 * collapsed) are equal; with the url method, when their URLs without the
 * fragment are equal. Memory is one table slot (24 bytes) per distinct
 * document plus its id. A 128-bit hash makes a false match between different
 * texts negligible (about n^2 / 2^129 for n documents).
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "log.h"
#include "method.h"
#include "text_normalize.h"

typedef struct {
    XXH128_hash_t hash;
    char *id;                   /* NULL marks an empty slot */
} exact_slot_t;

typedef struct {
    exact_slot_t *slots;
    size_t capacity;            /* a power of two */
    size_t count;
} exact_table_t;

static void *exact_create(const dedup_options_t *options)
{
    (void)options;
    exact_table_t *table = calloc(1, sizeof *table);
    if (!table)
        return NULL;
    table->capacity = 1024;
    table->slots = calloc(table->capacity, sizeof *table->slots);
    if (!table->slots) {
        free(table);
        return NULL;
    }
    return table;
}

static exact_slot_t *find_slot(exact_slot_t *slots, size_t capacity, XXH128_hash_t hash)
{
    size_t i = (size_t)hash.low64 & (capacity - 1);
    while (slots[i].id && !XXH128_isEqual(slots[i].hash, hash))
        i = (i + 1) & (capacity - 1);
    return &slots[i];
}

/* Doubles the table when it is more than half full. */
static int grow_table(exact_table_t *table)
{
    if (2 * (table->count + 1) <= table->capacity)
        return 0;
    size_t capacity = table->capacity * 2;
    exact_slot_t *slots = calloc(capacity, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < table->capacity; i++) {
        if (table->slots[i].id)
            *find_slot(slots, capacity, table->slots[i].hash) = table->slots[i];
    }
    free(table->slots);
    table->slots = slots;
    table->capacity = capacity;
    return 0;
}

/* Returns 1 and the kept document's id when `hash` was seen, else remembers it. */
static int check_hash(exact_table_t *table, XXH128_hash_t hash, const doc_t *doc,
                      dedup_verdict_t *verdict)
{
    exact_slot_t *slot = find_slot(table->slots, table->capacity, hash);
    if (slot->id) {
        verdict->original_id = slot->id;
        return 1;
    }
    if (grow_table(table) != 0)
        return -1;
    slot = find_slot(table->slots, table->capacity, hash);
    slot->id = strdup(doc->id ? doc->id : "");
    if (!slot->id)
        return -1;
    slot->hash = hash;
    table->count++;
    return 0;
}

static int exact_check(void *state, uint64_t key, doc_t *doc, dedup_verdict_t *verdict,
                       stats_t *stats)
{
    (void)key;
    if (doc->text_length == 0)
        stats_count(stats, "empty_documents", 1);
    char *text_key = NULL;
    size_t text_key_length = 0;
    if (text_dedup_key(doc->text, doc->text_length, &text_key, &text_key_length) != 0) {
        log_error("out of memory hashing document %s", doc->id);
        return -1;
    }
    XXH128_hash_t hash = XXH3_128bits(text_key, text_key_length);
    free(text_key);
    int duplicate = check_hash(state, hash, doc, verdict);
    if (duplicate < 0)
        log_error("out of memory remembering document %s", doc->id);
    return duplicate;
}

/* Documents without a URL are kept and counted; the fragment never names a
 * different page, so it is left out of the comparison. */
static int url_check(void *state, uint64_t key, doc_t *doc, dedup_verdict_t *verdict,
                     stats_t *stats)
{
    (void)key;
    if (!doc->url || !doc->url[0]) {
        stats_count(stats, "documents_without_url", 1);
        return 0;
    }
    size_t length = strcspn(doc->url, "#");
    int duplicate = check_hash(state, XXH3_128bits(doc->url, length), doc, verdict);
    if (duplicate < 0)
        log_error("out of memory remembering document %s", doc->id);
    return duplicate;
}

static void exact_destroy(void *state)
{
    exact_table_t *table = state;
    if (!table)
        return;
    for (size_t i = 0; i < table->capacity; i++)
        free(table->slots[i].id);
    free(table->slots);
    free(table);
}

const dedup_method_t dedup_method_exact = {
    .name = "exact",
    .reason = "exact_duplicate",
    .create = exact_create,
    .check = exact_check,
    .destroy = exact_destroy,
};

const dedup_method_t dedup_method_url = {
    .name = "url",
    .reason = "url_duplicate",
    .create = exact_create,
    .check = url_check,
    .destroy = exact_destroy,
};
