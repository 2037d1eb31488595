/*
 * Byte-level BPE training: word counting (optionally on worker threads) and
 * the merge loop with incremental pair counts.
 *
 * The merge loop keeps, for every adjacent pair, its total count over all
 * words and the list of words it occurs in. A merge rewrites only the words
 * on its list, and each rewritten word changes pair counts by the difference
 * between its old and new pairs. The best pair comes from a max-heap whose
 * entries carry the count they were pushed with: an entry that no longer
 * matches the pair's count is dropped or re-pushed when popped.
 */
#include "bpe_train.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "log.h"
#include "pretokenize.h"

/* ---- Byte-string map with growth ------------------------------------------------------------- */

/* Keys live in an arena of large chunks, because a corpus has millions of
 * short distinct words and one malloc each would dominate the time. */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, capacity;
    char data[];
} arena_chunk_t;

enum { ARENA_CHUNK_BYTES = 1 << 20 };

static char *arena_copy(arena_chunk_t **head, const char *bytes, size_t length)
{
    arena_chunk_t *chunk = *head;
    if (!chunk || chunk->capacity - chunk->used < length) {
        size_t capacity = length > ARENA_CHUNK_BYTES ? length : ARENA_CHUNK_BYTES;
        chunk = malloc(sizeof(*chunk) + capacity);
        if (!chunk)
            return NULL;
        chunk->used = 0;
        chunk->capacity = capacity;
        chunk->next = *head;
        *head = chunk;
    }
    char *out = chunk->data + chunk->used;
    memcpy(out, bytes, length);
    chunk->used += length;
    return out;
}

static void arena_free(arena_chunk_t *head)
{
    while (head) {
        arena_chunk_t *next = head->next;
        free(head);
        head = next;
    }
}

typedef struct {
    const char *key; /* NULL marks an empty slot */
    uint32_t length;
    uint64_t hash;
    uint64_t value;
} bytes_slot_t;

typedef struct {
    bytes_slot_t *slots;
    size_t mask, count;
    arena_chunk_t *arena;
} bytes_map_t;

static int bytes_map_init(bytes_map_t *map, size_t capacity)
{
    map->slots = calloc(capacity, sizeof(*map->slots));
    map->mask = capacity - 1;
    map->count = 0;
    map->arena = NULL;
    return map->slots ? 0 : -1;
}

static void bytes_map_free(bytes_map_t *map)
{
    free(map->slots);
    arena_free(map->arena);
    memset(map, 0, sizeof(*map));
}

static bytes_slot_t *bytes_map_slot(const bytes_map_t *map, const char *key, size_t length,
                                    uint64_t hash)
{
    size_t index = hash & map->mask;
    for (;;) {
        bytes_slot_t *slot = &map->slots[index];
        if (!slot->key ||
            (slot->hash == hash && slot->length == length && !memcmp(slot->key, key, length)))
            return slot;
        index = (index + 1) & map->mask;
    }
}

static int bytes_map_grow(bytes_map_t *map)
{
    size_t capacity = 2 * (map->mask + 1);
    bytes_slot_t *slots = calloc(capacity, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i <= map->mask; i++) {
        bytes_slot_t *old = &map->slots[i];
        if (!old->key)
            continue;
        size_t index = old->hash & (capacity - 1);
        while (slots[index].key)
            index = (index + 1) & (capacity - 1);
        slots[index] = *old;
    }
    free(map->slots);
    map->slots = slots;
    map->mask = capacity - 1;
    return 0;
}

/* Finds or inserts `key` (copied into the arena) and returns its slot, or NULL
 * when out of memory. A new slot has value 0. */
static bytes_slot_t *bytes_map_upsert(bytes_map_t *map, const char *key, size_t length)
{
    if ((map->count + 1) * 10 > (map->mask + 1) * 7 && bytes_map_grow(map) != 0)
        return NULL;
    uint64_t hash = XXH3_64bits(key, length);
    bytes_slot_t *slot = bytes_map_slot(map, key, length, hash);
    if (slot->key)
        return slot;
    char *copy = arena_copy(&map->arena, key, length);
    if (!copy)
        return NULL;
    *slot = (bytes_slot_t){copy, (uint32_t)length, hash, 0};
    map->count++;
    return slot;
}

/* ---- Word counts ----------------------------------------------------------------------------- */

struct bpe_word_counts {
    bytes_map_t words;
    uint64_t total;
    pretokenizer_t *pretokenizer;
    char **specials;
    size_t *special_lengths;
    size_t special_count;
};

bpe_word_counts_t *bpe_word_counts_create(const char *const *special_tokens,
                                          size_t special_count)
{
    return bpe_word_counts_create_pattern(special_tokens, special_count, NULL);
}

