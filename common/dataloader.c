/*
 * Training batches from a shard folder (contract in dataloader.h).
 *
 * The shuffled window order of an epoch is a keyed permutation of
 * [0, windows) computed on demand: a four-round Feistel network on the
 * smallest even power-of-two domain that covers the window count, with
 * cycle walking to stay inside the range. It needs no memory per window, and
 * the loader's position is just (epoch, windows consumed), which makes exact
 * resume trivial.
 *
 * The prefetch thread runs the same batch assembly on its own copy of the
 * state, ahead of the caller, into a ring of slots. Each slot carries the
 * state after its batch, which becomes the loader's state when the caller
 * takes the batch. Shard readers are not thread-safe, so every read takes
 * io_lock.
 */
#include "dataloader.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "outdir.h"
#include "shard.h"

struct dataloader {
    char *folder;
    char *split;
    shard_reader_t **shards;
    uint64_t *shard_starts;     /* token offset of each shard in the split's stream */
    uint64_t *pair_starts;      /* index of each shard's first preference pair */
    uint64_t pair_count;
    size_t shard_count;
    uint64_t token_count;
    uint64_t document_count;
    uint32_t vocab_size;
    uint32_t eot_id;
    char tokenizer_hash[SHARD_HASH_CAPACITY + 1];
    uint64_t windows;           /* windows in the split */
    uint64_t windows_per_rank;  /* windows of one rank per epoch */
    unsigned half_bits;         /* Feistel half width */
    int32_t *window;            /* seq_len + 1 tokens */
    uint32_t kind;              /* shard_kind_t of the split */
    bool epoch_offset;          /* per-epoch random window offset */
    bool started;               /* a batch has been taken */
    dataloader_state_t state;   /* after the batches the caller took */
    pthread_mutex_t io_lock;    /* held while shard readers are used */
    /* Prefetching: a ring of `depth` slots, `ready` of them filled from `head`. */
    bool prefetching;
    int depth;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool stop;
    struct prefetch_slot *slots;
    int head, ready;
    dataloader_state_t producer_state;
};

