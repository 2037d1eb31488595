/*
 * Training batches from a shard folder (contract in dataloader.h).
 *
 * The shuffled window order of an epoch is a keyed permutation of
 * [0, windows) computed on demand: a four-round Feistel network on the
 * smallest even power-of-two domain that covers the window count, with
 * cycle walking to stay inside the range. It needs no memory per window, and
 * the loader's position is just (epoch, windows consumed), which makes exact
 * resume trivial.
 */
#include "dataloader.h"

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
    dataloader_state_t state;
};

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
static uint64_t permute_window(const dataloader_t *loader, uint64_t epoch, uint64_t i)
{
    unsigned half = loader->half_bits;
    uint64_t mask = (1ull << half) - 1;
    uint64_t key = mix64(loader->state.seed ^ mix64(epoch + 0x9e3779b97f4a7c15ull));
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
    if (!loader->shards || !loader->shard_starts) {
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
            memcpy(loader->tokenizer_hash, info->tokenizer_hash, sizeof loader->tokenizer_hash);
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
    loader->folder = strdup(shard_folder);
    loader->split = strdup(split);
    loader->window = malloc(((size_t)seq_len + 1) * sizeof *loader->window);
    if (!loader->folder || !loader->split || !loader->window || open_shards(loader) != 0)
        goto fail;

    loader->windows = loader->token_count > 0 ? (loader->token_count - 1) / (uint64_t)seq_len
                                              : 0;
    loader->windows_per_rank = loader->windows / (uint64_t)world_size;
    if (loader->windows_per_rank == 0) {
        log_error("%s: the %s split has %llu tokens, too few for one window of %d tokens per "
                  "rank with %d ranks; use a shorter sequence length or more data",
                  shard_folder, split, (unsigned long long)loader->token_count, seq_len + 1,
                  world_size);
        goto fail;
    }
    unsigned bits = 2;
    while (bits < 64 && (1ull << bits) < loader->windows)
        bits += 2;
    loader->half_bits = bits / 2;

    loader->state.seed = seed;
    loader->state.rank = rank;
    loader->state.world_size = world_size;
    loader->state.batch = batch;
    loader->state.seq_len = seq_len;
    return loader;
fail:
    dataloader_close(loader);
    return NULL;
}

int dataloader_read_tokens(dataloader_t *loader, uint64_t start, uint64_t count,
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

int dataloader_next(dataloader_t *loader, int32_t *inputs, int32_t *targets)
{
    dataloader_state_t *state = &loader->state;
    size_t seq_len = (size_t)state->seq_len;
    for (int32_t row = 0; row < state->batch; row++) {
        if (state->position >= loader->windows_per_rank) {
            state->epoch++;
            state->position = 0;
        }
        uint64_t slot = state->position * (uint64_t)state->world_size + (uint64_t)state->rank;
        uint64_t window = permute_window(loader, state->epoch, slot);
        if (dataloader_read_tokens(loader, window * seq_len, seq_len + 1, loader->window) != 0)
            return -1;
        memcpy(inputs + (size_t)row * seq_len, loader->window, seq_len * sizeof *inputs);
        memcpy(targets + (size_t)row * seq_len, loader->window + 1, seq_len * sizeof *targets);
        state->position++;
    }
    return 0;
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
    loader->state = *state;
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
    for (size_t i = 0; i < loader->shard_count; i++)
        shard_reader_close(loader->shards[i]);
    free(loader->shards);
    free(loader->shard_starts);
    free(loader->folder);
    free(loader->split);
    free(loader->window);
    free(loader);
}