bpe_word_counts_t *bpe_word_counts_create_pattern(const char *const *special_tokens,
                                                  size_t special_count, const char *pattern)
{
    bpe_word_counts_t *counts = calloc(1, sizeof(*counts));
    if (!counts || bytes_map_init(&counts->words, 1024) != 0)
        goto out_of_memory;
    counts->specials = calloc(special_count + 1, sizeof(*counts->specials));
    counts->special_lengths = calloc(special_count + 1, sizeof(*counts->special_lengths));
    if (!counts->specials || !counts->special_lengths)
        goto out_of_memory;
    for (size_t i = 0; i < special_count; i++) {
        counts->specials[i] = strdup(special_tokens[i]);
        if (!counts->specials[i])
            goto out_of_memory;
        counts->special_lengths[i] = strlen(special_tokens[i]);
        counts->special_count++;
    }
    counts->pretokenizer = pretokenizer_create(pattern);
    if (!counts->pretokenizer) {
        bpe_word_counts_free(counts);
        return NULL;
    }
    return counts;

out_of_memory:
    log_error("bpe: out of memory creating word counts");
    bpe_word_counts_free(counts);
    return NULL;
}

void bpe_word_counts_free(bpe_word_counts_t *counts)
{
    if (!counts)
        return;
    bytes_map_free(&counts->words);
    pretokenizer_free(counts->pretokenizer);
    for (size_t i = 0; i < counts->special_count; i++)
        free(counts->specials[i]);
    free(counts->specials);
    free(counts->special_lengths);
    free(counts);
}

int bpe_word_counts_add_word(bpe_word_counts_t *counts, const char *word, size_t length,
                             uint64_t count)
{
    bytes_slot_t *slot = bytes_map_upsert(&counts->words, word, length);
    if (!slot)
        return -1;
    slot->value += count;
    counts->total += count;
    return 0;
}

static int count_piece(void *context, const char *piece, size_t length)
{
    return bpe_word_counts_add_word(context, piece, length, 1);
}

int bpe_word_counts_add_text(bpe_word_counts_t *counts, const char *text, size_t length)
{
    size_t cursor = 0;
    while (cursor < length) {
        /* Cut the text at the leftmost special token, so none enters a word. */
        size_t segment_end = length, skip = 0;
        for (size_t i = 0; i < counts->special_count; i++) {
            const char *found = memmem(text + cursor, length - cursor, counts->specials[i],
                                       counts->special_lengths[i]);
            size_t position = found ? (size_t)(found - text) : length;
            if (position < segment_end ||
                (position == segment_end && found && counts->special_lengths[i] > skip)) {
                segment_end = position;
                skip = counts->special_lengths[i];
            }
        }
        int status = pretokenize_split(counts->pretokenizer, text + cursor, segment_end - cursor,
                                       count_piece, counts);
        if (status != 0) {
            log_error("bpe: counting words failed (out of memory or a regex error)");
            return -1;
        }
        cursor = segment_end + skip;
    }
    return 0;
}

int bpe_word_counts_merge(bpe_word_counts_t *into, const bpe_word_counts_t *from)
{
    const bytes_map_t *map = &from->words;
    for (size_t i = 0; i <= map->mask; i++) {
        const bytes_slot_t *slot = &map->slots[i];
        if (slot->key && bpe_word_counts_add_word(into, slot->key, slot->length, slot->value))
            return -1;
    }
    return 0;
}

size_t bpe_word_counts_distinct(const bpe_word_counts_t *counts)
{
    return counts->words.count;
}

uint64_t bpe_word_counts_total(const bpe_word_counts_t *counts)
{
    return counts->total;
}

/* ---- Threaded counting ----------------------------------------------------------------------- */

/* A batch of texts, back to back, with their end offsets. */
typedef struct {
    char *data;
    size_t used, capacity;
    size_t *ends;
    size_t count, ends_capacity;
} text_batch_t;

enum { BATCH_BYTES = 1 << 20, QUEUE_SLOTS_PER_THREAD = 2 };

struct bpe_counter {
    int thread_count;
    pthread_t *threads;
    bpe_word_counts_t **counts; /* one per thread; counts[0] alone without threads */
    text_batch_t current;

    pthread_mutex_t lock;
    pthread_cond_t changed;
    text_batch_t *queue; /* ring of queue_capacity batches */
    size_t queue_capacity, queue_head, queue_size;
    bool closing;
    bool failed;
};

static void batch_free(text_batch_t *batch)
{
    free(batch->data);
    free(batch->ends);
    memset(batch, 0, sizeof(*batch));
}