typedef struct prefetch_slot {
    dataloader_batch_t batch;   /* every field allocated */
    dataloader_state_t state;   /* the state after this batch */
    int status;
} prefetch_slot_t;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* Maps index i of an epoch to a window in [0, windows), bijectively. */
static uint64_t permute_window(const dataloader_t *loader, uint64_t seed, uint64_t epoch,
                               uint64_t i)
{
    unsigned half = loader->half_bits;
    uint64_t mask = (1ull << half) - 1;
    uint64_t key = mix64(seed ^ mix64(epoch + 0x9e3779b97f4a7c15ull));
    uint64_t x = i;
    do {
        uint64_t left = x >> half;
        uint64_t right = x & mask;
        for (int round = 0; round < 4; round++) {
            uint64_t f = mix64(right ^ key ^ ((uint64_t)round << 58)) & mask;
            uint64_t next = left ^ f;
            left = right;
            right = next;
        }
        x = (left << half) | right;
    } while (x >= loader->windows);
    return x;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True when `name` is "<split>-<anything>.lshard". */
static bool is_split_file(const char *name, const char *split)
{
    size_t split_length = strlen(split);
    size_t length = strlen(name);
    size_t suffix_length = strlen(SHARD_FILE_SUFFIX);
    return length > split_length + 1 + suffix_length && strncmp(name, split, split_length) == 0 &&
           name[split_length] == '-' &&
           strcmp(name + length - suffix_length, SHARD_FILE_SUFFIX) == 0;
}

/* Opens every shard of the split and checks that they agree. */
static int open_shards(dataloader_t *loader)
{
    cli_string_list_t names = {0};
    int result = -1;
    if (outdir_list_files(loader->folder, false, &names) != 0)
        goto done;
    char **selected = calloc(names.count + 1, sizeof *selected);
    size_t count = 0;
    for (size_t i = 0; selected && i < names.count; i++) {
        if (is_split_file(names.items[i], loader->split))
            selected[count++] = names.items[i];
    }
    if (!selected || count == 0) {
        log_error("%s: no %s-*%s files in this shard folder; build it with the shard program",
                  loader->folder, loader->split, SHARD_FILE_SUFFIX);
        free(selected);
        goto done;
    }
    qsort(selected, count, sizeof *selected, compare_strings);
    loader->shards = calloc(count, sizeof *loader->shards);
    loader->shard_starts = calloc(count, sizeof *loader->shard_starts);
    loader->pair_starts = calloc(count, sizeof *loader->pair_starts);
    if (!loader->shards || !loader->shard_starts || !loader->pair_starts) {
        free(selected);
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        size_t path_size = strlen(loader->folder) + strlen(selected[i]) + 2;
        char *path = malloc(path_size);
        if (!path)
            break;
        snprintf(path, path_size, "%s/%s", loader->folder, selected[i]);
        shard_reader_t *shard = shard_reader_open(path);
        free(path);
        if (!shard)
            break;
        loader->shards[loader->shard_count++] = shard;
        const shard_info_t *info = shard_reader_info(shard);
        if (i == 0) {
            loader->vocab_size = info->vocab_size;
            loader->eot_id = info->eot_id;
            loader->kind = info->kind;
            memcpy(loader->tokenizer_hash, info->tokenizer_hash, sizeof loader->tokenizer_hash);
        } else if (info->kind != loader->kind) {
            log_error("%s: shard kind %u differs from kind %u of the first shard of the split; "
                      "keep documents, sft and preference shards in separate folders",
                      shard_reader_path(shard), info->kind, loader->kind);
            break;
        } else if (info->vocab_size != loader->vocab_size || info->eot_id != loader->eot_id ||
                   strcmp(info->tokenizer_hash, loader->tokenizer_hash) != 0) {
            log_error("%s: vocabulary size %u, end-of-text id %u or tokenizer hash %s differs "
                      "from the first shard of the split (%u, %u, %s); rebuild the folder with "
                      "one tokenizer", shard_reader_path(shard), info->vocab_size, info->eot_id,
                      info->tokenizer_hash, loader->vocab_size, loader->eot_id,
                      loader->tokenizer_hash);
            break;
        }
        loader->shard_starts[i] = loader->token_count;
        loader->pair_starts[i] = loader->pair_count;
        loader->pair_count += info->pair_count;
        loader->token_count += info->token_count;
        loader->document_count += info->document_count;
    }
    if (loader->shard_count == count)
        result = 0;
    free(selected);
done:
    cli_string_list_free(&names);
    return result;
}

/* Sets the window counts from the token count, the options and the ranks. */
static int count_windows(dataloader_t *loader)
{
    uint64_t seq_len = (uint64_t)loader->state.seq_len;
    uint64_t reserve = 1 + (loader->epoch_offset ? seq_len - 1 : 0);
    loader->windows = loader->token_count >= reserve
                          ? (loader->token_count - reserve) / seq_len : 0;
    loader->windows_per_rank = loader->windows / (uint64_t)loader->state.world_size;
    if (loader->windows_per_rank == 0) {
        log_error("%s: the %s split has %llu tokens, too few for one window of %d tokens per "
                  "rank with %d ranks; use a shorter sequence length or more data",
                  loader->folder, loader->split, (unsigned long long)loader->token_count,
                  loader->state.seq_len + 1, loader->state.world_size);
        return -1;
    }
    unsigned bits = 2;
    while (bits < 64 && (1ull << bits) < loader->windows)
        bits += 2;
    loader->half_bits = bits / 2;
    return 0;
}

dataloader_t *dataloader_open(const char *shard_folder, const char *split, int batch,
                              int seq_len, uint64_t seed, int rank, int world_size)
{
    if (batch <= 0 || seq_len <= 0 || world_size <= 0 || rank < 0 || rank >= world_size) {
        log_error("invalid data loader settings: batch %d, sequence length %d, rank %d of %d",
                  batch, seq_len, rank, world_size);
        return NULL;
    }
    dataloader_t *loader = calloc(1, sizeof *loader);
    if (!loader)
        return NULL;
    pthread_mutex_init(&loader->io_lock, NULL);
    pthread_mutex_init(&loader->lock, NULL);
    pthread_cond_init(&loader->changed, NULL);
    loader->folder = strdup(shard_folder);
    loader->split = strdup(split);
    loader->window = malloc(((size_t)seq_len + 1) * sizeof *loader->window);
    if (!loader->folder || !loader->split || !loader->window || open_shards(loader) != 0)
        goto fail;

    loader->state.seed = seed;
    loader->state.rank = rank;
    loader->state.world_size = world_size;
    loader->state.batch = batch;
    loader->state.seq_len = seq_len;
    if (count_windows(loader) != 0)
        goto fail;
    return loader;
fail:
    dataloader_close(loader);
    return NULL;
}

/* Returns the index of the shard that contains stream token `position` (< token_count). */
static size_t shard_at(const dataloader_t *loader, uint64_t position)
{
    size_t low = 0, high = loader->shard_count;
    while (high - low > 1) {
        size_t middle = low + (high - low) / 2;
        if (loader->shard_starts[middle] <= position)
            low = middle;
        else
            high = middle;
    }
    while (low + 1 < loader->shard_count && loader->shard_starts[low + 1] <= position)
        low++;          /* skip empty shards */
    return low;
}

/* Reads the loss mask of stream tokens [start, start + count), across shards. */
static void read_mask(const dataloader_t *loader, uint64_t start, size_t count, uint8_t *mask)
{
    size_t done = 0;
    while (done < count) {
        size_t shard = shard_at(loader, start + done);
        const shard_info_t *info = shard_reader_info(loader->shards[shard]);
        uint64_t within = start + done - loader->shard_starts[shard];
        uint64_t take = info->token_count - within;
        if (take > count - done)
            take = count - done;
        shard_reader_loss_mask(loader->shards[shard], within, (size_t)take, mask + done);
        done += (size_t)take;
    }
}

/* Returns the start of the document that contains stream token `position` and
 * sets *next to the next document's start (or the end of its shard). */
static uint64_t document_around(const dataloader_t *loader, uint64_t position, uint64_t *next)
{
    size_t shard = shard_at(loader, position);
    const shard_reader_t *reader = loader->shards[shard];
    const shard_info_t *info = shard_reader_info(reader);
    uint64_t base = loader->shard_starts[shard];
    uint64_t within = position - base;
    uint64_t low = 0, high = info->document_count;
    while (high - low > 1) {
        uint64_t middle = low + (high - low) / 2;
        if (shard_reader_document_start(reader, middle) <= within)
            low = middle;
        else
            high = middle;
    }
    *next = base + (low + 1 < info->document_count ? shard_reader_document_start(reader, low + 1)
                                                   : info->token_count);
    return base + (info->document_count ? shard_reader_document_start(reader, low) : 0);
}

static void fill_segments(const dataloader_t *loader, uint64_t start, size_t count,
                          int32_t *segments, int32_t *positions)
{
    uint64_t next = 0;
    uint64_t document = document_around(loader, start, &next);
    int32_t segment = 0;
    int64_t position = (int64_t)(start - document);
    for (size_t i = 0; i < count; i++) {
        if (start + i == next) {
            segment++;
            position = 0;
            document_around(loader, start + i, &next);
        }
        if (segments)
            segments[i] = segment;
        if (positions)
            positions[i] = (int32_t)(position < INT32_MAX ? position : INT32_MAX);
        position++;
    }
}

static int read_tokens_locked(dataloader_t *loader, uint64_t start, uint64_t count,
                              int32_t *tokens)
{
    if (start > loader->token_count || count > loader->token_count - start) {
        log_error("%s: tokens %llu..%llu of the %s split requested, but it has %llu tokens",
                  loader->folder, (unsigned long long)start, (unsigned long long)(start + count),
                  loader->split, (unsigned long long)loader->token_count);
        return -1;
    }
    size_t shard = 0;
    while (shard + 1 < loader->shard_count && loader->shard_starts[shard + 1] <= start)
        shard++;
    uint64_t done = 0;
    while (done < count) {
        const shard_info_t *info = shard_reader_info(loader->shards[shard]);
        uint64_t within = start + done - loader->shard_starts[shard];
        uint64_t take = info->token_count - within;
        if (take > count - done)
            take = count - done;
        if (take > 0 && shard_reader_read_tokens(loader->shards[shard], within, (size_t)take,
                                                 tokens + done) != 0)
            return -1;
        done += take;
        shard++;
    }
    return 0;
}

int dataloader_read_tokens(dataloader_t *loader, uint64_t start, uint64_t count,
                           int32_t *tokens)
{
    pthread_mutex_lock(&loader->io_lock);
    int status = read_tokens_locked(loader, start, count, tokens);
    pthread_mutex_unlock(&loader->io_lock);
    return status;
}

/* First stream token of the epoch's windows: 0, or drawn from (seed, epoch). */
static uint64_t epoch_start(const dataloader_t *loader, const dataloader_state_t *state)
{
    if (!loader->epoch_offset)
        return 0;
    uint64_t draw = mix64(state->seed ^ mix64(state->epoch ^ 0x6a09e667f3bcc909ull));
    return draw % (uint64_t)state->seq_len;
}

/* Assembles the next batch from `state` and advances it. The caller holds io_lock. */
static int assemble_batch(dataloader_t *loader, dataloader_state_t *state,
                          const dataloader_batch_t *batch)
{
    size_t seq_len = (size_t)state->seq_len;
    for (int32_t row = 0; row < state->batch; row++) {
        if (state->position >= loader->windows_per_rank) {
            state->epoch++;
            state->position = 0;
        }
        uint64_t slot = state->position * (uint64_t)state->world_size + (uint64_t)state->rank;
        uint64_t window = permute_window(loader, state->seed, state->epoch, slot);
        uint64_t start = epoch_start(loader, state) + window * seq_len;
        if (read_tokens_locked(loader, start, seq_len + 1, loader->window) != 0)
            return -1;
        size_t at = (size_t)row * seq_len;
        memcpy(batch->inputs + at, loader->window, seq_len * sizeof *batch->inputs);
        memcpy(batch->targets + at, loader->window + 1, seq_len * sizeof *batch->targets);
        if (batch->loss_mask)
            read_mask(loader, start + 1, seq_len, batch->loss_mask + at);
        if (batch->segments || batch->positions)
            fill_segments(loader, start, seq_len, batch->segments ? batch->segments + at : NULL,
                          batch->positions ? batch->positions + at : NULL);
        state->position++;
    }
    return 0;
}

static void *prefetch_main(void *argument)
{
    dataloader_t *loader = argument;
    pthread_mutex_lock(&loader->lock);
    for (;;) {
        while (!loader->stop && loader->ready == loader->depth)
            pthread_cond_wait(&loader->changed, &loader->lock);
        if (loader->stop)
            break;
        prefetch_slot_t *slot = &loader->slots[(loader->head + loader->ready) % loader->depth];
        pthread_mutex_unlock(&loader->lock);
        pthread_mutex_lock(&loader->io_lock);
        slot->status = assemble_batch(loader, &loader->producer_state, &slot->batch);
        pthread_mutex_unlock(&loader->io_lock);
        slot->state = loader->producer_state;
        pthread_mutex_lock(&loader->lock);
        loader->ready++;
        pthread_cond_broadcast(&loader->changed);
        if (slot->status != 0) {    /* the caller receives the error, so produce no more */
            while (!loader->stop)
                pthread_cond_wait(&loader->changed, &loader->lock);
            break;
        }
    }
    pthread_mutex_unlock(&loader->lock);
    return NULL;
}

static void free_slots(dataloader_t *loader)
{
    for (int i = 0; loader->slots && i < loader->depth; i++) {
        dataloader_batch_t *b = &loader->slots[i].batch;
        free(b->inputs);
        free(b->targets);
        free(b->loss_mask);
        free(b->segments);
        free(b->positions);
    }
    free(loader->slots);
    loader->slots = NULL;
}

/* Starts the thread from loader->state with empty slots. Returns 0 or -1. */
static int launch_prefetch(dataloader_t *loader)
{
    loader->stop = false;
    loader->head = 0;
    loader->ready = 0;
    loader->producer_state = loader->state;
    int error = pthread_create(&loader->thread, NULL, prefetch_main, loader);
    if (error != 0) {
        log_error("%s: cannot start the prefetch thread: %s", loader->folder, strerror(error));
        return -1;
    }
    loader->prefetching = true;
    return 0;
}

static void stop_prefetch(dataloader_t *loader)
{
    if (!loader->prefetching)
        return;
    pthread_mutex_lock(&loader->lock);
    loader->stop = true;
    pthread_cond_broadcast(&loader->changed);
    pthread_mutex_unlock(&loader->lock);
    pthread_join(loader->thread, NULL);
    loader->prefetching = false;
}

int dataloader_start_prefetch(dataloader_t *loader, int depth)
{
    if (depth < 1 || depth > 64 || loader->prefetching) {
        log_error("%s: prefetch depth %d is outside 1 to 64, or prefetching already runs",
                  loader->folder, depth);
        return -1;
    }
    size_t values = (size_t)loader->state.batch * (size_t)loader->state.seq_len;
    loader->depth = depth;
    loader->slots = calloc((size_t)depth, sizeof *loader->slots);
    for (int i = 0; loader->slots && i < depth; i++) {
        dataloader_batch_t *b = &loader->slots[i].batch;
        b->inputs = malloc(values * sizeof *b->inputs);
        b->targets = malloc(values * sizeof *b->targets);
        b->loss_mask = malloc(values);
        b->segments = malloc(values * sizeof *b->segments);
        b->positions = malloc(values * sizeof *b->positions);
        if (!b->inputs || !b->targets || !b->loss_mask || !b->segments || !b->positions) {
            free_slots(loader);
            break;
        }
    }
    if (!loader->slots) {
        log_error("%s: out of memory for %d prefetched batches", loader->folder, depth);
        return -1;
    }
    if (launch_prefetch(loader) != 0) {
        free_slots(loader);
        return -1;
    }
    return 0;
}

static void copy_values(void *to, const void *from, size_t bytes)
{
    if (to)
        memcpy(to, from, bytes);
}

int dataloader_next_batch(dataloader_t *loader, const dataloader_batch_t *batch)
{
    loader->started = true;
    if (!loader->prefetching) {
        pthread_mutex_lock(&loader->io_lock);
        int status = assemble_batch(loader, &loader->state, batch);
        pthread_mutex_unlock(&loader->io_lock);
        return status;
    }
    size_t values = (size_t)loader->state.batch * (size_t)loader->state.seq_len;
    pthread_mutex_lock(&loader->lock);
    while (loader->ready == 0)
        pthread_cond_wait(&loader->changed, &loader->lock);
    prefetch_slot_t *slot = &loader->slots[loader->head];
    int status = slot->status;
    if (status == 0) {
        const dataloader_batch_t *from = &slot->batch;
        memcpy(batch->inputs, from->inputs, values * sizeof *batch->inputs);
        memcpy(batch->targets, from->targets, values * sizeof *batch->targets);
        copy_values(batch->loss_mask, from->loss_mask, values);
        copy_values(batch->segments, from->segments, values * sizeof *batch->segments);
        copy_values(batch->positions, from->positions, values * sizeof *batch->positions);
        loader->state = slot->state;
        loader->head = (loader->head + 1) % loader->depth;
        loader->ready--;
        pthread_cond_broadcast(&loader->changed);
    }
    pthread_mutex_unlock(&loader->lock);
    return status;
}

int dataloader_next(dataloader_t *loader, int32_t *inputs, int32_t *targets)
{
    dataloader_batch_t batch = {.inputs = inputs, .targets = targets};
    return dataloader_next_batch(loader, &batch);
}

int dataloader_set_epoch_offset(dataloader_t *loader, bool enabled)
{
    if (loader->started || loader->prefetching) {
        log_error("%s: the epoch offset must be set before the first batch", loader->folder);
        return -1;
    }
    bool before = loader->epoch_offset;
    loader->epoch_offset = enabled;
    if (count_windows(loader) != 0) {
        loader->epoch_offset = before;
        count_windows(loader);
        return -1;
    }
    return 0;
}

uint32_t dataloader_kind(const dataloader_t *loader)
{
    return loader->kind;
}

uint64_t dataloader_pair_count(const dataloader_t *loader)
{
    return loader->pair_count;
}

/* Reads document `document` of `reader` without its end-of-text token. */
static int read_document(shard_reader_t *reader, uint64_t document, int32_t **tokens,
                         size_t *count)
{
    uint64_t start = shard_reader_document_start(reader, document) + 1;
    *count = (size_t)(shard_reader_document_length(reader, document) - 1);
    *tokens = malloc((*count ? *count : 1) * sizeof **tokens);
    if (!*tokens)
        return -1;
    return shard_reader_read_tokens(reader, start, *count, *tokens);
}

int dataloader_read_pair(dataloader_t *loader, uint64_t index, dataloader_pair_t *pair)
{
    memset(pair, 0, sizeof *pair);
    if (index >= loader->pair_count) {
        log_error("%s: preference pair %llu requested, but the %s split has %llu",
                  loader->folder, (unsigned long long)index, loader->split,
                  (unsigned long long)loader->pair_count);
        return -1;
    }
    size_t shard = 0;
    while (shard + 1 < loader->shard_count && loader->pair_starts[shard + 1] <= index)
        shard++;
    shard_reader_t *reader = loader->shards[shard];
    shard_pair_t documents = shard_reader_pair(reader, index - loader->pair_starts[shard]);
    pthread_mutex_lock(&loader->io_lock);
    int status = 0;
    if (read_document(reader, documents.prompt, &pair->prompt, &pair->prompt_count) != 0 ||
        read_document(reader, documents.chosen, &pair->chosen, &pair->chosen_count) != 0 ||
        read_document(reader, documents.rejected, &pair->rejected, &pair->rejected_count) != 0)
        status = -1;
    pthread_mutex_unlock(&loader->io_lock);
    if (status != 0)
        dataloader_pair_free(pair);
    return status;
}

void dataloader_pair_free(dataloader_pair_t *pair)
{
    free(pair->prompt);
    free(pair->chosen);
    free(pair->rejected);
    memset(pair, 0, sizeof *pair);
}

void dataloader_get_state(const dataloader_t *loader, dataloader_state_t *state)
{
    *state = loader->state;
}

int dataloader_set_state(dataloader_t *loader, const dataloader_state_t *state)
{
    const dataloader_state_t *own = &loader->state;
    if (state->rank != own->rank || state->world_size != own->world_size ||
        state->batch != own->batch || state->seq_len != own->seq_len) {
        log_error("%s: saved data position is for rank %d of %d, batch %d, sequence length %d, "
                  "but this loader has rank %d of %d, batch %d, sequence length %d; resume with "
                  "the original settings", loader->folder, state->rank, state->world_size,
                  state->batch, state->seq_len, own->rank, own->world_size, own->batch,
                  own->seq_len);
        return -1;
    }
    if (state->position > loader->windows_per_rank) {
        log_error("%s: saved data position %llu is past the %llu windows per epoch of the %s "
                  "split; the shard folder changed since the checkpoint", loader->folder,
                  (unsigned long long)state->position,
                  (unsigned long long)loader->windows_per_rank, loader->split);
        return -1;
    }
    bool restart = loader->prefetching;
    stop_prefetch(loader);
    loader->state = *state;
    if (restart && launch_prefetch(loader) != 0)
        return -1;
    return 0;
}

uint32_t dataloader_vocab_size(const dataloader_t *loader)
{
    return loader->vocab_size;
}

uint32_t dataloader_eot_id(const dataloader_t *loader)
{
    return loader->eot_id;
}

const char *dataloader_tokenizer_hash(const dataloader_t *loader)
{
    return loader->tokenizer_hash;
}

int dataloader_check_tokenizer(const dataloader_t *loader, const char *expected_hash)
{
    if (expected_hash && strcmp(expected_hash, loader->tokenizer_hash) == 0)
        return 0;
    log_error("%s: shards were built with tokenizer %s, but the model uses tokenizer %s; "
              "rebuild the shards with the model's tokenizer.json", loader->folder,
              loader->tokenizer_hash, expected_hash ? expected_hash : "(none)");
    return -1;
}

uint64_t dataloader_token_count(const dataloader_t *loader)
{
    return loader->token_count;
}

uint64_t dataloader_document_count(const dataloader_t *loader)
{
    return loader->document_count;
}

uint64_t dataloader_windows_per_epoch(const dataloader_t *loader)
{
    return loader->windows_per_rank;
}

uint64_t dataloader_batches_per_epoch(const dataloader_t *loader)
{
    return loader->windows_per_rank / (uint64_t)loader->state.batch;
}

void dataloader_close(dataloader_t *loader)
{
    if (!loader)
        return;
    stop_prefetch(loader);
    free_slots(loader);
    pthread_mutex_destroy(&loader->io_lock);
    pthread_mutex_destroy(&loader->lock);
    pthread_cond_destroy(&loader->changed);
    for (size_t i = 0; i < loader->shard_count; i++)
        shard_reader_close(loader->shards[i]);
    free(loader->shards);
    free(loader->shard_starts);
    free(loader->pair_starts);
    free(loader->folder);
    free(loader->split);
    free(loader->window);
    free(loader);
}