static int batch_append(text_batch_t *batch, const char *text, size_t length)
{
    if (batch->used + length > batch->capacity) {
        size_t capacity = batch->used + length > BATCH_BYTES ? batch->used + length : BATCH_BYTES;
        char *grown = realloc(batch->data, capacity);
        if (!grown)
            return -1;
        batch->data = grown;
        batch->capacity = capacity;
    }
    if (batch->count == batch->ends_capacity) {
        size_t capacity = batch->ends_capacity ? 2 * batch->ends_capacity : 256;
        size_t *grown = realloc(batch->ends, capacity * sizeof(*grown));
        if (!grown)
            return -1;
        batch->ends = grown;
        batch->ends_capacity = capacity;
    }
    memcpy(batch->data + batch->used, text, length);
    batch->used += length;
    batch->ends[batch->count++] = batch->used;
    return 0;
}

static int batch_count(bpe_word_counts_t *counts, const text_batch_t *batch)
{
    size_t start = 0;
    for (size_t i = 0; i < batch->count; i++) {
        if (bpe_word_counts_add_text(counts, batch->data + start, batch->ends[i] - start) != 0)
            return -1;
        start = batch->ends[i];
    }
    return 0;
}

typedef struct {
    bpe_counter_t *counter;
    bpe_word_counts_t *counts;
} worker_argument_t;

static void *counter_worker(void *argument_pointer)
{
    bpe_counter_t *counter = ((worker_argument_t *)argument_pointer)->counter;
    bpe_word_counts_t *counts = ((worker_argument_t *)argument_pointer)->counts;
    free(argument_pointer);
    for (;;) {
        pthread_mutex_lock(&counter->lock);
        while (counter->queue_size == 0 && !counter->closing)
            pthread_cond_wait(&counter->changed, &counter->lock);
        if (counter->queue_size == 0) {
            pthread_mutex_unlock(&counter->lock);
            return NULL;
        }
        text_batch_t batch = counter->queue[counter->queue_head];
        counter->queue_head = (counter->queue_head + 1) % counter->queue_capacity;
        counter->queue_size--;
        pthread_cond_broadcast(&counter->changed);
        pthread_mutex_unlock(&counter->lock);

        int status = batch_count(counts, &batch);
        batch_free(&batch);
        if (status != 0) {
            pthread_mutex_lock(&counter->lock);
            counter->failed = true;
            pthread_mutex_unlock(&counter->lock);
        }
    }
}

bpe_counter_t *bpe_counter_start(int threads, const char *const *special_tokens,
                                 size_t special_count)
{
    return bpe_counter_start_pattern(threads, special_tokens, special_count, NULL);
}

bpe_counter_t *bpe_counter_start_pattern(int threads, const char *const *special_tokens,
                                         size_t special_count, const char *pattern)
{
    bpe_counter_t *counter = calloc(1, sizeof(*counter));
    if (!counter)
        goto out_of_memory;
    counter->thread_count = threads > 1 ? threads : 0;
    size_t count_objects = counter->thread_count ? (size_t)counter->thread_count : 1;
    counter->counts = calloc(count_objects, sizeof(*counter->counts));
    if (!counter->counts)
        goto out_of_memory;
    for (size_t i = 0; i < count_objects; i++) {
        counter->counts[i] = bpe_word_counts_create_pattern(special_tokens, special_count,
                                                            pattern);
        if (!counter->counts[i])
            goto fail;
    }
    if (counter->thread_count == 0)
        return counter;

    counter->queue_capacity = QUEUE_SLOTS_PER_THREAD * (size_t)counter->thread_count;
    counter->queue = calloc(counter->queue_capacity, sizeof(*counter->queue));
    counter->threads = calloc((size_t)counter->thread_count, sizeof(*counter->threads));
    if (!counter->queue || !counter->threads)
        goto out_of_memory;
    pthread_mutex_init(&counter->lock, NULL);
    pthread_cond_init(&counter->changed, NULL);
    for (int i = 0; i < counter->thread_count; i++) {
        worker_argument_t *argument = malloc(sizeof(*argument));
        if (!argument)
            goto out_of_memory;
        *argument = (worker_argument_t){counter, counter->counts[i]};
        if (pthread_create(&counter->threads[i], NULL, counter_worker, argument) != 0) {
            free(argument);
            log_error("bpe: cannot start counting thread %d of %d", i + 1,
                      counter->thread_count);
            counter->thread_count = i;
            goto fail;
        }
    }
    return counter;

out_of_memory:
    log_error("bpe: out of memory starting the word counter");
fail:
    if (counter)
        bpe_word_counts_free(bpe_counter_finish(counter));
    return NULL;
}

/* Hands the current batch to the workers, waiting while the queue is full. */
static int counter_submit(bpe_counter_t *counter)
{
    pthread_mutex_lock(&counter->lock);
    while (counter->queue_size == counter->queue_capacity)
        pthread_cond_wait(&counter->changed, &counter->lock);
    size_t tail = (counter->queue_head + counter->queue_size) % counter->queue_capacity;
    counter->queue[tail] = counter->current;
    counter->queue_size++;
    bool failed = counter->failed;
    pthread_cond_broadcast(&counter->changed);
    pthread_mutex_unlock(&counter->lock);
    memset(&counter->current, 0, sizeof(counter->current));
    return failed ? -1 : 0;
}

int bpe_counter_add(bpe_counter_t *counter, const char *text, size_t length)
{
    if (counter->thread_count == 0)
        return bpe_word_counts_add_text(counter->counts[0], text, length);
    if (batch_append(&counter->current, text, length) != 0) {
        log_error("bpe: out of memory queueing text");
        return -1;
    }
    if (counter->current.used >= BATCH_BYTES && counter_submit(counter) != 0) {
        log_error("bpe: a counting thread failed");
        return -1;
    }
    return 0;
}

bpe_word_counts_t *bpe_counter_finish(bpe_counter_t *counter)
{
    bool failed = false;
    if (counter->thread_count > 0) {
        if (counter->current.count > 0)
            counter_submit(counter);
        pthread_mutex_lock(&counter->lock);
        counter->closing = true;
        pthread_cond_broadcast(&counter->changed);
        pthread_mutex_unlock(&counter->lock);
        for (int i = 0; i < counter->thread_count; i++)
            pthread_join(counter->threads[i], NULL);
        failed = counter->failed;
    }
    if (counter->queue) {
        pthread_mutex_destroy(&counter->lock);
        pthread_cond_destroy(&counter->changed);
    }

    bpe_word_counts_t *result = counter->counts ? counter->counts[0] : NULL;
    size_t count_objects = counter->thread_count ? (size_t)counter->thread_count : 1;
    for (size_t i = 1; counter->counts && i < count_objects; i++) {
        if (!failed && result && counter->counts[i] &&
            bpe_word_counts_merge(result, counter->counts[i]) != 0) {
            log_error("bpe: out of memory merging word counts");
            failed = true;
        }
        bpe_word_counts_free(counter->counts[i]);
    }
    batch_free(&counter->current);
    free(counter->queue);
    free(counter->threads);
    free(counter->counts);
    free(counter);
    if (failed) {
        log_error("bpe: word counting failed");
        bpe_word_counts_free(result);
        return NULL;
    }
    return result;
}

/* ---- Training -------------------------------------------------------------------------------- */

typedef struct {
    uint32_t *items;
    uint32_t size, capacity;
} u32_list_t;

static int u32_list_push(u32_list_t *list, uint32_t item)
{
    if (list->size == list->capacity) {
        uint32_t capacity = list->capacity ? 2 * list->capacity : 4;
        uint32_t *grown = realloc(list->items, capacity * sizeof(*grown));
        if (!grown)
            return -1;
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->size++] = item;
    return 0;
}

typedef struct {
    uint32_t left, right; /* token ids */
    int64_t count;        /* occurrences over all words, weighted by word count */
    u32_list_t words;     /* words that contained the pair when it was counted (may repeat) */
    uint32_t grown_stamp; /* merge number + 1 in which the count last grew */
} pair_t;

typedef struct {
    int64_t count;
    uint32_t pair;
} heap_entry_t;

typedef struct {
    int64_t delta;
    uint64_t key;
} pair_delta_t;

typedef struct {
    const bpe_train_options_t *options;

    /* Tokens by trainer id: 0..255 the bytes in GPT-2 order, then merge results. */
    const char **token_bytes;
    uint32_t *token_length;
    uint32_t token_count, token_capacity;
    bytes_map_t token_ids; /* bytes -> id, so a repeated merge result keeps one id */

    /* Words: symbols back to back; word w owns symbols[word_start[w] ...]. */
    uint32_t *symbols;
    size_t *word_start;
    uint32_t *word_length;
    uint64_t *word_count;
    uint32_t *word_stamp;   /* merge number + 1 that last rewrote the word */
    size_t word_total;

    pair_t *pairs;
    size_t pair_count, pair_capacity;
    uint32_t *pair_slots;   /* open addressing: pair index + 1, 0 for empty */
    size_t pair_mask;

    heap_entry_t *heap;
    size_t heap_size, heap_capacity;

    tokenizer_merge_t *merges;
    size_t merge_count;

    pair_delta_t *deltas;   /* scratch for one word */
    size_t delta_capacity;
    u32_list_t grown;       /* pairs whose count grew in the current merge */
} trainer_t;

/* GPT-2 byte order: printable Latin-1 bytes first, then the rest. */
static bool byte_is_printable(unsigned byte)
{
    return (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae;
}

static int trainer_add_token(trainer_t *trainer, const char *bytes, size_t length,
                             uint32_t *id_out)
{
    bytes_slot_t *slot = bytes_map_upsert(&trainer->token_ids, bytes, length);
    if (!slot)
        return -1;
    if (slot->value > 0) {
        *id_out = (uint32_t)(slot->value - 1);
        return 0;
    }
    if (trainer->token_count == trainer->token_capacity) {
        uint32_t capacity = trainer->token_capacity ? 2 * trainer->token_capacity : 1024;
        const char **bytes_grown = realloc(trainer->token_bytes, capacity * sizeof(char *));
        if (!bytes_grown)
            return -1;
        trainer->token_bytes = bytes_grown;
        uint32_t *length_grown = realloc(trainer->token_length, capacity * sizeof(uint32_t));
        if (!length_grown)
            return -1;
        trainer->token_length = length_grown;
        trainer->token_capacity = capacity;
    }
    uint32_t id = trainer->token_count++;
    trainer->token_bytes[id] = slot->key; /* the arena copy lives as long as the map */
    trainer->token_length[id] = (uint32_t)length;
    slot->value = (uint64_t)id + 1;
    *id_out = id;
    return 0;
}

static int compare_bytes(const char *a, size_t a_length, const char *b, size_t b_length)
{
    int order = memcmp(a, b, a_length < b_length ? a_length : b_length);
    if (order != 0)
        return order;
    return (a_length > b_length) - (a_length < b_length);
}

/* True when heap entry `a` should be merged before `b`. */
static bool entry_before(const trainer_t *trainer, heap_entry_t a, heap_entry_t b)
{
    if (a.count != b.count)
        return a.count > b.count;
    const pair_t *pa = &trainer->pairs[a.pair], *pb = &trainer->pairs[b.pair];
    int order = compare_bytes(trainer->token_bytes[pa->left], trainer->token_length[pa->left],
                              trainer->token_bytes[pb->left], trainer->token_length[pb->left]);
    if (order == 0)
        order = compare_bytes(trainer->token_bytes[pa->right], trainer->token_length[pa->right],
                              trainer->token_bytes[pb->right], trainer->token_length[pb->right]);
    return order < 0;
}

static int heap_push(trainer_t *trainer, heap_entry_t entry)
{
    if (trainer->heap_size == trainer->heap_capacity) {
        size_t capacity = trainer->heap_capacity ? 2 * trainer->heap_capacity : 4096;
        heap_entry_t *grown = realloc(trainer->heap, capacity * sizeof(*grown));
        if (!grown)
            return -1;
        trainer->heap = grown;
        trainer->heap_capacity = capacity;
    }
    size_t i = trainer->heap_size++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!entry_before(trainer, entry, trainer->heap[parent]))
            break;
        trainer->heap[i] = trainer->heap[parent];
        i = parent;
    }
    trainer->heap[i] = entry;
    return 0;
}

static heap_entry_t heap_pop(trainer_t *trainer)
{
    heap_entry_t *heap = trainer->heap;
    heap_entry_t top = heap[0];
    heap_entry_t last = heap[--trainer->heap_size];
    size_t size = trainer->heap_size, i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= size)
            break;
        if (child + 1 < size && entry_before(trainer, heap[child + 1], heap[child]))
            child++;
        if (!entry_before(trainer, heap[child], last))
            break;
        heap[i] = heap[child];
        i = child;
    }
    if (size > 0)
        heap[i] = last;
    return top;
}

static inline size_t pair_slot_index(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 27) & mask;
}

static int pair_table_grow(trainer_t *trainer)
{
    size_t capacity = trainer->pair_mask ? 2 * (trainer->pair_mask + 1) : 1 << 16;
    uint32_t *slots = calloc(capacity, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t p = 0; p < trainer->pair_count; p++) {
        uint64_t key = ((uint64_t)trainer->pairs[p].left << 32) | trainer->pairs[p].right;
        size_t index = pair_slot_index(key, capacity - 1);
        while (slots[index])
            index = (index + 1) & (capacity - 1);
        slots[index] = (uint32_t)p + 1;
    }
    free(trainer->pair_slots);
    trainer->pair_slots = slots;
    trainer->pair_mask = capacity - 1;
    return 0;
}

/* Returns the index of pair `key`, creating it with count 0; -1 when out of memory. */
static int64_t pair_find_or_add(trainer_t *trainer, uint64_t key)
{
    if ((trainer->pair_count + 1) * 2 > trainer->pair_mask + 1 && pair_table_grow(trainer))
        return -1;
    size_t index = pair_slot_index(key, trainer->pair_mask);
    while (trainer->pair_slots[index]) {
        uint32_t p = trainer->pair_slots[index] - 1;
        if ((((uint64_t)trainer->pairs[p].left << 32) | trainer->pairs[p].right) == key)
            return p;
        index = (index + 1) & trainer->pair_mask;
    }
    if (trainer->pair_count == trainer->pair_capacity) {
        size_t capacity = trainer->pair_capacity ? 2 * trainer->pair_capacity : 1 << 16;
        pair_t *grown = realloc(trainer->pairs, capacity * sizeof(*grown));
        if (!grown)
            return -1;
        trainer->pairs = grown;
        trainer->pair_capacity = capacity;
    }
    size_t p = trainer->pair_count++;
    trainer->pairs[p] = (pair_t){(uint32_t)(key >> 32), (uint32_t)key, 0, {0}, 0};
    trainer->pair_slots[index] = (uint32_t)p + 1;
    return (int64_t)p;
}

static bool pair_fits(const trainer_t *trainer, const pair_t *pair)
{
    uint32_t limit = trainer->options->max_token_bytes;
    return limit == 0 ||
           trainer->token_length[pair->left] + trainer->token_length[pair->right] <= limit;
}

/* Loads the word table: one symbol per byte, mapped to the byte's token id. */
static int trainer_load_words(trainer_t *trainer, const bpe_word_counts_t *counts,
                              const uint32_t byte_ids[256])
{
    const bytes_map_t *map = &counts->words;
    size_t total_symbols = 0;
    for (size_t i = 0; i <= map->mask; i++)
        total_symbols += map->slots[i].key ? map->slots[i].length : 0;
    size_t words = map->count;
    trainer->symbols = malloc((total_symbols ? total_symbols : 1) * sizeof(uint32_t));
    trainer->word_start = malloc((words ? words : 1) * sizeof(size_t));
    trainer->word_length = malloc((words ? words : 1) * sizeof(uint32_t));
    trainer->word_count = malloc((words ? words : 1) * sizeof(uint64_t));
    trainer->word_stamp = calloc(words ? words : 1, sizeof(uint32_t));
    if (!trainer->symbols || !trainer->word_start || !trainer->word_length ||
        !trainer->word_count || !trainer->word_stamp)
        return -1;

    size_t used = 0, w = 0;
    for (size_t i = 0; i <= map->mask; i++) {
        const bytes_slot_t *slot = &map->slots[i];
        if (!slot->key)
            continue;
        trainer->word_start[w] = used;
        trainer->word_length[w] = slot->length;
        trainer->word_count[w] = slot->value;
        for (uint32_t k = 0; k < slot->length; k++)
            trainer->symbols[used++] = byte_ids[(uint8_t)slot->key[k]];
        w++;
    }
    trainer->word_total = w;
    return 0;
}

/* Counts every adjacent pair in every word and fills the heap. */
static int trainer_count_pairs(trainer_t *trainer)
{
    for (size_t w = 0; w < trainer->word_total; w++) {
        const uint32_t *symbols = trainer->symbols + trainer->word_start[w];
        for (uint32_t k = 0; k + 1 < trainer->word_length[w]; k++) {
            uint64_t key = ((uint64_t)symbols[k] << 32) | symbols[k + 1];
            int64_t p = pair_find_or_add(trainer, key);
            if (p < 0)
                return -1;
            pair_t *pair = &trainer->pairs[p];
            pair->count += (int64_t)trainer->word_count[w];
            if ((pair->words.size == 0 || pair->words.items[pair->words.size - 1] != w) &&
                u32_list_push(&pair->words, (uint32_t)w) != 0)
                return -1;
        }
    }
    for (size_t p = 0; p < trainer->pair_count; p++) {
        const pair_t *pair = &trainer->pairs[p];
        if ((uint64_t)pair->count >= trainer->options->min_frequency && pair_fits(trainer, pair) &&
            heap_push(trainer, (heap_entry_t){pair->count, (uint32_t)p}) != 0)
            return -1;
    }
    return 0;
}

static int compare_deltas(const void *a, const void *b)
{
    uint64_t x = ((const pair_delta_t *)a)->key, y = ((const pair_delta_t *)b)->key;
    return (x > y) - (x < y);
}

/*
 * Rewrites word `w`, replacing each non-overlapping (left, right) from left to
 * right by `merged`, and applies the change in its pair counts. Pairs whose
 * count grew list the word and are noted for a heap entry after the merge.
 */
static int trainer_rewrite_word(trainer_t *trainer, uint32_t w, uint32_t left, uint32_t right,
                                uint32_t merged)
{
    uint32_t *symbols = trainer->symbols + trainer->word_start[w];
    uint32_t length = trainer->word_length[w];
    int64_t count = (int64_t)trainer->word_count[w];

    bool present = false;
    for (uint32_t k = 0; k + 1 < length && !present; k++)
        present = symbols[k] == left && symbols[k + 1] == right;
    if (!present)
        return 0;

    if (3 * (size_t)length > trainer->delta_capacity) {
        size_t capacity = 4 * (size_t)length;
        pair_delta_t *grown = realloc(trainer->deltas, capacity * sizeof(*grown));
        if (!grown)
            return -1;
        trainer->deltas = grown;
        trainer->delta_capacity = capacity;
    }

    /* Only the pairs next to each merged occurrence change. The neighbours
     * are read as they are at that moment: the left one already rewritten,
     * the right one not yet, so consecutive occurrences ("ABAB") count the
     * pair between them once. At most five changes per occurrence, and an
     * occurrence spans two symbols, so 3 * length entries always suffice. */
    pair_delta_t *deltas = trainer->deltas;
    size_t used = 0;
    uint32_t out = 0;
    for (uint32_t k = 0; k < length;) {
        if (k + 1 < length && symbols[k] == left && symbols[k + 1] == right) {
            if (out > 0) {
                uint64_t previous = (uint64_t)symbols[out - 1] << 32;
                deltas[used++] = (pair_delta_t){-count, previous | left};
                deltas[used++] = (pair_delta_t){count, previous | merged};
            }
            deltas[used++] = (pair_delta_t){-count, ((uint64_t)left << 32) | right};
            if (k + 2 < length) {
                uint32_t next = symbols[k + 2];
                deltas[used++] = (pair_delta_t){-count, ((uint64_t)right << 32) | next};
                deltas[used++] = (pair_delta_t){count, ((uint64_t)merged << 32) | next};
            }
            symbols[out++] = merged;
            k += 2;
        } else {
            symbols[out++] = symbols[k++];
        }
    }
    trainer->word_length[w] = out;

    if (used <= 48) {
        /* Words are short: insertion sort beats qsort's calls at this size. */
        for (size_t i = 1; i < used; i++) {
            pair_delta_t item = trainer->deltas[i];
            size_t j = i;
            for (; j > 0 && trainer->deltas[j - 1].key > item.key; j--)
                trainer->deltas[j] = trainer->deltas[j - 1];
            trainer->deltas[j] = item;
        }
    } else {
        qsort(trainer->deltas, used, sizeof(*trainer->deltas), compare_deltas);
    }
    for (size_t i = 0; i < used;) {
        uint64_t key = trainer->deltas[i].key;
        int64_t delta = 0;
        for (; i < used && trainer->deltas[i].key == key; i++)
            delta += trainer->deltas[i].delta;
        if (delta == 0)
            continue;
        int64_t p = pair_find_or_add(trainer, key);
        if (p < 0)
            return -1;
        pair_t *pair = &trainer->pairs[p];
        pair->count += delta;
        if (delta > 0) {
            if ((pair->words.size == 0 || pair->words.items[pair->words.size - 1] != w) &&
                u32_list_push(&pair->words, w) != 0)
                return -1;
            /* The heap gets one entry per grown pair after the whole merge,
             * not one per word, so it stays near the number of live pairs. */
            uint32_t stamp = (uint32_t)trainer->merge_count;
            if (pair->grown_stamp != stamp) {
                pair->grown_stamp = stamp;
                if (u32_list_push(&trainer->grown, (uint32_t)p) != 0)
                    return -1;
            }
        }
    }
    return 0;
}

static int trainer_record_merge(trainer_t *trainer, uint32_t left, uint32_t right)
{
    tokenizer_merge_t *grown =
        realloc(trainer->merges, (trainer->merge_count + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    trainer->merges = grown;
    trainer->merges[trainer->merge_count++] = (tokenizer_merge_t){
        (const uint8_t *)trainer->token_bytes[left], (const uint8_t *)trainer->token_bytes[right],
        trainer->token_length[left], trainer->token_length[right]};
    return 0;
}

/* Performs the merge of pair `p`; returns 0 or -1 when out of memory. */
static int trainer_apply_merge(trainer_t *trainer, uint32_t p)
{
    uint32_t left = trainer->pairs[p].left, right = trainer->pairs[p].right;
    size_t length = trainer->token_length[left] + trainer->token_length[right];
    char *joined = malloc(length);
    if (!joined)
        return -1;
    memcpy(joined, trainer->token_bytes[left], trainer->token_length[left]);
    memcpy(joined + trainer->token_length[left], trainer->token_bytes[right],
           trainer->token_length[right]);
    uint32_t merged;
    int status = trainer_add_token(trainer, joined, length, &merged);
    free(joined);
    if (status != 0 || trainer_record_merge(trainer, left, right) != 0)
        return -1;

    /* Take the word list: a merge never re-creates its own pair, so no word
     * is added to it while the words are rewritten. */
    u32_list_t words = trainer->pairs[p].words;
    memset(&trainer->pairs[p].words, 0, sizeof(words));
    uint32_t stamp = (uint32_t)trainer->merge_count;
    for (uint32_t i = 0; i < words.size && status == 0; i++) {
        uint32_t w = words.items[i];
        if (trainer->word_stamp[w] == stamp)
            continue;
        trainer->word_stamp[w] = stamp;
        status = trainer_rewrite_word(trainer, w, left, right, merged);
    }
    free(words.items);
    for (uint32_t i = 0; i < trainer->grown.size && status == 0; i++) {
        const pair_t *pair = &trainer->pairs[trainer->grown.items[i]];
        if ((uint64_t)pair->count >= trainer->options->min_frequency && pair_fits(trainer, pair))
            status = heap_push(trainer, (heap_entry_t){pair->count, trainer->grown.items[i]});
    }
    trainer->grown.size = 0;
    return status;
}

static void trainer_free(trainer_t *trainer)
{
    bytes_map_free(&trainer->token_ids);
    free(trainer->token_bytes);
    free(trainer->token_length);
    free(trainer->symbols);
    free(trainer->word_start);
    free(trainer->word_length);
    free(trainer->word_count);
    free(trainer->word_stamp);
    for (size_t p = 0; p < trainer->pair_count; p++)
        free(trainer->pairs[p].words.items);
    free(trainer->pairs);
    free(trainer->pair_slots);
    free(trainer->heap);
    free(trainer->merges);
    free(trainer->deltas);
    free(trainer->grown.items);
}

/* Runs the merge loop until the target token count or min_frequency stops it. */
static int trainer_run(trainer_t *trainer, uint32_t target_tokens)
{
    while (trainer->token_count < target_tokens && trainer->heap_size > 0) {
        heap_entry_t top = heap_pop(trainer);
        const pair_t *pair = &trainer->pairs[top.pair];
        if (top.count != pair->count) {
            /* When the count grew, a newer entry with it is already in the
             * heap, so this one is dropped. When it shrank, the pair is pushed
             * again with its current count. */
            if (top.count > pair->count &&
                (uint64_t)pair->count >= trainer->options->min_frequency &&
                heap_push(trainer, (heap_entry_t){pair->count, top.pair}) != 0)
                return -1;
            continue;
        }
        if ((uint64_t)pair->count < trainer->options->min_frequency)
            break;
        if (trainer_apply_merge(trainer, top.pair) != 0)
            return -1;
        if (trainer->merge_count % 1000 == 0)
            log_debug("bpe: %zu merges, %u tokens, last pair count %lld", trainer->merge_count,
                      trainer->token_count, (long long)top.count);
    }
    return 0;
}

tokenizer_t *bpe_train(const bpe_word_counts_t *counts, const bpe_train_options_t *options)
{
    if (options->vocab_size < 256 + options->special_count) {
        log_error("bpe: vocab size %u is too small: it must hold the 256 byte tokens and %zu "
                  "special tokens", options->vocab_size, options->special_count);
        return NULL;
    }
    trainer_t trainer = {.options = options};
    tokenizer_t *tokenizer = NULL;
    uint32_t byte_ids[256];
    if (bytes_map_init(&trainer.token_ids, 1024) != 0)
        goto out_of_memory;
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned b = 0; b < 256; b++) {
            char byte = (char)b;
            if (byte_is_printable(b) == (pass == 0) &&
                trainer_add_token(&trainer, &byte, 1, &byte_ids[b]) != 0)
                goto out_of_memory;
        }
    }
    if (trainer_load_words(&trainer, counts, byte_ids) != 0 || trainer_count_pairs(&trainer))
        goto out_of_memory;
    log_info("bpe: %zu distinct words, %zu distinct pairs", trainer.word_total,
             trainer.pair_count);

    if (trainer_run(&trainer, (uint32_t)(options->vocab_size - options->special_count)) != 0)
        goto out_of_memory;
    if (trainer.token_count + options->special_count < options->vocab_size)
        log_warn("bpe: stopped at %zu tokens, below the requested vocab size %u, because no "
                 "pair occurs at least %llu times (min-frequency)",
                 trainer.token_count + options->special_count, options->vocab_size,
                 (unsigned long long)options->min_frequency);
    tokenizer = tokenizer_from_merges_pattern(trainer.merges, trainer.merge_count,
                                              options->special_tokens, options->special_count,
                                              options->pattern);
    trainer_free(&trainer);
    return tokenizer;

out_of_memory:
    log_error("bpe: out of memory while training (%zu words, %zu pairs)", trainer.word_total,
              trainer.pair_count);
    trainer_free(&trainer);
    return NULL;
}
